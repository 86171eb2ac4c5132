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

export * from "./src/api.ts";
