/**
 * Float64 CPU references of the optimizer kernels (src/kernels/optim.ts), written from
 * torch.optim's single-tensor algorithms. They update the arrays in place.
 *
 * @module
 */

import type { AdamStepOptions, SgdStepOptions } from "../../src/kernels/optim.ts";

/** torch.optim.SGD on one parameter; `buf` is unused when momentum is 0. */
export function sgdStep(
  param: Float64Array,
  grad: ArrayLike<number>,
  buf: Float64Array | null,
  opts: SgdStepOptions,
): void {
  const { lr, momentum, dampening, nesterov, weightDecay, firstStep } = opts;
  for (let i = 0; i < param.length; i++) {
    let d = grad[i];
    if (weightDecay !== 0) d += weightDecay * param[i];
    if (momentum !== 0) {
      buf![i] = firstStep ? d : momentum * buf![i] + (1 - dampening) * d;
      d = nesterov ? d + momentum * buf![i] : buf![i];
    }
    param[i] -= lr * d;
  }
}

/** torch.optim.Adam (or AdamW when `decoupled`) on one parameter, without amsgrad. */
export function adamStep(
  param: Float64Array,
  grad: ArrayLike<number>,
  expAvg: Float64Array,
  expAvgSq: Float64Array,
  opts: AdamStepOptions,
): void {
  const { lr, beta1, beta2, eps, weightDecay, step, decoupled } = opts;
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (decoupled) param[i] *= 1 - lr * weightDecay;
    else g += weightDecay * param[i];
    expAvg[i] = beta1 * expAvg[i] + (1 - beta1) * g;
    expAvgSq[i] = beta2 * expAvgSq[i] + (1 - beta2) * g * g;
    param[i] -= stepSize * expAvg[i] / (Math.sqrt(expAvgSq[i]) / bc2Sqrt + eps);
  }
}
