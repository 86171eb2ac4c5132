/**
 * The training loop and evaluation, as the article runs them, with the GPU kept busy: each step
 * (zero grads, forward, loss, backward, optimizer) is recorded into one frame and submitted once;
 * the per-step losses stay on the GPU and are read back asynchronously only every `logEvery`
 * steps, when the article's `epoch:E, step:S, loss:L` line is printed. `evaluate` always runs in
 * eval mode and puts the previous modes back, so the article's bug #1 cannot happen.
 *
 * @module
 */

import type { Batch } from "../data/loader.ts";
import { autotuner } from "../gpu/autotune.ts";
import { endStep, queuedStepsDone, sync } from "../gpu/step.ts";
import { noGrad } from "../autograd.ts";
import { countCorrect } from "../kernels/loss.ts";
import { CrossEntropyLoss, type Loss } from "../nn/loss.ts";
import type { Module } from "../nn/module.ts";
import type { Optimizer } from "../optim/optimizer.ts";
import { applySchedule, type Schedule } from "../optim/schedules.ts";
import type { Generator } from "../random.ts";
import { type ArrayFor, type DType, Tensor } from "../tensor.ts";
import {
  prepareCheckpointPath,
  readSafetensors,
  restoreCheckpoint,
  type SafeTensor,
  saveCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
import { argmaxRows, confusionMatrix, formatFixed, perClassAccuracy } from "./metrics.ts";

/** Batches to train or evaluate on: any iterable or async iterable (a loader, an array). */
export type BatchSource = (Iterable<Batch> | AsyncIterable<Batch>) & {
  /** Batches per epoch, when known (for progress bars and buffer sizes). */
  readonly length?: number;
};

/** Any optimizer (SGD, Adam, AdamW). */
export type AnyOptimizer = Optimizer<{ lr: number }>;

/** Reported after every step is submitted (nothing was read back for it). */
export interface StepInfo {
  /** Epoch, 1-based as the article prints it. */
  epoch: number;
  /** Step within the epoch, 1-based. */
  step: number;
  /** Steps since the start of training, 1-based. */
  globalStep: number;
  /** Batches per epoch, when the source knows. */
  stepsPerEpoch: number | undefined;
  /** The first group's learning rate used for this step. */
  lr: number;
  /** Images in this step's batch. */
  batchSize: number;
}

/** A running loss, read back every `logEvery` steps. */
export interface LogInfo {
  /** Epoch, 1-based. */
  epoch: number;
  /** Step within the epoch, 1-based (a multiple of `logEvery`). */
  step: number;
  /** Steps since the start of training. */
  globalStep: number;
  /** Mean of the last `logEvery` batch losses (float64 sum, as Python's `running_loss`). */
  loss: number;
  /** Training images of the steps since the last log line predicted correctly, in [0, 1]. */
  trainAccuracy: number;
  /** The article's line: `epoch:1, step:500, loss:2.3222`. */
  line: string;
}

/** Reported at the end of every epoch. */
export interface EpochInfo {
  /** Epoch, 1-based. */
  epoch: number;
  /** Steps since the start of training. */
  globalStep: number;
  /** Steps run in this epoch (after a resume, only those run since). */
  steps: number;
  /** Mean loss of the steps run in this epoch. */
  trainLoss: number;
  /**
   * Training images of the epoch predicted correctly as its steps ran (in training mode), in
   * [0, 1]; a resumed epoch goes on from the counts in its checkpoint.
   */
  trainAccuracy: number;
  /** Evaluation on `FitOptions.validation`, or null without one. */
  validation: EvaluateResult | null;
  /** Wall-clock seconds of the epoch (training and validation). */
  seconds: number;
}

/** Options of {@link fit}. */
export interface FitOptions {
  /** The optimizer updating the model's parameters. */
  optimizer: AnyOptimizer;
  /** Epochs to train in all (a resumed run continues up to this many); 1. */
  epochs?: number;
  /** The loss; `CrossEntropyLoss` unless given (the article's). */
  loss?: Loss;
  /** A learning-rate schedule, applied every iteration at the global step; none unless given. */
  schedule?: Schedule;
  /** Steps between running-loss read-backs and log lines; 500 (the article's). */
  logEvery?: number;
  /** Where log lines go; `console.log` unless given, `null` for silence. */
  log?: ((line: string) => void) | null;
  /** Called after each step is submitted. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** Called with each running loss. */
  onLog?: (info: LogInfo) => void | Promise<void>;
  /**
   * Called at the end of each epoch, after validation and before that epoch's checkpoint (so
   * what it records can go into the checkpoint's metadata).
   */
  onEpochEnd?: (info: EpochInfo) => void | Promise<void>;
  /** Evaluated at the end of every epoch when given. */
  validation?: BatchSource;
  /**
   * Generators the run draws from (loader shuffling and augmentation, dropout seeds): their
   * states go into checkpoints, so a resumed run draws what the uninterrupted one would.
   */
  generators?: Readonly<Record<string, Generator>>;
  /**
   * Checkpoints written by the loop: at the end of every epoch, every `everySteps` steps if
   * given, and when `maxSteps` stops the run, with the strings `metadata` returns at that moment
   * (a recipe, a metrics history) in their metadata. The path's folder is created and checked,
   * and temporaries of interrupted writes removed, before any training.
   */
  checkpoint?: {
    path: string;
    everySteps?: number;
    metadata?: () => Readonly<Record<string, string>>;
  };
  /**
   * Where to start: a checkpoint path written by `fit` (restores model, optimizer, generators,
   * position and running loss), or a position when the caller restored the rest. Batches of the
   * interrupted epoch that were already trained on are drawn from the source and skipped.
   */
  resume?: string | TrainState;
  /**
   * Called once a checkpoint given as `resume` is restored, before training goes on: the place
   * to change what it restored (a learning rate the user overrides).
   */
  onResume?: (state: TrainState) => void | Promise<void>;
  /** Stop once this many global steps are done (the returned state resumes from there). */
  maxSteps?: number;
  /**
   * Wall-clock seconds this call may train, validation included: training stops after the step
   * during which they ran out, as `maxSteps` stops it (the returned state resumes from there, a
   * checkpoint is written), or at the end of the epoch whose validation they ran out in; none
   * unless given.
   */
  timeLimit?: number;
}

/** What {@link fit} returns. */
export interface FitResult {
  /** Where training stopped: pass it (or the checkpoint) as `resume` to continue. */
  trainState: TrainState;
  /** Every running loss logged. */
  history: LogInfo[];
  /** Every epoch-end report. */
  epochs: EpochInfo[];
  /** The limit that stopped training early (`maxSteps` or `timeLimit`), or null for none. */
  stoppedBy: "maxSteps" | "timeLimit" | null;
}

/** What {@link evaluate} returns. */
export interface EvaluateResult {
  /** Correct predictions / images, in [0, 1]. */
  accuracy: number;
  /** Images predicted correctly (counted on the GPU). */
  correct: number;
  /** Images evaluated. */
  total: number;
  /** The article's validation loss: sum of batch losses / (images / batch size). */
  loss: number;
  /** Accuracy within each true class (NaN for a class without images). */
  perClassAccuracy: number[];
  /** `confusion[label][prediction]` counts. */
  confusion: number[][];
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** The loss; `CrossEntropyLoss` unless given. */
  loss?: Loss;
}

/** A GPU array that batches are appended to with word copies inside the frame (no submit). */
class GpuArray<D extends DType> {
  #tensor: Tensor<D>;
  #length = 0;
  readonly #dtype: D;
  readonly #label: string;

  constructor(capacity: number, dtype: D, label: string) {
    this.#dtype = dtype;
    this.#label = label;
    this.#tensor = Tensor.empty<D>([Math.max(1, capacity)], { dtype, label });
  }

  get length(): number {
    return this.#length;
  }

  append(source: Tensor<D>): void {
    const needed = this.#length + source.size;
    if (needed > this.#tensor.size) {
      const grown = Tensor.empty<D>([Math.max(needed, 2 * this.#tensor.size)], {
        dtype: this.#dtype,
        label: this.#label,
      });
      if (this.#length > 0) {
        Tensor.copyWords(this.#tensor, 0, grown, 0, this.#length);
      }
      this.#tensor.dispose();
      this.#tensor = grown;
    }
    Tensor.copyWords(source, 0, this.#tensor, this.#length, source.size);
    this.#length = needed;
  }

  async read(): Promise<ArrayFor<D>> {
    const all = await this.#tensor.read();
    return all.subarray(0, this.#length) as ArrayFor<D>;
  }

  dispose(): void {
    this.#tensor.dispose();
  }
}

/**
 * Records one training step into the open frame, without submitting it: zero the gradients,
 * forward, loss, backward, optimizer step. When `losses` is given, the batch loss is copied into
 * element `slot` of it (a GPU copy), so losses can be read back later in bulk, and the batch's
 * correct predictions are added to `losses.correct` when given.
 *
 * @example
 * ```ts
 * import { Adam, CrossEntropyLoss, initGpu, Tensor, veryBasicNet } from "@hajime/nn";
 * import { flush, recordTrainStep } from "@hajime/nn/gpu";
 * await initGpu();
 * const model = veryBasicNet();
 * const optimizer = new Adam(model, { lr: 0.003 });
 * const batch = {
 *   images: Tensor.zeros([32, 3, 32, 32]),
 *   labels: Tensor.zeros([32], { dtype: "i32" }),
 * };
 * const loss = recordTrainStep(model, batch, new CrossEntropyLoss(), optimizer);
 * flush(); // one submit for the whole step
 * console.log(await loss.read());
 * ```
 */
export function recordTrainStep(
  model: Module,
  batch: Batch,
  loss: Loss,
  optimizer: AnyOptimizer,
  losses?: { tensor: Tensor; slot: number; correct?: Tensor<"u32"> },
): Tensor {
  model.zeroGrad();
  const output = model.forward(batch.images);
  if (losses?.correct) countCorrect(output, batch.labels, losses.correct);
  const value = loss.forward(output, batch.labels);
  if (losses) {
    Tensor.copyWords(value, 0, losses.tensor, losses.slot, 1);
  }
  value.backward();
  optimizer.step();
  return value;
}

/**
 * Throws unless every parameter the optimizer updates belongs to `model` (an optimizer built
 * for another model would train nothing of this one, silently).
 */
function checkOptimizerParameters(model: Module, optimizer: AnyOptimizer): void {
  const own = new Set(model.parameters());
  const all = optimizer.groups.flatMap((g) => g.params);
  const foreign = all.filter(({ param }) => !own.has(param));
  if (foreign.length > 0) {
    throw new Error(
      `fit: ${foreign.length} of the optimizer's ${all.length} parameters (first "${
        foreign[0].name
      }") are not parameters of the model being trained: build the optimizer from this model ` +
        "(new Adam(model, ...))",
    );
  }
}

/** The article's running-loss line, `epoch:1, step:500, loss:2.3222`. */
function logLine(epoch: number, step: number, loss: number): string {
  return `epoch:${epoch}, step:${step}, loss:${formatFixed(loss, 4)}`;
}

/** The error a non-finite loss stops training with. */
function divergence(value: number, epoch: number, step: number, globalStep: number): Error {
  return new Error(
    `fit: the loss is ${value} at epoch ${epoch}, step ${step} (global step ${globalStep}); ` +
      "training stopped (lower the learning rate?)",
  );
}

/** A read-back of the loss ring in flight, covering steps `first`…`first + count − 1`. */
interface PendingRead {
  epoch: number;
  first: number;
  count: number;
  globalFirst: number;
  log: boolean;
  /** Training images of the epoch's steps run here up to this read. */
  images: number;
  settled: boolean;
  result: Float32Array | null;
  error: unknown;
  promise: Promise<void>;
}

/**
 * Starts reading `ring` back; its last element receives the bits of the u32 `correct` count first,
 * so the count comes back with the losses.
 */
function startRead(
  ring: Tensor,
  correct: Tensor<"u32">,
  window: Pick<PendingRead, "epoch" | "first" | "count" | "globalFirst" | "log" | "images">,
): PendingRead {
  const pending = {
    ...window,
    settled: false,
    result: null,
    error: null,
  } as Omit<PendingRead, "promise"> as PendingRead;
  Tensor.copyWords(correct, 0, ring, ring.size - 1, 1);
  // read() records the copy and flushes synchronously: this is the step's one submit.
  pending.promise = ring.read().then(
    (data) => {
      pending.result = data;
      pending.settled = true;
    },
    (error) => {
      pending.error = error;
      pending.settled = true;
    },
  );
  return pending;
}

function generatorStates(
  generators: Readonly<Record<string, Generator>>,
): Map<string, Uint32Array> {
  return new Map(Object.entries(generators).map(([name, g]) => [name, g.getState()]));
}

const EPOCH_START_PREFIX = "trainer.epoch_start.";
const LOSSES_NAME = "trainer.losses";
const COUNTS_NAME = "trainer.train_counts";

/**
 * Trains `model` on `loader` as the article's loop does (zero grads, forward, loss, backward,
 * step), printing `epoch:E, step:S, loss:L` every `logEvery` steps. Each step is recorded into one
 * frame and submitted once; losses are read back only when logged, asynchronously, and a NaN or
 * infinite loss stops training with an error naming the epoch and step. The model is in training
 * mode throughout.
 *
 * @example
 * ```ts
 * import { Adam, fit, initGpu, veryBasicNet } from "@hajime/nn";
 * import { Tensor } from "@hajime/nn";
 * await initGpu();
 * const model = veryBasicNet();
 * const batches = [{
 *   images: Tensor.zeros([32, 3, 32, 32]),
 *   labels: Tensor.zeros([32], { dtype: "i32" }),
 * }];
 * const result = await fit(model, batches, {
 *   optimizer: new Adam(model, { lr: 0.003 }),
 *   epochs: 4,
 *   logEvery: 1,
 * });
 * console.log(result.trainState.globalStep); // 4
 * ```
 */
export async function fit(
  model: Module,
  loader: BatchSource,
  options: FitOptions,
): Promise<FitResult> {
  const { optimizer, schedule, onStep, onLog, onEpochEnd, validation, checkpoint } = options;
  const epochs = options.epochs ?? 1;
  const logEvery = options.logEvery ?? 500;
  const log = options.log === undefined ? console.log : options.log;
  const generators = options.generators ?? {};
  const maxSteps = options.maxSteps ?? Infinity;
  const timeLimit = options.timeLimit ?? Infinity;
  if (!Number.isInteger(epochs) || epochs < 0) {
    throw new RangeError(`fit: epochs must be an integer ≥ 0, got ${epochs}`);
  }
  if (!Number.isInteger(logEvery) || logEvery < 1) {
    throw new RangeError(`fit: logEvery must be an integer ≥ 1, got ${logEvery}`);
  }
  if (maxSteps !== Infinity && (!Number.isInteger(maxSteps) || maxSteps < 0)) {
    throw new RangeError(`fit: maxSteps must be an integer ≥ 0, got ${maxSteps}`);
  }
  if (!(timeLimit > 0)) {
    throw new RangeError(`fit: timeLimit must be a number of seconds > 0, got ${timeLimit}`);
  }
  const everySteps = checkpoint?.everySteps;
  if (everySteps !== undefined && (!Number.isInteger(everySteps) || everySteps < 1)) {
    throw new RangeError(`fit: checkpoint.everySteps must be an integer ≥ 1, got ${everySteps}`);
  }
  checkOptimizerParameters(model, optimizer);
  if (checkpoint) await prepareCheckpointPath(checkpoint.path);
  const loss = options.loss ?? new CrossEntropyLoss();
  // The last `logEvery` batch losses, then the epoch's correct count (see startRead).
  const ring = Tensor.zeros([logEvery + 1], { label: "Trainer.losses" });
  const trainCorrect = Tensor.zeros([1], { dtype: "u32", label: "Trainer.trainCorrect" });
  const history: LogInfo[] = [];
  const epochReports: EpochInfo[] = [];

  // Where to start, and the generator states at the start of that epoch (for skipping).
  let position: TrainState = { epoch: 0, step: 0, globalStep: 0 };
  let resumeStates: Map<string, Uint32Array> | null = null;
  let resumeCounts: ArrayLike<number> = [0, 0, 0, 0]; // the interrupted epoch's accuracy counts
  let epochStart = generatorStates(generators);
  let epochLossSum = 0;
  let epochSteps = 0;
  let epochImages = 0;
  let epochCorrect = 0;
  // Correct count and images at the last log line, for the accuracy since then.
  let logCorrect = 0;
  let logImages = 0;
  let countFrom = 1; // the epoch's first step run here (after a resume, the first not skipped)
  let pending: PendingRead | null = null;

  const save = async (state: TrainState): Promise<void> => {
    if (!checkpoint) return;
    const extra = new Map<string, SafeTensor>();
    for (const [name, words] of epochStart) {
      extra.set(EPOCH_START_PREFIX + name, { dtype: "U32", shape: [7], data: words });
    }
    Tensor.copyWords(trainCorrect, 0, ring, logEvery, 1);
    const data = await ring.read();
    const correct = new Uint32Array(data.buffer)[logEvery];
    extra.set(LOSSES_NAME, { dtype: "F32", shape: [logEvery], data: data.slice(0, logEvery) });
    const counts = Uint32Array.of(correct, epochImages, logCorrect, logImages);
    extra.set(COUNTS_NAME, { dtype: "U32", shape: [4], data: counts });
    await saveCheckpoint(checkpoint.path, {
      model,
      optimizer,
      trainState: state,
      generators,
      extra,
      metadata: checkpoint.metadata?.(),
    });
  };

  // Folds a finished read into the log and the epoch mean; throws on a non-finite loss.
  const settle = async (read: PendingRead): Promise<void> => {
    await read.promise;
    if (read.error) throw read.error;
    const data = read.result!;
    let sum = 0;
    for (let i = 0; i < read.count; i++) {
      const value = data[(read.first - 1 + i) % logEvery];
      if (!Number.isFinite(value)) {
        throw divergence(value, read.epoch, read.first + i, read.globalFirst + i);
      }
      sum += value;
      if (read.first + i >= countFrom) epochLossSum += value;
    }
    epochCorrect = new Uint32Array(data.buffer, data.byteOffset, data.length)[logEvery];
    if (read.log) {
      const trainAccuracy = (epochCorrect - logCorrect) / (read.images - logImages);
      [logCorrect, logImages] = [epochCorrect, read.images];
      const step = read.first + read.count - 1;
      const mean = sum / logEvery;
      const info: LogInfo = {
        epoch: read.epoch,
        step,
        globalStep: read.globalFirst + read.count - 1,
        loss: mean,
        trainAccuracy,
        line: logLine(read.epoch, step, mean),
      };
      history.push(info);
      log?.(info.line);
      await onLog?.(info);
    }
  };
  const settlePending = async (): Promise<void> => {
    const read = pending;
    pending = null;
    if (read) await settle(read);
  };

  const previousModes = model.namedModules().map(([, m]) => [m, m.training] as const);
  let state = { ...position };
  let stoppedBy: FitResult["stoppedBy"] = null;
  const deadline = performance.now() + timeLimit * 1000;
  /** The limit that ends training now, if one does. */
  const limitReached = (): FitResult["stoppedBy"] =>
    state.globalStep >= maxSteps ? "maxSteps" : performance.now() >= deadline ? "timeLimit" : null;
  try {
    if (typeof options.resume === "string") {
      position = await restoreCheckpoint(options.resume, { model, optimizer, generators }) ??
        position;
      const file = await readSafetensors(options.resume);
      resumeStates = new Map();
      for (const name of Object.keys(generators)) {
        const saved = file.tensors.get(EPOCH_START_PREFIX + name);
        if (saved) resumeStates.set(name, saved.data as Uint32Array);
      }
      const counts = file.tensors.get(COUNTS_NAME);
      if (counts && counts.data.length === 4) resumeCounts = counts.data as Uint32Array;
      const losses = file.tensors.get(LOSSES_NAME);
      if (losses && losses.data.length === logEvery) {
        ring.write([...(losses.data as Float32Array), 0]);
      }
      await options.onResume?.(position);
    } else if (options.resume) {
      position = { ...options.resume };
    }
    state = { ...position };
    for (let epoch = position.epoch; epoch < epochs && state.globalStep < maxSteps; epoch++) {
      const started = performance.now();
      const skip = epoch === position.epoch ? position.step : 0;
      if (skip > 0 && resumeStates && resumeStates.size > 0) {
        // Replay the interrupted epoch's data draws from its start, then continue from the
        // saved states.
        const current = generatorStates(generators);
        for (const [name, words] of resumeStates) generators[name].setState(words);
        epochStart = generatorStates(generators);
        resumeStates = current;
      } else {
        epochStart = generatorStates(generators);
      }
      state = { epoch, step: skip, globalStep: state.globalStep };
      epochLossSum = 0;
      epochSteps = 0;
      const counts = skip > 0 ? resumeCounts : [0, 0, 0, 0];
      [epochCorrect, epochImages, logCorrect, logImages] = Array.from(counts);
      trainCorrect.write([counts[0]]);
      countFrom = skip + 1;
      // The ring's window: steps since the last log line (kept across a resume).
      let windowFirst = skip - (skip % logEvery) + 1;
      model.train();
      let index = 0;
      for await (const batch of loader) {
        index++;
        if (index <= skip) {
          if (index === skip && resumeStates) {
            for (const [name, words] of resumeStates) generators[name].setState(words);
          }
          continue;
        }
        if (schedule) applySchedule(optimizer, schedule, state.globalStep);
        const lr = optimizer.lr;
        const slot = (index - 1) % logEvery;
        recordTrainStep(model, batch, loss, optimizer, {
          tensor: ring,
          slot,
          correct: trainCorrect,
        });
        state = { epoch, step: index, globalStep: state.globalStep + 1 };
        epochSteps++;
        epochImages += batch.labels.shape[0];
        if (index % logEvery === 0) {
          await settlePending();
          pending = startRead(ring, trainCorrect, {
            epoch: epoch + 1,
            first: windowFirst,
            count: logEvery,
            globalFirst: state.globalStep - logEvery + 1,
            log: true,
            images: epochImages,
          });
          windowFirst = index + 1;
        }
        await endStep();
        // The first step met every kernel shape of the run: time the variants of those not
        // chosen yet on this adapter (cached on disk, so later runs skip this).
        if (epochSteps === 1 && epoch === position.epoch) await autotuner().tunePending();
        if (pending?.settled) await settlePending();
        await onStep?.({
          epoch: epoch + 1,
          step: index,
          globalStep: state.globalStep,
          stepsPerEpoch: loader.length,
          lr,
          batchSize: batch.labels.shape[0],
        });
        if (everySteps && state.globalStep % everySteps === 0) await save(state);
        stoppedBy = limitReached();
        if (stoppedBy !== null) break;
      }
      // The losses since the last log line are checked too (not printed, as in the article).
      await settlePending();
      if (index >= windowFirst && index > skip) {
        const globalFirst = state.globalStep - (index - windowFirst);
        await settle(startRead(ring, trainCorrect, {
          epoch: epoch + 1,
          first: windowFirst,
          count: index - windowFirst + 1,
          globalFirst,
          log: false,
          images: epochImages,
        }));
      }
      await sync();
      if (stoppedBy !== null) {
        await save(state);
        break;
      }
      state = { epoch: epoch + 1, step: 0, globalStep: state.globalStep };
      const result = validation ? await evaluate(model, validation, { loss }) : null;
      epochStart = generatorStates(generators);
      const info: EpochInfo = {
        epoch: epoch + 1,
        globalStep: state.globalStep,
        steps: epochSteps,
        trainLoss: epochSteps > 0 ? epochLossSum / epochSteps : NaN,
        trainAccuracy: epochImages > 0 ? epochCorrect / epochImages : NaN,
        validation: result,
        seconds: (performance.now() - started) / 1000,
      };
      epochReports.push(info);
      await onEpochEnd?.(info);
      await save(state);
      // Time that ran out in validation or onEpochEnd leaves the next epoch unstarted.
      if (epoch + 1 < epochs) stoppedBy = limitReached();
      if (stoppedBy !== null) break;
    }
  } finally {
    await queuedStepsDone();
    ring.dispose();
    trainCorrect.dispose();
    for (const [m, mode] of previousModes) m.training = mode;
  }
  return { trainState: state, history, epochs: epochReports, stoppedBy };
}

/**
 * Evaluates `model` on `loader` in eval mode (BatchNorm uses its running statistics, dropout is
 * off), whatever mode the model was in, and puts every module's previous mode back afterwards.
 * Correct predictions are counted on the GPU and everything is read back once at the end.
 *
 * @example
 * ```ts
 * import { evaluate, formatEvaluation, initGpu, Tensor, veryBasicNet } from "@hajime/nn";
 * await initGpu();
 * const model = veryBasicNet();
 * const test = [{
 *   images: Tensor.zeros([32, 3, 32, 32]),
 *   labels: Tensor.zeros([32], { dtype: "i32" }),
 * }];
 * const result = await evaluate(model, test);
 * console.log(formatEvaluation(result).join("\n"));
 * ```
 */
export async function evaluate(
  model: Module,
  loader: BatchSource,
  options: EvaluateOptions = {},
): Promise<EvaluateResult> {
  const loss = options.loss ?? new CrossEntropyLoss();
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  const correct = Tensor.zeros([1], { dtype: "u32", label: "Trainer.correct" });
  const batches = loader.length ?? 64;
  let outputs: GpuArray<"f32"> | null = null;
  let labels: GpuArray<"i32"> | null = null;
  const losses = new GpuArray(batches, "f32", "Trainer.evalLosses");
  let classes = 0;
  let batchSize = 0;
  try {
    model.eval();
    for await (const batch of loader) {
      const output = noGrad(() => model.forward(batch.images));
      const [n, k] = output.shape;
      if (classes === 0) {
        classes = k;
        batchSize = n;
        outputs = new GpuArray(batches * n * k, "f32", "Trainer.evalOutputs");
        labels = new GpuArray(batches * n, "i32", "Trainer.evalLabels");
      } else if (k !== classes) {
        throw new Error(`evaluate: the model gave ${k} classes, earlier batches ${classes}`);
      }
      losses.append(noGrad(() => loss.forward(output, batch.labels)));
      countCorrect(output, batch.labels, correct);
      outputs!.append(output);
      labels!.append(batch.labels);
      await endStep();
    }
    if (classes === 0) throw new Error("evaluate: the loader gave no batches");
    const [lossValues, outputValues, labelValues, [correctCount]] = await Promise.all([
      losses.read(),
      outputs!.read(),
      labels!.read(),
      correct.read(),
    ]);
    const total = labelValues.length;
    let lossSum = 0;
    for (const value of lossValues) lossSum += value;
    const confusion = confusionMatrix(argmaxRows(outputValues, classes), labelValues, classes);
    return {
      accuracy: correctCount / total,
      correct: correctCount,
      total,
      loss: lossSum / (total / batchSize),
      perClassAccuracy: perClassAccuracy(confusion),
      confusion,
    };
  } finally {
    await queuedStepsDone();
    for (const [m, mode] of modes) m.training = mode;
    correct.dispose();
    losses.dispose();
    outputs?.dispose();
    labels?.dispose();
  }
}

/**
 * The article's two result lines: `Accuracy on 10000 test image: 66 %` (truncated, as `%d`) and
 * `Validation loss:1.0123`.
 *
 * @example
 * ```ts
 * import { formatEvaluation } from "@hajime/nn";
 * const lines = formatEvaluation({
 *   accuracy: 0.6582, correct: 6582, total: 10000, loss: 0.98765,
 *   perClassAccuracy: [], confusion: [],
 * });
 * console.log(lines.join("\n"));
 * ```
 */
export function formatEvaluation(result: EvaluateResult): string[] {
  return [
    `Accuracy on ${result.total} test image: ${Math.trunc(100 * result.correct / result.total)} %`,
    `Validation loss:${formatFixed(result.loss, 4)}`,
  ];
}
