/**
 * hajime: train convolutional networks on the GPU through WebGPU, with hand-written WGSL
 * kernels, in Deno. The models of the article series (VeryBasicNet to Resnet, Shake-Shake) are
 * one call away; layers, optimizers, schedules, a trainer, CIFAR loaders and checkpoints follow
 * PyTorch's semantics and names. Importing it installs the Deno platform (env variables, the
 * autotuner's cache file). The engine under it (buffer pool, one-submit frames, kernels, the
 * autotuner) is `@hajime/nn/gpu`; `@hajime/nn/web` is this API for browsers.
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

// The device. The engine under it (buffers, frames, kernels, the autotuner) is `@hajime/nn/gpu`.
export { GpuError, type GpuInfo, gpuInfo, initGpu } from "./src/gpu/device.ts";

// Tensors, the generator, autograd and the functional ops (PyTorch's `torch.nn.functional`).
export { type ArrayFor, type DType, Tensor, type TensorOptions } from "./src/tensor.ts";
export * from "./src/random.ts";
export {
  type BackwardFn,
  type BackwardOptions,
  type GradSlot,
  isGradEnabled,
  Node,
  noGrad,
} from "./src/autograd.ts";
export * as F from "./src/ops/functional.ts";

// Layers and models.
export { Module, Parameter, type StateDict, type StateEntry } from "./src/nn/module.ts";
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
export * from "./src/data/loader.ts";
export * from "./src/data/transforms.ts";
export type { Dataset, DatasetItem } from "./src/data/dataset.ts";
export { type DecodedImage, decodeImage, imageDecodersReady } from "./src/data/decode_worker.ts";

// Training.
export {
  type AnyOptimizer,
  type BatchSource,
  type EpochInfo,
  evaluate,
  type EvaluateOptions,
  type EvaluateResult,
  fit,
  type FitOptions,
  type FitResult,
  formatEvaluation,
  type LogInfo,
  type StepInfo,
} from "./src/train/trainer.ts";
export { accuracy, argmaxRows, confusionMatrix, perClassAccuracy } from "./src/train/metrics.ts";
export * from "./src/train/checkpoint.ts";
export * from "./src/train/recipe.ts";
export * from "./src/train/batch_limit.ts";
export * from "./src/train/report.ts";
