/**
 * Whole-tensor reductions and comparisons, the metrics of a training loop (sum, mean, row argmax,
 * elementwise equality), the scalar broadcasts that make the gradients of sum, mean and of a
 * loss scaled by its output gradient, and the pieces of gradient-norm clipping. Every output is
 * overwritten (but {@link scaleByScalarInPlace}'s) and may not share a buffer with an argument.
 * Sums run in a fixed order, so they are deterministic.
 *
 * @module
 */

import { grid, type Kernel, wgslKernels } from "../gpu/kernel.ts";
import { checkNoAlias, checkShape, type DType, type Tensor } from "../tensor.ts";
import code from "../../shaders/reduce.wgsl" with { type: "text" };

const WORKGROUP = 256;
/** Elements per workgroup of {@link sumSquaresPartial}. */
const CHUNK = 4096;

const kernel = wgslKernels("Reduce", code, {
  params: { count: "u32", k: "u32", factor: "f32", offset: "u32" },
  constants: { WORKGROUP, CHUNK },
});

const sumF32Kernel = kernel("sumAllF32", 1, 1);
const sumI32Kernel = kernel("sumAllI32", 1, 1);
const rowArgmaxKernel = kernel("rowArgmax", 1, 1);
const equalMaskKernel = kernel("equalMask", 2, 1);
const broadcastKernel = kernel("broadcastScalar", 1, 1);
const scaleByScalarKernel = kernel("scaleByScalar", 2, 1);
const sumSquaresKernel = kernel("sumSquaresPartial", 1, 1);
const clipCoefficientKernel = kernel("clipCoefficient", 1, 2);
const scaleInPlaceKernel = kernel("scaleByScalarInPlace", 1, 1);

/** Records a dispatch of one thread per element written (nothing when there are none). */
function run(
  k: Kernel,
  count: number,
  buffers: Tensor<DType>[],
  p: { k?: number; factor?: number } = {},
): void {
  if (count === 0) return;
  k.dispatch(
    { count, k: 0, factor: 0, offset: 0, ...p },
    buffers,
    grid(Math.ceil(count / WORKGROUP)),
  );
}

/**
 * Sum of every element: `y[0] = factor·Σ x` (overwritten; `factor` 1/size gives the mean), for
 * f32 or i32 (`factor` must then be 1; i32 sums wrap on overflow). An empty x gives 0.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { sumAll } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([1]);
 * sumAll(Tensor.from([1, 2, 3, 4], [2, 2]), y, 0.25); // [2.5], the mean
 * ```
 */
export function sumAll<D extends "f32" | "i32">(
  x: Tensor<D>, // x: any shape, f32 or i32
  y: Tensor<D>, // y: [1], x's dtype, overwritten
  factor = 1,
): void {
  const owner = "sumAll";
  if (x.dtype !== "f32" && x.dtype !== "i32") {
    throw new Error(`${owner}: x has dtype ${x.dtype}, expected f32 or i32`);
  }
  checkShape(owner, "x", x, x.shape, x.dtype);
  checkShape(owner, "y", y, [1], x.dtype);
  if (!Number.isFinite(factor)) throw new Error(`${owner}: factor must be finite, got ${factor}`);
  if (x.dtype === "i32" && factor !== 1) {
    throw new Error(`${owner}: an i32 sum takes no factor, got ${factor}`);
  }
  checkNoAlias(owner, { x }, { y });
  const k = x.dtype === "f32" ? sumF32Kernel : sumI32Kernel;
  k.dispatch({ count: x.size, k: 0, factor, offset: 0 }, [x, y], [1]);
}

/**
 * Row argmax: `y[r]` is the column of the largest `x[r, :]`, the first on ties (as
 * `torch.argmax(x, 1)`; a NaN never wins unless it comes first).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { rowArgmax } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([2], { dtype: "i32" });
 * rowArgmax(Tensor.from([0, 3, 1, 5, 5, 2], [2, 3]), y); // [1, 0]
 * ```
 */
export function rowArgmax(
  x: Tensor, // x: [N, K], K ≥ 1
  y: Tensor<"i32">, // y: i32 [N], overwritten
): void {
  const owner = "rowArgmax";
  checkShape(owner, "x", x, [null, null]);
  const [n, k] = x.shape;
  if (k < 1 && n > 0) throw new Error(`${owner}: x has shape [${n}, ${k}], expected K ≥ 1`);
  checkShape(owner, "y", y, [n], "i32");
  checkNoAlias(owner, { x }, { y });
  run(rowArgmaxKernel, n, [x, y], { k });
}

/**
 * Elementwise equality of i32 tensors: `y = 1` where `a = b`, else 0 (overwritten).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { equalMask } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([3], { dtype: "i32" });
 * const a = Tensor.from([1, 2, 3], [3], { dtype: "i32" });
 * equalMask(a, Tensor.from([1, 0, 3], [3], { dtype: "i32" }), y); // [1, 0, 1]
 * ```
 */
export function equalMask(
  a: Tensor<"i32">, // a: any shape, i32
  b: Tensor<"i32">, // b: same shape, i32
  y: Tensor<"i32">, // y: same shape, i32 0/1, overwritten
): void {
  const owner = "equalMask";
  checkShape(owner, "a", a, a.shape, "i32");
  checkShape(owner, "b", b, a.shape, "i32");
  checkShape(owner, "y", y, a.shape, "i32");
  checkNoAlias(owner, { a, b }, { y });
  run(equalMaskKernel, a.size, [a, b, y]);
}

/**
 * Broadcast of a scalar: `y = factor·s[0]` everywhere (overwritten), the gradient of sum
 * (`factor` 1) and of mean (`factor` 1/size).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { broadcastScalar } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([2, 3]);
 * broadcastScalar(Tensor.from([6], [1]), y, 0.5); // every element 3
 * ```
 */
export function broadcastScalar(
  s: Tensor, // s: [1]
  y: Tensor, // y: any shape, overwritten
  factor = 1,
): void {
  const owner = "broadcastScalar";
  checkShape(owner, "s", s, [1]);
  checkShape(owner, "y", y, y.shape);
  if (!Number.isFinite(factor)) throw new Error(`${owner}: factor must be finite, got ${factor}`);
  checkNoAlias(owner, { s }, { y });
  run(broadcastKernel, y.size, [s, y], { factor });
}

/**
 * Scaling by a scalar held on the GPU: `y = x·s[0]` (overwritten), e.g. a loss gradient saved
 * in the forward times the loss's output gradient.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { scaleByScalar } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([2]);
 * scaleByScalar(Tensor.from([1, -2], [2]), Tensor.from([3], [1]), y); // [3, -6]
 * ```
 */
export function scaleByScalar(
  x: Tensor, // x: any shape
  s: Tensor, // s: [1]
  y: Tensor, // y: same shape as x, overwritten
): void {
  const owner = "scaleByScalar";
  checkShape(owner, "x", x, x.shape);
  checkShape(owner, "s", s, [1]);
  checkShape(owner, "y", y, x.shape);
  checkNoAlias(owner, { x, s }, { y });
  run(scaleByScalarKernel, x.size, [x, s, y]);
}

/**
 * The partial sums {@link sumSquaresPartial} writes for a tensor of `size` elements: one per
 * chunk of 4096.
 *
 * @example
 * ```ts
 * import { sumSquaresChunks } from "@hajime/nn/gpu";
 * console.log(sumSquaresChunks(10000)); // 3
 * ```
 */
export function sumSquaresChunks(size: number): number {
  return Math.ceil(size / CHUNK);
}

/**
 * Sums of squares by chunks: `partials[offset + g] = Σ x²` over chunk g of x (4096 elements, a
 * workgroup each; {@link sumSquaresChunks} of them), so several tensors' sums share one buffer.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { sumSquaresPartial } from "@hajime/nn/gpu";
 * await initGpu();
 * const partials = Tensor.zeros([2]);
 * sumSquaresPartial(Tensor.from([3, 4], [2]), partials, 1);
 * console.log(await partials.read()); // [0, 25]
 * ```
 */
export function sumSquaresPartial(
  x: Tensor, // x: any shape
  partials: Tensor, // partials: [≥ offset + sumSquaresChunks(x.size)], those written
  offset: number,
): void {
  const owner = "sumSquaresPartial";
  checkShape(owner, "x", x, x.shape);
  checkShape(owner, "partials", partials, [null]);
  const chunks = sumSquaresChunks(x.size);
  if (!Number.isInteger(offset) || offset < 0 || offset + chunks > partials.size) {
    throw new Error(
      `${owner}: offset ${offset} + ${chunks} chunks does not fit partials [${partials.size}]`,
    );
  }
  checkNoAlias(owner, { x }, { partials });
  if (chunks === 0) return;
  sumSquaresKernel.dispatch(
    { count: x.size, k: 0, factor: 0, offset },
    [x, partials],
    grid(chunks),
  );
}

/**
 * The total norm and clip coefficient of `clip_grad_norm_`: `norm[0] = sqrt(Σ partials)`,
 * `coef[0] = min(1, maxNorm / (norm + 1e-6))` (both overwritten; one workgroup, fixed order).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { clipCoefficient } from "@hajime/nn/gpu";
 * await initGpu();
 * const norm = Tensor.empty([1]), coef = Tensor.empty([1]);
 * clipCoefficient(Tensor.from([9, 16], [2]), norm, coef, 1);
 * console.log(await norm.read(), await coef.read()); // [5], [0.2]
 * ```
 */
export function clipCoefficient(
  partials: Tensor, // partials: [P], sums of squares
  norm: Tensor, // norm: [1], overwritten
  coef: Tensor, // coef: [1], overwritten
  maxNorm: number,
): void {
  const owner = "clipCoefficient";
  checkShape(owner, "partials", partials, [null]);
  checkShape(owner, "norm", norm, [1]);
  checkShape(owner, "coef", coef, [1]);
  if (!(maxNorm >= 0) || !Number.isFinite(maxNorm)) {
    throw new Error(`${owner}: maxNorm must be a finite number ≥ 0, got ${maxNorm}`);
  }
  checkNoAlias(owner, { partials }, { norm, coef });
  clipCoefficientKernel.dispatch(
    { count: partials.size, k: 0, factor: maxNorm, offset: 0 },
    [partials, norm, coef],
    [1],
  );
}

/**
 * In-place scaling by a scalar held on the GPU: `y *= s[0]` (the gradient rescale of clipping).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { scaleByScalarInPlace } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.from([1, -2], [2]);
 * scaleByScalarInPlace(y, Tensor.from([0.5], [1]));
 * console.log(await y.read()); // [0.5, -1]
 * ```
 */
export function scaleByScalarInPlace(
  y: Tensor, // y: any shape, updated in place
  s: Tensor, // s: [1]
): void {
  const owner = "scaleByScalarInPlace";
  checkShape(owner, "y", y, y.shape);
  checkShape(owner, "s", s, [1]);
  checkNoAlias(owner, { s }, { y });
  run(scaleInPlaceKernel, y.size, [s, y]);
}
