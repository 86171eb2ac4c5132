/**
 * Float64 reference of the batch-norm kernels (PyTorch's BatchNorm2d), plain loops: the oracle
 * the GPU kernels are compared against.
 *
 * @module
 */

/** Result of the training forward. */
export interface BatchNormTrainResult {
  /** [N, C, H, W] */
  y: Float64Array;
  /** [C] batch mean */
  saveMean: Float64Array;
  /** [C] 1/sqrt(biased batch var + eps) */
  saveInvStd: Float64Array;
  /** [C] updated running mean */
  runningMean: Float64Array;
  /** [C] updated running variance (unbiased batch variance blended in) */
  runningVar: Float64Array;
}

/** Training forward of BatchNorm2d on x [N, C, H, W]. */
export function batchNormTrainForwardRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  momentum = 0.1,
  eps = 1e-5,
): BatchNormTrainResult {
  const [n, c, h, w] = shape;
  const plane = h * w;
  const count = n * plane;
  const y = new Float64Array(n * c * plane);
  const saveMean = new Float64Array(c);
  const saveInvStd = new Float64Array(c);
  const rm = Float64Array.from(runningMean);
  const rv = Float64Array.from(runningVar);
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let b = 0; b < n; b++) {
      for (let s = 0; s < plane; s++) sum += x[(b * c + ch) * plane + s];
    }
    const mean = sum / count;
    let sq = 0;
    for (let b = 0; b < n; b++) {
      for (let s = 0; s < plane; s++) sq += (x[(b * c + ch) * plane + s] - mean) ** 2;
    }
    const variance = sq / count;
    const invStd = 1 / Math.sqrt(variance + eps);
    for (let b = 0; b < n; b++) {
      for (let s = 0; s < plane; s++) {
        const i = (b * c + ch) * plane + s;
        y[i] = (x[i] - mean) * invStd * gamma[ch] + beta[ch];
      }
    }
    saveMean[ch] = mean;
    saveInvStd[ch] = invStd;
    rm[ch] = (1 - momentum) * rm[ch] + momentum * mean;
    rv[ch] = (1 - momentum) * rv[ch] + momentum * sq / (count - 1);
  }
  return { y, saveMean, saveInvStd, runningMean: rm, runningVar: rv };
}

/** Eval forward of BatchNorm2d: normalise with the running statistics. */
export function batchNormEvalForwardRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  eps = 1e-5,
): Float64Array {
  const [n, c, h, w] = shape;
  const plane = h * w;
  const y = new Float64Array(n * c * plane);
  for (let i = 0; i < y.length; i++) {
    const ch = Math.floor(i / plane) % c;
    y[i] = (x[i] - runningMean[ch]) / Math.sqrt(runningVar[ch] + eps) * gamma[ch] + beta[ch];
  }
  return y;
}

/** Backward of the training forward: dx, and this call's dGamma and dBeta (not accumulated). */
export function batchNormBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  shape: readonly number[],
  gamma: ArrayLike<number>,
  saveMean: ArrayLike<number>,
  saveInvStd: ArrayLike<number>,
): { dx: Float64Array; dGamma: Float64Array; dBeta: Float64Array } {
  const [n, c, h, w] = shape;
  const plane = h * w;
  const count = n * plane;
  const dx = new Float64Array(n * c * plane);
  const dGamma = new Float64Array(c);
  const dBeta = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let sumDy = 0;
    let sumDyXhat = 0;
    for (let b = 0; b < n; b++) {
      for (let s = 0; s < plane; s++) {
        const i = (b * c + ch) * plane + s;
        sumDy += dy[i];
        sumDyXhat += dy[i] * (x[i] - saveMean[ch]) * saveInvStd[ch];
      }
    }
    dGamma[ch] = sumDyXhat;
    dBeta[ch] = sumDy;
    for (let b = 0; b < n; b++) {
      for (let s = 0; s < plane; s++) {
        const i = (b * c + ch) * plane + s;
        const xhat = (x[i] - saveMean[ch]) * saveInvStd[ch];
        dx[i] = gamma[ch] * saveInvStd[ch] *
          (dy[i] - sumDy / count - xhat * sumDyXhat / count);
      }
    }
  }
  return { dx, dGamma, dBeta };
}

/**
 * Backward of the eval forward (running statistics are constants): dx = γ·dy/sqrt(var + eps),
 * and this call's dGamma = Σ dy·x̂, dBeta = Σ dy (not accumulated).
 */
export function batchNormEvalBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  shape: readonly number[],
  gamma: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  eps = 1e-5,
): { dx: Float64Array; dGamma: Float64Array; dBeta: Float64Array } {
  const [n, c, h, w] = shape;
  const plane = h * w;
  const dx = new Float64Array(n * c * plane);
  const dGamma = new Float64Array(c);
  const dBeta = new Float64Array(c);
  for (let i = 0; i < dx.length; i++) {
    const ch = Math.floor(i / plane) % c;
    const invStd = 1 / Math.sqrt(runningVar[ch] + eps);
    dx[i] = gamma[ch] * invStd * dy[i];
    dGamma[ch] += dy[i] * (x[i] - runningMean[ch]) * invStd;
    dBeta[ch] += dy[i];
  }
  return { dx, dGamma, dBeta };
}
