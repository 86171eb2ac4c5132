/**
 * Classification ops with their backward beside them: log-softmax, and the batch-mean
 * cross-entropy and NLL losses (kernels in src/kernels/loss.ts, shaders/loss.wgsl). The loss
 * kernels compute the gradient in the forward pass; the backward hands it over as it is when
 * the loss is where `backward()` starts, and scales it by the output gradient otherwise.
 *
 * @module
 */

import { isGradEnabled, isUnitSeed, opTensor, record, writeGrad } from "../autograd.ts";
import * as k from "../kernels/loss.ts";
import { scaleByScalar } from "../kernels/reduce.ts";
import { checkShape, type Tensor } from "../tensor.ts";

/** Checks `x` is a non-empty f32 `[N, K]` and returns its dimensions. */
function checkMatrix(op: string, name: string, x: Tensor): [number, number] {
  checkShape(op, name, x, [null, null]);
  const [n, kk] = x.shape;
  if (n < 1 || kk < 1) {
    throw new Error(`${op}: ${name} has shape [${n}, ${kk}], expected N ≥ 1 and K ≥ 1`);
  }
  return [n, kk];
}

/**
 * PyTorch's `F.log_softmax(x, dim)` over the class axis of `[N, K]` (`dim` 1 or −1):
 * `y = x − log Σ exp(x)` per row; backward `dx = dy − exp(y)·Σ dy`.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const logProbs = F.logSoftmax(Tensor.zeros([2, 10]), -1);
 * console.log(await logProbs.read()); // every entry −log 10 ≈ −2.3026
 * ```
 */
export function logSoftmax(
  x: Tensor, // x: [N, K]
  dim = -1,
): Tensor { // → y: [N, K]
  if (dim !== 1 && dim !== -1) {
    throw new Error(`logSoftmax: dim must be 1 or -1 (the class axis of [N, K]), got ${dim}`);
  }
  checkMatrix("logSoftmax", "x", x);
  const y = opTensor(x.shape, { label: "logSoftmax.y" });
  k.logSoftmax(x, y);
  record("logSoftmax", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.logSoftmaxBackward(dy, y, into));
  });
  return y;
}

/**
 * Throws when labels uploaded from the CPU (`Tensor.valueRange`) fall outside [0, classes),
 * naming the value; labels the GPU made are not checked (their out-of-range rows give NaN).
 */
function checkLabels(op: string, labels: Tensor<"i32">, classes: number): void {
  const range = labels.valueRange;
  if (!range) return;
  const bad = range[0] < 0 ? range[0] : range[1] >= classes ? range[1] : null;
  if (bad !== null) {
    throw new Error(
      `${op}: label ${bad} is outside [0, ${classes}) (labels must be class indices)`,
    );
  }
}

/** The loss kernels' signature (src/kernels/loss.ts). */
type LossKernel = (
  scores: Tensor,
  labels: Tensor<"i32">,
  loss: Tensor,
  dScores: Tensor | null,
) => void;

function batchLoss(
  op: string,
  kernel: LossKernel,
  scores: Tensor, // scores: [N, K]
  labels: Tensor<"i32">, // labels: i32 [N]
  scoresName: string,
): Tensor { // → loss: [1]
  const [n, classes] = checkMatrix(op, scoresName, scores);
  checkShape(op, "labels", labels, [n], "i32");
  checkLabels(op, labels, classes);
  const loss = opTensor([1], { label: `${op}.loss` });
  // The gradient is made in the same pass, when a backward may ask for it.
  const needsGrad = isGradEnabled() && scores.requiresGrad;
  const dScores = needsGrad ? opTensor(scores.shape, { label: `${op}.dScores` }) : null;
  kernel(scores, labels, loss, dScores);
  record(op, [scores], loss, (dy, [dx]) => {
    if (!dx || !dScores) return;
    if (isUnitSeed(dy) && !dx.accumulate) return dx.assign(dScores);
    writeGrad(dx, (into) => scaleByScalar(dScores, dy, into));
  });
  return loss;
}

/**
 * PyTorch's `F.cross_entropy(logits, labels)`, the mean over the batch of
 * `−log_softmax(logits)[label]`, as a `[1]` tensor; the gradient `(softmax − onehot)/N` is made
 * in the forward pass. Labels uploaded from the CPU outside [0, K) are an error naming the
 * value. Log-probabilities work as logits (log_softmax leaves them unchanged), as in PyTorch.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const logits = Tensor.zeros([2, 10], { requiresGrad: true });
 * const loss = F.crossEntropy(logits, Tensor.from([3, 7], [2], { dtype: "i32" }));
 * loss.backward();
 * console.log(await loss.item()); // ln 10
 * ```
 */
export function crossEntropy(
  logits: Tensor, // logits: [N, K]
  labels: Tensor<"i32">, // labels: i32 [N], values in [0, K)
): Tensor { // → loss: [1]
  return batchLoss("crossEntropy", k.crossEntropy, logits, labels, "logits");
}

/**
 * PyTorch's `F.nll_loss(logProbs, labels)`: the mean over the batch of `−logProbs[label]`, as a
 * `[1]` tensor; gradient `−1/N` at each label. Labels uploaded from the CPU outside [0, K) are
 * an error naming the value.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const logProbs = Tensor.full([2, 10], -2);
 * const loss = F.nllLoss(logProbs, Tensor.from([0, 1], [2], { dtype: "i32" }));
 * console.log(await loss.item()); // 2
 * ```
 */
export function nllLoss(
  logProbs: Tensor, // logProbs: [N, K]
  labels: Tensor<"i32">, // labels: i32 [N], values in [0, K)
): Tensor { // → loss: [1]
  return batchLoss("nllLoss", k.nllLoss, logProbs, labels, "logProbs");
}
