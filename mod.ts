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

export * from "./src/api.ts";

// Deno only: image folders, the official archives and JPEG decoding, checkpoints and reports.
export * from "./src/data/image_folder.ts";
export * from "./src/data/cifar_binary.ts";
export * from "./src/data/download.ts";
export { type DecodedImage, decodeImage, imageDecodersReady } from "./src/data/decode_worker.ts";
export * from "./src/train/checkpoint.ts";
export * from "./src/train/recipe.ts";
export * from "./src/train/batch_limit.ts";
export * from "./src/train/report.ts";
