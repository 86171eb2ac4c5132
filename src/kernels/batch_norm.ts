/**
 * Batch normalisation kernels for [N, C, H, W] tensors, exactly as PyTorch's `BatchNorm2d`:
 * training forward with batch statistics (biased variance to normalise, unbiased variance into
 * the running estimate), eval forward with running statistics, and the backward of each.
 *
 * Per-channel reductions run a workgroup per (chunk of N·H·W, channel), each computing its
 * chunk's mean and then Σ(x − mean)² (two passes over data still in cache), and a thread per
 * channel merges the chunks with Chan's formula: accurate for inputs far from zero mean, and
 * parallel enough for a few wide channels.
 *
 * Where a plane (H·W) is a multiple of 4 elements, the passes over the tensor run on vec4 units
 * (`stats4`, `normalize4`, ...): four elements of one channel per load, the per-channel values
 * loaded once for the four.
 *
 * @module
 */

import { grid, type Kernel, type ParamType, wgslKernels } from "../gpu/kernel.ts";
import { checkNoAlias, checkShape, Tensor } from "../tensor.ts";
import code from "../../shaders/batch_norm.wgsl" with { type: "text" };

/** Options of {@link batchNormTrainForward}. */
export interface BatchNormTrainOptions {
  /** Weight of the batch statistics in the running ones; PyTorch's default 0.1. */
  momentum?: number;
  /** Added to the variance before the square root; PyTorch's default 1e-5. */
  eps?: number;
  /**
   * Normalise `relu(x)` rather than `x`, the ReLU applied as values are loaded (a ReLU in front
   * fused in; default false). The statistics are then those of `relu(x)`.
   */
  reluInput?: boolean;
}

/** Options of {@link batchNormBackward}. */
export interface BatchNormBackwardOptions {
  /**
   * The forward ran with `reluInput`: the statistics are those of `relu(x)`, and dx is the
   * gradient with respect to x, through the ReLU (default false).
   */
  reluInput?: boolean;
}

/** Options of {@link batchNormEvalForward}. */
export interface BatchNormEvalOptions {
  /** Added to the running variance before the square root; PyTorch's default 1e-5. */
  eps?: number;
}

const WORKGROUP = 256;
/** Elements per thread of the elementwise passes (normalize, dx): one division per thread. */
const PER_THREAD = 8;
/**
 * A reduction's workgroup shrinks (to no fewer than 32 threads) until each thread has this many
 * units: threads with nothing to add still pay for the barriers, most of all on llvmpipe, which
 * runs a workgroup's threads as a loop on one core (a channel of 2×2 planes at batch 32 holds 32).
 */
const MIN_UNITS_PER_THREAD = 4;
/** Units per thread in one chunk of a reduction: enough work to pay for the barriers. */
const CHUNK_PER_THREAD = 16;
/** More chunks than this per channel only make the merge longer. */
const MAX_CHUNKS = 1024;

const PARAMS: Record<string, ParamType> = {
  channels: "u32",
  plane: "u32",
  count: "u32",
  chunk: "u32",
  chunks: "u32",
  total: "u32",
  momentum: "f32",
  eps: "f32",
  eval: "u32",
  coefOffset: "u32",
  stepQ: "u32",
  stepS: "u32",
  stepC: "u32",
  reluInput: "u32",
};

const kernel = wgslKernels("BatchNorm", code, {
  params: PARAMS,
  constants: { WORKGROUP, PER_THREAD },
});

const statsFinalizeKernel = kernel("statsFinalize", 1, 4);
const backwardFinalizeKernel = kernel("backwardFinalize", 3, 3);
/** The passes over the tensor, per unit width (1: elements, 4: vec4 units). */
const PASSES = {
  1: {
    stats: kernel("stats", 1, 1),
    normalize: kernel("normalize", 5, 1),
    backwardReduce: kernel("backwardReduce", 3, 1),
    backwardDx: kernel("backwardDx", 3, 1),
  },
  4: {
    stats: kernel("stats4", 1, 1),
    normalize: kernel("normalize4", 5, 1),
    backwardReduce: kernel("backwardReduce4", 3, 1),
    backwardDx: kernel("backwardDx4", 3, 1),
  },
};

/** Partial sums and dx coefficients; one buffer shared by every call, grown on demand. */
let scratch: Tensor | null = null;

function scratchOf(words: number): Tensor {
  if (!scratch || scratch.disposed || scratch.size < words) {
    const size = Math.max(words, 2 * (scratch?.size ?? 0));
    // Work already recorded on the old buffer still runs before any reuse (queue order).
    scratch?.dispose();
    scratch = Tensor.empty([size], { label: "BatchNorm.scratch" });
  }
  return scratch;
}

/** Sizes in units of `width` elements (4 where H·W allows, else 1). */
interface Layout {
  width: 1 | 4;
  c: number;
  plane: number; // units per plane
  count: number; // units per channel
  chunk: number; // units per chunk of a reduction
  chunks: number;
  group: number; // threads per workgroup of a reduction
}

function layout(x: Tensor): Layout {
  const [n, c, h, w] = x.shape;
  const width = (h * w) % 4 === 0 ? 4 : 1;
  const plane = h * w / width;
  const count = n * plane;
  const wanted = Math.ceil(count / MIN_UNITS_PER_THREAD);
  const group = Math.min(WORKGROUP, Math.max(32, 2 ** Math.ceil(Math.log2(Math.max(wanted, 1)))));
  let chunk = group * CHUNK_PER_THREAD;
  if (count > chunk * MAX_CHUNKS) chunk = Math.ceil(count / MAX_CHUNKS / group) * group;
  return { width, c, plane, count, chunk, chunks: Math.ceil(count / chunk), group };
}

/** The same layout counted in elements: the finalize kernels' view of the chunks. */
function inElements(l: Layout): Layout {
  const w = l.width;
  return { ...l, width: 1, plane: l.plane * w, count: l.count * w, chunk: l.chunk * w };
}

/** The params of a pass whose threads step `threads` units apart (a workgroup's size). */
function params(
  l: Layout,
  extra: Partial<Record<string, number>> = {},
  threads = WORKGROUP,
): Record<string, number> {
  return {
    channels: l.c,
    plane: l.plane,
    count: l.count,
    chunk: l.chunk,
    chunks: l.chunks,
    total: l.count * l.c,
    momentum: 0,
    eps: 0,
    eval: 0,
    coefOffset: l.c * l.chunks * 2,
    stepQ: Math.floor(threads / l.plane),
    stepS: threads % l.plane,
    stepC: Math.floor(threads / l.plane) % l.c,
    reluInput: 0,
    ...extra,
  };
}

/** A reduction kernel at the layout's workgroup size. */
function reduction(kernel: Kernel, l: Layout): Kernel {
  return l.group === WORKGROUP ? kernel : kernel.withConstants({ WORKGROUP: l.group });
}

/** Workgroups of the elementwise passes. */
function elementwiseGrid(l: Layout): [number, number] {
  return grid(Math.ceil(l.count * l.c / (WORKGROUP * PER_THREAD)));
}

/** Checks x is [N, C, H, W] f32 and every other tensor has the shape it should. */
function checkArgs(
  owner: string,
  x: Tensor,
  channelArgs: Record<string, Tensor>,
  sameAsX: Record<string, Tensor>,
): Layout {
  checkShape(owner, "x", x, [null, null, null, null]);
  const l = layout(x);
  for (const [name, t] of Object.entries(channelArgs)) checkShape(owner, name, t, [l.c]);
  for (const [name, t] of Object.entries(sameAsX)) checkShape(owner, name, t, x.shape);
  return l;
}

function checkEps(owner: string, eps: number): void {
  if (!(eps > 0) || !Number.isFinite(eps)) {
    throw new Error(`${owner}: eps must be a finite number > 0, got ${eps}`);
  }
}

/**
 * Training forward of BatchNorm2d: normalises `x` with its batch statistics (biased variance),
 * `y = (x − mean)/sqrt(var + eps)·γ + β`, saves the mean and inverse std for the backward, and
 * updates the running statistics in place as PyTorch does: `running = (1 − m)·running + m·batch`
 * with the unbiased variance (N·H·W/(N·H·W − 1) times the biased one) for `runningVar`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { batchNormTrainForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.from(Array.from({ length: 16 }, (_, i) => i), [2, 2, 2, 2]);
 * const gamma = Tensor.full([2], 1), beta = Tensor.zeros([2]);
 * const runningMean = Tensor.zeros([2]), runningVar = Tensor.full([2], 1);
 * const y = Tensor.empty([2, 2, 2, 2]);
 * const saveMean = Tensor.empty([2]), saveInvStd = Tensor.empty([2]);
 * batchNormTrainForward(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd, {
 *   momentum: 0.1,
 *   eps: 1e-5,
 * });
 * console.log(await y.read());
 * ```
 */
export function batchNormTrainForward(
  x: Tensor, // x: [N, C, H, W]
  gamma: Tensor, // gamma: [C]
  beta: Tensor, // beta: [C]
  runningMean: Tensor, // runningMean: [C], updated in place
  runningVar: Tensor, // runningVar: [C], updated in place
  y: Tensor, // y: [N, C, H, W]
  saveMean: Tensor, // saveMean: [C], the batch mean
  saveInvStd: Tensor, // saveInvStd: [C], 1/sqrt(batch var + eps)
  opts: BatchNormTrainOptions = {},
): void {
  const owner = "batchNormTrainForward";
  const { momentum = 0.1, eps = 1e-5, reluInput = false } = opts;
  const l = checkArgs(owner, x, { gamma, beta, runningMean, runningVar, saveMean, saveInvStd }, {
    y,
  });
  if (!(momentum >= 0 && momentum <= 1)) {
    throw new Error(`${owner}: momentum must be in [0, 1], got ${momentum}`);
  }
  checkEps(owner, eps);
  if (inElements(l).count < 2 && l.c > 0) {
    throw new Error(
      `${owner}: x has shape [${x.shape.join(", ")}]: training needs more than one value per ` +
        `channel (N·H·W > 1)`,
    );
  }
  checkNoAlias(owner, { x, gamma, beta }, { runningMean, runningVar, y, saveMean, saveInvStd });
  if (l.c === 0) return;
  const pass = PASSES[l.width];
  const relu = { reluInput: reluInput ? 1 : 0 };
  const p = params(l, { momentum, eps, ...relu });
  const partials = scratchOf(l.c * l.chunks * 2);
  reduction(pass.stats, l).dispatch(
    params(l, relu, l.group),
    [x, partials],
    [l.chunks, l.c],
  );
  statsFinalizeKernel.dispatch(
    params(inElements(l), { momentum, eps }),
    [partials, runningMean, runningVar, saveMean, saveInvStd],
    [Math.ceil(l.c / 64)],
  );
  pass.normalize.dispatch(p, [x, gamma, beta, saveMean, saveInvStd, y], elementwiseGrid(l));
}

/**
 * Eval forward of BatchNorm2d: `y = (x − runningMean)/sqrt(runningVar + eps)·γ + β`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { batchNormEvalForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.full([1, 3, 2, 2], 2);
 * const y = Tensor.empty([1, 3, 2, 2]);
 * batchNormEvalForward(
 *   x,
 *   Tensor.full([3], 1),
 *   Tensor.zeros([3]),
 *   Tensor.zeros([3]),
 *   Tensor.full([3], 1),
 *   y,
 *   { eps: 1e-5 },
 * );
 * ```
 */
export function batchNormEvalForward(
  x: Tensor, // x: [N, C, H, W]
  gamma: Tensor, // gamma: [C]
  beta: Tensor, // beta: [C]
  runningMean: Tensor, // runningMean: [C]
  runningVar: Tensor, // runningVar: [C]
  y: Tensor, // y: [N, C, H, W]
  opts: BatchNormEvalOptions = {},
): void {
  const owner = "batchNormEvalForward";
  const { eps = 1e-5 } = opts;
  const l = checkArgs(owner, x, { gamma, beta, runningMean, runningVar }, { y });
  checkEps(owner, eps);
  checkNoAlias(owner, { x, gamma, beta, runningMean, runningVar }, { y });
  if (l.count * l.c === 0) return;
  PASSES[l.width].normalize.dispatch(
    params(l, { eps, eval: 1 }),
    [x, gamma, beta, runningMean, runningVar, y],
    elementwiseGrid(l),
  );
}

/**
 * Backward of the training forward, with the statistics it saved:
 * `dx = γ·invStd·(dy − mean(dy) − x̂·mean(dy·x̂))` (overwritten), `dGamma += Σ dy·x̂`,
 * `dBeta += Σ dy`, sums over N·H·W, `x̂ = (x − saveMean)·saveInvStd`. A gradient passed as null
 * is not written (its dispatch is skipped for dx). With `reluInput` (as the forward had it), x̂
 * is of `relu(x)` and dx is masked where `relu(x) = 0`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { batchNormBackward, batchNormTrainForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const shape = [2, 2, 2, 2];
 * const x = Tensor.from(Array.from({ length: 16 }, (_, i) => i * i), shape);
 * const gamma = Tensor.full([2], 1), beta = Tensor.zeros([2]);
 * const saveMean = Tensor.empty([2]), saveInvStd = Tensor.empty([2]);
 * const y = Tensor.empty(shape);
 * batchNormTrainForward(x, gamma, beta, Tensor.zeros([2]), Tensor.full([2], 1), y, saveMean,
 *   saveInvStd, { momentum: 0.1, eps: 1e-5 });
 * const dx = Tensor.empty(shape), dGamma = Tensor.zeros([2]), dBeta = Tensor.zeros([2]);
 * batchNormBackward(Tensor.full(shape, 1), x, gamma, saveMean, saveInvStd, dx, dGamma, dBeta);
 * ```
 */
export function batchNormBackward(
  dy: Tensor, // dy: [N, C, H, W]
  x: Tensor, // x: [N, C, H, W], the training forward's input
  gamma: Tensor, // gamma: [C]
  saveMean: Tensor, // saveMean: [C], from batchNormTrainForward
  saveInvStd: Tensor, // saveInvStd: [C], from batchNormTrainForward
  dx: Tensor | null, // dx: [N, C, H, W], overwritten
  dGamma: Tensor | null, // dGamma: [C], accumulated (+=)
  dBeta: Tensor | null, // dBeta: [C], accumulated (+=)
  opts: BatchNormBackwardOptions = {},
): void {
  const grads = { dx, dGamma, dBeta };
  const extra = { eval: 0, reluInput: opts.reluInput ? 1 : 0 };
  recordBackward("batchNormBackward", dy, x, gamma, { saveMean, saveInvStd }, grads, extra);
}

/**
 * Backward of the eval forward, whose running statistics are constants:
 * `dx = γ·dy/sqrt(runningVar + eps)` (overwritten), `dGamma += Σ dy·x̂`, `dBeta += Σ dy`, sums
 * over N·H·W, `x̂ = (x − runningMean)/sqrt(runningVar + eps)`. A gradient passed as null is not
 * written (its dispatch is skipped for dx).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { batchNormEvalBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const shape = [1, 3, 2, 2];
 * const dx = Tensor.empty(shape), dGamma = Tensor.zeros([3]), dBeta = Tensor.zeros([3]);
 * batchNormEvalBackward(
 *   Tensor.full(shape, 1),
 *   Tensor.full(shape, 2),
 *   Tensor.full([3], 1),
 *   Tensor.zeros([3]),
 *   Tensor.full([3], 1),
 *   dx,
 *   dGamma,
 *   dBeta,
 *   { eps: 1e-5 },
 * );
 * ```
 */
export function batchNormEvalBackward(
  dy: Tensor, // dy: [N, C, H, W]
  x: Tensor, // x: [N, C, H, W], the eval forward's input
  gamma: Tensor, // gamma: [C]
  runningMean: Tensor, // runningMean: [C], as the eval forward used it
  runningVar: Tensor, // runningVar: [C], as the eval forward used it
  dx: Tensor | null, // dx: [N, C, H, W], overwritten
  dGamma: Tensor | null, // dGamma: [C], accumulated (+=)
  dBeta: Tensor | null, // dBeta: [C], accumulated (+=)
  opts: BatchNormEvalOptions = {},
): void {
  const owner = "batchNormEvalBackward";
  const { eps = 1e-5 } = opts;
  checkEps(owner, eps);
  const grads = { dx, dGamma, dBeta };
  recordBackward(owner, dy, x, gamma, { runningMean, runningVar }, grads, { eval: 1, eps });
}

/** The gradients a backward writes; null: not needed, not written. */
interface Grads {
  dx: Tensor | null; // dx: [N, C, H, W], overwritten
  dGamma: Tensor | null; // dGamma: [C], accumulated (+=)
  dBeta: Tensor | null; // dBeta: [C], accumulated (+=)
}

/**
 * The backward dispatches. `stats` holds the mean then the inverse std (eval 0) or the running
 * variance (eval 1), under the caller's argument names.
 */
function recordBackward(
  owner: string,
  dy: Tensor, // dy: [N, C, H, W]
  x: Tensor, // x: [N, C, H, W]
  gamma: Tensor, // gamma: [C]
  stats: Record<string, Tensor>, // [C] each
  grads: Grads,
  extra: { eval: number; eps?: number; reluInput?: number },
): void {
  const outputs = Object.fromEntries(
    Object.entries(grads).filter((e): e is [string, Tensor] => e[1] !== null),
  );
  const { dx, ...channelGrads } = outputs;
  const l = checkArgs(owner, x, { gamma, ...stats, ...channelGrads }, dx ? { dy, dx } : { dy });
  checkNoAlias(owner, { dy, x, gamma, ...stats }, outputs);
  if (l.count * l.c === 0) return;
  const [mean, stat] = Object.values(stats);
  const p = params(l, extra);
  const work = scratchOf(l.c * l.chunks * 2 + l.c * 4);
  // The finalize kernel writes both parameter gradients: one nobody needs goes to a temporary.
  const dGamma = grads.dGamma ?? Tensor.empty([l.c], { label: "BatchNorm.unusedDGamma" });
  const dBeta = grads.dBeta ?? Tensor.empty([l.c], { label: "BatchNorm.unusedDBeta" });
  const pass = PASSES[l.width];
  reduction(pass.backwardReduce, l).dispatch(
    params(l, extra, l.group),
    [dy, x, mean, work],
    [l.chunks, l.c],
  );
  backwardFinalizeKernel.dispatch(
    params(inElements(l), extra),
    [mean, stat, gamma, dGamma, dBeta, work],
    [Math.ceil(l.c / 64)],
  );
  if (dx) pass.backwardDx.dispatch(p, [dy, x, work, dx], elementwiseGrid(l));
  if (!grads.dGamma) dGamma.dispose();
  if (!grads.dBeta) dBeta.dispose();
}
