/**
 * Optimizer update kernels, elementwise over one parameter tensor: SGD (momentum, dampening,
 * Nesterov, weight decay) and Adam / AdamW (on vec4 units where the size is a multiple of 4),
 * with the arithmetic of `torch.optim`. The optimizer
 * classes in src/optim keep the per-parameter state tensors and the step count and call these
 * once per parameter per step; the learning rate and step arrive as params of each dispatch.
 *
 * @module
 */

import { grid, wgslKernels } from "../gpu/kernel.ts";
import { checkDistinct, checkShape, type Tensor } from "../tensor.ts";
import code from "../../shaders/optim.wgsl" with { type: "text" };

const WORKGROUP = 256;
const PARAMS = {
  n: "u32",
  lr: "f32",
  weight_decay: "f32",
  momentum: "f32",
  grad_scale: "f32",
  nesterov: "u32",
  first_step: "u32",
  avg_weight: "f32",
  beta2: "f32",
  sq_weight: "f32",
  eps: "f32",
  step_size: "f32",
  bc2_sqrt: "f32",
  decay: "f32",
  decoupled: "u32",
} as const;

const kernel = wgslKernels("Optim", code, { params: PARAMS, constants: { WORKGROUP } });
const sgdKernel = kernel("sgd", 1, 1);
const sgdMomentumKernel = kernel("sgdMomentum", 1, 2);
const adamKernel = kernel("adam", 1, 3);
const adam4Kernel = kernel("adam4", 1, 3);

/** Every field zero, for the ones an entry point does not read. */
const UNUSED: Record<keyof typeof PARAMS, number> = Object.fromEntries(
  Object.keys(PARAMS).map((key) => [key, 0]),
) as Record<keyof typeof PARAMS, number>;

/** Options of {@link sgdStep}, as `torch.optim.SGD`'s. */
export interface SgdStepOptions {
  /** Learning rate (≥ 0). */
  lr: number;
  /** Momentum factor (≥ 0); 0 means plain SGD without a buffer. */
  momentum: number;
  /** Dampening of the gradient in the momentum buffer (must be 0 with Nesterov). */
  dampening: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** L2 penalty added to the gradient (≥ 0). */
  weightDecay: number;
  /** True on the parameter's first step: the buffer is then set to the gradient. */
  firstStep: boolean;
}

/** Options of {@link adamStep}, as `torch.optim.Adam`'s and `torch.optim.AdamW`'s. */
export interface AdamStepOptions {
  /** Learning rate (≥ 0). */
  lr: number;
  /** Decay of the first-moment average, in [0, 1) (PyTorch: 0.9). */
  beta1: number;
  /** Decay of the second-moment average, in [0, 1) (PyTorch: 0.999). */
  beta2: number;
  /** Added to the denominator (≥ 0; PyTorch: 1e-8). */
  eps: number;
  /** Weight decay (≥ 0): an L2 term in the gradient, or decoupled when `decoupled`. */
  weightDecay: number;
  /** The 1-based step count of this update, for the bias corrections. */
  step: number;
  /** AdamW: decay the parameter by `1 − lr·weightDecay` instead of adding to the gradient. */
  decoupled: boolean;
}

function checkOption(owner: string, name: string, value: number, ok: boolean, want: string): void {
  if (!Number.isFinite(value) || !ok) {
    throw new Error(`${owner}: ${name} is ${value}, expected ${want}`);
  }
}

/** Throws when two arguments share a GPU buffer (one dispatch cannot read and write it). */
/**
 * Records one `torch.optim.SGD` update of `param` from `grad`:
 * `d = grad + weightDecay·param`; with momentum, `buf = d` on the first step and
 * `buf = momentum·buf + (1 − dampening)·d` after, then `d = buf` (or `d + momentum·buf` with
 * Nesterov); finally `param −= lr·d`. `momentumBuffer` is required when momentum > 0 and ignored
 * when it is 0 (PyTorch keeps no buffer then).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { sgdStep } from "@hajime/nn/gpu";
 * await initGpu();
 * const weight = Tensor.from([1, 2, 3], [3]);
 * const grad = Tensor.from([0.1, -0.2, 0.3], [3]);
 * const buf = Tensor.empty([3]);
 * sgdStep(weight, grad, buf, {
 *   lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4, firstStep: true,
 * });
 * ```
 */
export function sgdStep(
  param: Tensor, // param: [...]
  grad: Tensor, // grad: same shape as param
  momentumBuffer: Tensor | null, // momentumBuffer: same shape as param
  opts: SgdStepOptions,
): void {
  const owner = "Optim.sgdStep";
  const { lr, momentum, dampening, nesterov, weightDecay, firstStep } = opts;
  checkShape(owner, "param", param, param.shape); // dtype f32, not disposed
  checkShape(owner, "grad", grad, param.shape);
  checkOption(owner, "lr", lr, lr >= 0, "≥ 0");
  checkOption(owner, "momentum", momentum, momentum >= 0, "≥ 0");
  checkOption(owner, "dampening", dampening, true, "a finite number");
  checkOption(owner, "weightDecay", weightDecay, weightDecay >= 0, "≥ 0");
  if (nesterov && (momentum <= 0 || dampening !== 0)) {
    throw new Error(
      `${owner}: nesterov needs momentum > 0 and dampening 0 ` +
        `(got momentum ${momentum}, dampening ${dampening})`,
    );
  }
  if (momentum > 0) {
    if (!momentumBuffer) {
      throw new Error(`${owner}: momentumBuffer is null with momentum ${momentum}`);
    }
    checkShape(owner, "momentumBuffer", momentumBuffer, param.shape);
  }
  checkDistinct(owner, { param, grad, momentumBuffer: momentum > 0 ? momentumBuffer : null });
  const n = param.size;
  if (n === 0) return;
  const params = {
    ...UNUSED,
    n,
    lr,
    weight_decay: weightDecay,
    momentum,
    grad_scale: 1 - dampening,
    nesterov: nesterov ? 1 : 0,
    first_step: firstStep ? 1 : 0,
  };
  const groups = grid(Math.ceil(n / WORKGROUP));
  if (momentum > 0) sgdMomentumKernel.dispatch(params, [grad, param, momentumBuffer!], groups);
  else sgdKernel.dispatch(params, [grad, param], groups);
}

/**
 * Records one `torch.optim.Adam` update (or `AdamW` when `decoupled`) of `param` from `grad`,
 * updating the moment estimates `expAvg` and `expAvgSq` (zero before the first step):
 * `g = grad + weightDecay·param` (Adam) or `param *= 1 − lr·weightDecay` (AdamW);
 * `m = lerp(m, g, 1 − β1)`, `v = β2·v + (1 − β2)·g²`;
 * `param −= lr/(1 − β1^step) · m / (sqrt(v)/sqrt(1 − β2^step) + eps)`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { adamStep } from "@hajime/nn/gpu";
 * await initGpu();
 * const weight = Tensor.from([1, 2, 3], [3]);
 * const grad = Tensor.from([0.1, -0.2, 0.3], [3]);
 * const m = Tensor.zeros([3]);
 * const v = Tensor.zeros([3]);
 * adamStep(weight, grad, m, v, {
 *   lr: 0.003, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1, decoupled: false,
 * });
 * ```
 */
export function adamStep(
  param: Tensor, // param: [...]
  grad: Tensor, // grad: same shape as param
  expAvg: Tensor, // expAvg: same shape as param
  expAvgSq: Tensor, // expAvgSq: same shape as param
  opts: AdamStepOptions,
): void {
  const owner = "Optim.adamStep";
  const { lr, beta1, beta2, eps, weightDecay, step, decoupled } = opts;
  checkShape(owner, "param", param, param.shape); // dtype f32, not disposed
  checkShape(owner, "grad", grad, param.shape);
  checkShape(owner, "expAvg", expAvg, param.shape);
  checkShape(owner, "expAvgSq", expAvgSq, param.shape);
  checkDistinct(owner, { param, grad, expAvg, expAvgSq });
  checkOption(owner, "lr", lr, lr >= 0, "≥ 0");
  checkOption(owner, "beta1", beta1, beta1 >= 0 && beta1 < 1, "in [0, 1)");
  checkOption(owner, "beta2", beta2, beta2 >= 0 && beta2 < 1, "in [0, 1)");
  checkOption(owner, "eps", eps, eps >= 0, "≥ 0");
  checkOption(owner, "weightDecay", weightDecay, weightDecay >= 0, "≥ 0");
  checkOption(owner, "step", step, Number.isInteger(step) && step >= 1, "an integer ≥ 1");
  const n = param.size;
  if (n === 0) return;
  // vec4 units where the count allows: the same arithmetic per element, a quarter of the loads.
  const units = n % 4 === 0 ? 4 : 1;
  (units === 4 ? adam4Kernel : adamKernel).dispatch(
    {
      ...UNUSED,
      n,
      lr,
      weight_decay: weightDecay,
      avg_weight: 1 - beta1,
      beta2,
      sq_weight: 1 - beta2,
      eps,
      step_size: lr / (1 - beta1 ** step),
      bc2_sqrt: Math.sqrt(1 - beta2 ** step),
      decay: 1 - lr * weightDecay,
      decoupled: decoupled ? 1 : 0,
    },
    [grad, param, expAvg, expAvgSq],
    grid(Math.ceil(n / (units * WORKGROUP))),
  );
}
