/**
 * Stochastic gradient descent with `torch.optim.SGD`'s semantics and defaults: momentum 0,
 * dampening 0, weight decay 0, Nesterov off; the momentum buffer starts as the first gradient.
 *
 * @module
 */

import { sgdStep } from "../kernels/optim.ts";
import type { Parameter } from "../nn/module.ts";
import {
  Optimizer,
  type ParameterSource,
  type ParamGroup,
  type ParamGroupInput,
} from "./optimizer.ts";

/** `torch.optim.SGD`'s hyperparameters. */
export interface SgdOptions {
  /** Learning rate; 1e-3 (PyTorch's default). */
  lr: number;
  /** Momentum factor; 0. */
  momentum: number;
  /** Dampening of the gradient in the momentum buffer; 0. */
  dampening: number;
  /** L2 penalty added to the gradient; 0. */
  weightDecay: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0); false. */
  nesterov: boolean;
}

/** PyTorch's defaults for SGD. */
const SGD_DEFAULTS: SgdOptions = {
  lr: 1e-3,
  momentum: 0,
  dampening: 0,
  weightDecay: 0,
  nesterov: false,
};

/**
 * SGD, as `torch.optim.SGD`: `d = g + wd·p`; with momentum `buf = momentum·buf + (1 −
 * dampening)·d` (the first gradient on the first step) and `d = buf` or, Nesterov, `d + momentum ·
 * buf`; then `p −= lr·d`.
 *
 * @example
 * ```ts
 * import { initGpu, Linear, SGD } from "@hajime/nn";
 * await initGpu();
 * const model = new Linear(8, 2);
 * const sgd = new SGD(model, { lr: 0.2, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
 * sgd.step();
 * ```
 */
export class SGD extends Optimizer<SgdOptions> {
  /** Groups `params` (a model, named pairs, bare parameters or groups) with these options. */
  constructor(
    params: ParameterSource | ParamGroupInput<SgdOptions>[],
    options: Partial<SgdOptions> = {},
  ) {
    super(params, { ...SGD_DEFAULTS, ...options });
  }

  /** Throws an error naming the option when `o` is invalid. */
  protected validate(o: SgdOptions, where: string): void {
    const bad = (name: string, value: unknown, want: string) =>
      new Error(`SGD: ${name} is ${value} in ${where}, expected ${want}`);
    if (!(o.lr >= 0)) throw bad("lr", o.lr, "≥ 0");
    if (!(o.momentum >= 0)) throw bad("momentum", o.momentum, "≥ 0");
    if (!Number.isFinite(o.dampening)) throw bad("dampening", o.dampening, "a finite number");
    if (!(o.weightDecay >= 0)) throw bad("weightDecay", o.weightDecay, "≥ 0");
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw bad("nesterov", o.nesterov, "false unless momentum > 0 and dampening 0");
    }
  }

  /** The state a parameter has once stepped, with the shapes (`[]` for scalars). */
  protected stateShapes(param: Parameter): Map<string, readonly number[]> {
    return new Map([["momentum_buffer", param.shape]]);
  }

  /**
   * Records one SGD update per parameter (no read back). `lr` replaces the groups' learning
   * rates for this step.
   */
  step(lr?: number): void {
    for (const group of this.groups) {
      if (lr !== undefined) this.validate({ ...group, lr }, "step");
      for (const { name, param } of group.params) {
        let buffer = null;
        let firstStep = false;
        if (group.momentum !== 0) {
          // PyTorch keeps no buffer until momentum is used; the kernel then copies the gradient.
          firstStep = !this.state.has(name);
          buffer = this.stateOf(name, param, true).get("momentum_buffer")!;
        }
        sgdStep(param.data, param.grad, buffer, {
          lr: lr ?? group.lr,
          momentum: group.momentum,
          dampening: group.dampening,
          nesterov: group.nesterov,
          weightDecay: group.weightDecay,
          firstStep,
        });
      }
    }
  }

  /** Sets the group's momentum (one-cycle schedules cycle it). */
  setMomentum(group: ParamGroup<SgdOptions>, momentum: number): void {
    group.momentum = momentum;
  }
}
