/**
 * hajime: train convolutional networks on the GPU through WebGPU, with hand-written WGSL
 * kernels, in Deno. The models of the article series (VeryBasicNet to Resnet, Shake-Shake) are
 * one call away; layers, optimizers, schedules, a trainer, CIFAR loaders and checkpoints follow
 * PyTorch's semantics and names.
 *
 * @example
 * ```ts
 * import { initGpu, resnet } from "@hajime/nn";
 * await initGpu();
 * const model = resnet();
 * console.log(model.toString(), model.numParameters()); // … 1965066
 * ```
 *
 * @module
 */

import { denoPlatform } from "./src/platform_deno.ts";
import { setPlatform } from "./src/platform.ts";

// The engine reads env variables and its kernel-choice cache through the host platform.
setPlatform(denoPlatform);
export * from "./src/platform.ts";
export * from "./src/platform_deno.ts";

// Engine: device, buffers, one-submit frames, kernels, tensors, the generator.
export * from "./src/gpu/device.ts";
export * from "./src/gpu/buffer_pool.ts";
export * from "./src/gpu/kernel.ts";
export * from "./src/gpu/step.ts";
export * from "./src/gpu/autotune.ts";
export * from "./src/tensor.ts";
export * from "./src/random.ts";

// Autograd: the tape, grad mode, and the functional ops (PyTorch's `torch.nn.functional`).
export {
  type BackwardFn,
  type BackwardOptions,
  type GradSlot,
  isGradEnabled,
  Node,
  noGrad,
} from "./src/autograd.ts";
export * as F from "./src/ops/functional.ts";

// Kernels, forward and backward.
export * from "./src/kernels/matmul.ts";
export * from "./src/kernels/conv2d.ts";
export * from "./src/kernels/batch_norm.ts";
export * from "./src/kernels/elementwise.ts";
export * from "./src/kernels/pool.ts";
export * from "./src/kernels/loss.ts";
export * from "./src/kernels/reduce.ts";
export * from "./src/kernels/optim.ts";
export * from "./src/kernels/image.ts";
export * from "./src/kernels/activation.ts";

// Layers and models.
export * from "./src/nn/module.ts";
export * from "./src/nn/init.ts";
export * from "./src/nn/linear.ts";
export * from "./src/nn/conv2d.ts";
export * from "./src/nn/batch_norm2d.ts";
export * from "./src/nn/batch_norm1d.ts";
export * from "./src/nn/activation.ts";
export * from "./src/nn/pooling.ts";
export * from "./src/nn/dropout.ts";
export * from "./src/nn/containers.ts";
export * from "./src/nn/loss.ts";
export * from "./src/nn/shake_shake.ts";
export * from "./src/models/article.ts";
export * from "./src/models/shake_shake.ts";
export * from "./src/models/registry.ts";

// Optimizers and schedules.
export * from "./src/optim/optimizer.ts";
export * from "./src/optim/sgd.ts";
export * from "./src/optim/adam.ts";
export * from "./src/optim/schedules.ts";
export * from "./src/optim/lr_finder.ts";
export * from "./src/optim/clip_grad.ts";
export * from "./src/optim/param_groups.ts";

// Data.
export * from "./src/data/image_folder.ts";
export * from "./src/data/cifar_binary.ts";
export * from "./src/data/cifar_web.ts";
export * from "./src/data/download.ts";
export * from "./src/data/tar.ts";
export * from "./src/data/cache.ts";
export * from "./src/data/loader.ts";
export * from "./src/data/transforms.ts";
export type { Dataset, DatasetItem } from "./src/data/dataset.ts";
export * from "./src/data/progress.ts";
export { type DecodedImage, decodeImage } from "./src/data/decode_worker.ts";

// Training.
export * from "./src/train/trainer.ts";
export * from "./src/train/metrics.ts";
export * from "./src/train/checkpoint.ts";
export * from "./src/train/report.ts";
