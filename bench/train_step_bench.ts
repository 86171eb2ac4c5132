/**
 * Whole training steps (zero grads, forward, cross-entropy, backward, Adam) of every article
 * factory at batch 32 and 128 on random 32×32 inputs, each step recorded into one frame and
 * submitted once, the CPU kept at most one step ahead as `fit` does (bench/train_step.ts, which
 * bench/train_step_browser.ts times the same way on Dawn in Chromium). Prints images/s (best and
 * median of timed rounds: a shared CPU adapter's timings are noisy).
 *
 * Pick models with `HAJIME_BENCH_MODELS=resnet,basic-cnn` and batches with
 * `HAJIME_BENCH_BATCHES=32`.
 *
 * @module
 */

import { Generator, gpuInfo, initGpu } from "../mod.ts";
import {
  benchBatches,
  benchModels,
  formatTiming,
  runSteps,
  timeTrainStep,
  trainStep,
} from "./train_step.ts";

await initGpu();

const models = benchModels(Deno.env.get("HAJIME_BENCH_MODELS"));
const batchSizes = benchBatches(Deno.env.get("HAJIME_BENCH_BATCHES"));
const rng = new Generator(0);

console.log(`adapter: ${gpuInfo().description}`);
for (const name of models) {
  for (const batch of batchSizes) {
    const step = trainStep(name, batch, rng);
    console.log(formatTiming(await timeTrainStep(step, name, batch)));
    Deno.bench(
      `train step ${name} batch ${batch}`,
      { group: `train step batch ${batch}`, n: 1, warmup: 0 },
      async () => await runSteps(step, 1),
    );
  }
}
