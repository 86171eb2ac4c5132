/**
 * Whole-tensor reductions and comparisons, the metrics of a training loop (sum, mean, row argmax,
 * elementwise equality), and the scalar broadcasts that make the gradients of sum, mean and of a
 * loss scaled by its output gradient. Every output is overwritten and may not share a buffer
 * with an argument. Sums run in one workgroup in a fixed order, so they are deterministic.
 *
 * @module
 */

import { grid, type Kernel, wgslKernels } from "../gpu/kernel.ts";
import { checkNoAlias, checkShape, type DType, type Tensor } from "../tensor.ts";
import code from "../../shaders/reduce.wgsl" with { type: "text" };

const WORKGROUP = 256;

const kernel = wgslKernels("Reduce", code, { count: "u32", k: "u32", factor: "f32" }, {
  WORKGROUP,
});

const sumF32Kernel = kernel("sumAllF32", 1, 1);
const sumI32Kernel = kernel("sumAllI32", 1, 1);
const rowArgmaxKernel = kernel("rowArgmax", 1, 1);
const equalMaskKernel = kernel("equalMask", 2, 1);
const broadcastKernel = kernel("broadcastScalar", 1, 1);
const scaleByScalarKernel = kernel("scaleByScalar", 2, 1);

/** Records a dispatch of one thread per element written (nothing when there are none). */
function run(
  k: Kernel,
  count: number,
  buffers: Tensor<DType>[],
  p: { k?: number; factor?: number } = {},
): void {
  if (count === 0) return;
  k.dispatch({ count, k: 0, factor: 0, ...p }, buffers, grid(Math.ceil(count / WORKGROUP)));
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
  k.dispatch({ count: x.size, k: 0, factor }, [x, y], [1]);
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
