/**
 * The functional namespace `F`, as PyTorch's `torch.nn.functional` (names in camelCase): every
 * op, recorded on the tape for `backward()` when an input requires a gradient. Plus hajime's
 * extras for Shake-Shake: `shakeMix`, `shiftSubsample`, `concatChannels`, `splitChannels`.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const x = Tensor.from([-1, 2, 0.5, -3, 1, 4], [2, 3], { requiresGrad: true });
 * const loss = F.crossEntropy(F.relu(x), Tensor.from([1, 2], [2], { dtype: "i32" }));
 * loss.backward();
 * console.log(await loss.item(), await x.grad!.read());
 * ```
 *
 * @module
 */

import type { Tensor } from "../tensor.ts";

export { linear } from "./linear.ts";
export { gelu, type GeluOptions, leakyRelu, sigmoid, tanh } from "./activation.ts";
export { conv2d } from "./conv2d.ts";
export { batchNorm, type BatchNormOptions } from "./batch_norm.ts";
export {
  add,
  dropout,
  dropout2d,
  type DropoutOpOptions,
  mul,
  relu,
  scale,
  shakeMix,
} from "./elementwise.ts";
export {
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  avgPool2d,
  type AvgPool2dOpOptions,
  concatChannels,
  maxPool2d,
  shiftSubsample,
  type Size2,
  splitChannels,
} from "./pool.ts";
export {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  type CrossEntropyOptions,
  logSoftmax,
  mseLoss,
  nllLoss,
  softmax,
} from "./loss.ts";
export { argmax, eq, mean, sum } from "./reduce.ts";

/**
 * PyTorch's `torch.flatten(x, startDim, endDim)`: the dimensions from `startDim` to `endDim`
 * (negative counts from the end) merged into one, as a view (`Tensor.flatten`).
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const flat = F.flatten(Tensor.zeros([8, 16, 5, 5]), 1);
 * console.log(flat.shape); // [8, 400]
 * ```
 */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  return x.flatten(startDim, endDim);
}
