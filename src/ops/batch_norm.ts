/**
 * The batch-norm op over `[N, C]`, `[N, C, L]` and NCHW tensors as PyTorch's `F.batch_norm`, in
 * training mode (batch statistics, running statistics updated in place) and eval mode (running
 * statistics), each with its backward (kernels in src/kernels/batch_norm.ts,
 * shaders/batch_norm.wgsl, which see the smaller ranks as `[N, C, L, 1]`).
 *
 * @module
 */

import { gradForAdding, isGradEnabled, opTensor, record, writeGrad } from "../autograd.ts";
import {
  batchNormBackward,
  batchNormEvalBackward,
  batchNormEvalForward,
  batchNormTrainForward,
} from "../kernels/batch_norm.ts";
import { checkShape, type Tensor } from "../tensor.ts";
import { deferredReluInput } from "./elementwise.ts";

/**
 * Options of `batchNorm` (PyTorch's defaults).
 *
 * @example
 * ```ts
 * import type { F } from "@hajime/nn";
 * const options: F.BatchNormOptions = { training: true, momentum: 0.1, eps: 1e-5 };
 * console.log(options.momentum); // 0.1
 * ```
 */
export interface BatchNormOptions {
  /** Normalise with the batch statistics and update the running ones (default false). */
  training?: boolean;
  /** Weight of the batch statistics in the running ones (default 0.1). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/**
 * PyTorch's `F.batch_norm(x, runningMean, runningVar, weight, bias, training, momentum, eps)`
 * per channel (dimension 1) of an `[N, C]`, `[N, C, L]` or NCHW batch; the running statistics,
 * γ (`weight`) and β (`bias`) are all required here. Training: `y = (x − mean)/sqrt(var + eps)·γ + β` with the batch's mean and
 * biased variance, and `running = (1 − momentum)·running + momentum·batch` in place (unbiased
 * variance); eval: the running statistics instead. Backward: dx overwritten, `dγ +=`, `dβ +=`,
 * kernels of a gradient nobody needs skipped; an eval-mode backward treats the running
 * statistics as the constants the forward saw.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const x = Tensor.from([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 1, 2]);
 * const runningMean = Tensor.zeros([2]), runningVar = Tensor.full([2], 1);
 * const weight = Tensor.full([2], 1), bias = Tensor.zeros([2]);
 * const y = F.batchNorm(x, runningMean, runningVar, weight, bias, { training: true });
 * console.log(y.shape, await runningMean.read()); // [2, 2, 1, 2] [0.35, 0.55]: 0.1 × the means
 * ```
 */
export function batchNorm(
  x: Tensor, // x: [N, C], [N, C, L] or [N, C, H, W]
  runningMean: Tensor, // runningMean: [C], updated in place in training
  runningVar: Tensor, // runningVar: [C], updated in place in training
  weight: Tensor, // weight: [C] (γ)
  bias: Tensor, // bias: [C] (β)
  options: BatchNormOptions = {},
): Tensor { // → y: x's shape
  const rank = x.shape.length;
  if (rank < 2 || rank > 4) {
    throw new Error(
      `batchNorm: x has shape [${x.shape.join(", ")}], expected [N, C], [N, C, L] or ` +
        "[N, C, H, W]",
    );
  }
  if (rank === 4) return batchNorm4d(x, runningMean, runningVar, weight, bias, options);
  const [n, c, l = 1] = x.shape;
  if (options.training && n * l < 2 && c > 0) {
    throw new Error(
      `batchNorm: x has shape [${x.shape.join(", ")}]: training needs more than one value per ` +
        "channel (as PyTorch)",
    );
  }
  const y = batchNorm4d(x.reshape([n, c, l, 1]), runningMean, runningVar, weight, bias, options);
  return y.reshape(x.shape);
}

/** {@link batchNorm} of an NCHW batch. */
function batchNorm4d(
  x: Tensor, // x: [N, C, H, W]
  runningMean: Tensor, // runningMean: [C], updated in place in training
  runningVar: Tensor, // runningVar: [C], updated in place in training
  weight: Tensor, // weight: [C] (γ)
  bias: Tensor, // bias: [C] (β)
  options: BatchNormOptions,
): Tensor { // → y: [N, C, H, W]
  const { training = false, momentum = 0.1, eps = 1e-5 } = options;
  checkShape("batchNorm", "x", x, [null, null, null, null]);
  const c = x.shape[1];
  for (const [name, t] of Object.entries({ runningMean, runningVar, weight, bias })) {
    checkShape("batchNorm", name, t, [c]);
  }
  const y = opTensor(x.shape, { label: "batchNorm.y" });
  // Training on relu(conv(...)) reads the conv's output and applies the ReLU on load: the ReLU
  // is never written, and the node (on the ReLU's input) masks dx as relu's backward would.
  const reluOf = training ? deferredReluInput(x) : null;
  const input = reluOf ?? x; // what the kernels read and the node records
  const reluInput = reluOf !== null;
  // What the backward normalises with: the batch's mean and inverse std in training, copies of
  // the running statistics in eval (a later training forward updates those in place).
  let mean: Tensor;
  let stat: Tensor;
  if (training) {
    mean = opTensor([c], { label: "batchNorm.saveMean" });
    stat = opTensor([c], { label: "batchNorm.saveInvStd" });
    batchNormTrainForward(input, weight, bias, runningMean, runningVar, y, mean, stat, {
      momentum,
      eps,
      reluInput,
    });
  } else {
    batchNormEvalForward(x, weight, bias, runningMean, runningVar, y, { eps });
    // Two copy dispatches, only when `record` keeps a node (evaluate runs under noGrad).
    if (!isGradEnabled() || ![x, weight, bias].some((t) => t.requiresGrad)) return y;
    mean = opTensor([c], { label: "batchNorm.evalMean" }).copyFrom(runningMean);
    stat = opTensor([c], { label: "batchNorm.evalVar" }).copyFrom(runningVar);
  }
  record(reluInput ? "reluBatchNorm" : "batchNorm", [input, weight, bias], y, (dy, grads) => {
    const [dx, dWeight, dBias] = grads;
    const wGrad = dWeight ? gradForAdding(dWeight) : null;
    const bGrad = dBias ? gradForAdding(dBias) : null;
    const run = (into: Tensor | null) =>
      training
        ? batchNormBackward(dy, input, weight, mean, stat, into, wGrad, bGrad, { reluInput })
        : batchNormEvalBackward(dy, x, weight, mean, stat, into, wGrad, bGrad, { eps });
    if (dx) writeGrad(dx, run);
    else run(null);
  });
  return y;
}
