/**
 * Training-step throughput of Shake-Shake-26 2×32d at batch 128 (the paper's setting) on random
 * 32×32 inputs: zero grads, forward with fresh α, cross-entropy, backward with fresh β, and the
 * paper's SGD (lr 0.2, Nesterov momentum 0.9, weight decay 1e-4), each step recorded into one
 * frame and submitted once. Prints images/s, ms per step and the effective GFLOP/s (the
 * convolutions' and the classifier's multiply-adds, forward and backward: 3 × the forward's).
 *
 * A step at batch 128 takes about a minute on a software adapter, so the figure comes from a
 * manual timing of `HAJIME_BENCH_STEPS` steps (default 1) after a warm-up step at batch 8 that
 * builds the pipelines; `Deno.bench` times the same step at batch 8. `HAJIME_BENCH_WIDTH` sets
 * K (default 32) and `HAJIME_BENCH_BATCH` the timed batch (default 128).
 *
 * @module
 */

import { flush, sync } from "../gpu.ts";
import { Generator, gpuInfo, initGpu, Tensor } from "../mod.ts";
import { shakeShake26 } from "../src/models/shake_shake.ts";
import { CrossEntropyLoss } from "../src/nn/loss.ts";
import { SGD } from "../src/optim/sgd.ts";
import { recordTrainStep } from "../src/train/trainer.ts";

await initGpu();

const STEPS = Number(Deno.env.get("HAJIME_BENCH_STEPS") ?? 1);
const WIDTH = Number(Deno.env.get("HAJIME_BENCH_WIDTH") ?? 32);
const BATCH = Number(Deno.env.get("HAJIME_BENCH_BATCH") ?? 128);
const SMALL_BATCH = 8;

/** Multiply-adds of one image's forward pass through the convolutions and the classifier. */
function forwardMacs(k: number): number {
  let macs = 16 * 3 * 9 * 32 * 32; // stem
  let inChannels = 16;
  [k, 2 * k, 4 * k].forEach((out, s) => {
    const pixels = (32 >> s) ** 2;
    for (let b = 0; b < 4; b++) {
      const cin = b === 0 ? inChannels : out;
      macs += 2 * (cin * out * 9 + out * out * 9) * pixels; // two residual paths
      if (cin !== out) macs += 2 * cin * (out / 2) * pixels; // the shortcut's 1×1 flows
    }
    inChannels = out;
  });
  return macs + 4 * k * 10;
}

const rng = new Generator(0);
const model = shakeShake26({ width: WIDTH, seed: 0 });
const optimizer = new SGD(model, { lr: 0.2, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
const loss = new CrossEntropyLoss();

/** A recorded, submitted and awaited training step on a fixed random batch of `n` images. */
function trainStep(n: number): () => Promise<void> {
  const images = Tensor.from(
    Float32Array.from({ length: n * 3 * 32 * 32 }, () => rng.normal()),
    [n, 3, 32, 32],
  );
  const labels = Tensor.from(Int32Array.from({ length: n }, () => rng.int(10)), [n], {
    dtype: "i32",
  });
  return async () => {
    recordTrainStep(model, { images, labels }, loss, optimizer);
    flush();
    await sync();
  };
}

console.log(`adapter: ${gpuInfo().description}`);
const small = trainStep(SMALL_BATCH);
await small(); // pipelines and momentum buffers
const big = trainStep(BATCH);
const start = performance.now();
for (let i = 0; i < STEPS; i++) await big();
const seconds = (performance.now() - start) / 1000 / STEPS;
const gflops = 3 * 2 * forwardMacs(WIDTH) * BATCH / seconds / 1e9;
console.log(
  `train step shake-shake-26-2x${WIDTH}d batch ${BATCH}: ${(BATCH / seconds).toFixed(1)} ` +
    `images/s, ${(seconds * 1e3).toFixed(0)} ms/step, ${gflops.toFixed(1)} GFLOP/s ` +
    `(${STEPS} timed step${STEPS === 1 ? "" : "s"} after a warm-up)`,
);

Deno.bench(
  `train step shake-shake-26-2x${WIDTH}d batch ${SMALL_BATCH}`,
  { group: "shake-shake train step", n: 3, warmup: 1 },
  small,
);
