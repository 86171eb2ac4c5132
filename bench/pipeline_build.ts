/**
 * Builds every compute pipeline hajime can make on this adapter and prints how long each took:
 * every kernel declared with `wgslKernels` with its own constants, and the tuned kernels (conv2d's
 * GEMMs, matmul's tiles) once per variant the adapter can build (`allVariants`: those the autotuner
 * offers here, and those only tests force, such as the workgroup-tiled ones on software adapters).
 * The goal is under 10 s per pipeline on every adapter, software ones included.
 *
 * Run: `deno run -A bench/pipeline_build.ts`, on SwiftShader with
 * `VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json` in front.
 *
 * @module
 */

import { gpuInfo, initGpu } from "../mod.ts";
import { allVariants, declaredKernels, type Kernel, sync } from "../gpu.ts";

await initGpu();

/** The pipelines of one declared kernel: itself, or one per variant of its tuned family. */
function pipelinesOf(kernel: Kernel): Kernel[] {
  const { label, entryPoint } = kernel.spec;
  const gemm = /^Conv2d\.(gather|weightGrad)(\w+)$/.exec(label);
  if (gemm) {
    const family = gemm[1] === "gather" ? "conv2d.forward" : "conv2d.backwardWeight";
    return allVariants(family)
      .filter((variant) => variant.split("/")[0].toLowerCase() === gemm[2].toLowerCase())
      .map((variant) => kernel.withConstants({ WORKGROUP: Number(variant.split("/wg")[1]) }));
  }
  // The register tiles, one pipeline per workgroup shape; matmulTiled has a single one.
  if (label.startsWith("Matmul.") && /^matmul(NN|NT|TN|TT|Scalar)$/.test(entryPoint)) {
    return allVariants("matmul").filter((variant) => /^\d+x\d+$/.test(variant)).map((variant) => {
      const [x, y] = variant.split("x").map(Number);
      return kernel.withConstants({ WG_X: x, WG_Y: y });
    });
  }
  return [kernel];
}

console.log(`adapter: ${gpuInfo().description}`);
const times: number[] = [];
for (const kernel of declaredKernels().flatMap(pipelinesOf)) {
  const start = performance.now();
  kernel.pipeline();
  const ms = performance.now() - start;
  times.push(ms);
  console.log(
    `${kernel.spec.label} ${JSON.stringify(kernel.spec.constants ?? {})}: ${ms.toFixed(0)} ms`,
  );
}
await sync();
const total = times.reduce((a, b) => a + b, 0);
console.log(
  `${times.length} pipelines, ${(total / 1000).toFixed(1)} s in all, ` +
    `slowest ${(Math.max(...times) / 1000).toFixed(1)} s`,
);
