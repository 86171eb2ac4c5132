/**
 * A pool of GPU buffers keyed by size class and usage, so a training loop reuses the same buffers
 * step after step and its memory stays flat.
 *
 * @module
 */

import { gpuDevice } from "./device.ts";

/** Usage of every tensor buffer: kernels read and write it, copies go both ways. */
export const TENSOR_USAGE: number = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8 /* COPY_DST */;
/**
 * Usage of upload staging buffers. A usage of their own keeps them apart from tensor buffers:
 * a tensor buffer released mid-frame may still be written by work recorded earlier in that frame,
 * which would run after a `queue.writeBuffer` into it. Staging buffers go back to the pool only
 * after the frame that reads them is submitted.
 */
export const UPLOAD_USAGE: number = 0x4 /* COPY_SRC */ | 0x8 /* COPY_DST */;
/** Usage of readback staging buffers. */
export const READBACK_USAGE: number = 0x1 /* MAP_READ */ | 0x8 /* COPY_DST */;

/**
 * The byte size a request is rounded up to: at least 256 bytes, then the next of 1, 1.25, 1.5 or
 * 1.75 times a power of two, so at most a quarter is wasted and sizes repeat across steps.
 */
export function sizeClass(byteLength: number): number {
  if (byteLength <= 256) return 256;
  const power = 2 ** Math.floor(Math.log2(byteLength - 1));
  for (const step of [1.25, 1.5, 1.75, 2]) {
    const size = power * step;
    if (size >= byteLength) return size;
  }
  return power * 2;
}

/** Counts that let tests check the pool: buffers handed out now, and buffers waiting for reuse. */
export interface PoolStats {
  /** Buffers handed out and not yet released. */
  readonly live: number;
  /** Buffers released and waiting for reuse. */
  readonly free: number;
  /** Buffers ever created by the pool. */
  readonly created: number;
  /** Bytes of all buffers the pool holds, handed out or free. */
  readonly bytes: number;
}

/**
 * Reuses GPU buffers by size class and usage.
 *
 * @example
 * ```ts
 * import { initGpu } from "@hajime/nn";
 * import { bufferPool } from "@hajime/nn/gpu";
 * import { TENSOR_USAGE } from "./buffer_pool.ts";
 * await initGpu();
 * const buffer = bufferPool.acquire(1000, TENSOR_USAGE, "Example.buffer");
 * bufferPool.release(buffer);
 * ```
 */
export class BufferPool {
  #free = new Map<string, GPUBuffer[]>();
  #live = new Set<GPUBuffer>();
  #created = 0;
  #bytes = 0;

  /** A buffer of at least `byteLength` bytes with `usage`; labelled `label` when newly made. */
  acquire(byteLength: number, usage: number, label: string): GPUBuffer {
    const size = sizeClass(byteLength);
    const key = `${usage}:${size}`;
    let buffer = this.#free.get(key)?.pop();
    if (!buffer) {
      buffer = gpuDevice().createBuffer({ label, size, usage });
      this.#created++;
      this.#bytes += size;
    }
    this.#live.add(buffer);
    return buffer;
  }

  /** Returns `buffer` for reuse. Work already recorded on it still runs first, in queue order. */
  release(buffer: GPUBuffer): void {
    if (!this.#live.delete(buffer)) {
      throw new Error(`BufferPool.release: buffer "${buffer.label}" is not handed out by the pool`);
    }
    const key = `${buffer.usage}:${buffer.size}`;
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, list = []);
    list.push(buffer);
  }

  /** Destroys every free buffer (live ones stay). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const buffer of list) {
        this.#bytes -= buffer.size;
        buffer.destroy();
      }
    }
    this.#free.clear();
  }

  /** Current counts. */
  stats(): PoolStats {
    let free = 0;
    for (const list of this.#free.values()) free += list.length;
    return { live: this.#live.size, free, created: this.#created, bytes: this.#bytes };
  }
}

/**
 * The process-wide pool every tensor draws from.
 *
 * @example
 * ```ts
 * import { bufferPool } from "@hajime/nn/gpu";
 * console.log(bufferPool.stats().live);
 * ```
 */
export const bufferPool: BufferPool = new BufferPool();
