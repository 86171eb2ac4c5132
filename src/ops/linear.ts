/**
 * The linear op, `y = x·Wᵀ + b`, and its backward (kernels in src/kernels/matmul.ts,
 * shaders/matmul.wgsl).
 *
 * @module
 */

import { gradForAdding, opTensor, record, writeGrad } from "../autograd.ts";
import { linearBackward, linearForward } from "../kernels/matmul.ts";
import { checkShape, type Tensor } from "../tensor.ts";

/**
 * PyTorch's `F.linear(x, weight, bias)`. Backward: `dx = dy·W` (overwrite kernel),
 * `dW += dyᵀ·x` and `db += Σₙ dy` (accumulating kernels); the kernels of a gradient nobody
 * needs are skipped (images into a first layer get no dx, a frozen weight no dW).
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const x = Tensor.from([1, 2, 3], [1, 3]);
 * const weight = Tensor.from([1, 1, 1, 0, 1, 0], [2, 3]);
 * console.log(await F.linear(x, weight, null).read()); // [6, 2]
 * ```
 */
export function linear(
  x: Tensor, // x: [N, K]
  weight: Tensor, // weight: [M, K]
  bias: Tensor | null = null, // bias: [M]
): Tensor { // → y: [N, M]
  checkShape("linear", "x", x, [null, null]);
  checkShape("linear", "weight", weight, [null, x.shape[1]]);
  if (bias) checkShape("linear", "bias", bias, [weight.shape[0]]);
  const y = opTensor([x.shape[0], weight.shape[0]], { label: "linear.y" });
  linearForward(x, weight, bias, y);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  record("linear", inputs, y, (dy, [dx, dWeight, dBias]) => {
    // One call: dx overwritten (through writeGrad when x already has a gradient), the
    // parameter gradients added straight into theirs; a gradient nobody needs is skipped.
    const wGrad = dWeight ? gradForAdding(dWeight) : null;
    const bGrad = dBias ? gradForAdding(dBias) : null;
    if (dx) writeGrad(dx, (into) => linearBackward(dy, x, weight, into, wGrad, bGrad));
    else linearBackward(dy, x, weight, null, wGrad, bGrad);
  });
  return y;
}
