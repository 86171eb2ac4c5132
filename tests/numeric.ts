/**
 * Numeric helpers the kernel tests share: f32 rounding of test inputs, central finite
 * differences, sizes and dot products, all in float64.
 *
 * @module
 */

/** f32-rounded copy, so GPU and reference see the same inputs. */
export function f32(data: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(data));
}

/** Number of elements of a shape. */
export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Σ aᵢ·bᵢ in float64. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Central finite difference of `loss` along every element of `v` (changed and restored). */
export function numericGrad(v: Float64Array, loss: () => number, eps = 1e-6): Float64Array {
  const g = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const keep = v[i];
    v[i] = keep + eps;
    const plus = loss();
    v[i] = keep - eps;
    const minus = loss();
    v[i] = keep;
    g[i] = (plus - minus) / (2 * eps);
  }
  return g;
}
