/**
 * Float64 reference of the reduction kernels (src/kernels/reduce.ts): sums, row argmax,
 * elementwise equality, the scalar broadcasts and gradient-norm clipping, plain loops.
 *
 * @module
 */

/** factor·Σ x. */
export function sumRef(x: ArrayLike<number>, factor = 1): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return factor * s;
}

/** Σ x with i32 wrap-around. */
export function sumI32Ref(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s = (s + x[i]) | 0;
  return s;
}

/** The column of each row's largest value of x: [N, K] (the first on ties). */
export function rowArgmaxRef(x: ArrayLike<number>, n: number, k: number): Int32Array {
  const y = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let arg = 0;
    for (let j = 1; j < k; j++) if (x[r * k + j] > x[r * k + arg]) arg = j;
    y[r] = arg;
  }
  return y;
}

/** 1 where a = b, else 0. */
export function equalRef(a: ArrayLike<number>, b: ArrayLike<number>): Int32Array {
  return Int32Array.from(a, (v, i) => (v === b[i] ? 1 : 0));
}

/** factor·s everywhere: the gradient of a sum (factor 1) or a mean (1/size) of `count` values. */
export function broadcastRef(s: number, count: number, factor = 1): Float64Array {
  return new Float64Array(count).fill(factor * s);
}

/** x·s. */
export function scaleByScalarRef(x: ArrayLike<number>, s: number): Float64Array {
  return Float64Array.from(x, (v) => v * s);
}

/**
 * torch.nn.utils.clip_grad_norm_: the 2-norm of all the gradients together, and the gradients
 * scaled by min(1, maxNorm / (norm + 1e-6)).
 */
export function clipGradNormRef(
  grads: readonly ArrayLike<number>[],
  maxNorm: number,
): { norm: number; clipped: Float64Array[] } {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  return { norm, clipped: grads.map((g) => Float64Array.from(g, (v) => v * coef)) };
}
