/**
 * Losses on the GPU: log-softmax and softmax with their backward, batch-mean cross-entropy (with
 * label smoothing) and NLL losses with their gradients, an optional running loss sum kept on the
 * GPU, the count of correct argmax predictions, and the elementwise mean squared error and binary
 * cross-entropy with logits with their gradients.
 *
 * Labels outside [0, K) do not fault the GPU: the loss (and `lossSum`) becomes NaN and the
 * gradient rows of those samples are NaN, so the mistake cannot pass unnoticed. The data loaders
 * validate labels on the CPU before they reach this point.
 *
 * @module
 */

import { grid, wgslKernels } from "../gpu/kernel.ts";
import { checkDistinct, checkNoAlias, checkShape, type Tensor } from "../tensor.ts";
import code from "../../shaders/loss.wgsl" with { type: "text" };

const WORKGROUP = 256;
/** Bit pattern of a quiet NaN, handed to the shader (WGSL has no NaN literal). */
const NAN_BITS = 0x7fc00000;
const MODE_LOGITS = 0;
const MODE_LOG_PROBS = 1;

const kernel = wgslKernels("Loss", code, {
  params: { n: "u32", k: "u32", mode: "u32", nan_bits: "u32", smoothing: "f32" },
  constants: { WORKGROUP },
});

const logSoftmaxKernel = kernel("logSoftmax", 1, 1);
const logSoftmaxBackwardKernel = kernel("logSoftmaxBackward", 2, 1);
const softmaxKernel = kernel("softmax", 1, 1);
const softmaxBackwardKernel = kernel("softmaxBackward", 2, 1);
const lossMeanKernel = kernel("mean", 2, 1);
const lossMeanSumKernel = kernel("meanSum", 2, 2);
const lossGradKernel = kernel("grad", 2, 1);
const countCorrectKernel = kernel("countCorrect", 2, 1);
const pointwiseMeanKernel = kernel("pointwiseMean", 2, 1);
const pointwiseGradInputKernel = kernel("pointwiseGradInput", 3, 1);
const pointwiseGradTargetKernel = kernel("pointwiseGradTarget", 3, 1);

/** Options of {@link crossEntropy} and {@link nllLoss}. */
export interface LossKernelOptions {
  /** A `[1]` f32 accumulator: `lossSum += loss`, so a running loss stays on the GPU. */
  lossSum?: Tensor;
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyKernelOptions extends LossKernelOptions {
  /**
   * Label smoothing ε in [0, 1] (PyTorch's `label_smoothing`, default 0): the target becomes
   * `(1 − ε)·onehot + ε/K`.
   */
  labelSmoothing?: number;
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
  logSoftmaxKernel.dispatch({ n, k, mode: 0, nan_bits: 0, smoothing: 0 }, [x, y], rowGrid(n));
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
  logSoftmaxBackwardKernel.dispatch(
    { n, k, mode: 0, nan_bits: 0, smoothing: 0 },
    [dy, y, dx],
    rowGrid(n),
  );
}

/**
 * Records `y = softmax(x)` along the last dimension (max-subtracted, so any finite logits are
 * safe).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { softmax } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([1, 3]);
 * softmax(Tensor.from([0, 0, Math.log(2)], [1, 3]), y);
 * console.log(await y.read()); // [0.25, 0.25, 0.5]
 * ```
 */
export function softmax(
  x: Tensor, // x: [N, K]
  y: Tensor, // y: [N, K], overwritten
): void {
  const owner = "Loss.softmax";
  const [n, k] = checkMatrix(owner, "x", x);
  checkShape(owner, "y", y, [n, k]);
  checkDistinct(owner, { x, y });
  softmaxKernel.dispatch({ n, k, mode: 0, nan_bits: 0, smoothing: 0 }, [x, y], rowGrid(n));
}

/**
 * Records the backward of {@link softmax}: `dx = y·(dy − Σ dy·y)` per row, overwriting `dx`. `y`
 * is softmax's output.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { softmaxBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([1, 2]);
 * softmaxBackward(Tensor.from([1, 0], [1, 2]), Tensor.from([0.5, 0.5], [1, 2]), dx);
 * console.log(await dx.read()); // [0.25, -0.25]
 * ```
 */
export function softmaxBackward(
  dy: Tensor, // dy: [N, K]
  y: Tensor, // y: [N, K], softmax's output
  dx: Tensor, // dx: [N, K], overwritten
): void {
  const owner = "Loss.softmaxBackward";
  const [n, k] = checkMatrix(owner, "dy", dy);
  checkShape(owner, "y", y, [n, k]);
  checkShape(owner, "dx", dx, [n, k]);
  checkNoAlias(owner, { dy, y }, { dx });
  softmaxBackwardKernel.dispatch(
    { n, k, mode: 0, nan_bits: 0, smoothing: 0 },
    [dy, y, dx],
    rowGrid(n),
  );
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
  smoothing = 0,
): void {
  const [xName, dxName] = names;
  const [n, k] = checkMatrix(owner, xName, x);
  checkShape(owner, "labels", labels, [n], "i32");
  checkShape(owner, "loss", loss, [1]);
  if (dx) checkShape(owner, dxName, dx, [n, k]);
  if (lossSum) checkShape(owner, "lossSum", lossSum, [1]);
  checkDistinct(owner, { [xName]: x, labels, loss, [dxName]: dx, lossSum });
  if (!(smoothing >= 0 && smoothing <= 1)) {
    throw new Error(`${owner}: labelSmoothing must be in [0, 1], got ${smoothing}`);
  }
  const params = { n, k, mode, nan_bits: NAN_BITS, smoothing };
  if (lossSum) lossMeanSumKernel.dispatch(params, [x, labels, loss, lossSum], [1]);
  else lossMeanKernel.dispatch(params, [x, labels, loss], [1]);
  if (dx) lossGradKernel.dispatch(params, [x, labels, dx], rowGrid(n));
}

/**
 * Records the cross-entropy loss (PyTorch's `CrossEntropyLoss`, mean over the batch):
 * `loss = mean −log_softmax(logits)[label]`, and when `dLogits` is given its gradient
 * `(softmax(logits) − onehot(label)) / N` (overwritten). With `opts.labelSmoothing` ε the target
 * is `(1 − ε)·onehot + ε/K`, PyTorch's `label_smoothing`: the loss adds ε·(mean over classes of
 * −log_softmax − the unsmoothed loss). With `opts.lossSum`, `lossSum += loss`.
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
  opts: CrossEntropyKernelOptions = {},
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
    opts.labelSmoothing,
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
    { n, k, mode: 0, nan_bits: 0, smoothing: 0 },
    [logits, labels, correct],
    rowGrid(n),
  );
}

/**
 * The elementwise losses: `"mse"`, the squared error `(x − t)²` (PyTorch's `MSELoss`), and
 * `"bceWithLogits"`, the binary cross-entropy of `σ(x)` against t (`BCEWithLogitsLoss`).
 */
export type PointwiseLossKind = "mse" | "bceWithLogits";

const POINTWISE_MODES: Record<PointwiseLossKind, number> = { mse: 0, bceWithLogits: 1 };

function pointwiseParams(
  owner: string,
  kind: PointwiseLossKind,
  input: Tensor,
  target: Tensor,
): Record<string, number> {
  if (!Object.hasOwn(POINTWISE_MODES, kind)) {
    throw new Error(`${owner}: kind "${kind}" is not "mse" or "bceWithLogits"`);
  }
  checkShape(owner, "input", input, input.shape);
  checkShape(owner, "target", target, input.shape);
  if (input.size === 0) {
    throw new Error(`${owner}: input has shape [${input.shape.join(", ")}], no element`);
  }
  return { n: input.size, k: 0, mode: POINTWISE_MODES[kind], nan_bits: 0, smoothing: 0 };
}

/**
 * Records an elementwise loss, mean over every element (PyTorch's default reduction):
 * `"mse"`: `loss = mean (x − t)²`; `"bceWithLogits"`: `loss = mean max(x, 0) − x·t +
 * log(1 + e^−|x|)`, the stable form of `−t·log σ(x) − (1 − t)·log(1 − σ(x))`. One workgroup sums
 * in a fixed order, so the loss is deterministic.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { pointwiseLoss } from "@hajime/nn/gpu";
 * await initGpu();
 * const loss = Tensor.empty([1]);
 * pointwiseLoss("mse", Tensor.from([1, 2], [2]), Tensor.from([0, 0], [2]), loss);
 * console.log(await loss.read()); // [2.5]
 * ```
 */
export function pointwiseLoss(
  kind: PointwiseLossKind,
  input: Tensor, // input: any shape, not empty
  target: Tensor, // target: same shape
  loss: Tensor, // loss: [1], overwritten
): void {
  const owner = `Loss.pointwiseLoss(${kind})`;
  const params = pointwiseParams(owner, kind, input, target);
  checkShape(owner, "loss", loss, [1]);
  checkNoAlias(owner, { input, target }, { loss });
  pointwiseMeanKernel.dispatch(params, [input, target, loss], [1]);
}

/**
 * Backward of {@link pointwiseLoss}, scaled by the loss's output gradient `dLoss[0]`, each
 * gradient overwritten and skipped when null: `"mse"`: `dInput = 2·(x − t)/n·dLoss`, `dTarget =
 * −dInput`; `"bceWithLogits"`: `dInput = (σ(x) − t)/n·dLoss`, `dTarget = −x/n·dLoss`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { pointwiseLossBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dInput = Tensor.empty([2]);
 * const [x, t] = [Tensor.from([0, 2], [2]), Tensor.from([1, 1], [2])];
 * pointwiseLossBackward("bceWithLogits", x, t, Tensor.from([1], [1]), dInput, null);
 * console.log(await dInput.read()); // [-0.25, -0.0596…]
 * ```
 */
export function pointwiseLossBackward(
  kind: PointwiseLossKind,
  input: Tensor, // input: any shape, the forward's
  target: Tensor, // target: same shape, the forward's
  dLoss: Tensor, // dLoss: [1], the gradient of the loss
  dInput: Tensor | null, // dInput: same shape as input, overwritten
  dTarget: Tensor | null, // dTarget: same shape as input, overwritten
): void {
  const owner = `Loss.pointwiseLossBackward(${kind})`;
  const params = pointwiseParams(owner, kind, input, target);
  checkShape(owner, "dLoss", dLoss, [1]);
  const grid = rowGrid(input.size);
  for (
    const [name, out, kernel] of [
      ["dInput", dInput, pointwiseGradInputKernel],
      ["dTarget", dTarget, pointwiseGradTargetKernel],
    ] as const
  ) {
    if (!out) continue;
    checkShape(owner, name, out, input.shape);
    checkNoAlias(owner, { input, target, dLoss }, { [name]: out });
    kernel.dispatch(params, [input, target, dLoss, out], grid);
  }
}
