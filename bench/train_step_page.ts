/// <reference lib="dom" />
/**
 * The page of bench/train_step_browser.ts: the training-step bench (bench/train_step.ts) on the
 * page's WebGPU (Dawn in Chromium), one line per factory and batch size on the console.
 *
 * Query: `models=resnet,basic-cnn` and `batches=32` as the Deno bench's `HAJIME_BENCH_MODELS`
 * and `HAJIME_BENCH_BATCHES`; `maxSteps=N` caps the timed steps per round (default the bench's
 * 50); `autotune=0` keeps the default kernels.
 *
 * Publishes `globalThis.hajimeBench`: a promise of {@linkcode BenchReport}.
 *
 * @module
 */

import { Autotuner, setAutotuner } from "../gpu.ts";
import { Generator, gpuInfo, initGpu } from "../web.ts";
import {
  benchBatches,
  benchModels,
  formatTiming,
  type StepTiming,
  timeTrainStep,
  TIMING,
  trainStep,
} from "./train_step.ts";

/** What the page publishes: the adapter and the timings, or the error that stopped it. */
export type BenchReport = { adapter: string; timings: StepTiming[] } | { error: string };

async function bench(params: URLSearchParams): Promise<BenchReport> {
  const timings: StepTiming[] = [];
  try {
    await initGpu();
    if (params.get("autotune") === "0") {
      setAutotuner(new Autotuner({ enabled: false, cacheFile: null }));
    }
    const maxSteps = Number(params.get("maxSteps") ?? TIMING.maxSteps);
    if (!Number.isInteger(maxSteps) || maxSteps < 1) {
      throw new RangeError(`maxSteps must be an integer ≥ 1, got ${params.get("maxSteps")}`);
    }
    const adapter = gpuInfo().description;
    console.log(`adapter: ${adapter}`);
    const rng = new Generator(0);
    for (const name of benchModels(params.get("models"))) {
      for (const batch of benchBatches(params.get("batches"))) {
        const step = trainStep(name, batch, rng);
        const timing = await timeTrainStep(step, name, batch, { ...TIMING, maxSteps });
        console.log(formatTiming(timing));
        timings.push(timing);
      }
    }
    return { adapter, timings };
  } catch (error) {
    return { error: `${(error as Error).stack ?? error}` };
  }
}

(globalThis as { hajimeBench?: Promise<BenchReport> }).hajimeBench = bench(
  new URLSearchParams(location.search),
);
