/**
 * The training-step measurement shared by bench/train_step_bench.ts (Deno: lavapipe, SwiftShader)
 * and bench/train_step_page.ts (a page: Dawn in Chromium), so that every column of the bench's
 * table times the same thing: one whole training step (zero grads, forward, cross-entropy,
 * backward, Adam lr 0.003) of an article factory on random 32×32 inputs, recorded into one frame
 * and submitted once, the CPU kept at most one step ahead of the GPU as `fit` does.
 *
 * Web APIs only; it imports the engine's modules, not `mod.ts` or `web.ts`, so the caller's
 * platform (Deno's or the page's) stays installed.
 *
 * @module
 */

import { autotuner, flush, gpuDevice, recordTrainStep, sync } from "../gpu.ts";
import { CrossEntropyLoss } from "../src/nn/loss.ts";
import type { Module } from "../src/nn/module.ts";
import { createModel, modelNames } from "../src/models/registry.ts";
import { Adam } from "../src/optim/adam.ts";
import type { Generator } from "../src/random.ts";
import { Tensor } from "../src/tensor.ts";

/** The article's factories, in the article's order. */
const ARTICLE = [
  "very-basic-net",
  "basic-net",
  "basic-cnn",
  "conv-bn-net",
  "deep-bn-net",
  "resnet",
];

/** The models to time: the comma-separated `list`, or the article's registered factories. */
export function benchModels(list: string | null | undefined): string[] {
  return list ? list.split(",") : ARTICLE.filter((name) => modelNames().includes(name));
}

/** The batch sizes to time: the comma-separated `list`, or 32 and 128. */
export function benchBatches(list: string | null | undefined): number[] {
  const batches = (list || "32,128").split(",").map(Number);
  const bad = batches.findIndex((b) => !Number.isInteger(b) || b < 1);
  if (bad >= 0) throw new RangeError(`batch sizes must be integers ≥ 1, got "${list}"`);
  return batches;
}

/** One training step of `name` at `batch` on random inputs drawn from `rng`, recorded and flushed. */
export function trainStep(name: string, batch: number, rng: Generator): () => void {
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
export async function runSteps(step: () => void, steps: number): Promise<void> {
  let previous: Promise<void> | null = null;
  for (let i = 0; i < steps; i++) {
    step();
    if (previous) await previous;
    previous = gpuDevice().queue.onSubmittedWorkDone();
  }
  await sync();
}

/** How long the timed rounds run. */
export interface TimingOptions {
  /** Seconds of timed steps per round, roughly (the steps per round follow from one step). */
  roundSeconds: number;
  /** Timed rounds. */
  rounds: number;
  /** At most this many steps per round. */
  maxSteps: number;
}

/** The bench's own settings: rounds of about 1 s, 3 of them, at most 50 steps each. */
export const TIMING: Readonly<TimingOptions> = Object.freeze({
  roundSeconds: 1,
  rounds: 3,
  maxSteps: 50,
});

/** What one factory and batch size gave. */
export interface StepTiming {
  name: string;
  batch: number;
  /** Seconds per step, best and median of the rounds. */
  best: number;
  median: number;
  /** Timed steps per round. */
  steps: number;
  rounds: number;
}

/**
 * Times `step` (from {@linkcode trainStep}): one untimed step (pipelines, bind groups, optimizer
 * state, autotuning), one to size the rounds, then `rounds` timed rounds.
 */
export async function timeTrainStep(
  step: () => void,
  name: string,
  batch: number,
  options: TimingOptions = TIMING,
): Promise<StepTiming> {
  await runSteps(step, 1);
  // As `fit` does after its first step: time the kernel variants of the shapes the step met.
  await autotuner().tunePending();
  const probe = performance.now();
  await runSteps(step, 1);
  const once = (performance.now() - probe) / 1000;
  const steps = Math.max(1, Math.min(options.maxSteps, Math.round(options.roundSeconds / once)));
  const perStep: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    const start = performance.now();
    await runSteps(step, steps);
    perStep.push((performance.now() - start) / 1000 / steps);
  }
  perStep.sort((a, b) => a - b);
  const median = perStep[Math.floor(options.rounds / 2)];
  return { name, batch, best: perStep[0], median, steps, rounds: options.rounds };
}

/** The bench's line for one timing: images/s best and median, ms per step, steps × rounds. */
export function formatTiming(t: StepTiming): string {
  return `train step ${t.name} batch ${t.batch}: ${(t.batch / t.best).toFixed(0)} images/s best, ` +
    `${(t.batch / t.median).toFixed(0)} images/s median (${(t.median * 1e3).toFixed(1)} ms/step, ` +
    `${t.steps} steps × ${t.rounds} rounds)`;
}
