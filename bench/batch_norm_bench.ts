/**
 * Batch norm on the article's Resnet activations at batch 32 (the BatchNorm2d after each stage's
 * convs: 32→256 channels at 16→2 pixels) and Shake-Shake 26 2×32d's first stage at batch 128:
 * training forward + backward, the eval forward alone. Prints GB/s of the minimal memory traffic
 * (best and median of timed rounds, since a shared CPU adapter's timings are noisy): training
 * forward reads x twice and writes y, backward reads dy and x twice and writes dx, 32 bytes per
 * element in all; eval forward 8 bytes per element.
 *
 * @module
 */

import {
  batchNormBackward,
  batchNormEvalForward,
  batchNormTrainForward,
} from "../src/kernels/batch_norm.ts";
import { Generator, gpuInfo, initGpu, Tensor } from "../mod.ts";
import { sync } from "../gpu.ts";
import { timeCalls } from "./timing.ts";

await initGpu();

const rng = new Generator(0);
function random(shape: number[], lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(Float32Array.from({ length: n }, () => rng.uniformRange(lo, hi)), shape);
}

console.log(`adapter: ${gpuInfo().description}`);
const SHAPES: [string, number[]][] = [
  ["resnet stage 1", [32, 32, 16, 16]],
  ["resnet stage 2", [32, 64, 8, 8]],
  ["resnet stage 3", [32, 128, 4, 4]],
  ["resnet stage 4", [32, 256, 2, 2]],
  ["shake-shake 2x32d stage 1", [128, 32, 32, 32]],
];
const ITERATIONS = 10;

for (const [name, shape] of SHAPES) {
  const c = shape[1];
  const elements = shape.reduce((a, b) => a * b, 1);
  const x = random(shape, 0, 2);
  const dy = random(shape);
  const y = Tensor.empty(shape);
  const dx = Tensor.empty(shape);
  const gamma = random([c], 0.5, 1.5);
  const beta = random([c]);
  const runningMean = Tensor.zeros([c]);
  const runningVar = Tensor.full([c], 1);
  const saveMean = Tensor.empty([c]);
  const saveInvStd = Tensor.empty([c]);
  const dGamma = Tensor.zeros([c]);
  const dBeta = Tensor.zeros([c]);
  const train = () => {
    batchNormTrainForward(x, gamma, beta, runningMean, runningVar, y, saveMean, saveInvStd);
    batchNormBackward(dy, x, gamma, saveMean, saveInvStd, dx, dGamma, dBeta);
  };
  const evaluate = () => batchNormEvalForward(x, gamma, beta, runningMean, runningVar, y);
  const label = `${name} [${shape.join(", ")}]`;
  for (
    const [kind, run, bytes] of [
      ["train fwd+bwd", train, 32 * elements],
      ["eval fwd", evaluate, 8 * elements],
    ] as const
  ) {
    const rounds = elements > 1e6 ? 3 : 5;
    const [best, median] = await timeCalls(run, ITERATIONS, rounds);
    console.log(
      `batchNorm ${kind} ${label}: ${(bytes / best / 1e9).toFixed(2)} GB/s best, ` +
        `${(bytes / median / 1e9).toFixed(2)} GB/s median (${(median * 1e3).toFixed(2)} ms)`,
    );
    Deno.bench(
      `batchNorm ${kind} ${label}`,
      { group: `batchNorm ${kind}`, n: 3, warmup: 1 },
      async () => {
        for (let i = 0; i < ITERATIONS; i++) run();
        await sync();
      },
    );
  }
}
