/**
 * The largest batch a model can train with on this adapter. WebGPU binds a buffer only up to
 * the adapter's `maxStorageBufferBindingSize` (and makes none past `maxBufferSize`), and a
 * training step binds tensors that grow with the batch: activations, their gradients, the
 * kernels' transposed copies. {@link largestBatch} records two tiny training steps (2 and 3
 * images) of a throwaway copy of the model, watching every tensor the kernels bind whose leading
 * dimension is the batch, and returns the largest batch whose every such tensor, rounded up as
 * the buffer pool rounds, still fits: what to tell the user before training, not at step 1.
 *
 * @module
 */

import { Autotuner, setAutotuner } from "../gpu/autotune.ts";
import { gpuInfo } from "../gpu/device.ts";
import { observeBindings } from "../gpu/kernel.ts";
import { flush, sync } from "../gpu/step.ts";
import { CrossEntropyLoss } from "../nn/loss.ts";
import type { Module } from "../nn/module.ts";
import { Tensor } from "../tensor.ts";

/** What {@link largestBatch} found. */
export interface BatchLimit {
  /** The largest batch whose every tensor fits (Infinity when none grows with the batch). */
  largest: number;
  /** Label of the tensor that sets the limit ("" when none does). */
  label: string;
  /** That tensor's bytes per image. */
  bytesPerImage: number;
  /** The most bytes one buffer may hold: min(maxStorageBufferBindingSize, maxBufferSize). */
  limitBytes: number;
}

/** Options of {@link largestBatch}. */
export interface BatchLimitOptions {
  /** One input image's shape (default `[3, 32, 32]`, CIFAR's). */
  imageShape?: readonly number[];
  /** The per-buffer limit to fit (default: the adapter's, see {@link BatchLimit.limitBytes}). */
  limitBytes?: number;
}

/** The largest buffer the pool hands out within `limit` (its sizes are 1, 1.25, 1.5, 1.75 × 2^k). */
function largestPoolBuffer(limit: number): number {
  const power = 2 ** Math.floor(Math.log2(limit));
  return [1.75, 1.5, 1.25, 1].map((m) => m * power).find((size) => size <= limit) ?? 0;
}

/** Bytes per image of each label's largest batch-led tensor bound in one step on `n` images. */
function perImageBytes(
  model: Module,
  imageShape: readonly number[],
  n: number,
): Map<string, number> {
  const perImage = new Map<string, number>();
  const stop = observeBindings((bound) => {
    if (bound instanceof Tensor && bound.shape[0] === n) {
      perImage.set(bound.label, Math.max(perImage.get(bound.label) ?? 0, bound.byteLength / n));
    }
  });
  const images = Tensor.zeros([n, ...imageShape], { label: "BatchLimit.images" });
  const labels = Tensor.zeros([n], { dtype: "i32", label: "BatchLimit.labels" });
  try {
    model.zeroGrad();
    new CrossEntropyLoss().forward(model.forward(images), labels).backward();
    flush();
  } finally {
    stop();
    images.dispose();
    labels.dispose();
  }
  return perImage;
}

/**
 * The largest batch `build()`'s model can train with on this adapter (see the module docs).
 * The model `build` returns is a throwaway, disposed here, so the model to train keeps its state
 * and its generator's draws; kernel tuning is off while probing.
 *
 * @example
 * ```ts
 * import { createModel, initGpu, largestBatch } from "@hajime/nn";
 * await initGpu();
 * const limit = await largestBatch(() => createModel("resnet"));
 * console.log(`up to ${limit.largest} images per batch (${limit.label} is the largest)`);
 * ```
 */
export async function largestBatch(
  build: () => Module,
  options: BatchLimitOptions = {},
): Promise<BatchLimit> {
  const { imageShape = [3, 32, 32] } = options;
  const limits = gpuInfo().limits;
  const limitBytes = options.limitBytes ??
    Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const previous = setAutotuner(new Autotuner({ enabled: false, cacheFile: null }));
  const model = build();
  let two: Map<string, number>;
  let three: Map<string, number>;
  try {
    model.train();
    two = perImageBytes(model, imageShape, 2);
    three = perImageBytes(model, imageShape, 3);
    await sync(); // the probes' GPU work ends here, not in the middle of training
  } finally {
    model.dispose();
    setAutotuner(previous);
  }
  const room = largestPoolBuffer(limitBytes);
  const found: BatchLimit = { largest: Infinity, label: "", bytesPerImage: 0, limitBytes };
  for (const [label, bytes] of three) {
    // A tensor whose leading dimension only happened to equal the batch in one probe is no
    // batch tensor: the smaller of the two readings (0 when absent) leaves it out.
    const perImage = Math.min(bytes, two.get(label) ?? 0);
    if (perImage === 0) continue;
    const largest = Math.floor(room / perImage);
    if (largest < found.largest) Object.assign(found, { largest, label, bytesPerImage: perImage });
  }
  return found;
}
