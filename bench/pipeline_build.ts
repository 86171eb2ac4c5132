/**
 * Builds every compute pipeline hajime can make on this adapter and prints how long each took:
 * every entry point of every file in shaders/ with its default constants, and the tuned kernels
 * (conv2d's GEMMs, matmul's tiles) once per variant the autotuner offers here. The goal is under
 * 10 s per pipeline on every adapter, software ones included.
 *
 * Run: `deno run -A bench/pipeline_build.ts`, on SwiftShader with
 * `VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json` in front.
 *
 * @module
 */

import { gpuInfo, initGpu } from "../mod.ts";
import { gpuDevice, kernelFamily, sync } from "../gpu.ts";

await initGpu();
const device = gpuDevice();
const shaders = new URL("../shaders/", import.meta.url);

/** The pipelines of one entry point: a set of override constants each. */
function constantSets(file: string, entry: string): Record<string, number>[] {
  if (file === "conv2d.wgsl" && /^(gather|weight_grad)_/.test(entry)) {
    const family = entry.startsWith("gather") ? "conv2d.forward" : "conv2d.backwardWeight";
    return kernelFamily(family).variants()
      .filter((variant) => entry.endsWith(`_${variant.split("/")[0]}`))
      .map((variant) => ({ WORKGROUP: Number(variant.split("/wg")[1]) }));
  }
  if (file === "matmul.wgsl" && /^matmul_/.test(entry)) {
    return kernelFamily("matmul").variants().map((variant) => {
      const [x, y] = variant.split("x").map(Number);
      return { WG_X: x, WG_Y: y };
    });
  }
  return [{}];
}

console.log(`adapter: ${gpuInfo().description}`);
const times: number[] = [];
const files = [...Deno.readDirSync(shaders)].map((e) => e.name).filter((n) => n.endsWith(".wgsl"));
for (const file of files.sort()) {
  const code = Deno.readTextFileSync(new URL(file, shaders));
  const module = device.createShaderModule({ label: `PipelineBuild.${file}`, code });
  const entries = [...code.matchAll(/@compute\s+@workgroup_size\([^)]*\)\s*fn\s+(\w+)/g)];
  for (const [, entry] of entries) {
    for (const constants of constantSets(file, entry)) {
      const start = performance.now();
      device.createComputePipeline({
        label: `PipelineBuild.${entry}`,
        layout: "auto",
        compute: { module, entryPoint: entry, constants },
      });
      const ms = performance.now() - start;
      times.push(ms);
      console.log(`${file} ${entry} ${JSON.stringify(constants)}: ${ms.toFixed(0)} ms`);
    }
  }
}
await sync();
const total = times.reduce((a, b) => a + b, 0);
console.log(
  `${times.length} pipelines, ${(total / 1000).toFixed(1)} s in all, ` +
    `slowest ${(Math.max(...times) / 1000).toFixed(1)} s`,
);
