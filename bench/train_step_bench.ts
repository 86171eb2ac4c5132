/**
 * Whole training steps (zero grads, forward, cross-entropy, backward, Adam) of every article
 * factory at batch 32 and 128 on random 32×32 inputs, each step recorded into one frame and
 * submitted once, the CPU kept at most one step ahead as `fit` does. Prints images/s (best and
 * median of timed rounds: a shared CPU adapter's timings are noisy).
 *
 * Pick models with `HAJIME_BENCH_MODELS=resnet,basic-cnn` and batches with
 * `HAJIME_BENCH_BATCHES=32`.
 *
 * @module
 */

import { flush, gpuDevice, sync } from "../gpu.ts";
import { Generator, gpuInfo, initGpu, Tensor } from "../mod.ts";
import { CrossEntropyLoss } from "../src/nn/loss.ts";
import type { Module } from "../src/nn/module.ts";
import { createModel, modelNames } from "../src/models/registry.ts";
import { Adam } from "../src/optim/adam.ts";
import { recordTrainStep } from "../src/train/trainer.ts";

await initGpu();

const ARTICLE = [
  "very-basic-net",
  "basic-net",
  "basic-cnn",
  "conv-bn-net",
  "deep-bn-net",
  "resnet",
];
const models = Deno.env.get("HAJIME_BENCH_MODELS")?.split(",") ??
  ARTICLE.filter((name) => modelNames().includes(name));
const batchSizes = (Deno.env.get("HAJIME_BENCH_BATCHES") ?? "32,128").split(",").map(Number);
/** Seconds of timed steps per round, roughly. */
const ROUND_SECONDS = 1;
const ROUNDS = 3;

const rng = new Generator(0);

/** One training step of `name` at `batch`, recorded and submitted. */
function setup(name: string, batch: number): () => void {
  const model: Module = createModel(name, { seed: 0 });
  const optimizer = new Adam(model, { lr: 0.003 });
  const loss = new CrossEntropyLoss();
  const pixels = batch * 3 * 32 * 32;
  const images = Tensor.from(Float32Array.from({ length: pixels }, () => rng.uniform()), [
    batch,
    3,
    32,
    32,
  ]);
  const labels = Tensor.from(Int32Array.from({ length: batch }, () => rng.int(10)), [batch], {
    dtype: "i32",
  });
  return () => {
    recordTrainStep(model, { images, labels }, loss, optimizer);
    flush();
  };
}

/** Runs `steps` steps with at most one step in flight besides the newest, then waits. */
async function run(step: () => void, steps: number): Promise<void> {
  let previous: Promise<void> | null = null;
  for (let i = 0; i < steps; i++) {
    step();
    if (previous) await previous;
    previous = gpuDevice().queue.onSubmittedWorkDone();
  }
  await sync();
}

console.log(`adapter: ${gpuInfo().description}`);
for (const name of models) {
  for (const batch of batchSizes) {
    const step = setup(name, batch);
    await run(step, 1); // pipelines, bind groups, optimizer state
    const probe = performance.now();
    await run(step, 1);
    const once = (performance.now() - probe) / 1000;
    const steps = Math.max(1, Math.min(50, Math.round(ROUND_SECONDS / once)));
    const perStep: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const start = performance.now();
      await run(step, steps);
      perStep.push((performance.now() - start) / 1000 / steps);
    }
    perStep.sort((a, b) => a - b);
    const [best, median] = [perStep[0], perStep[Math.floor(ROUNDS / 2)]];
    console.log(
      `train step ${name} batch ${batch}: ${(batch / best).toFixed(0)} images/s best, ` +
        `${(batch / median).toFixed(0)} images/s median (${(median * 1e3).toFixed(1)} ms/step, ` +
        `${steps} steps × ${ROUNDS} rounds)`,
    );
    Deno.bench(
      `train step ${name} batch ${batch}`,
      { group: `train step batch ${batch}`, n: 1, warmup: 0 },
      async () => await run(step, 1),
    );
  }
}
