/**
 * Float64 CPU reference of the matmul family (the oracle for tests/matmul_test.ts): plain loops on
 * row-major Float64Arrays, with the same argument layouts as src/kernels/matmul.ts.
 *
 * @module
 */

/** Options of {@link matmulRef}, as in the GPU `matmul`. */
export interface MatmulRefOptions {
  /** `a` is stored `[K, M]`. */
  transA?: boolean;
  /** `b` is stored `[N, K]`. */
  transB?: boolean;
}

/**
 * op(a)·op(b) as a new `[M, N]` array.
 *
 * @example
 * ```ts
 * const c = matmulRef(new Float64Array([1, 2]), new Float64Array([3, 4]), 1, 1, 2);
 * ```
 */
export function matmulRef(
  a: Float64Array, // a: [M, K] or [K, M]
  b: Float64Array, // b: [K, N] or [N, K]
  M: number,
  N: number,
  K: number,
  { transA = false, transB = false }: MatmulRefOptions = {},
): Float64Array {
  const c = new Float64Array(M * N); // c: [M, N]
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += (transA ? a[k * M + i] : a[i * K + k]) * (transB ? b[j * K + k] : b[k * N + j]);
      }
      c[i * N + j] = s;
    }
  }
  return c;
}

/**
 * y = x·Wᵀ + bias.
 *
 * @example
 * ```ts
 * const y = linearForwardRef(new Float64Array([1, 2]), new Float64Array([1, 1]), null, 1, 2, 1);
 * ```
 */
export function linearForwardRef(
  x: Float64Array, // x: [N, K]
  weight: Float64Array, // weight: [M, K]
  bias: Float64Array | null, // bias: [M]
  N: number,
  K: number,
  M: number,
): Float64Array {
  const y = new Float64Array(N * M); // y: [N, M]
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      let s = bias ? bias[m] : 0;
      for (let k = 0; k < K; k++) s += x[n * K + k] * weight[m * K + k];
      y[n * M + m] = s;
    }
  }
  return y;
}

/** Gradients of Linear with respect to its input, weight and bias. */
export interface LinearGrads {
  /** `[N, K]`. */
  dx: Float64Array;
  /** `[M, K]`. */
  dWeight: Float64Array;
  /** `[M]`. */
  dBias: Float64Array;
}

/**
 * The gradients of Σ dy ⊙ linearForwardRef(x, weight, bias): dx = dy·W, dW = dyᵀ·x, db = Σₙ dy.
 *
 * @example
 * ```ts
 * const g = linearBackwardRef(new Float64Array([1]), new Float64Array([2]), new Float64Array([3]), 1, 1, 1);
 * ```
 */
export function linearBackwardRef(
  dy: Float64Array, // dy: [N, M]
  x: Float64Array, // x: [N, K]
  weight: Float64Array, // weight: [M, K]
  N: number,
  K: number,
  M: number,
): LinearGrads {
  const dx = new Float64Array(N * K);
  const dWeight = new Float64Array(M * K);
  const dBias = new Float64Array(M);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const g = dy[n * M + m];
      dBias[m] += g;
      for (let k = 0; k < K; k++) {
        dx[n * K + k] += g * weight[m * K + k];
        dWeight[m * K + k] += g * x[n * K + k];
      }
    }
  }
  return { dx, dWeight, dBias };
}
