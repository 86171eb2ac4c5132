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
import { Generator, gpuInfo, initGpu, sync, Tensor } from "../mod.ts";

await initGpu();

const rng = new Generator(0);
function random(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1), shape);
}

/** Times `rounds` rounds of `iterations` calls each; returns seconds per call, best and median. */
async function time(run: () => void, iterations: number, rounds: number): Promise<number[]> {
  run();
  await sync();
  const seconds: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) run();
    await sync();
    seconds.push((performance.now() - start) / 1000 / iterations);
  }
  seconds.sort((a, b) => a - b);
  return [seconds[0], seconds[Math.floor(rounds / 2)]];
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
  const [best, median] = await time(run, 3, 5);
  const flop = 2 * n ** 3;
  console.log(
    `${name}: ${(flop / best / 1e9).toFixed(2)} GFLOP/s best, ` +
      `${(flop / median / 1e9).toFixed(2)} median (${(best * 1e3).toFixed(1)} ms)`,
  );
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
  const [best, median] = await time(run, ITERATIONS, 5);
  console.log(
    `${name}: ${(flop / best / 1e9).toFixed(3)} GFLOP/s best, ` +
      `${(flop / median / 1e9).toFixed(3)} median (${(best * 1e6).toFixed(0)} µs per call)`,
  );
  Deno.bench(name, { group: "Linear 256→10" }, async () => {
    for (let i = 0; i < ITERATIONS; i++) run();
    await sync();
  });
}
