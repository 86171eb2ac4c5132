/**
 * Adam and AdamW with `torch.optim`'s semantics and defaults (lr 1e-3, betas (0.9, 0.999), eps
 * 1e-8; weight decay 0 for Adam as an L2 term, 1e-2 for AdamW decoupled), bias-corrected with a
 * per-parameter step count.
 *
 * @module
 */

import { adamStep } from "../kernels/optim.ts";
import type { Parameter } from "../nn/module.ts";
import {
  Optimizer,
  type ParameterSource,
  type ParamGroup,
  type ParamGroupInput,
} from "./optimizer.ts";

/** `torch.optim.Adam`'s hyperparameters (amsgrad, maximize and foreach are not offered). */
export interface AdamOptions {
  /** Learning rate; 1e-3. */
  lr: number;
  /** `(β₁, β₂)`, the decays of the moment averages; (0.9, 0.999). */
  betas: [number, number];
  /** Added to the denominator; 1e-8. */
  eps: number;
  /** Weight decay: an L2 term for Adam (0), decoupled for AdamW (1e-2). */
  weightDecay: number;
}

/**
 * Adam, as `torch.optim.Adam`: `g = grad + wd·p`, `m = lerp(m, g, 1 − β₁)`, `v = β₂v + (1 −
 * β₂)g²`, `p −= lr/(1 − β₁ᵗ) · m/(√v/√(1 − β₂ᵗ) + eps)`. State per parameter: `exp_avg`,
 * `exp_avg_sq` (GPU) and `step`.
 *
 * @example
 * ```ts
 * import { Adam, initGpu, Linear } from "@hajime/nn";
 * await initGpu();
 * const model = new Linear(3072, 10);
 * const adam = new Adam(model, { lr: 0.003 }); // the article's optimizer
 * adam.step();
 * ```
 */
export class Adam extends Optimizer<AdamOptions> {
  /** Groups `params` (a model, named pairs, bare parameters or groups) with these options. */
  constructor(
    params: ParameterSource | ParamGroupInput<AdamOptions>[],
    options: Partial<AdamOptions> = {},
  ) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, ...options });
  }

  /** True for AdamW: weight decay multiplies the parameter instead of joining the gradient. */
  protected get decoupled(): boolean {
    return false;
  }

  /** Throws an error naming the option when `o` is invalid. */
  protected validate(o: AdamOptions, where: string): void {
    const bad = (name: string, value: unknown, want: string) =>
      new Error(`${this.typeName}: ${name} is ${value} in ${where}, expected ${want}`);
    if (!(o.lr >= 0)) throw bad("lr", o.lr, "≥ 0");
    if (!Array.isArray(o.betas) || o.betas.length !== 2) {
      throw bad("betas", o.betas, "two numbers [β₁, β₂]");
    }
    if (!(o.betas[0] >= 0 && o.betas[0] < 1)) throw bad("betas[0]", o.betas[0], "in [0, 1)");
    if (!(o.betas[1] >= 0 && o.betas[1] < 1)) throw bad("betas[1]", o.betas[1], "in [0, 1)");
    if (!(o.eps >= 0)) throw bad("eps", o.eps, "≥ 0");
    if (!(o.weightDecay >= 0)) throw bad("weightDecay", o.weightDecay, "≥ 0");
  }

  /** The state a parameter has once stepped, with the shapes (`[]` for scalars). */
  protected stateShapes(param: Parameter): Map<string, readonly number[]> {
    return new Map([["step", []], ["exp_avg", param.shape], ["exp_avg_sq", param.shape]]);
  }

  /**
   * Records one update per parameter (no read back). `lr` replaces the groups' learning rates
   * for this step.
   */
  step(lr?: number): void {
    for (const group of this.groups) {
      if (lr !== undefined) this.validate({ ...group, lr }, "step");
      for (const { name, param } of group.params) {
        const tensors = this.stateOf(name, param);
        const scalars = this.scalars.get(name) ?? new Map([["step", 0]]);
        const step = scalars.get("step")! + 1;
        adamStep(param.data, param.grad, tensors.get("exp_avg")!, tensors.get("exp_avg_sq")!, {
          lr: lr ?? group.lr,
          beta1: group.betas[0],
          beta2: group.betas[1],
          eps: group.eps,
          weightDecay: group.weightDecay,
          step,
          decoupled: this.decoupled,
        });
        scalars.set("step", step);
        this.scalars.set(name, scalars);
      }
    }
  }

  /** Sets the group's β₁ (one-cycle schedules cycle it). */
  setMomentum(group: ParamGroup<AdamOptions>, momentum: number): void {
    group.betas = [momentum, group.betas[1]];
  }
}

/**
 * AdamW, as `torch.optim.AdamW`: Adam with decoupled weight decay (`p *= 1 − lr·wd` before the
 * update), weight decay 1e-2 unless given.
 *
 * @example
 * ```ts
 * import { AdamW, initGpu, Linear } from "@hajime/nn";
 * await initGpu();
 * const adamw = new AdamW(new Linear(16, 4), { lr: 1e-3, weightDecay: 0.05 });
 * adamw.step();
 * ```
 */
export class AdamW extends Adam {
  /** Groups `params` with these options (weight decay 1e-2 unless given). */
  constructor(
    params: ParameterSource | ParamGroupInput<AdamOptions>[],
    options: Partial<AdamOptions> = {},
  ) {
    super(params, { weightDecay: 1e-2, ...options });
  }

  /** True: AdamW decouples the weight decay. */
  protected override get decoupled(): boolean {
    return true;
  }
}
