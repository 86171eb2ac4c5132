/**
 * Elementwise kernels on the article's Resnet activations at batch 32 (the stem's 16×32×32 and
 * stage 1's 32×16×16) and Shake-Shake 26 2×32d's first stage at batch 128: ReLU forward and
 * backward, gradient accumulation, the Shake-Shake mix and Dropout2d. Prints GB/s of the memory
 * traffic (4 bytes per element read or written; best and median of timed rounds, since a shared
 * CPU adapter's timings are noisy).
 *
 * @module
 */

import {
  addInto,
  dropout2d,
  relu,
  reluBackward,
  shakeMix,
  shakeMixBackward,
} from "../src/kernels/elementwise.ts";
import { Generator, gpuInfo, initGpu, Tensor } from "../mod.ts";
import { sync } from "../gpu.ts";
import { timeCalls } from "./timing.ts";

await initGpu();

const rng = new Generator(0);
function random(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(Float32Array.from({ length: n }, () => rng.uniformRange(-1, 1)), shape);
}

console.log(`adapter: ${gpuInfo().description}`);
const SHAPES: [string, number[]][] = [
  ["resnet stem", [32, 16, 32, 32]],
  ["resnet stage 1", [32, 32, 16, 16]],
  ["shake-shake 2x32d stage 1", [128, 32, 32, 32]],
];
const ITERATIONS = 10;

for (const [name, shape] of SHAPES) {
  const elements = shape.reduce((a, b) => a * b, 1);
  const [n, c] = shape;
  const a = random(shape);
  const b = random(shape);
  const y = Tensor.empty(shape);
  const d = Tensor.empty(shape);
  const alpha = random([n]);
  const mask = Tensor.empty([n, c]);
  const cases: [string, () => void, number][] = [
    ["relu", () => relu(a, y), 8],
    ["reluBackward", () => reluBackward(b, y, d), 12],
    ["addInto", () => addInto(y, a), 12],
    ["shakeMix", () => shakeMix(a, b, alpha, y), 12],
    ["shakeMixBackward", () => shakeMixBackward(a, alpha, y, d), 12],
    ["dropout2d", () => dropout2d(a, y, mask, { p: 0.2, seed: 1 }), 8],
  ];
  for (const [kernel, run, bytesPerElement] of cases) {
    const label = `${kernel} ${name} [${shape.join(", ")}]`;
    const [best, median] = await timeCalls(run, ITERATIONS, elements > 1e6 ? 3 : 5);
    const bytes = bytesPerElement * elements;
    console.log(
      `${label}: ${(bytes / best / 1e9).toFixed(2)} GB/s best, ` +
        `${(bytes / median / 1e9).toFixed(2)} GB/s median (${(median * 1e3).toFixed(2)} ms)`,
    );
    Deno.bench(label, { group: kernel, n: 3, warmup: 1 }, async () => {
      for (let i = 0; i < ITERATIONS; i++) run();
      await sync();
    });
  }
}
