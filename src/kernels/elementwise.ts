/**
 * Elementwise kernels: ReLU, sums, products, scaling, dropout (per element and per channel) and
 * the Shake-Shake branch mix, forward and backward. Outputs are caller-allocated and may not share
 * a buffer with any argument (WebGPU cannot bind one buffer as both input and output).
 *
 * Dropout masks are a hash of (seed, element index) computed on the GPU: the same seed gives the
 * same mask, and the caller draws the seed from its `Generator`.
 *
 * @module
 */

import { grid, type Kernel, type ParamType, wgslKernels } from "../gpu/kernel.ts";
import { checkNoAlias, checkShape, type Tensor } from "../tensor.ts";
import code from "../../shaders/elementwise.wgsl" with { type: "text" };
import shakeCode from "../../shaders/shake_shake.wgsl" with { type: "text" };

/** Options of the dropout kernels. */
export interface DropoutOptions {
  /** Probability of zeroing an element (a channel for dropout2d), in [0, 1). */
  p: number;
  /** The mask's seed, an integer in [0, 2³²): the same seed gives the same mask. */
  seed: number;
}

const WORKGROUP = 256;
/** Elements per thread: fewer, busier invocations run faster on CPU adapters. */
const PER_THREAD = 8;

const PARAMS: Record<string, ParamType> = {
  count: "u32",
  inner: "u32",
  factor: "f32",
  threshold: "u32",
  seed: "u32",
  stepQ: "u32",
  stepS: "u32",
};

const kernel = wgslKernels("Elementwise", code, {
  params: PARAMS,
  constants: { WORKGROUP, PER_THREAD },
});

const shakeKernel = wgslKernels("ShakeShake", shakeCode, {
  params: { count: "u32", inner: "u32", stepQ: "u32", stepS: "u32" },
  constants: { WORKGROUP, PER_THREAD },
});

const reluKernel = kernel("relu", 1, 1);
const reluBackwardKernel = kernel("reluBackward", 2, 1);
const addKernel = kernel("add", 2, 1);
const addIntoKernel = kernel("addInto", 1, 1);
const scaleKernel = kernel("scale", 1, 1);
const dropoutKernel = kernel("dropout", 1, 2);
const dropout2dKernel = kernel("dropout2d", 1, 2);
const mulKernel = kernel("mul", 2, 1);
const dropout2dBackwardKernel = kernel("dropout2dBackward", 2, 1);
const shakeMixKernel = shakeKernel("shakeMix", 3, 1);
const shakeMixBackwardKernel = shakeKernel("shakeMixBackward", 2, 2);

/** Checks every tensor of `same` has `ref`'s shape (and is f32). */
function checkSame(
  owner: string,
  refName: string,
  ref: Tensor,
  same: Record<string, Tensor>,
): void {
  checkShape(owner, refName, ref, ref.shape);
  for (const [name, t] of Object.entries(same)) checkShape(owner, name, t, ref.shape);
}

/** Workgroups for `count` elements. */
function workgroups(count: number): [number, number] {
  return grid(Math.ceil(count / (WORKGROUP * PER_THREAD)));
}

/** How a step of WORKGROUP elements moves through planes of `inner` elements. */
function steps(inner: number): { inner: number; stepQ: number; stepS: number } {
  return { inner, stepQ: Math.floor(WORKGROUP / inner), stepS: WORKGROUP % inner };
}

/** Records a dispatch over `count` elements (nothing when there are none). */
function run(
  k: Kernel,
  count: number,
  buffers: Tensor[],
  extra: Record<string, number> = {},
): void {
  if (count === 0) return;
  k.dispatch(
    { count, factor: 0, threshold: 0, seed: 0, ...steps(1), ...extra },
    buffers,
    workgroups(count),
  );
}

function dropoutParams(owner: string, opts: DropoutOptions): Record<string, number> {
  const { p, seed } = opts;
  if (!(p >= 0 && p < 1)) throw new Error(`${owner}: p must be in [0, 1), got ${p}`);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new Error(`${owner}: seed must be an integer in [0, 2^32), got ${seed}`);
  }
  return { threshold: Math.floor(p * 2 ** 32), factor: 1 / (1 - p), seed };
}

/**
 * ReLU: `y = max(x, 0)` (NaN stays NaN).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { relu } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([3]);
 * relu(Tensor.from([-1, 0, 2], [3]), y); // [0, 0, 2]
 * ```
 */
export function relu(
  x: Tensor, // x: any shape
  y: Tensor, // y: same shape as x
): void {
  checkSame("relu", "x", x, { y });
  checkNoAlias("relu", { x }, { y });
  run(reluKernel, x.size, [x, y]);
}

/**
 * Backward of ReLU from its output: `dx = dy` where `y > 0`, else 0 (overwritten).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { reluBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([3]);
 * reluBackward(Tensor.from([1, 1, 1], [3]), Tensor.from([0, 0, 2], [3]), dx); // [0, 0, 1]
 * ```
 */
export function reluBackward(
  dy: Tensor, // dy: any shape
  y: Tensor, // y: same shape, relu's output
  dx: Tensor, // dx: same shape, overwritten
): void {
  checkSame("reluBackward", "dy", dy, { y, dx });
  checkNoAlias("reluBackward", { dy, y }, { dx });
  run(reluBackwardKernel, dy.size, [dy, y, dx]);
}

/**
 * Sum: `y = a + b`; y may not alias a or b (use {@link addInto} to accumulate).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { add } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([2]);
 * add(Tensor.from([1, 2], [2]), Tensor.from([10, 20], [2]), y); // [11, 22]
 * ```
 */
export function add(
  a: Tensor, // a: any shape
  b: Tensor, // b: same shape
  y: Tensor, // y: same shape
): void {
  checkSame("add", "a", a, { b, y });
  checkNoAlias("add", { a, b }, { y });
  run(addKernel, a.size, [a, b, y]);
}

/**
 * Accumulate: `y += x`, e.g. to sum the gradients of a residual connection.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { addInto } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.from([1, 2], [2]);
 * addInto(y, Tensor.from([10, 20], [2])); // y = [11, 22]
 * ```
 */
export function addInto(
  y: Tensor, // y: any shape, updated in place
  x: Tensor, // x: same shape
): void {
  checkSame("addInto", "y", y, { x });
  checkNoAlias("addInto", { x }, { y });
  run(addIntoKernel, y.size, [x, y]);
}

/**
 * Product: `y = a·b`, elementwise (same shapes).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { mul } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([2]);
 * mul(Tensor.from([1, 2], [2]), Tensor.from([10, -3], [2]), y); // [10, -6]
 * ```
 */
export function mul(
  a: Tensor, // a: any shape
  b: Tensor, // b: same shape
  y: Tensor, // y: same shape, overwritten
): void {
  checkSame("mul", "a", a, { b, y });
  checkNoAlias("mul", { a, b }, { y });
  run(mulKernel, a.size, [a, b, y]);
}

/**
 * Scaling: `y = factor·x`, e.g. for gradient scaling.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { scale } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([2]);
 * scale(Tensor.from([1, -2], [2]), y, 0.5); // [0.5, -1]
 * ```
 */
export function scale(
  x: Tensor, // x: any shape
  y: Tensor, // y: same shape
  factor: number,
): void {
  checkSame("scale", "x", x, { y });
  if (!Number.isFinite(factor)) throw new Error(`scale: factor must be finite, got ${factor}`);
  checkNoAlias("scale", { x }, { y });
  run(scaleKernel, x.size, [x, y], { factor });
}

/**
 * Dropout (training): each element is kept with probability 1 − p; `mask` receives 0 or
 * 1/(1 − p) per element and `y = x·mask`. The mask is a hash of (seed, element index).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { dropout } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.full([8], 1);
 * const y = Tensor.empty([8]), mask = Tensor.empty([8]);
 * dropout(x, y, mask, { p: 0.5, seed: 1234 }); // y holds 0 or 2
 * ```
 */
export function dropout(
  x: Tensor, // x: any shape
  y: Tensor, // y: same shape
  mask: Tensor, // mask: same shape, 0 or 1/(1 − p)
  opts: DropoutOptions,
): void {
  checkSame("dropout", "x", x, { y, mask });
  const p = dropoutParams("dropout", opts);
  checkNoAlias("dropout", { x }, { y, mask });
  run(dropoutKernel, x.size, [x, y, mask], p);
}

/**
 * Channel dropout (PyTorch's Dropout2d, training): each (image, channel) plane is kept with
 * probability 1 − p; `mask[n, c]` receives 0 or 1/(1 − p) and `y = x·mask[n, c]`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { dropout2d } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.full([2, 3, 4, 4], 1);
 * const y = Tensor.empty([2, 3, 4, 4]), mask = Tensor.empty([2, 3]);
 * dropout2d(x, y, mask, { p: 0.2, seed: 7 });
 * ```
 */
export function dropout2d(
  x: Tensor, // x: [N, C, H, W]
  y: Tensor, // y: [N, C, H, W]
  mask: Tensor, // mask: [N, C], 0 or 1/(1 − p)
  opts: DropoutOptions,
): void {
  checkShape("dropout2d", "x", x, [null, null, null, null]);
  const [n, c, h, w] = x.shape;
  checkShape("dropout2d", "y", y, x.shape);
  checkShape("dropout2d", "mask", mask, [n, c]);
  const p = dropoutParams("dropout2d", opts);
  checkNoAlias("dropout2d", { x }, { y, mask });
  run(dropout2dKernel, x.size, [x, y, mask], { ...p, ...steps(h * w) });
}

/**
 * Backward of {@link dropout}: `dx = dy·mask` (overwritten).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { dropoutBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([2]);
 * dropoutBackward(Tensor.from([1, 1], [2]), Tensor.from([0, 2], [2]), dx); // [0, 2]
 * ```
 */
export function dropoutBackward(
  dy: Tensor, // dy: any shape
  mask: Tensor, // mask: same shape, from dropout
  dx: Tensor, // dx: same shape, overwritten
): void {
  checkSame("dropoutBackward", "dy", dy, { mask, dx });
  checkNoAlias("dropoutBackward", { dy, mask }, { dx });
  run(mulKernel, dy.size, [dy, mask, dx]);
}

/**
 * Backward of {@link dropout2d}: `dx = dy·mask[n, c]` (overwritten).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { dropout2dBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([1, 2, 2, 2]);
 * dropout2dBackward(Tensor.full([1, 2, 2, 2], 1), Tensor.from([0, 1.25], [1, 2]), dx);
 * ```
 */
export function dropout2dBackward(
  dy: Tensor, // dy: [N, C, H, W]
  mask: Tensor, // mask: [N, C], from dropout2d
  dx: Tensor, // dx: [N, C, H, W], overwritten
): void {
  checkShape("dropout2dBackward", "dy", dy, [null, null, null, null]);
  const [n, c, h, w] = dy.shape;
  checkShape("dropout2dBackward", "mask", mask, [n, c]);
  checkShape("dropout2dBackward", "dx", dx, dy.shape);
  checkNoAlias("dropout2dBackward", { dy, mask }, { dx });
  run(dropout2dBackwardKernel, dy.size, [dy, mask, dx], steps(h * w));
}

/** Checks a, the batch dimension N and `perImage` [N]; returns the elements per image. */
function checkBatch(owner: string, aName: string, a: Tensor, perImage: [string, Tensor]): number {
  if (a.shape.length === 0) throw new Error(`${owner}: ${aName} has shape [], expected [N, ...]`);
  checkShape(owner, aName, a, a.shape);
  checkShape(owner, perImage[0], perImage[1], [a.shape[0]]);
  return a.shape[0] === 0 ? 0 : a.size / a.shape[0];
}

/**
 * Shake-Shake forward mix of two branches, per image: `y = α[n]·a + (1 − α[n])·b`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { shakeMix } from "@hajime/nn/gpu";
 * await initGpu();
 * const a = Tensor.full([2, 3], 1), b = Tensor.zeros([2, 3]);
 * const y = Tensor.empty([2, 3]);
 * shakeMix(a, b, Tensor.from([0.25, 0.75], [2]), y); // rows of 0.25 and 0.75
 * ```
 */
export function shakeMix(
  a: Tensor, // a: [N, ...]
  b: Tensor, // b: same shape as a
  alpha: Tensor, // alpha: [N], per-image weight of a
  y: Tensor, // y: same shape as a
): void {
  const inner = checkBatch("shakeMix", "a", a, ["alpha", alpha]);
  checkSame("shakeMix", "a", a, { b, y });
  checkNoAlias("shakeMix", { a, b, alpha }, { y });
  if (a.size === 0) return;
  shakeMixKernel.dispatch({ count: a.size, ...steps(inner) }, [a, b, alpha, y], workgroups(a.size));
}

/**
 * Shake-Shake backward: `da = β[n]·dy`, `db = (1 − β[n])·dy` (both overwritten), with β drawn
 * independently of the forward's α.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { shakeMixBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dy = Tensor.full([2, 3], 1);
 * const da = Tensor.empty([2, 3]), db = Tensor.empty([2, 3]);
 * shakeMixBackward(dy, Tensor.from([0.5, 0.1], [2]), da, db);
 * ```
 */
export function shakeMixBackward(
  dy: Tensor, // dy: [N, ...]
  beta: Tensor, // beta: [N], per-image share of the gradient sent to a
  da: Tensor, // da: same shape as dy, overwritten
  db: Tensor, // db: same shape as dy, overwritten
): void {
  const inner = checkBatch("shakeMixBackward", "dy", dy, ["beta", beta]);
  checkSame("shakeMixBackward", "dy", dy, { da, db });
  checkNoAlias("shakeMixBackward", { dy, beta }, { da, db });
  if (dy.size === 0) return;
  shakeMixBackwardKernel.dispatch(
    { count: dy.size, ...steps(inner) },
    [dy, beta, da, db],
    workgroups(dy.size),
  );
}
