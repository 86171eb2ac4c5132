/**
 * Classification losses on the GPU: log-softmax and its backward, batch-mean cross-entropy and
 * NLL losses with their gradients, an optional running loss sum kept on the GPU, and the count of
 * correct argmax predictions.
 *
 * Labels outside [0, K) do not fault the GPU: the loss (and `lossSum`) becomes NaN and the
 * gradient rows of those samples are NaN, so the mistake cannot pass unnoticed. The data loaders
 * validate labels on the CPU before they reach this point.
 *
 * @module
 */

import { grid, Kernel } from "../gpu/kernel.ts";
import { checkDistinct, checkShape, type Tensor } from "../tensor.ts";
import code from "../../shaders/loss.wgsl" with { type: "text" };

const WORKGROUP = 256;
/** Bit pattern of a quiet NaN, handed to the shader (WGSL has no NaN literal). */
const NAN_BITS = 0x7fc00000;
const MODE_LOGITS = 0;
const MODE_LOG_PROBS = 1;

function lossKernel(label: string, entryPoint: string, inputs: number, outputs: number): Kernel {
  return new Kernel({
    label,
    code,
    entryPoint,
    params: { n: "u32", k: "u32", mode: "u32", nan_bits: "u32" },
    inputs,
    outputs,
    constants: { WORKGROUP },
  });
}

const logSoftmaxKernel = lossKernel("Loss.logSoftmax", "log_softmax", 1, 1);
const logSoftmaxBackwardKernel = lossKernel(
  "Loss.logSoftmaxBackward",
  "log_softmax_backward",
  2,
  1,
);
const lossMeanKernel = lossKernel("Loss.mean", "loss_mean", 2, 1);
const lossMeanSumKernel = lossKernel("Loss.meanSum", "loss_mean_sum", 2, 2);
const lossGradKernel = lossKernel("Loss.grad", "loss_grad", 2, 1);
const countCorrectKernel = lossKernel("Loss.countCorrect", "count_correct", 2, 1);

/** Options of {@link crossEntropy} and {@link nllLoss}. */
export interface LossKernelOptions {
  /** A `[1]` f32 accumulator: `lossSum += loss`, so a running loss stays on the GPU. */
  lossSum?: Tensor;
}

/** Checks that `x` is a non-empty f32 matrix and returns its `[N, K]`. */
function checkMatrix(owner: string, name: string, x: Tensor): [number, number] {
  checkShape(owner, name, x, [null, null]);
  const [n, k] = x.shape;
  if (n < 1 || k < 1) {
    throw new Error(`${owner}: ${name} has shape [${n}, ${k}], expected N ≥ 1 and K ≥ 1`);
  }
  return [n, k];
}

/** Throws when two arguments share a GPU buffer (one dispatch cannot read and write it). */
function rowGrid(n: number): [number, number] {
  return grid(Math.ceil(n / WORKGROUP));
}

/**
 * Records `y = log_softmax(x)` along the last dimension (max-subtracted, so any finite logits
 * are safe).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { logSoftmax } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.from([1, 2, 3, 0, 0, 0], [2, 3]);
 * const y = Tensor.empty([2, 3]);
 * logSoftmax(x, y);
 * ```
 */
export function logSoftmax(
  x: Tensor, // x: [N, K]
  y: Tensor, // y: [N, K]
): void {
  const owner = "Loss.logSoftmax";
  const [n, k] = checkMatrix(owner, "x", x);
  checkShape(owner, "y", y, [n, k]);
  checkDistinct(owner, { x, y });
  logSoftmaxKernel.dispatch({ n, k, mode: 0, nan_bits: 0 }, [x, y], rowGrid(n));
}

/**
 * Records the backward of {@link logSoftmax}: `dx = dy − exp(y)·Σ dy` per row, overwriting `dx`.
 * `y` is logSoftmax's output.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { logSoftmax, logSoftmaxBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.from([1, 2, 3], [1, 3]);
 * const y = Tensor.empty([1, 3]);
 * logSoftmax(x, y);
 * const dx = Tensor.empty([1, 3]);
 * logSoftmaxBackward(Tensor.from([0, 0, 1], [1, 3]), y, dx);
 * ```
 */
export function logSoftmaxBackward(
  dy: Tensor, // dy: [N, K]
  y: Tensor, // y: [N, K]
  dx: Tensor, // dx: [N, K]
): void {
  const owner = "Loss.logSoftmaxBackward";
  const [n, k] = checkMatrix(owner, "dy", dy);
  checkShape(owner, "y", y, [n, k]);
  checkShape(owner, "dx", dx, [n, k]);
  checkDistinct(owner, { dy, dx });
  checkDistinct(owner, { y, dx });
  logSoftmaxBackwardKernel.dispatch({ n, k, mode: 0, nan_bits: 0 }, [dy, y, dx], rowGrid(n));
}

function batchLoss(
  owner: string,
  mode: number,
  x: Tensor, // x: [N, K]
  labels: Tensor<"i32">, // labels: [N]
  loss: Tensor, // loss: [1]
  dx: Tensor | null, // dx: [N, K]
  lossSum: Tensor | undefined, // lossSum: [1]
  names: [string, string],
): void {
  const [xName, dxName] = names;
  const [n, k] = checkMatrix(owner, xName, x);
  checkShape(owner, "labels", labels, [n], "i32");
  checkShape(owner, "loss", loss, [1]);
  if (dx) checkShape(owner, dxName, dx, [n, k]);
  if (lossSum) checkShape(owner, "lossSum", lossSum, [1]);
  checkDistinct(owner, { [xName]: x, labels, loss, [dxName]: dx, lossSum });
  const params = { n, k, mode, nan_bits: NAN_BITS };
  if (lossSum) lossMeanSumKernel.dispatch(params, [x, labels, loss, lossSum], [1]);
  else lossMeanKernel.dispatch(params, [x, labels, loss], [1]);
  if (dx) lossGradKernel.dispatch(params, [x, labels, dx], rowGrid(n));
}

/**
 * Records the cross-entropy loss (PyTorch's `CrossEntropyLoss`, mean over the batch):
 * `loss = mean −log_softmax(logits)[label]`, and when `dLogits` is given its gradient
 * `(softmax(logits) − onehot(label)) / N` (overwritten). With `opts.lossSum`, `lossSum += loss`.
 * Any real-valued scores work as logits, log-softmax outputs included (the article's models apply
 * log_softmax before this loss). A label outside [0, K) gives a NaN loss and NaN gradient rows.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { crossEntropy } from "@hajime/nn/gpu";
 * await initGpu();
 * const logits = Tensor.from([2, 0, 1, 0, 3, 1], [2, 3]);
 * const labels = Tensor.from([0, 2], [2], { dtype: "i32" });
 * const loss = Tensor.empty([1]);
 * const dLogits = Tensor.empty([2, 3]);
 * crossEntropy(logits, labels, loss, dLogits);
 * console.log(await loss.read());
 * ```
 */
export function crossEntropy(
  logits: Tensor, // logits: [N, K]
  labels: Tensor<"i32">, // labels: [N]
  loss: Tensor, // loss: [1]
  dLogits: Tensor | null, // dLogits: [N, K]
  opts: LossKernelOptions = {},
): void {
  batchLoss(
    "Loss.crossEntropy",
    MODE_LOGITS,
    logits,
    labels,
    loss,
    dLogits,
    opts.lossSum,
    ["logits", "dLogits"],
  );
}

/**
 * Records the negative log-likelihood loss (PyTorch's `NLLLoss`, mean over the batch):
 * `loss = −mean logProbs[label]`, and when `dLogProbs` is given its gradient, `−1/N` at each
 * label and 0 elsewhere (overwritten). With `opts.lossSum`, `lossSum += loss`. A label outside
 * [0, K) gives a NaN loss and NaN gradient rows.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { nllLoss } from "@hajime/nn/gpu";
 * await initGpu();
 * const logProbs = Tensor.from([-0.1, -2.4, -3, -0.2], [2, 2]);
 * const labels = Tensor.from([0, 1], [2], { dtype: "i32" });
 * const loss = Tensor.empty([1]);
 * const running = Tensor.zeros([1]);
 * nllLoss(logProbs, labels, loss, null, { lossSum: running });
 * ```
 */
export function nllLoss(
  logProbs: Tensor, // logProbs: [N, K]
  labels: Tensor<"i32">, // labels: [N]
  loss: Tensor, // loss: [1]
  dLogProbs: Tensor | null, // dLogProbs: [N, K]
  opts: LossKernelOptions = {},
): void {
  batchLoss(
    "Loss.nllLoss",
    MODE_LOG_PROBS,
    logProbs,
    labels,
    loss,
    dLogProbs,
    opts.lossSum,
    ["logProbs", "dLogProbs"],
  );
}

/**
 * Records `correct += number of rows whose argmax equals the label` (the first maximum wins on
 * ties, as `torch.argmax`). Labels outside [0, K) never count as correct.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { countCorrect } from "@hajime/nn/gpu";
 * await initGpu();
 * const logits = Tensor.from([2, 0, 1, 0, 3, 1], [2, 3]);
 * const labels = Tensor.from([0, 2], [2], { dtype: "i32" });
 * const correct = Tensor.zeros([1], { dtype: "u32" });
 * countCorrect(logits, labels, correct);
 * console.log(await correct.read()); // 1
 * ```
 */
export function countCorrect(
  logits: Tensor, // logits: [N, K]
  labels: Tensor<"i32">, // labels: [N]
  correct: Tensor<"u32">, // correct: [1]
): void {
  const owner = "Loss.countCorrect";
  const [n, k] = checkMatrix(owner, "logits", logits);
  checkShape(owner, "labels", labels, [n], "i32");
  checkShape(owner, "correct", correct, [1], "u32");
  checkDistinct(owner, { logits, labels, correct });
  countCorrectKernel.dispatch(
    { n, k, mode: 0, nan_bits: 0 },
    [logits, labels, correct],
    rowGrid(n),
  );
}
