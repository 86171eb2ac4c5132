/**
 * Conv2d benchmarks on the convolutions of the article's Resnet and ConvBnNet: forward, input
 * gradient (backward-data) and weight gradient (backward-weight) of each shape, at each batch size.
 * Prints a table of GFLOP/s (2·N·O·OH·OW·C·KH·KW flops per call) from a manual timing loop, with a
 * 1024³ matmul measured the same way as the yardstick, then registers Deno.bench cases that record
 * `ITERATIONS` calls and wait for the GPU.
 *
 * Each figure is `wall (cpu) variant`: wall is the best of a few timed runs; cpu is flops · cores /
 * CPU seconds of this process, the rate a software adapter (llvmpipe) reaches on an otherwise idle
 * machine, steadier than wall time when other work shares the CPU; variant is the kernel variant
 * the autotuner chose for the shape (tuned after the first call, as `fit` does, into the cache file
 * of `HAJIME_KERNEL_CACHE`; a choice already in that file is reused).
 *
 * Run: `deno bench -A bench/conv2d_bench.ts` (or `deno run -A` for the table alone).
 * `HAJIME_BENCH_BATCHES=32,128` picks the batch sizes (default 32 and 128),
 * `HAJIME_BENCH_MODELS=resnet,conv-bn-net` whose convolutions to time (default both).
 *
 * @module
 */

import { Generator, gpuInfo, initGpu, Tensor } from "../mod.ts";
import { autotuner, sync } from "../gpu.ts";
import { matmul } from "../src/kernels/matmul.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dOutputSize,
} from "../src/kernels/conv2d.ts";
import { benchBatches } from "./train_step.ts";

await initGpu();

const BATCHES = benchBatches(Deno.env.get("HAJIME_BENCH_BATCHES"));
const MODELS = (Deno.env.get("HAJIME_BENCH_MODELS") || "resnet,conv-bn-net").split(",");
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

/** The 3×3 convolution of a BnLayer (no bias, padding 1) from `c` to `o` channels on `size`². */
function bnLayer(c: number, o: number, size: number, stride: number): Shape {
  const name = `${c}→${o} 3×3 s${stride} ${size}²`;
  return { name, c, o, size, kernel: 3, stride, padding: 1, bias: false };
}

/** The 5×5 stem (padding 2, bias) from 3 to `o` channels on 32². */
function stem(o: number): Shape {
  return {
    name: `conv1 3→${o} 5×5 32²`,
    c: 3,
    o,
    size: 32,
    kernel: 5,
    stride: 1,
    padding: 2,
    bias: true,
  };
}

/** Each model's distinct convolutions, in forward order. */
const MODEL_SHAPES: Record<string, () => Shape[]> = {
  // Resnet([16, 32, 64, 128, 256]): per width step a stride-2 BnLayer, then two ResnetLayers.
  "resnet": () => {
    const widths = [16, 32, 64, 128, 256];
    const shapes = [stem(16)];
    for (let i = 0; i < 4; i++) {
      const out = 16 >> i;
      shapes.push(bnLayer(widths[i], widths[i + 1], 2 * out, 2));
      shapes.push(bnLayer(widths[i + 1], widths[i + 1], out, 1));
    }
    return shapes;
  },
  // ConvBnNet([10, 20, 40, 80]): three stride-2 BnLayers.
  "conv-bn-net": () => [
    stem(10),
    bnLayer(10, 20, 32, 2),
    bnLayer(20, 40, 16, 2),
    bnLayer(40, 80, 8, 2),
  ],
};
for (const model of MODELS) {
  if (!MODEL_SHAPES[model]) {
    throw new Error(
      `conv2d_bench: unknown model "${model}" in HAJIME_BENCH_MODELS (known: ${
        Object.keys(MODEL_SHAPES).join(", ")
      })`,
    );
  }
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

/**
 * `wall (cpu)` GFLOP/s of `fn`: wall from the best of RUNS runs, cpu over all of them. The shapes
 * the first call meets are tuned before the timing.
 */
async function rate(fn: () => void, flops: number): Promise<string> {
  fn();
  await autotuner().tunePending();
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

console.log(`adapter: ${gpuInfo().description}, ${CORES} cores; GFLOP/s wall (cpu) variant`);
{
  const n = 1024;
  const a = random([n, n], new Generator(0));
  const b = random([n, n], new Generator(1));
  const c = Tensor.empty([n, n], { label: "Bench.c" });
  console.log(`matmul 1024³: ${await rate(() => matmul(a, b, c), 2 * n ** 3)}`);
  for (const t of [a, b, c]) t.dispose();
}

const rng = new Generator(1);
for (const batch of BATCHES) {
  console.log(`\nbatch ${batch}\n`);
  console.log("| shape | MFLOP | forward | backward-data | backward-weight |");
  console.log("|---|---|---|---|---|");
  for (const s of MODELS.flatMap((model) => MODEL_SHAPES[model]())) {
    const out = conv2dOutputSize(s.size, s.kernel, s.stride, s.padding);
    const opts = { stride: s.stride, padding: s.padding };
    const x = random([batch, s.c, s.size, s.size], rng);
    const weight = random([s.o, s.c, s.kernel, s.kernel], rng);
    const bias = s.bias ? random([s.o], rng) : null;
    const y = Tensor.empty([batch, s.o, out, out], { label: "Bench.y" });
    const dy = random([batch, s.o, out, out], rng);
    const dx = Tensor.empty([batch, s.c, s.size, s.size], { label: "Bench.dx" });
    const dWeight = Tensor.zeros([s.o, s.c, s.kernel, s.kernel], { label: "Bench.dWeight" });
    const dBias = s.bias ? Tensor.zeros([s.o], { label: "Bench.dBias" }) : null;
    const flops = 2 * batch * s.o * out * out * s.c * s.kernel * s.kernel;
    // The autotuner's shape key (src/kernels/conv2d.ts).
    const key = [batch, s.c, s.size, s.size, s.o, s.kernel, s.kernel, s.stride, s.padding].join();
    const ops: [string, string, () => void][] = [
      ["forward", "conv2d.forward", () => conv2dForward(x, weight, bias, y, opts)],
      ["backward-data", "conv2d.backwardData", () => conv2dBackwardData(dy, weight, dx, opts)],
      [
        "backward-weight",
        "conv2d.backwardWeight",
        () => conv2dBackwardWeight(dy, x, dWeight, dBias, opts),
      ],
    ];
    const figures: string[] = [];
    for (const [op, family, fn] of ops) {
      const figure = await rate(fn, flops);
      figures.push(`${figure} ${autotuner().choice(family, key)}`);
      Deno.bench({
        name: `${op} ${s.name} batch ${batch}`,
        group: `${s.name} batch ${batch}`,
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
}
