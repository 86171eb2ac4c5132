/**
 * Test setup shared by GPU tests: one device, poisoned outputs, and a helper to read f32 tensors
 * as float64 for comparison with the references.
 *
 * @module
 */

import { initGpu, Tensor } from "../mod.ts";
import { type Autotuner, Kernel, setAutotuner } from "../gpu.ts";
import { setPoison } from "../src/tensor.ts";
import { assertEquals, assertThrows } from "./assert.ts";

await initGpu();
setPoison(true);

/** Reads an f32 tensor back as a Float64Array. */
export async function read64(tensor: Tensor): Promise<Float64Array> {
  return Float64Array.from(await tensor.read());
}

/** Uploads float64 values into a new f32 tensor. */
export function upload(
  data: ArrayLike<number>,
  shape: readonly number[],
  label = "Test.input",
): Tensor {
  return Tensor.from(data, shape, { label });
}

/** The labels of the kernels `fn` dispatches, in order (a spy on `Kernel.dispatch`). */
export function dispatchedKernels(fn: () => void): string[] {
  const labels: string[] = [];
  const dispatch = Kernel.prototype.dispatch;
  Kernel.prototype.dispatch = function (this: Kernel, ...args) {
    labels.push(this.spec.label);
    return dispatch.apply(this, args);
  };
  try {
    fn();
  } finally {
    Kernel.prototype.dispatch = dispatch;
  }
  return labels;
}

/** Runs `fn`, which must throw an error including `message` without dispatching a kernel. */
export function assertThrowsBeforeGpuWork(fn: () => unknown, message: string): void {
  let error: unknown = null;
  const kernels = dispatchedKernels(() => {
    try {
      fn();
    } catch (e) {
      error = e;
    }
  });
  assertThrows(() => {
    if (error) throw error;
  }, message);
  assertEquals(kernels, [], `no GPU work before "${message}"`);
}

/** Runs `fn` with `tuner` current, restoring the previous one after. */
export async function withTuner<T>(tuner: Autotuner, fn: () => Promise<T> | T): Promise<T> {
  const previous = setAutotuner(tuner);
  try {
    return await fn();
  } finally {
    setAutotuner(previous);
  }
}
