/**
 * Gradient-norm clipping as `torch.nn.utils.clip_grad_norm_`, computed on the GPU: nothing is
 * read back, so it fits between `backward()` and `optimizer.step()` in the one submit of a step
 * (kernels in src/kernels/reduce.ts).
 *
 * @module
 */

import { opTensor } from "../autograd.ts";
import {
  clipCoefficient,
  scaleByScalarInPlace,
  sumSquaresChunks,
  sumSquaresPartial,
} from "../kernels/reduce.ts";
import type { Module, Parameter } from "../nn/module.ts";
import { Tensor } from "../tensor.ts";

/**
 * PyTorch's `torch.nn.utils.clip_grad_norm_(parameters, maxNorm)`: the 2-norm of all the
 * gradients together, `total = sqrt(Σ grad²)`, and every gradient scaled in place by
 * `min(1, maxNorm / (total + 1e-6))`. Returns the total norm (before clipping) as a `[1]`
 * tensor made by an op; `await norm.item()` reads it, nothing else waits for the GPU. The
 * dispatches: one per parameter for the sums of squares, one for the coefficient, one per
 * parameter for the scaling. A non-finite norm makes the gradients NaN, as in PyTorch.
 *
 * @example
 * ```ts
 * import { clipGradNorm, CrossEntropyLoss, initGpu, Linear, SGD, Tensor } from "@hajime/nn";
 * await initGpu();
 * const model = new Linear(4, 3);
 * const optimizer = new SGD(model, { lr: 0.1 });
 * optimizer.zeroGrad();
 * const loss = new CrossEntropyLoss().forward(
 *   model.forward(Tensor.full([2, 4], 10)),
 *   Tensor.from([0, 2], [2], { dtype: "i32" }),
 * );
 * loss.backward();
 * const norm = clipGradNorm(model, 1); // the gradients now have norm ≤ 1
 * optimizer.step();
 * console.log(await norm.item());
 * ```
 */
export function clipGradNorm(
  parameters: Module | Iterable<Parameter>,
  maxNorm: number,
): Tensor { // → norm: [1]
  if (!(maxNorm >= 0) || !Number.isFinite(maxNorm)) {
    throw new Error(`clipGradNorm: maxNorm must be a finite number ≥ 0, got ${maxNorm}`);
  }
  const params = "parameters" in parameters ? parameters.parameters() : [...parameters];
  const chunks = params.map((p) => sumSquaresChunks(p.grad.size));
  const total = chunks.reduce((a, b) => a + b, 0);
  const partials = Tensor.empty([Math.max(1, total)], { label: "clipGradNorm.partials" });
  if (total === 0) partials.fill(0);
  let offset = 0;
  params.forEach((p, i) => {
    sumSquaresPartial(p.grad, partials, offset);
    offset += chunks[i];
  });
  const norm = opTensor([1], { label: "clipGradNorm.norm" });
  const coef = Tensor.empty([1], { label: "clipGradNorm.coefficient" });
  clipCoefficient(partials, norm, coef, maxNorm);
  for (const p of params) scaleByScalarInPlace(p.grad, coef);
  // Work recorded on these runs before any later use of their buffers (queue order).
  partials.dispose();
  coef.dispose();
  return norm;
}
