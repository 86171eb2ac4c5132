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
 * Mean cross-entropy of logits [N, K] and labels [N], and its gradient (softmax − onehot)/N.
 * An out-of-range label makes the loss and that row's gradient NaN.
 */
export function crossEntropy(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  n: number,
  k: number,
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
    total -= logp[r * k + label];
    for (let j = 0; j < k; j++) {
      dLogits[r * k + j] = (Math.exp(logp[r * k + j]) - (j === label ? 1 : 0)) / n;
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
