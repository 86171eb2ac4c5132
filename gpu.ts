/**
 * The engine under `@hajime/nn`, for writing and measuring kernels: the device, the buffer pool,
 * the one-submit frame (`flush`, `sync`, `frameStats`), `Kernel` and WGSL loading, the autotuner,
 * the host platform, and the raw kernel wrappers (forward and backward, writing into tensors the
 * caller owns). Model code needs none of it: `@hajime/nn` (or `@hajime/nn/web`) is the library,
 * and importing it installs the host platform this module's autotuner and env reads go through.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { frameStats, matmul, sync } from "@hajime/nn/gpu";
 * await initGpu();
 * const c = Tensor.empty([2, 2]);
 * matmul(Tensor.from([1, 2, 3, 4], [2, 2]), Tensor.from([1, 0, 0, 1], [2, 2]), c);
 * await sync(); // one submit for what was recorded
 * console.log(await c.read(), frameStats.submits > 0); // [1, 2, 3, 4] true
 * ```
 *
 * @module
 */

// The host platform: env variables and the autotuner's store (mod.ts and web.ts install one).
export * from "./src/platform.ts";

// Device, buffers, one-submit frames, kernels, the autotuner.
export { gpuDevice } from "./src/gpu/device.ts";
export { BufferPool, bufferPool, type PoolStats } from "./src/gpu/buffer_pool.ts";
export { endStep, flush, type FrameStats, frameStats, sync } from "./src/gpu/step.ts";
export * from "./src/gpu/kernel.ts";
export * from "./src/gpu/autotune.ts";

// A training step recorded into the open frame without submitting (`fit` flushes once per step).
export { recordTrainStep } from "./src/train/trainer.ts";

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
