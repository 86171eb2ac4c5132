/**
 * hajime for the browser (and any runtime with web APIs only): the API of `@hajime/nn` (tensors,
 * autograd, layers, the article's models, optimizers, the trainer, the DataLoader, CIFAR-10 from
 * URLs and `File` objects) without file-system or environment access, so without `imageFolder`,
 * the official archives' download, checkpoints and reports. Importing it installs the web platform
 * (the autotuner's choices are kept in `localStorage`). `deno task bundle` bundles a page using
 * it; Deno programs import `@hajime/nn`.
 *
 * @example
 * ```ts
 * import { basicCnn, cifar10FromUrl, initGpu } from "@hajime/nn/web";
 * await initGpu();
 * const model = basicCnn({ seed: 0 });
 * // In a page served by `deno task serve`: the batches' URL is relative to the page.
 * const test = await cifar10FromUrl("cifar-10-batches-bin/", { train: false });
 * console.log(model.numParameters(), test.length); // 62958 10000
 * ```
 *
 * @module
 */

import { setPlatform, webPlatform } from "./src/platform.ts";

setPlatform(webPlatform());

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

// Data: in-memory datasets, CIFAR-10 from URLs and files, batches on the GPU.
export * from "./src/data/dataset.ts";
export * from "./src/data/cifar_web.ts";
export * from "./src/data/loader.ts";
export * from "./src/data/transforms.ts";

// Training (checkpoints and reports write files: Deno only, from mod.ts).
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
