/**
 * Loss ops with their backward beside them: log-softmax and softmax, the batch-mean
 * cross-entropy (with label smoothing) and NLL losses, and the elementwise mean squared error and
 * binary cross-entropy with logits (kernels in src/kernels/loss.ts, shaders/loss.wgsl). The
 * classification loss kernels compute the gradient in the forward pass; the backward hands it
 * over as it is when the loss is where `backward()` starts, and scales it by the output gradient
 * otherwise.
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
  checkClassDim("logSoftmax", dim);
  checkMatrix("logSoftmax", "x", x);
  const y = opTensor(x.shape, { label: "logSoftmax.y" });
  k.logSoftmax(x, y);
  record("logSoftmax", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.logSoftmaxBackward(dy, y, into));
  });
  return y;
}

/** Throws unless `dim` names the class axis of `[N, K]` (1 or −1). */
export function checkClassDim(op: string, dim: number): void {
  if (dim !== 1 && dim !== -1) {
    throw new Error(`${op}: dim must be 1 or -1 (the class axis of [N, K]), got ${dim}`);
  }
}

/**
 * PyTorch's `F.softmax(x, dim)` over the class axis of `[N, K]` (`dim` 1 or −1):
 * `y = exp(x) / Σ exp(x)` per row; backward `dx = y·(dy − Σ dy·y)`.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const probs = F.softmax(Tensor.zeros([2, 4]), -1);
 * console.log(await probs.read()); // every entry 0.25
 * ```
 */
export function softmax(
  x: Tensor, // x: [N, K]
  dim = -1,
): Tensor { // → y: [N, K]
  checkClassDim("softmax", dim);
  checkMatrix("softmax", "x", x);
  const y = opTensor(x.shape, { label: "softmax.y" });
  k.softmax(x, y);
  record("softmax", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.softmaxBackward(dy, y, into));
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

/** The loss kernels' signature (src/kernels/loss.ts), their options bound. */
type LossKernel = (
  scores: Tensor,
  labels: Tensor<"i32">,
  loss: Tensor,
  dScores: Tensor | null,
) => void;

/**
 * Options of {@link crossEntropy}, as PyTorch's `F.cross_entropy`.
 *
 * @example
 * ```ts
 * import type { F } from "@hajime/nn";
 * const options: F.CrossEntropyOptions = { labelSmoothing: 0.1 };
 * console.log(options.labelSmoothing);
 * ```
 */
export interface CrossEntropyOptions {
  /**
   * Label smoothing ε in [0, 1] (default 0): the target is `(1 − ε)·onehot + ε/K`, so the loss is
   * `(1 − ε)·(−log p[label]) + ε·mean over classes of −log p`.
   */
  labelSmoothing?: number;
}

/** Throws unless ε is in [0, 1]; the loss modules check it when built. */
export function checkLabelSmoothing(op: string, labelSmoothing: number): void {
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new Error(`${op}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  }
}

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
 * PyTorch's `F.cross_entropy(logits, labels, label_smoothing)`, the mean over the batch of
 * `−log_softmax(logits)[label]` (with `labelSmoothing` ε, of `(1 − ε)·` that `+ ε·` the mean over
 * classes of `−log_softmax(logits)`), as a `[1]` tensor; the gradient `(softmax − target)/N` is
 * made in the forward pass. Labels uploaded from the CPU outside [0, K) are an error naming the
 * value. Log-probabilities work as logits (log_softmax leaves them unchanged), as in PyTorch.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const logits = Tensor.zeros([2, 10], { requiresGrad: true });
 * const labels = Tensor.from([3, 7], [2], { dtype: "i32" });
 * const loss = F.crossEntropy(logits, labels);
 * loss.backward();
 * console.log(await loss.item()); // ln 10
 * const smoothed = F.crossEntropy(logits, labels, { labelSmoothing: 0.1 });
 * console.log(await smoothed.item()); // also ln 10: the logits are uniform
 * ```
 */
export function crossEntropy(
  logits: Tensor, // logits: [N, K]
  labels: Tensor<"i32">, // labels: i32 [N], values in [0, K)
  options: CrossEntropyOptions = {},
): Tensor { // → loss: [1]
  const { labelSmoothing = 0 } = options;
  checkLabelSmoothing("crossEntropy", labelSmoothing);
  const kernel: LossKernel = (scores, ls, loss, dScores) =>
    k.crossEntropy(scores, ls, loss, dScores, { labelSmoothing });
  return batchLoss("crossEntropy", kernel, logits, labels, "logits");
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

/** Records an elementwise loss and its backward (both input and target may need a gradient). */
function pointwise(
  op: string,
  kind: k.PointwiseLossKind,
  input: Tensor, // input: any shape, not empty
  target: Tensor, // target: same shape
): Tensor { // → loss: [1]
  checkShape(op, "input", input, input.shape);
  checkShape(op, "target", target, input.shape);
  if (input.size === 0) {
    throw new Error(`${op}: input has shape [${input.shape.join(", ")}], no element`);
  }
  const loss = opTensor([1], { label: `${op}.loss` });
  k.pointwiseLoss(kind, input, target, loss);
  record(op, [input, target], loss, (dy, [dInput, dTarget]) => {
    writeGrad(dInput, (into) => k.pointwiseLossBackward(kind, input, target, dy, into, null));
    writeGrad(dTarget, (into) => k.pointwiseLossBackward(kind, input, target, dy, null, into));
  });
  return loss;
}

/**
 * PyTorch's `F.mse_loss(input, target)`: the mean over every element of `(input − target)²`, as
 * a `[1]` tensor (shapes must match); backward `dInput = 2·(input − target)/n`, `dTarget =
 * −dInput`, times the output gradient.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const prediction = Tensor.from([1, 2, 3], [3], { requiresGrad: true });
 * const loss = F.mseLoss(prediction, Tensor.from([1, 0, 0], [3]));
 * loss.backward();
 * console.log(await loss.item(), await prediction.grad!.read()); // 4.333…, [0, 1.333…, 2]
 * ```
 */
export function mseLoss(input: Tensor, target: Tensor): Tensor { // any shape, same → [1]
  return pointwise("mseLoss", "mse", input, target);
}

/**
 * PyTorch's `F.binary_cross_entropy_with_logits(input, target)`: the mean over every element of
 * `−t·log σ(x) − (1 − t)·log(1 − σ(x))`, computed stably as `max(x, 0) − x·t + log(1 + e^−|x|)`,
 * as a `[1]` tensor; backward `dInput = (σ(x) − t)/n`, `dTarget = −x/n`, times the output
 * gradient. Targets are probabilities in [0, 1] (not checked, as in PyTorch).
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const logits = Tensor.zeros([4, 1], { requiresGrad: true });
 * const loss = F.binaryCrossEntropyWithLogits(logits, Tensor.from([1, 0, 1, 1], [4, 1]));
 * console.log(await loss.item()); // ln 2
 * ```
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor, // input: any shape, logits
  target: Tensor, // target: same shape, probabilities
): Tensor { // → loss: [1]
  return pointwise("binaryCrossEntropyWithLogits", "bceWithLogits", input, target);
}
