/**
 * Training-step throughput of Shake-Shake-26 2×32d at batch 128 (the paper's setting) on random
 * 32×32 inputs: zero grads, forward, cross-entropy, backward with fresh β, and the paper's SGD
 * (Nesterov momentum 0.9, weight decay 1e-4), each step recorded into one frame and submitted
 * once. One warm-up step builds the pipelines and the optimizer state, then a few timed steps;
 * prints images/s and ms per step.
 *
 * `HAJIME_BENCH_STEPS` sets the timed steps (default 2: a step takes many seconds on a software
 * adapter), `HAJIME_BENCH_WIDTH` the width (default 32) and `HAJIME_BENCH_BATCHES` the batch
 * sizes (default 128).
 *
 * @module
 */

import { flush, Generator, gpuInfo, initGpu, sync, Tensor } from "../mod.ts";
import { shakeShake26 } from "../src/models/shake_shake.ts";
import { CrossEntropyLoss } from "../src/nn/loss.ts";
import { SGD } from "../src/optim/sgd.ts";
import { recordTrainStep } from "../src/train/trainer.ts";

await initGpu();

const STEPS = Number(Deno.env.get("HAJIME_BENCH_STEPS") ?? 2);
const WIDTH = Number(Deno.env.get("HAJIME_BENCH_WIDTH") ?? 32);
const batchSizes = (Deno.env.get("HAJIME_BENCH_BATCHES") ?? "128").split(",").map(Number);

console.log(`adapter: ${gpuInfo().description}`);
for (const batch of batchSizes) {
  const rng = new Generator(0);
  const model = shakeShake26({ width: WIDTH, seed: 0 });
  const optimizer = new SGD(model, { lr: 0.2, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
  const loss = new CrossEntropyLoss();
  const images = Tensor.from(
    Float32Array.from({ length: batch * 3 * 32 * 32 }, () => rng.normal()),
    [batch, 3, 32, 32],
  );
  const labels = Tensor.from(Int32Array.from({ length: batch }, () => rng.int(10)), [batch], {
    dtype: "i32",
  });
  const step = async (): Promise<void> => {
    recordTrainStep(model, { images, labels }, loss, optimizer);
    flush();
    await sync();
  };

  await step(); // pipelines, bind groups, momentum buffers
  const start = performance.now();
  for (let i = 0; i < STEPS; i++) await step();
  const seconds = (performance.now() - start) / 1000 / STEPS;
  console.log(
    `train step shake-shake-26-2x${WIDTH}d batch ${batch}: ${(batch / seconds).toFixed(1)} ` +
      `images/s (${(seconds * 1e3).toFixed(0)} ms/step, ${STEPS} timed steps after 1 warm-up)`,
  );
  Deno.bench(
    `train step shake-shake-26-2x${WIDTH}d batch ${batch}`,
    { group: "shake-shake train step", n: 1, warmup: 0 },
    step,
  );
}
