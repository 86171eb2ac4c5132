/**
 * The browser example's training run, apart from its page so that a Deno test runs the very same
 * code (tests/browser/browser_test.ts compares the losses): an article model trained with the
 * article's recipe (ToTensor only, Adam, cross-entropy, shuffled batches), its `epoch:E, step:S,
 * loss:L` lines, the accuracy on a sample of test images at each log line, and the test accuracy
 * at the end. Web APIs only.
 *
 * Uses the trainer's `fit` (with `onLog`, `onStep` and `maxSteps`), `evaluate` and
 * `formatEvaluation` from src/train/trainer.ts.
 *
 * @module
 */

import {
  Adam,
  Compose,
  createModel,
  DataLoader,
  evaluate,
  fit,
  formatEvaluation,
  Generator,
  type ImageDataset,
  type StepInfo,
  ToTensor,
} from "../../web.ts";

/** What to train, and how. */
export interface TrainingOptions {
  /** The registered model name (`basic-cnn`, `resnet`, ...). */
  model: string;
  /** Epochs over the training set. */
  epochs: number;
  /** Images per batch. */
  batchSize: number;
  /** Adam's learning rate. */
  lr: number;
  /** Seed of the model's initialisation and of the batch order. */
  seed: number;
  /** Steps between log lines and chart points. */
  logEvery: number;
  /** Stop after this many steps in all; 0 for no limit. */
  maxSteps: number;
  /** Test images whose accuracy is charted at every log line; 0 for none. */
  accuracySample: number;
}

/** The article's recipe: BasicCNN, 4 epochs, batch 32, Adam 0.003, seed 0, a line per 500 steps. */
export const ARTICLE_RECIPE: Readonly<TrainingOptions> = Object.freeze({
  model: "basic-cnn",
  epochs: 4,
  batchSize: 32,
  lr: 0.003,
  seed: 0,
  logEvery: 500,
  maxSteps: 0,
  accuracySample: 1000,
});

/** What the run reports as it goes; `step` may throw to stop it. */
export interface TrainingHooks {
  /** A log line: the article's loss lines, then its two result lines. */
  line?: (text: string) => void;
  /** The mean loss of the last `logEvery` steps, at a global step. */
  loss?: (step: number, loss: number) => void;
  /** The accuracy on the test sample, in [0, 1], at a global step. */
  accuracy?: (step: number, accuracy: number) => void;
  /** After each step is submitted. */
  step?: (info: StepInfo) => void | Promise<void>;
}

/** What a finished run gives. */
export interface TrainingResult {
  /** Steps run. */
  steps: number;
  /** Every logged loss, in order. */
  losses: number[];
  /** Accuracy on the whole test set, in [0, 1]. */
  accuracy: number;
  /** Seconds of training and evaluation. */
  seconds: number;
}

/** Checks the options before anything is allocated; the message names the field. */
function check(options: TrainingOptions): void {
  const counts = [
    ["epochs", options.epochs, 1],
    ["batchSize", options.batchSize, 1],
    ["logEvery", options.logEvery, 1],
    ["maxSteps", options.maxSteps, 0],
    ["accuracySample", options.accuracySample, 0],
  ] as const;
  for (const [name, value, least] of counts) {
    if (!Number.isInteger(value) || value < least) {
      throw new RangeError(`${name} must be an integer ≥ ${least}, got ${value}`);
    }
  }
  if (!(options.lr > 0)) throw new RangeError(`lr must be > 0, got ${options.lr}`);
  if (!Number.isInteger(options.seed)) {
    throw new RangeError(`seed must be an integer, got ${options.seed}`);
  }
}

/**
 * Trains `options.model` on `train` and evaluates it on `test`, reporting through `hooks`.
 *
 * @example
 * ```ts
 * import { cifar10FromUrl, initGpu } from "../../web.ts";
 * import { ARTICLE_RECIPE, trainArticleModel } from "./training.ts";
 * await initGpu();
 * const base = "http://127.0.0.1:8000/cifar-10-batches-bin/";
 * const train = await cifar10FromUrl(base);
 * const test = await cifar10FromUrl(base, { train: false });
 * const result = await trainArticleModel(train, test, { ...ARTICLE_RECIPE, epochs: 1 }, {
 *   line: console.log,
 * });
 * console.log(result.accuracy);
 * ```
 */
export async function trainArticleModel(
  train: ImageDataset,
  test: ImageDataset,
  options: TrainingOptions,
  hooks: TrainingHooks = {},
): Promise<TrainingResult> {
  check(options);
  const started = performance.now();
  const { batchSize, logEvery } = options;
  const model = createModel(options.model, { seed: options.seed });
  const rng = new Generator(options.seed);
  const toTensor = () => new Compose([new ToTensor()]);
  const loader = new DataLoader(train, {
    batchSize,
    shuffle: true,
    generator: rng,
    transform: toTensor(),
  });
  const testLoader = new DataLoader(test, { batchSize, transform: toTensor() });
  const sampleSize = Math.min(options.accuracySample, test.length);
  const sample = sampleSize > 0
    ? new DataLoader(test.subset(Array.from({ length: sampleSize }, (_, i) => i)), {
      batchSize,
      transform: toTensor(),
    })
    : null;
  const optimizer = new Adam(model, { lr: options.lr });
  try {
    const run = await fit(model, loader, {
      optimizer,
      epochs: options.epochs,
      logEvery,
      maxSteps: options.maxSteps || Infinity,
      generators: { data: rng },
      log: (text) => hooks.line?.(text),
      onLog: (info) => hooks.loss?.(info.globalStep, info.loss),
      onStep: async (info) => {
        await hooks.step?.(info);
        // Between steps, with the step submitted: evaluation leaves the model's modes as they were.
        if (sample && info.globalStep % logEvery === 0) {
          hooks.accuracy?.(info.globalStep, (await evaluate(model, sample)).accuracy);
        }
      },
    });
    const evaluation = await evaluate(model, testLoader);
    for (const text of formatEvaluation(evaluation)) hooks.line?.(text);
    return {
      steps: run.trainState.globalStep,
      losses: run.history.map((info) => info.loss),
      accuracy: evaluation.accuracy,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    for (const l of [loader, testLoader, sample]) l?.dispose();
    optimizer.dispose();
    model.dispose();
  }
}
