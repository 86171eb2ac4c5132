/**
 * hajime for the browser (and any runtime with web APIs only): the engine, the article's models,
 * optimizers, the trainer, the DataLoader and the CIFAR-10 binary readers from URLs and `File`
 * objects; no file-system or environment access. Importing it installs {@linkcode webPlatform}
 * (the autotuner's choices are kept in `localStorage`). `deno task bundle` bundles a page using
 * it; Deno programs import `mod.ts` instead.
 *
 * @example
 * ```ts
 * import { basicCnn, cifar10FromUrl, initGpu } from "@hajime/nn/web";
 * await initGpu();
 * const model = basicCnn({ seed: 0 });
 * const test = await cifar10FromUrl("./cifar-10-batches-bin/", { train: false });
 * console.log(model.numParameters(), test.length); // 62958 10000
 * ```
 *
 * @module
 */

import { setPlatform, webPlatform } from "./src/platform.ts";

setPlatform(webPlatform());
export * from "./src/platform.ts";

// Engine: device, buffers, one-submit frames, kernels, tensors, the generator.
export * from "./src/gpu/device.ts";
export * from "./src/gpu/buffer_pool.ts";
export * from "./src/gpu/kernel.ts";
export * from "./src/gpu/step.ts";
export * from "./src/gpu/autotune.ts";
export * from "./src/tensor.ts";
export * from "./src/random.ts";

// Kernels, forward and backward.
export * from "./src/kernels/matmul.ts";
export * from "./src/kernels/conv2d.ts";
export * from "./src/kernels/batch_norm.ts";
export * from "./src/kernels/elementwise.ts";
export * from "./src/kernels/pool.ts";
export * from "./src/kernels/loss.ts";
export * from "./src/kernels/optim.ts";
export * from "./src/kernels/image.ts";

// Layers and models.
export * from "./src/nn/module.ts";
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

// Data: in-memory datasets, CIFAR-10 from URLs and files, batches on the GPU.
export * from "./src/data/dataset.ts";
export * from "./src/data/cifar_web.ts";
export * from "./src/data/loader.ts";
export * from "./src/data/transforms.ts";

// Training (checkpoints and reports write files: Deno only, from mod.ts).
export * from "./src/train/trainer.ts";
export * from "./src/train/metrics.ts";
