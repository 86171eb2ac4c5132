/**
 * Parameter groups that exempt batch-norm parameters and biases from weight decay, the usual
 * recipe for convolutional networks (decay shrinks the weights of convolutions and linear
 * layers; decaying BN's γ, β or a bias only fights the normalisation).
 *
 * @module
 */

import { BatchNormBase } from "../nn/batch_norm2d.ts";
import type { Module, Parameter } from "../nn/module.ts";
import type { ParamGroupInput } from "./optimizer.ts";

/**
 * Two parameter groups for an optimizer: every weight of `model` with `weightDecay`, and the
 * parameters of batch-norm layers (`BatchNorm1d`, `BatchNorm2d`: γ and β) and every parameter
 * named `bias` with weight decay 0, in `model.namedParameters()` order. A group left empty is
 * left out. The optimizers take the list in place of the model (PyTorch's param groups).
 *
 * @example
 * ```ts
 * import { initGpu, paramGroupsNoDecay, resnet, SGD } from "@hajime/nn";
 * await initGpu();
 * const model = resnet();
 * const groups = paramGroupsNoDecay(model, 5e-4);
 * const sgd = new SGD(groups, { lr: 0.1, momentum: 0.9, nesterov: true });
 * console.log(sgd.groups.map((g) => [g.weightDecay, g.params.length])); // [[0.0005, 14], [0, 26]]
 * ```
 */
export function paramGroupsNoDecay(
  model: Module,
  weightDecay: number,
): ParamGroupInput<{ weightDecay: number }>[] {
  const normParams = new Set<Parameter>();
  for (const [, module] of model.namedModules()) {
    if (module instanceof BatchNormBase) { for (const p of module.parameters()) normParams.add(p); }
  }
  const decay: [string, Parameter][] = [];
  const noDecay: [string, Parameter][] = [];
  for (const [name, p] of model.namedParameters()) {
    const exempt = normParams.has(p) || name === "bias" || name.endsWith(".bias");
    (exempt ? noDecay : decay).push([name, p]);
  }
  return [
    { params: decay, weightDecay },
    { params: noDecay, weightDecay: 0 },
  ].filter((group) => group.params.length > 0);
}
