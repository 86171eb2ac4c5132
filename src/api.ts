/**
 * The API `@hajime/nn` (mod.ts) and `@hajime/nn/web` (web.ts) share: everything that needs no
 * file system or environment. Each entry point adds its own (mod.ts: image folders, the
 * official archives, checkpoints, reports) and installs its platform; this file is their one
 * list, so the two cannot drift apart.
 *
 * @module
 */

// The device. The engine under it (buffers, frames, kernels, the autotuner) is `@hajime/nn/gpu`.
export { GpuError, type GpuInfo, gpuInfo, initGpu } from "./gpu/device.ts";

// Tensors, the generator, autograd and the functional ops (PyTorch's `torch.nn.functional`).
export { type ArrayFor, type DType, Tensor, type TensorOptions } from "./tensor.ts";
export * from "./random.ts";
export {
  type BackwardFn,
  type BackwardOptions,
  type GradSlot,
  isGradEnabled,
  Node,
  noGrad,
} from "./autograd.ts";
export * as F from "./ops/functional.ts";

// Layers and models.
export { Module, Parameter, type StateDict, type StateEntry } from "./nn/module.ts";
export * from "./nn/init.ts";
export * from "./nn/linear.ts";
export * from "./nn/conv2d.ts";
export * from "./nn/batch_norm2d.ts";
export * from "./nn/batch_norm1d.ts";
export * from "./nn/activation.ts";
export * from "./nn/pooling.ts";
export * from "./nn/dropout.ts";
export * from "./nn/containers.ts";
export * from "./nn/loss.ts";
export * from "./nn/shake_shake.ts";
export * from "./models/article.ts";
export * from "./models/shake_shake.ts";
export * from "./models/registry.ts";

// Optimizers and schedules.
export * from "./optim/optimizer.ts";
export * from "./optim/sgd.ts";
export * from "./optim/adam.ts";
export * from "./optim/schedules.ts";
export * from "./optim/lr_finder.ts";
export * from "./optim/clip_grad.ts";
export * from "./optim/param_groups.ts";

// Data: in-memory datasets, CIFAR-10 from URLs and `File`s, batches on the GPU.
export * from "./data/dataset.ts";
export type { PackedImages } from "./data/cache.ts";
export * from "./data/cifar_web.ts";
export * from "./data/loader.ts";
export * from "./data/transforms.ts";

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
} from "./train/trainer.ts";
export { accuracy, argmaxRows, confusionMatrix, perClassAccuracy } from "./train/metrics.ts";
