/**
 * Reductions and comparisons: `argmax`, `eq`, `sum`, `mean` (kernels in src/kernels/reduce.ts,
 * shaders/reduce.wgsl). `sum` and `mean` of f32 tensors are differentiable (backward: `dy`
 * broadcast, divided by the size for the mean); integer results have no gradient, so
 * `await predicted.eq(labels).sum().item()` counts correct predictions without a readback
 * until `item()`.
 *
 * @module
 */

import { opTensor, record, writeGrad } from "../autograd.ts";
import { broadcastScalar, equalMask, rowArgmax, sumAll } from "../kernels/reduce.ts";
import { checkShape, type DType, type Tensor } from "../tensor.ts";

/**
 * PyTorch's `x.argmax(dim)` over the class axis of `[N, K]` (`dim` 1 or −1): the column of each
 * row's largest value, the first on ties, as an i32 `[N]`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const predicted = Tensor.from([0, 3, 1, 5, 5, 2], [2, 3]).argmax(1);
 * console.log(await predicted.read()); // [1, 0]
 * ```
 */
export function argmax(
  x: Tensor, // x: [N, K], K ≥ 1
  dim: number,
): Tensor<"i32"> { // → i32 [N]
  if (dim !== 1 && dim !== -1) {
    throw new Error(`argmax: dim must be 1 or -1 (the class axis of [N, K]), got ${dim}`);
  }
  checkShape("argmax", "x", x, [null, null]);
  const [n, k] = x.shape;
  if (k < 1 && n > 0) throw new Error(`argmax: x has shape [${n}, ${k}], expected K ≥ 1`);
  const y = opTensor<"i32">([n], { label: "argmax.y", dtype: "i32" });
  rowArgmax(x, y);
  return y;
}

/**
 * PyTorch's `a.eq(b)` for i32 tensors of one shape: 1 where equal, else 0 (i32, as hajime has no
 * bool dtype).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const a = Tensor.from([1, 2, 3], [3], { dtype: "i32" });
 * console.log(await a.eq(Tensor.from([1, 0, 3], [3], { dtype: "i32" })).read()); // [1, 0, 1]
 * ```
 */
export function eq(
  a: Tensor<"i32">, // a: any shape, i32
  b: Tensor<"i32">, // b: same shape, i32
): Tensor<"i32"> { // → i32 0/1, same shape
  checkShape("eq", "a", a, a.shape, "i32");
  checkShape("eq", "b", b, a.shape, "i32");
  const y = opTensor<"i32">(a.shape, { label: "eq.y", dtype: "i32" });
  equalMask(a, b, y);
  return y;
}

/**
 * PyTorch's `x.sum()`: the sum of every element as a `[1]` tensor of x's dtype (f32 or i32;
 * i32 wraps on overflow). Differentiable for f32 (backward: dy everywhere).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * console.log(await Tensor.from([1, 2, 3], [3]).sum().item()); // 6
 * ```
 */
export function sum<D extends DType>(x: Tensor<D>): Tensor<D> { // x: any shape → [1]
  if (x.dtype === "i32") {
    const ints = x as Tensor<DType> as Tensor<"i32">;
    checkShape("sum", "x", ints, ints.shape, "i32");
    const y = opTensor<"i32">([1], { label: "sum.y", dtype: "i32" });
    sumAll(ints, y);
    return y as Tensor<DType> as Tensor<D>;
  }
  if (x.dtype !== "f32") throw new Error(`sum: x has dtype ${x.dtype}, expected f32 or i32`);
  return scaledSum("sum", x as Tensor<DType> as Tensor, 1) as Tensor<DType> as Tensor<D>;
}

/**
 * PyTorch's `x.mean()` of an f32 tensor, as a `[1]` tensor; backward `dy / size` everywhere.
 * (Integer tensors have no mean, as in PyTorch: divide their `sum()` instead.)
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * console.log(await Tensor.from([1, 2, 3, 6], [2, 2]).mean().item()); // 3
 * ```
 */
export function mean(x: Tensor): Tensor { // x: any shape, not empty → [1]
  if (x.dtype !== "f32") {
    throw new Error(`mean: x has dtype ${x.dtype}, expected f32 (divide its sum() instead)`);
  }
  if (x.size === 0) throw new Error(`mean: x has shape [${x.shape.join(", ")}], no element`);
  return scaledSum("mean", x, 1 / x.size);
}

/** `y = factor·Σ x` of an f32 x, recorded; backward broadcasts `factor·dy`. */
function scaledSum(op: string, x: Tensor, factor: number): Tensor { // x: any shape → [1]
  checkShape(op, "x", x, x.shape);
  const y = opTensor([1], { label: `${op}.y` });
  sumAll(x, y, factor);
  record(op, [x], y, (dy, [dx]) => writeGrad(dx, (into) => broadcastScalar(dy, into, factor)));
  return y;
}
