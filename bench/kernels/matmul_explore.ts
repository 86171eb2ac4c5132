/**
 * Matmul tuning experiment: times entry points of matmul shader variants (same bindings and params
 * as shaders/matmul.wgsl, 8×16 tiles) under several workgroup shapes, interleaved round by round so
 * that a busy shared CPU slows every variant alike. Prints best and median GFLOP/s per variant.
 *
 * Usage: `deno run -A bench/kernels/matmul_explore.ts M,N,K ROUNDS FILE:ENTRY[:WG_X,WG_Y] ...`,
 * e.g. `... 1024,1024,1024 8 shaders/matmul.wgsl:matmulNN:16,4 shaders/matmul.wgsl:matmulNN:8,8`.
 *
 * @module
 */

import { grid, sync, wgslKernels } from "../../gpu.ts";
import { initGpu, Tensor } from "../../mod.ts";

await initGpu();

const [M, N, K] = Deno.args[0].split(",").map(Number);
const rounds = Number(Deno.args[1]);
const PARAMS = {
  M: "u32",
  N: "u32",
  K: "u32",
  accumulate: "u32",
  transA: "u32",
  transB: "u32",
  groupsX: "u32",
  groups: "u32",
} as const;
const random = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
const a = Tensor.from(random(M * K), [M * K]);
const b = Tensor.from(random(K * N), [K * N]);
const c = Tensor.empty([M * N]);

const variants = Deno.args.slice(2).map((spec, i) => {
  const [file, entry, shape] = spec.split(":");
  const [wgX, wgY] = (shape ?? "16,4").split(",").map(Number);
  const kernel = wgslKernels(`MatmulExplore${i}`, Deno.readTextFileSync(file), {
    params: PARAMS,
    constants: { WG_X: wgX, WG_Y: wgY },
  })(entry, 2, 1);
  const groupsX = Math.ceil(N / 16 / wgX);
  const groups = groupsX * Math.ceil(M / 8 / wgY);
  // The vec4 entry points end in their transpositions, e.g. matmulTN: a transposed, b plain.
  const transA = /T[NT]$/.test(entry) ? 1 : 0;
  const transB = /[NT]T$/.test(entry) ? 1 : 0;
  const params = { M, N, K, accumulate: 0, transA, transB, groupsX, groups };
  return { spec, run: () => kernel.dispatch(params, [a, b, c], grid(groups)), ms: [] as number[] };
});

for (const v of variants) {
  v.run();
  await sync();
}
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const start = performance.now();
    v.run();
    await sync();
    v.ms.push(performance.now() - start);
  }
}
const gflops = (ms: number) => (2 * M * N * K / ms / 1e6).toFixed(2);
for (const v of variants) {
  v.ms.sort((x, y) => x - y);
  const median = v.ms[v.ms.length >> 1];
  console.log(`${v.spec}: ${gflops(v.ms[0])} GFLOP/s best, ${gflops(median)} median`);
}
