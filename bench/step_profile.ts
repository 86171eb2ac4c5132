/**
 * GPU time per kernel of one training step, from timestamp queries: every dispatch of the step
 * gets a compute pass of its own with timestamps at its start and end, and the times are summed
 * by kernel label and workgroup grid. Shows which kernels an adapter is slow at (SwiftShader:
 * batch norm's reductions). The adapter must offer the `timestamp-query` feature.
 *
 * Run: `deno run -A bench/step_profile.ts [model (default conv-bn-net)] [batch (default 2)] [rows
 * (default 15)]`,
 * on SwiftShader with `VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json` in front.
 *
 * @module
 */

// The device hajime creates must have timestamp queries: ask for them before initGpu runs.
const requestDevice = GPUAdapter.prototype.requestDevice;
GPUAdapter.prototype.requestDevice = function (descriptor?: GPUDeviceDescriptor) {
  return requestDevice.call(this, { ...descriptor, requiredFeatures: ["timestamp-query"] });
};

import {
  Adam,
  createModel,
  CrossEntropyLoss,
  Generator,
  gpuInfo,
  initGpu,
  Tensor,
} from "../mod.ts";
import { autotuner, flush, gpuDevice, Kernel, recordTrainStep, sync } from "../gpu.ts";
import { copyEncoder } from "../src/gpu/step.ts";

await initGpu();
const device = gpuDevice();
const name = Deno.args[0] ?? "conv-bn-net";
const batch = Number(Deno.args[1] ?? 2);
/** WebGPU caps a query set at 4096 queries: two per pass. */
const MAX_PASSES = 2048;
const querySet = device.createQuerySet({
  label: "StepProfile.times",
  type: "timestamp",
  count: 2 * MAX_PASSES,
});

let profiling = false;
const labels: string[] = [];
const beginComputePass = GPUCommandEncoder.prototype.beginComputePass;
GPUCommandEncoder.prototype.beginComputePass = function (descriptor?: GPUComputePassDescriptor) {
  if (!profiling) return beginComputePass.call(this, descriptor);
  const i = labels.length;
  const timestampWrites = {
    querySet,
    beginningOfPassWriteIndex: 2 * i,
    endOfPassWriteIndex: 2 * i + 1,
  };
  return beginComputePass.call(this, { ...descriptor, timestampWrites });
};
const dispatch = Kernel.prototype.dispatch;
Kernel.prototype.dispatch = function (params, buffers, workgroups) {
  dispatch.call(this, params, buffers, workgroups);
  if (!profiling) return;
  labels.push(`${this.spec.label} [${workgroups.join(", ")}]`);
  copyEncoder(); // ends the pass: the next dispatch opens one with its own timestamps
};

const rng = new Generator(7);
const model = createModel(name, { seed: 1 });
const optimizer = new Adam(model, { lr: 1e-3 });
const loss = new CrossEntropyLoss();
const images = Tensor.from(
  Float32Array.from({ length: batch * 3 * 32 * 32 }, () => rng.uniform()),
  [batch, 3, 32, 32],
);
const classes = Tensor.from(Int32Array.from({ length: batch }, () => rng.int(10)), [batch], {
  dtype: "i32",
});
for (let i = 0; i < 3; i++) {
  recordTrainStep(model, { images, labels: classes }, loss, optimizer); // pipelines, bind groups
  flush();
}
await autotuner().tunePending(); // profile the variants training would run, as fit tunes them
await sync();
profiling = true;
recordTrainStep(model, { images, labels: classes }, loss, optimizer);
profiling = false;
if (labels.length > MAX_PASSES) throw new Error(`StepProfile: more than ${MAX_PASSES} dispatches`);

const bytes = 16 * labels.length;
const resolved = device.createBuffer({
  label: "StepProfile.resolved",
  size: bytes,
  usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
});
const readback = device.createBuffer({
  label: "StepProfile.readback",
  size: bytes,
  usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
});
const encoder = copyEncoder();
encoder.resolveQuerySet(querySet, 0, 2 * labels.length, resolved, 0);
encoder.copyBufferToBuffer(resolved, 0, readback, 0, bytes);
flush();
await readback.mapAsync(GPUMapMode.READ);
const times = new BigUint64Array(readback.getMappedRange());
const byKernel = new Map<string, number>();
let total = 0;
labels.forEach((label, i) => {
  const ms = Number(times[2 * i + 1] - times[2 * i]) / 1e6;
  total += ms;
  byKernel.set(label, (byKernel.get(label) ?? 0) + ms);
});
console.log(
  `${gpuInfo().description}: ${name} batch ${batch}, ${labels.length} dispatches, ` +
    `${total.toFixed(1)} ms of GPU time`,
);
const top = Number(Deno.args[2] ?? 15);
for (const [label, ms] of [...byKernel].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`${ms.toFixed(2).padStart(8)} ms  ${label}`);
}
