/**
 * hajime: train convolutional networks on the GPU through WebGPU, with hand-written WGSL
 * kernels, in Deno.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const x = Tensor.from([1, 2, 3], [3]);
 * console.log(await x.read());
 * ```
 *
 * @module
 */

export * from "./src/gpu/device.ts";
export * from "./src/gpu/buffer_pool.ts";
export * from "./src/gpu/kernel.ts";
export * from "./src/gpu/step.ts";
export * from "./src/tensor.ts";
export * from "./src/random.ts";
