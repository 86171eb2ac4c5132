/**
 * Float64 CPU references of the loss kernels (src/kernels/loss.ts): plain loops over row-major
 * `[N, K]` arrays, the oracle the GPU results are compared with.
 *
 * @module
 */

/** log_softmax along each row of x: [N, K]. */
export function logSoftmax(x: ArrayLike<number>, n: number, k: number): Float64Array {
  const y = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, x[r * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(x[r * k + j] - m);
    const shift = m + Math.log(s);
    for (let j = 0; j < k; j++) y[r * k + j] = x[r * k + j] - shift;
  }
  return y;
}

/** dx = dy − exp(y)·Σ dy per row; y is logSoftmax's output. dy, y: [N, K]. */
export function logSoftmaxBackward(
  dy: ArrayLike<number>,
  y: ArrayLike<number>,
  n: number,
  k: number,
): Float64Array {
  const dx = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += dy[r * k + j];
    for (let j = 0; j < k; j++) dx[r * k + j] = dy[r * k + j] - Math.exp(y[r * k + j]) * s;
  }
  return dx;
}

/** Label in [0, k), else NaN marks the whole result. */
function validLabel(label: number, k: number): boolean {
  return Number.isInteger(label) && label >= 0 && label < k;
}

/**
 * Mean cross-entropy of logits [N, K] and labels [N], and its gradient (softmax − target)/N, with
 * PyTorch's label smoothing ε: target = (1 − ε)·onehot + ε/K, loss = −Σ target·log_softmax.
 * An out-of-range label makes the loss and that row's gradient NaN.
 */
export function crossEntropy(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  n: number,
  k: number,
  smoothing = 0,
): { loss: number; dLogits: Float64Array } {
  const logp = logSoftmax(logits, n, k);
  const dLogits = new Float64Array(n * k);
  let total = 0;
  for (let r = 0; r < n; r++) {
    const label = labels[r];
    if (!validLabel(label, k)) {
      total = NaN;
      dLogits.fill(NaN, r * k, (r + 1) * k);
      continue;
    }
    for (let j = 0; j < k; j++) {
      const target = (j === label ? 1 - smoothing : 0) + smoothing / k;
      total -= target * logp[r * k + j];
      dLogits[r * k + j] = (Math.exp(logp[r * k + j]) - target) / n;
    }
  }
  return { loss: total / n, dLogits };
}

/** Mean NLL of logProbs [N, K] and labels [N], and its gradient (−1/N at each label). */
export function nllLoss(
  logProbs: ArrayLike<number>,
  labels: ArrayLike<number>,
  n: number,
  k: number,
): { loss: number; dLogProbs: Float64Array } {
  const dLogProbs = new Float64Array(n * k);
  let total = 0;
  for (let r = 0; r < n; r++) {
    const label = labels[r];
    if (!validLabel(label, k)) {
      total = NaN;
      dLogProbs.fill(NaN, r * k, (r + 1) * k);
      continue;
    }
    total -= logProbs[r * k + label];
    dLogProbs[r * k + label] = -1 / n;
  }
  return { loss: total / n, dLogProbs };
}

/** Number of rows of logits [N, K] whose argmax (first maximum on ties) equals the label. */
export function countCorrect(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  n: number,
  k: number,
): number {
  let correct = 0;
  for (let r = 0; r < n; r++) {
    let arg = 0;
    for (let j = 1; j < k; j++) if (logits[r * k + j] > logits[r * k + arg]) arg = j;
    if (labels[r] === arg) correct++;
  }
  return correct;
}

/** Mean squared error of x and t (same length) and its gradients. */
export function mseLossRef(
  x: ArrayLike<number>,
  t: ArrayLike<number>,
): { loss: number; dInput: Float64Array; dTarget: Float64Array } {
  const n = x.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += (x[i] - t[i]) ** 2;
  const dInput = Float64Array.from(x, (v, i) => 2 * (v - t[i]) / n);
  return { loss: total / n, dInput, dTarget: dInput.map((g) => -g) };
}

/** log σ(v) = −log(1 + e^−v), finite for any v. */
function logSigmoid(v: number): number {
  return v >= 0 ? -Math.log1p(Math.exp(-v)) : v - Math.log1p(Math.exp(v));
}

/** Mean binary cross-entropy of σ(x) against t, from its definition, and its gradients. */
export function bceWithLogitsRef(
  x: ArrayLike<number>,
  t: ArrayLike<number>,
): { loss: number; dInput: Float64Array; dTarget: Float64Array } {
  const n = x.length;
  let total = 0;
  for (let i = 0; i < n; i++) total -= t[i] * logSigmoid(x[i]) + (1 - t[i]) * logSigmoid(-x[i]);
  const dInput = Float64Array.from(x, (v, i) => (1 / (1 + Math.exp(-v)) - t[i]) / n);
  const dTarget = Float64Array.from(x, (v) => -v / n);
  return { loss: total / n, dInput, dTarget };
}
