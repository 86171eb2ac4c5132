/**
 * Float64 reference of the elementwise kernels (ReLU, sums, scaling, dropout, Shake-Shake mix),
 * plain loops. The dropout hash is the GPU's, bit for bit.
 *
 * @module
 */

/** PCG hash (Jarzynski & Olano 2020) on u32, exactly as `pcgHash` in elementwise.wgsl. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** Dropout mask of `count` elements (or planes): 0 or fround(1/(1 − p)), as the GPU draws it. */
export function dropoutMaskRef(count: number, p: number, seed: number): Float64Array {
  const threshold = Math.floor(p * 2 ** 32);
  const keep = Math.fround(1 / (1 - p));
  const key = pcgHash(seed);
  const mask = new Float64Array(count);
  for (let i = 0; i < count; i++) mask[i] = pcgHash((i ^ key) >>> 0) >= threshold ? keep : 0;
  return mask;
}

/** y = max(x, 0). */
export function reluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => (v > 0 ? v : 0));
}

/** dx = dy where y > 0, else 0. */
export function reluBackwardRef(dy: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  return Float64Array.from(dy, (g, i) => (y[i] > 0 ? g : 0));
}

/** y = a + b. */
export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v + b[i]);
}

/** y = factor·x. */
export function scaleRef(x: ArrayLike<number>, factor: number): Float64Array {
  return Float64Array.from(x, (v) => factor * v);
}

/** y = x·mask, elementwise (dropout forward and backward alike). */
export function mulRef(x: ArrayLike<number>, mask: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => v * mask[i]);
}

/** y = x·mask[plane] with `inner` elements per plane (dropout2d forward and backward). */
export function mulPlaneRef(
  x: ArrayLike<number>,
  mask: ArrayLike<number>,
  inner: number,
): Float64Array {
  return Float64Array.from(x, (v, i) => v * mask[Math.floor(i / inner)]);
}

/** Shake-Shake mix: y = α[n]·a + (1 − α[n])·b with `inner` elements per image. */
export function shakeMixRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  alpha: ArrayLike<number>,
  inner: number,
): Float64Array {
  return Float64Array.from(a, (v, i) => {
    const t = alpha[Math.floor(i / inner)];
    return t * v + (1 - t) * b[i];
  });
}

/** Shake-Shake backward: da = β[n]·dy, db = (1 − β[n])·dy. */
export function shakeMixBackwardRef(
  dy: ArrayLike<number>,
  beta: ArrayLike<number>,
  inner: number,
): { da: Float64Array; db: Float64Array } {
  const da = Float64Array.from(dy, (g, i) => beta[Math.floor(i / inner)] * g);
  const db = Float64Array.from(dy, (g, i) => (1 - beta[Math.floor(i / inner)]) * g);
  return { da, db };
}
