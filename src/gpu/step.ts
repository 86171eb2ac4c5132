/**
 * Records GPU work into one command encoder and submits it once. Every kernel dispatch, copy and
 * readback joins the open frame; `flush()` ends it with a single `queue.submit`. Kernel parameters
 * go into one uniform arena per frame, written with one `writeBuffer` just before the submit and
 * bound with dynamic offsets, so the per-step path creates no buffers and no bind groups.
 *
 * This module is also the one throttle: every loop that steps (the DataLoader's epoch, `fit`,
 * `evaluate`, the learning-rate finder) ends a step with `endStep()`, which submits and waits only
 * when too many steps are queued on the GPU.
 *
 * @module
 */

import { gpuDevice, throwPendingGpuError } from "./device.ts";

/** Bytes reserved per dispatch in the uniform arena (WebGPU's usual offset alignment). */
export const UNIFORM_SLOT = 256;
/** Dispatches one frame can hold before it is submitted early (a whole Shake-Shake step fits). */
const ARENA_SLOTS = 8192;
/**
 * Steps the GPU may have queued before `endStep` waits. Deno resolves GPU promises on a poll of
 * about 10 ms whatever the GPU's speed, so waiting on the step before last would cap a fast GPU at
 * one step per 5 ms (bench/README.md, data pipeline); more steps would only hold more uploads.
 */
const MAX_QUEUED_STEPS = 8;
/** Upload bytes the queued steps may hold (each keeps its uploads until it has run). */
const MAX_QUEUED_UPLOAD_BYTES = 64 * 2 ** 20;
/** Steps that may always be queued, whatever their uploads: the one running and the next. */
const MIN_QUEUED_STEPS = 2;

/** Counters that let tests prove what a step did. */
export interface FrameStats {
  /** `queue.submit` calls made by hajime since the process started. */
  submits: number;
  /** Compute dispatches recorded since the process started. */
  dispatches: number;
}

/** Live counters, read by tests and benchmarks. */
export const frameStats: FrameStats = { submits: 0, dispatches: 0 };

class Frame {
  readonly device: GPUDevice;
  readonly arena: GPUBuffer;
  readonly arenaData: ArrayBuffer = new ArrayBuffer(ARENA_SLOTS * UNIFORM_SLOT);
  encoder: GPUCommandEncoder | null = null;
  pass: GPUComputePassEncoder | null = null;
  slots = 0;
  afterSubmit: (() => void)[] = [];

  constructor(device: GPUDevice) {
    this.device = device;
    this.arena = device.createBuffer({
      label: "Frame.uniformArena",
      size: ARENA_SLOTS * UNIFORM_SLOT,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  commandEncoder(): GPUCommandEncoder {
    return this.encoder ??= this.device.createCommandEncoder({ label: "Frame.step" });
  }

  computePass(): GPUComputePassEncoder {
    return this.pass ??= this.commandEncoder().beginComputePass({ label: "Frame.compute" });
  }

  endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

let frame: Frame | null = null;

/** A submitted step the GPU may still be running. */
interface QueuedStep {
  done: Promise<void>;
  uploadBytes: number;
}
const queued: QueuedStep[] = [];
let queuedUploadBytes = 0;
/** Upload bytes written since the last `endStep` (they belong to the step it ends). */
let stepUploadBytes = 0;
let submitsAtLastEnd = 0;

function currentFrame(): Frame {
  const device = gpuDevice();
  if (!frame || frame.device !== device) frame = new Frame(device);
  return frame;
}

/** The uniform arena buffer bind groups point at (binding 0, dynamic offset). */
export function uniformArena(): GPUBuffer {
  return currentFrame().arena;
}

/**
 * Reserves a parameter slot in the open frame and returns its byte offset in the arena and a view
 * to write the parameters into. A frame that runs out of slots is submitted first.
 */
export function reserveUniformSlot(): { offset: number; view: DataView } {
  let f = currentFrame();
  if (f.slots === ARENA_SLOTS) {
    flush();
    f = currentFrame();
  }
  const offset = f.slots++ * UNIFORM_SLOT;
  return { offset, view: new DataView(f.arenaData, offset, UNIFORM_SLOT) };
}

/** The compute pass of the open frame, begun on demand. */
export function computePass(): GPUComputePassEncoder {
  frameStats.dispatches++;
  return currentFrame().computePass();
}

/** The open frame's command encoder with no compute pass open, for copies. */
export function copyEncoder(): GPUCommandEncoder {
  const f = currentFrame();
  f.endPass();
  return f.commandEncoder();
}

/**
 * Records a buffer-to-buffer copy into the open frame, in order with its dispatches. The buffers
 * arrive evaluated: a tensor's `buffer` may record its deferred write (a dispatch), which must
 * come before `copyEncoder()` ends the pass, not between it and the copy.
 */
export function copyBuffer(
  source: GPUBuffer,
  sourceOffset: number,
  target: GPUBuffer,
  targetOffset: number,
  bytes: number,
): void {
  copyEncoder().copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
}

/** Runs `fn` once the open frame has been submitted (releases staging buffers, maps readbacks). */
export function afterSubmit(fn: () => void): void {
  currentFrame().afterSubmit.push(fn);
}

/** Counts `bytes` written to the queue (`writeBuffer`) against the step being recorded. */
export function noteUpload(bytes: number): void {
  stepUploadBytes += bytes;
}

/**
 * Ends a training (or evaluation) step: submits the open frame, then waits while the GPU has more
 * than 8 steps queued, or their uploads pass 64 MiB. A call with nothing
 * submitted since the last one queues nothing, so a loop and its DataLoader may both call it.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { endStep } from "@hajime/nn/gpu";
 * await initGpu();
 * const t = Tensor.zeros([4]);
 * t.fill(1);
 * await endStep(); // submitted; waits only when the GPU is far behind
 * ```
 */
export async function endStep(): Promise<void> {
  flush();
  if (frameStats.submits !== submitsAtLastEnd) {
    submitsAtLastEnd = frameStats.submits;
    queued.push({ done: gpuDevice().queue.onSubmittedWorkDone(), uploadBytes: stepUploadBytes });
    queuedUploadBytes += stepUploadBytes;
    stepUploadBytes = 0;
  }
  while (
    queued.length > MIN_QUEUED_STEPS &&
    (queued.length > MAX_QUEUED_STEPS || queuedUploadBytes > MAX_QUEUED_UPLOAD_BYTES)
  ) {
    const oldest = queued.shift()!;
    queuedUploadBytes -= oldest.uploadBytes;
    await oldest.done;
  }
  throwPendingGpuError();
}

/**
 * Waits until every step `endStep` queued has run. Unlike `sync` it neither submits nor throws a
 * pending GPU error (that stays for the next `flush`), so `finally` blocks can call it.
 */
export async function queuedStepsDone(): Promise<void> {
  await Promise.all(queued.map((step) => step.done));
  queued.length = 0;
  queuedUploadBytes = 0;
}

/** True when the open frame holds recorded work not yet submitted. */
export function hasPendingWork(): boolean {
  return frame !== null && frame.encoder !== null;
}

/**
 * Submits everything recorded since the last flush as one command buffer: one `queue.submit`.
 * Does nothing when nothing was recorded. Throws a pending GPU error, if one was reported.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { flush } from "@hajime/nn/gpu";
 * await initGpu();
 * const t = Tensor.zeros([4]);
 * flush();
 * console.log(await t.read()); // [0, 0, 0, 0]
 * ```
 */
export function flush(): void {
  throwPendingGpuError();
  const f = frame;
  if (!f || !f.encoder) return;
  f.endPass();
  if (f.slots > 0) {
    f.device.queue.writeBuffer(f.arena, 0, f.arenaData, 0, f.slots * UNIFORM_SLOT);
  }
  const commands = f.encoder.finish();
  f.encoder = null;
  f.slots = 0;
  f.device.queue.submit([commands]);
  frameStats.submits++;
  const hooks = f.afterSubmit;
  f.afterSubmit = [];
  for (const hook of hooks) hook();
}

/**
 * Flushes, then waits until the GPU has finished all submitted work. Throws a GPU error reported
 * meanwhile.
 *
 * @example
 * ```ts
 * import { initGpu } from "@hajime/nn";
 * import { sync } from "@hajime/nn/gpu";
 * await initGpu();
 * await sync();
 * ```
 */
export async function sync(): Promise<void> {
  flush();
  await gpuDevice().queue.onSubmittedWorkDone();
  queued.length = 0; // everything submitted has run
  queuedUploadBytes = 0;
  throwPendingGpuError();
}
