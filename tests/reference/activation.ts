/**
 * Float64 reference of the activation kernels (src/kernels/activation.ts) and of softmax: plain
 * loops over the formulas PyTorch documents, with an erf of its own (series near 0, continued
 * fraction in the tails), independent of the GPU's approximations.
 *
 * @module
 */

/**
 * erfc(x), relative error below 1e-8: Taylor series of erf for |x| < 3, Lentz's continued
 * fraction beyond.
 */
export function erfc(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    // erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n!·(2n+1))
    let term = a;
    let sum = a;
    for (let n = 1; n < 100 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= -a * a / n;
      sum += term / (2 * n + 1);
    }
    const erf = 2 / Math.sqrt(Math.PI) * sum;
    return x >= 0 ? 1 - erf : 1 + erf;
  }
  // erfc(a) = e^(−a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))), evaluated by modified Lentz.
  const tiny = 1e-300;
  let f = a;
  let c = a;
  let d = 0;
  for (let k = 1; k < 200; k++) {
    const coeff = k / 2;
    d = a + coeff * d;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = a + coeff / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const tail = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return x >= 0 ? tail : 2 - tail;
}

/** The standard normal CDF Φ(x). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** σ(v) = 1/(1 + e^−v). */
function logistic(v: number): number {
  return 1 / (1 + Math.exp(-v));
}
const KAPPA = 0.044715;

/** The activations the kernels run, forward and derivative, by kind. */
const FUNCTIONS = {
  sigmoid: { f: logistic, df: (x: number) => logistic(x) * logistic(-x) },
  tanh: { f: Math.tanh, df: (x: number) => 1 - Math.tanh(x) ** 2 },
  gelu: {
    f: (x: number) => x * normalCdf(x),
    df: (x: number) => normalCdf(x) + x * Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI),
  },
  // x/2·(1 + tanh u) with (1 + tanh u)/2 = σ(2u) and (1 − tanh² u)/4 = σ(2u)·σ(−2u), so the far
  // negative tail (where 1 + tanh u cancels even in float64) stays exact.
  geluTanh: {
    f: (x: number) => x * logistic(2 * SQRT_2_OVER_PI * (x + KAPPA * x ** 3)),
    df: (x: number) => {
      const u = SQRT_2_OVER_PI * (x + KAPPA * x ** 3);
      const du = SQRT_2_OVER_PI * (1 + 3 * KAPPA * x * x);
      return logistic(2 * u) + 2 * x * logistic(2 * u) * logistic(-2 * u) * du;
    },
  },
} as const;

/** The kinds of activationForward, with LeakyReLU's slope. */
export type ActivationRef =
  | { kind: "sigmoid" | "tanh" | "gelu" | "geluTanh" }
  | { kind: "leakyRelu"; negativeSlope: number };

function functionsOf(a: ActivationRef): { f: (x: number) => number; df: (x: number) => number } {
  if (a.kind !== "leakyRelu") return FUNCTIONS[a.kind];
  const slope = a.negativeSlope;
  return { f: (x) => (x > 0 ? x : slope * x), df: (x) => (x > 0 ? 1 : slope) };
}

/** y = f(x) elementwise. */
export function activationRef(x: ArrayLike<number>, a: ActivationRef): Float64Array {
  const { f } = functionsOf(a);
  return Float64Array.from(x, f);
}

/** dx = dy·f'(x), from the forward's input x. */
export function activationBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  a: ActivationRef,
): Float64Array {
  const { df } = functionsOf(a);
  return Float64Array.from(dy, (g, i) => g * df(x[i]));
}

/** dx = dy·f'(x) from the forward's output y, as PyTorch computes sigmoid's and tanh's. */
export function activationBackwardFromOutputRef(
  dy: ArrayLike<number>,
  y: ArrayLike<number>,
  kind: "sigmoid" | "tanh",
): Float64Array {
  return Float64Array.from(
    dy,
    (g, i) => g * (kind === "sigmoid" ? y[i] * (1 - y[i]) : 1 - y[i] ** 2),
  );
}

/** softmax along each row of x: [N, K]. */
export function softmaxRef(x: ArrayLike<number>, n: number, k: number): Float64Array {
  const y = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, x[r * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(x[r * k + j] - m);
    for (let j = 0; j < k; j++) y[r * k + j] = Math.exp(x[r * k + j] - m) / s;
  }
  return y;
}

/** dx = y·(dy − Σ dy·y) per row; y is softmax's output. dy, y: [N, K]. */
export function softmaxBackwardRef(
  dy: ArrayLike<number>,
  y: ArrayLike<number>,
  n: number,
  k: number,
): Float64Array {
  const dx = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += dy[r * k + j] * y[r * k + j];
    for (let j = 0; j < k; j++) dx[r * k + j] = y[r * k + j] * (dy[r * k + j] - s);
  }
  return dx;
}
