/**
 * What differs between WebGPU implementations is read from the adapter: its subgroup size, its
 * limits, the conv2d tiles its shader compiler can build. Runs on every adapter CI has (lavapipe,
 * SwiftShader) and checks the rules for the one it runs on.
 *
 * @module
 */

import { gpuInfo } from "../mod.ts";
import { kernelFamily, wgslKernels } from "../gpu.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import "./gpu.ts";

const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });

Deno.test("the adapter's description and subgroup size are the adapter's own", () => {
  assert(adapter, "an adapter");
  const info = gpuInfo();
  if (adapter.info.description) assertEquals(info.description, adapter.info.description);
  const { subgroupMinSize, subgroupMaxSize } = adapter.info;
  if (subgroupMaxSize && subgroupMinSize === subgroupMaxSize) {
    assertEquals(info.subgroupSize, subgroupMaxSize);
  }
  // llvmpipe runs 8 lanes at 256 bits on Vulkan and on GL, where wgpu reports 4 to 128.
  if (/llvmpipe \(.*256 bits\)/.test(info.description)) assertEquals(info.subgroupSize, 8);
  if (/SwiftShader/.test(info.description)) assertEquals(info.subgroupSize, 4);
});

Deno.test("conv2d defaults to a tile this adapter's compiler builds, on its subgroup size", () => {
  const info = gpuInfo();
  const llvmpipe = /llvmpipe/.test(info.description);
  const workgroup = info.isSoftware && info.subgroupSize ? info.subgroupSize : 64;
  const expected: Record<string, string> = {
    "conv2d.forward": llvmpipe ? "16x16" : "4x16",
    "conv2d.backwardData": llvmpipe ? "16x16" : "4x16",
    "conv2d.backwardWeight": llvmpipe ? "8x32" : "4x16",
  };
  for (const [family, tile] of Object.entries(expected)) {
    const fam = kernelFamily(family);
    assertEquals(fam.defaultVariant(""), `${tile}/wg${workgroup}`, family);
    assertEquals(fam.variants()[0], fam.defaultVariant(""), `${family}: the default comes first`);
    assert(fam.variants().includes("4x16/wg64"), `${family}: ${fam.variants()}`);
  }
});

Deno.test("a kernel binding more storage buffers than the adapter allows is named", () => {
  const limit = gpuInfo().limits.maxStorageBuffersPerShaderStage;
  const code = "@compute @workgroup_size(1) fn tooWide() {}";
  const kernel = wgslKernels("AdapterTest", code)("tooWide", limit, 1);
  assertThrows(
    () => kernel.pipeline(),
    `AdapterTest.tooWide: binds ${limit + 1} storage buffers, more than this adapter allows`,
  );
});
