/**
 * Conv2d benchmarks on the article's Resnet convolutions at batch 32: forward, input gradient
 * (backward-data) and weight gradient (backward-weight) of each shape. Prints a table of GFLOP/s
 * (2·N·O·OH·OW·C·KH·KW flops per call) from a manual timing loop, with a 1024³ matmul measured
 * the same way as the yardstick, then registers Deno.bench cases that record `ITERATIONS` calls
 * and wait for the GPU.
 *
 * Each figure is `wall (cpu)`: wall is the best of a few timed runs; cpu is flops · cores / CPU
 * seconds of this process, the rate a software adapter (llvmpipe) reaches on an otherwise idle
 * machine, steadier than wall time when other work shares the CPU.
 *
 * Run: `deno bench -A bench/conv2d_bench.ts` (or `deno run -A` for the table alone)
 *
 * @module
 */

import { Generator, gpuInfo, initGpu, Tensor } from "../mod.ts";
import { sync } from "../gpu.ts";
import { matmul } from "../src/kernels/matmul.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dOutputSize,
} from "../src/kernels/conv2d.ts";

await initGpu();

const BATCH = 32;
const ITERATIONS = 2;
/** Seconds each manual timing run lasts at least; the best of RUNS runs is reported. */
const RUN_SECONDS = 0.25;
const RUNS = 3;
const CORES = navigator.hardwareConcurrency;

interface Shape {
  name: string;
  c: number;
  o: number;
  size: number;
  kernel: number;
  stride: number;
  padding: number;
  bias: boolean;
}

const widths = [16, 32, 64, 128, 256];
const shapes: Shape[] = [
  {
    name: "conv1 3→16 5×5 32²",
    c: 3,
    o: 16,
    size: 32,
    kernel: 5,
    stride: 1,
    padding: 2,
    bias: true,
  },
];
for (let i = 0; i < 4; i++) {
  const [a, b] = [widths[i], widths[i + 1]];
  const out = 16 >> i;
  shapes.push({
    name: `${a}→${b} 3×3 s2 ${2 * out}²`,
    c: a,
    o: b,
    size: 2 * out,
    kernel: 3,
    stride: 2,
    padding: 1,
    bias: false,
  });
  shapes.push({
    name: `${b}→${b} 3×3 s1 ${out}²`,
    c: b,
    o: b,
    size: out,
    kernel: 3,
    stride: 1,
    padding: 1,
    bias: false,
  });
}

function random(shape: number[], rng: Generator): Tensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform() * 2 - 1;
  return Tensor.from(data, shape, { label: "Bench.input" });
}

/** CPU seconds used by this process so far (all threads, llvmpipe's included), or NaN. */
function cpuSeconds(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** `wall (cpu)` GFLOP/s of `fn`: wall from the best of RUNS runs, cpu over all of them. */
async function rate(fn: () => void, flops: number): Promise<string> {
  fn();
  await sync();
  let start = performance.now();
  fn();
  await sync();
  const once = (performance.now() - start) / 1000;
  const calls = Math.max(1, Math.ceil(RUN_SECONDS / Math.max(once, 1e-4)));
  let best = Infinity;
  const cpuStart = cpuSeconds();
  for (let run = 0; run < RUNS; run++) {
    start = performance.now();
    for (let i = 0; i < calls; i++) fn();
    await sync();
    best = Math.min(best, (performance.now() - start) / 1000 / calls);
  }
  const cpu = (cpuSeconds() - cpuStart) / (RUNS * calls);
  const idle = flops * CORES / cpu / 1e9;
  return `${(flops / best / 1e9).toFixed(2)}` +
    (Number.isFinite(idle) ? ` (${idle.toFixed(1)})` : "");
}

console.log(`adapter: ${gpuInfo().description}, ${CORES} cores; GFLOP/s wall (cpu)`);
{
  const n = 1024;
  const a = random([n, n], new Generator(0));
  const b = random([n, n], new Generator(1));
  const c = Tensor.empty([n, n], { label: "Bench.c" });
  console.log(`matmul 1024³: ${await rate(() => matmul(a, b, c), 2 * n ** 3)}`);
  for (const t of [a, b, c]) t.dispose();
}
console.log("| shape | MFLOP | forward | backward-data | backward-weight |");
console.log("|---|---|---|---|---|");

const rng = new Generator(1);
for (const s of shapes) {
  const out = conv2dOutputSize(s.size, s.kernel, s.stride, s.padding);
  const opts = { stride: s.stride, padding: s.padding };
  const x = random([BATCH, s.c, s.size, s.size], rng);
  const weight = random([s.o, s.c, s.kernel, s.kernel], rng);
  const bias = s.bias ? random([s.o], rng) : null;
  const y = Tensor.empty([BATCH, s.o, out, out], { label: "Bench.y" });
  const dy = random([BATCH, s.o, out, out], rng);
  const dx = Tensor.empty([BATCH, s.c, s.size, s.size], { label: "Bench.dx" });
  const dWeight = Tensor.zeros([s.o, s.c, s.kernel, s.kernel], { label: "Bench.dWeight" });
  const dBias = s.bias ? Tensor.zeros([s.o], { label: "Bench.dBias" }) : null;
  const flops = 2 * BATCH * s.o * out * out * s.c * s.kernel * s.kernel;
  const ops: [string, () => void][] = [
    ["forward", () => conv2dForward(x, weight, bias, y, opts)],
    ["backward-data", () => conv2dBackwardData(dy, weight, dx, opts)],
    ["backward-weight", () => conv2dBackwardWeight(dy, x, dWeight, dBias, opts)],
  ];
  const figures: string[] = [];
  for (const [op, fn] of ops) {
    figures.push(await rate(fn, flops));
    Deno.bench({
      name: `${op} ${s.name}`,
      group: s.name,
      n: 3,
      warmup: 1,
      async fn() {
        for (let i = 0; i < ITERATIONS; i++) fn();
        await sync();
      },
    });
  }
  console.log(`| ${s.name} | ${(flops / 1e6).toFixed(0)} | ${figures.join(" | ")} |`);
}
