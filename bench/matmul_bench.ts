/**
 * Matmul kernels: a 1024³ product in each layout Linear uses (the throughput figure) and the
 * article's Resnet head, Linear 256→10 at batch 32, forward and backward. Prints GFLOP/s (best
 * and median of 5 timed rounds, since a shared CPU adapter's timings are noisy) once per case.
 * Each round records several calls before one `sync()`, whose own latency (about 10 ms on
 * llvmpipe) would otherwise dominate the small cases.
 *
 * @module
 */

import { linearBackward, linearForward, matmul } from "../src/kernels/matmul.ts";
import { Generator, gpuInfo, initGpu, Tensor } from "../mod.ts";
import { sync } from "../gpu.ts";

await initGpu();

const rng = new Generator(0);
function random(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1), shape);
}

/**
 * CPU seconds this process has used (user + system, llvmpipe's threads included), read from
 * /proc on Linux; null elsewhere.
 */
function cpuSeconds(): number | null {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in 1/100 s ticks
  } catch {
    return null;
  }
}

/** Seconds per call: best and median wall time, and median CPU time (null without /proc). */
interface Timing {
  best: number;
  median: number;
  cpu: number | null;
}

/** Times `rounds` rounds of `iterations` calls each, one `sync()` per round. */
async function time(run: () => void, iterations: number, rounds: number): Promise<Timing> {
  run();
  await sync();
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const cpuStart = cpuSeconds();
    const start = performance.now();
    for (let i = 0; i < iterations; i++) run();
    await sync();
    wall.push((performance.now() - start) / 1000 / iterations);
    const cpuEnd = cpuSeconds();
    if (cpuStart !== null && cpuEnd !== null) cpu.push((cpuEnd - cpuStart) / iterations);
  }
  const median = (v: number[]) => v.sort((x, y) => x - y)[Math.floor(v.length / 2)];
  wall.sort((x, y) => x - y);
  return { best: wall[0], median: median(wall), cpu: cpu.length ? median(cpu) : null };
}

/** GFLOP/s from wall time; per CPU-second too, which a CPU adapter shared with other jobs keeps. */
function report(name: string, flop: number, t: Timing, digits: number): void {
  const rate = (seconds: number) => (flop / seconds / 1e9).toFixed(digits);
  const perCpu = t.cpu ? `, ${rate(t.cpu)} GFLOP per CPU-second` : "";
  console.log(
    `${name}: ${rate(t.best)} GFLOP/s best, ${rate(t.median)} median` +
      ` (${(t.best * 1e3).toFixed(2)} ms per call${perCpu})`,
  );
}

console.log(`adapter: ${gpuInfo().description}`);

const n = 1024;
const a = random([n, n]);
const b = random([n, n]);
const c = Tensor.empty([n, n]);
const big: [string, () => void][] = [
  ["matmul 1024³", () => matmul(a, b, c)],
  ["matmul 1024³ transB (Linear forward)", () => matmul(a, b, c, { transB: true })],
  [
    "matmul 1024³ transA accumulate (Linear dW)",
    () => matmul(a, b, c, { transA: true, accumulate: true }),
  ],
];
for (const [name, run] of big) {
  report(name, 2 * n ** 3, await time(run, 3, 5), 2);
  Deno.bench(name, { group: "matmul 1024³", n: 5, warmup: 1 }, async () => {
    run();
    await sync();
  });
}

// The Resnet head: Linear(256, 10) at batch 32.
const [N, K, M] = [32, 256, 10];
const x = random([N, K]);
const weight = random([M, K]);
const bias = random([M]);
const y = Tensor.empty([N, M]);
const dy = random([N, M]);
const dx = Tensor.empty([N, K]);
const dWeight = Tensor.zeros([M, K]);
const dBias = Tensor.zeros([M]);
const ITERATIONS = 200;
const head: [string, number, () => void][] = [
  ["linearForward 256→10 batch 32", 2 * N * K * M, () => linearForward(x, weight, bias, y)],
  [
    "linearBackward 256→10 batch 32",
    4 * N * K * M,
    () => linearBackward(dy, x, weight, dx, dWeight, dBias),
  ],
];
for (const [name, flop, run] of head) {
  report(name, flop, await time(run, ITERATIONS, 5), 3);
  Deno.bench(name, { group: "Linear 256→10" }, async () => {
    for (let i = 0; i < ITERATIONS; i++) run();
    await sync();
  });
}
