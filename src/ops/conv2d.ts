/**
 * The conv2d op, 2-D cross-correlation over NCHW tensors as PyTorch's `F.conv2d`, and its
 * backward (kernels in src/kernels/conv2d.ts, shaders/conv2d.wgsl).
 *
 * @module
 */

import { gradForAdding, opTensor, record, writeGrad } from "../autograd.ts";
import {
  conv2dBackward,
  conv2dForward,
  type Conv2dOptions,
  conv2dOutputShape,
} from "../kernels/conv2d.ts";
import { checkShape, type Tensor } from "../tensor.ts";

/**
 * PyTorch's `F.conv2d(x, weight, bias, stride, padding)`. Backward: dx overwritten by the
 * input-gradient kernels, `dWeight +=` and `dBias +=` by the accumulating ones; the kernels of a
 * gradient nobody needs are skipped (images into a first layer get no dx).
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const x = Tensor.full([1, 1, 3, 3], 1);
 * const weight = Tensor.full([2, 1, 3, 3], 0.5);
 * const y = F.conv2d(x, weight, null, { padding: 1 }); // [1, 2, 3, 3]
 * console.log(await y.read()); // centre 4.5, corners 2
 * ```
 */
export function conv2d(
  x: Tensor, // x: [N, C, H, W]
  weight: Tensor, // weight: [O, C, KH, KW]
  bias: Tensor | null = null, // bias: [O]
  options: Partial<Conv2dOptions> = {}, // stride (default 1), padding (default 0)
): Tensor { // → y: [N, O, OH, OW]
  const opts = { stride: options.stride ?? 1, padding: options.padding ?? 0 };
  const yShape = conv2dOutputShape("conv2d", x, weight, opts);
  if (bias) checkShape("conv2d", "bias", bias, [weight.shape[0]]);
  const y = opTensor(yShape, { label: "conv2d.y" });
  conv2dForward(x, weight, bias, y, opts);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  record("conv2d", inputs, y, (dy, [dx, dWeight, dBias]) => {
    // One call: dx overwritten (through writeGrad when x already has a gradient), the
    // parameter gradients added straight into theirs.
    const wGrad = dWeight ? gradForAdding(dWeight) : null;
    const bGrad = dBias ? gradForAdding(dBias) : null;
    if (dx) writeGrad(dx, (into) => conv2dBackward(dy, x, weight, into, wGrad, bGrad, opts));
    else conv2dBackward(dy, x, weight, null, wGrad, bGrad, opts);
  });
  return y;
}
