/**
 * The learning-rate range test (Smith 2015; fast.ai's `lr_find`): train for a few hundred steps
 * while the learning rate grows exponentially from tiny to huge, record the loss at each, and
 * suggest the rate where the smoothed loss falls fastest. The model and optimizer are put back as
 * they were afterwards.
 *
 * @module
 */

import type { Batch } from "../data/loader.ts";
import { endStep } from "../gpu/step.ts";
import { CrossEntropyLoss, type Loss } from "../nn/loss.ts";
import type { Module } from "../nn/module.ts";
import { Tensor } from "../tensor.ts";
import { type BatchSource, recordTrainStep } from "../train/trainer.ts";
import type { Optimizer } from "./optimizer.ts";

/** Options of {@link findLr}. */
export interface LrFinderOptions {
  /** The optimizer to sweep (its state and rates are restored afterwards). */
  optimizer: Optimizer<{ lr: number }>;
  /** The loss; `CrossEntropyLoss` unless given. */
  loss?: Loss;
  /** The first learning rate; 1e-7. */
  startLr?: number;
  /** The last learning rate; 10. */
  endLr?: number;
  /** Steps of the sweep (the source is cycled if it has fewer batches); 200. */
  steps?: number;
  /** Smoothing of the loss curve (an exponential moving average, bias-corrected); 0.98. */
  smoothing?: number;
  /** Stop once the smoothed loss exceeds this multiple of its minimum; 4. */
  divergeFactor?: number;
  /** Steps between read-backs that check for divergence; 25. */
  checkEvery?: number;
}

/** What {@link findLr} returns. */
export interface LrFinderResult {
  /** The learning rate of each step run (increasing). */
  lrs: number[];
  /** The batch loss at each step. */
  losses: number[];
  /** The smoothed loss at each step. */
  smoothed: number[];
  /** The rate where the smoothed loss falls fastest (within the curve before divergence). */
  suggestedLr: number;
  /** The rate with the lowest smoothed loss. */
  minLossLr: number;
  /** True when the sweep stopped early because the loss blew up. */
  diverged: boolean;
}

/** An endless stream of batches from a source, restarted when it runs out. */
class Cycle {
  readonly #source: BatchSource;
  #iterator: AsyncIterator<Batch> | Iterator<Batch> | null = null;

  constructor(source: BatchSource) {
    this.#source = source;
  }

  #open(): AsyncIterator<Batch> | Iterator<Batch> {
    const source = this.#source as Partial<AsyncIterable<Batch> & Iterable<Batch>>;
    const openAsync = source[Symbol.asyncIterator];
    if (openAsync) return openAsync.call(source);
    return source[Symbol.iterator]!.call(source);
  }

  async next(): Promise<Batch> {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.#iterator ??= this.#open();
      const item = await this.#iterator.next();
      if (!item.done) return item.value;
      this.#iterator = null;
    }
    throw new Error("findLr: the loader gave no batches");
  }

  async close(): Promise<void> {
    await this.#iterator?.return?.();
  }
}

/** Bias-corrected exponential moving average of `values`. */
function smooth(values: readonly number[], beta: number): number[] {
  let average = 0;
  return values.map((value, i) => {
    average = beta * average + (1 - beta) * value;
    return average / (1 - beta ** (i + 1));
  });
}

/** How many points of the smoothed curve come before divergence. */
function usable(smoothed: readonly number[], factor: number): number {
  let best = Infinity;
  for (let i = 0; i < smoothed.length; i++) {
    const value = smoothed[i];
    if (!Number.isFinite(value) || (i > 0 && value > factor * best)) return i;
    best = Math.min(best, value);
  }
  return smoothed.length;
}

/**
 * Runs the learning-rate range test: `steps` training steps at rates growing exponentially from
 * `startLr` to `endLr` (one submit each; losses stay on the GPU and are read back every
 * `checkEvery` steps to stop early once the loss diverges), then restores the model's weights and
 * buffers, its train/eval modes, and the optimizer's state and rates. The generators the loader
 * or model draw from are not rewound.
 *
 * @example
 * ```ts
 * import { Adam, findLr, initGpu, Tensor, veryBasicNet } from "@hajime/nn";
 * await initGpu();
 * const model = veryBasicNet();
 * const batches = [{
 *   images: Tensor.zeros([32, 3, 32, 32]),
 *   labels: Tensor.zeros([32], { dtype: "i32" }),
 * }];
 * const { suggestedLr } = await findLr(model, batches, {
 *   optimizer: new Adam(model),
 *   steps: 100,
 * });
 * console.log(suggestedLr);
 * ```
 */
export async function findLr(
  model: Module,
  loader: BatchSource,
  options: LrFinderOptions,
): Promise<LrFinderResult> {
  const { optimizer } = options;
  const startLr = options.startLr ?? 1e-7;
  const endLr = options.endLr ?? 10;
  const steps = options.steps ?? 200;
  const beta = options.smoothing ?? 0.98;
  const factor = options.divergeFactor ?? 4;
  const checkEvery = options.checkEvery ?? 25;
  if (!(startLr > 0 && endLr > startLr)) {
    throw new RangeError(
      `findLr: need 0 < startLr < endLr, got startLr ${startLr}, endLr ${endLr}`,
    );
  }
  if (!Number.isInteger(steps) || steps < 2) {
    throw new RangeError(`findLr: steps must be an integer ≥ 2, got ${steps}`);
  }
  if (!(beta >= 0 && beta < 1)) {
    throw new RangeError(`findLr: smoothing must be in [0, 1), got ${beta}`);
  }
  if (!(factor > 1)) throw new RangeError(`findLr: divergeFactor must be > 1, got ${factor}`);
  if (!Number.isInteger(checkEvery) || checkEvery < 1) {
    throw new RangeError(`findLr: checkEvery must be an integer ≥ 1, got ${checkEvery}`);
  }

  const modelState = await model.stateDict();
  const optimizerState = await optimizer.stateDict();
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  const loss = options.loss ?? new CrossEntropyLoss();
  const ring = Tensor.zeros([steps], { label: "LrFinder.losses" });
  const batches = new Cycle(loader);
  const lrs: number[] = [];
  let losses: number[] = [];
  let diverged = false;
  try {
    model.train();
    for (let i = 0; i < steps && !diverged; i++) {
      const lr = startLr * (endLr / startLr) ** (i / (steps - 1));
      optimizer.lr = lr;
      recordTrainStep(model, await batches.next(), loss, optimizer, { tensor: ring, slot: i });
      lrs.push(lr);
      if ((i + 1) % checkEvery === 0 || i === steps - 1) {
        const data = await ring.read(); // this step's submit, and a sync point
        losses = Array.from(data.subarray(0, i + 1));
        diverged = usable(smooth(losses, beta), factor) < losses.length;
      } else {
        await endStep();
      }
    }
  } finally {
    await batches.close();
    ring.dispose();
    model.loadStateDict(modelState);
    optimizer.loadStateDict(optimizerState);
    for (const [m, mode] of modes) m.training = mode;
  }
  const smoothed = smooth(losses, beta);
  const end = Math.max(1, usable(smoothed, factor));
  // Steepest descent of the smoothed loss against log(lr), by central differences; the first
  // steps are skipped when there are enough, since the average is still settling there.
  const skip = end > 20 ? Math.floor(end / 10) : 0;
  let steepest = skip;
  let slope = Infinity;
  let lowest = 0;
  for (let i = 0; i < end; i++) {
    if (smoothed[i] < smoothed[lowest]) lowest = i;
    if (i < skip || end < 2) continue;
    const a = Math.max(0, i - 1);
    const b = Math.min(end - 1, i + 1);
    const gradient = (smoothed[b] - smoothed[a]) / (Math.log(lrs[b]) - Math.log(lrs[a]));
    if (gradient < slope) {
      slope = gradient;
      steepest = i;
    }
  }
  return {
    lrs,
    losses,
    smoothed,
    suggestedLr: lrs[Math.min(steepest, end - 1)],
    minLossLr: lrs[lowest],
    diverged,
  };
}
