/**
 * Prints the WebGPU adapter hajime would use and the limits it gets: the first thing to run on a
 * new machine.
 *
 * Usage: deno run -A examples/adapter.ts
 */

import { gpuInfo, initGpu } from "../mod.ts";

await initGpu();
const info = gpuInfo();
console.log(`adapter: ${info.description}${info.isSoftware ? " (software rasterizer)" : ""}`);
for (
  const name of [
    "maxStorageBuffersPerShaderStage",
    "maxStorageBufferBindingSize",
    "maxBufferSize",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
  ] as const
) {
  console.log(`${name}: ${info.limits[name]}`);
}
