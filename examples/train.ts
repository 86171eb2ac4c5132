/**
 * Trains a model from the article on CIFAR-10 with the article's recipe (or the Shake-Shake
 * paper's), printing the article's log lines, then the test accuracy, validation loss, per-class
 * accuracy and confusion matrix, and writing a report (metrics.json, curves.svg, confusion.svg,
 * report.html) at every log line and epoch end: report.html reloads itself while the run trains.
 * A run under a `runs/` folder also rebuilds `runs/index.html`, comparing every run there.
 *
 * Everything that can be checked is checked before training: the output paths, the
 * batch size against the adapter, a resumed checkpoint's checksum and recipe against the flags.
 * Checkpoints carry the recipe and the metrics history, so a resumed run reports every epoch.
 * Any error is one line on stderr (exit 2 for a flag at fault, 1 otherwise); an error during
 * training first writes the report of what was done.
 *
 * Usage: deno run --allow-read --allow-write --allow-env --allow-net=www.cs.toronto.edu
 * examples/train.ts [--help]
 */

import { basename, dirname, join } from "node:path";

import {
  type AnyOptimizer,
  type Batch,
  type BatchSource,
  checkSameClasses,
  cifar10,
  CIFAR10_MEAN,
  CIFAR10_STD,
  Compose,
  createModel,
  Cutout,
  dataIdentity,
  DataLoader,
  evaluate,
  type EvaluateResult,
  findLr,
  fit,
  Generator,
  type GpuInfo,
  gpuInfo,
  type ImageDataset,
  imageFolder,
  initGpu,
  largestBatch,
  modelNames,
  type Module,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  readRecipe,
  readSafetensors,
  type Recipe,
  recipeMetadata,
  removeStaleTemporaries,
  type RunMetrics,
  SGD,
  ToTensor,
  type Transform,
  writeReport,
  writeRunsIndex,
} from "../mod.ts";
import { defaultCacheDir } from "../src/data/cache.ts";
import { formatBytes, formatDuration, Progress } from "../src/data/progress.ts";
import { formatFixed } from "../src/train/metrics.ts";
import {
  FlagError,
  helpText,
  makeLoss,
  makeOptimizer,
  makeSchedule,
  parseTrainFlags,
  resumeFlags,
  type TrainFlags,
} from "./train_flags.ts";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The training and test sets the flags point at, by the rules `--help` states. */
async function loadData(flags: TrainFlags): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const options = { skipBroken: flags.skipBroken };
  const folder = async (root: string) => ({
    train: await imageFolder(`${root}/train`, options),
    test: await imageFolder(`${root}/test`, options),
  });
  const binary = async (root: string, download: boolean) => ({
    train: await cifar10({ root, download }),
    test: await cifar10({ root, train: false, download }),
  });
  if (flags.data !== null) {
    if (exists(`${flags.data}/train`) && exists(`${flags.data}/test`)) return folder(flags.data);
    if (
      exists(`${flags.data}/cifar-10-batches-bin`) || exists(`${flags.data}/data_batch_1.bin`)
    ) {
      return binary(flags.data, false);
    }
    throw new FlagError(
      `--data: ${flags.data} holds neither train/ and test/ image folders nor the CIFAR-10 ` +
        `binary batches (cifar-10-batches-bin/ or data_batch_1.bin)`,
    );
  }
  if (exists("data/cifar/train") && exists("data/cifar/test")) return folder("data/cifar");
  const cache = defaultCacheDir() ?? "data";
  try {
    return await binary(cache, flags.download);
  } catch (error) {
    throw new Error(
      `${(error as Error).message}\nNo data: point --data at a local copy (an ImageFolder root ` +
        `with train/ and test/, e.g. --data ../shared/cifar10, or a folder with the official ` +
        `binary batches), or put the images under ./data/cifar/{train,test}.`,
    );
  }
}

/** A seeded random subset of `count` images (all classes), in their original order. */
function limit(dataset: ImageDataset, count: number | null, seed: number): ImageDataset {
  if (count === null || count >= dataset.length) return dataset;
  const picked = new Generator(seed).permutation(dataset.length).subarray(0, count);
  return dataset.subset(picked.sort());
}

/**
 * The first `steps` batches of each epoch of `loader` (`--max-steps`): every epoch still ends
 * with validation, a checkpoint and its report, which fit's global `maxSteps` would skip.
 */
function firstBatches(loader: DataLoader, steps: number): BatchSource {
  return {
    length: Math.min(loader.length, steps),
    async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
      let count = 0;
      for await (const batch of loader) {
        yield batch;
        if (++count >= steps) return;
      }
    },
  };
}

function transforms(flags: TrainFlags): Transform[] {
  const list: Transform[] = [];
  if (flags.augment !== "none") {
    list.push(new RandomCrop(32, { padding: 4 }), new RandomHorizontalFlip());
  }
  list.push(new ToTensor());
  if (flags.normalize) list.push(new Normalize(CIFAR10_MEAN, CIFAR10_STD));
  if (flags.augment === "crop-flip-cutout") list.push(new Cutout(16));
  return list;
}

/** The library's hint, in the command line's words: `skipBroken: true` is `--skip-broken` here. */
function cliHint(message: string): string {
  return message.replace("pass skipBroken: true", "pass --skip-broken");
}

/** The decoded-image cache files (`imagefolder-*.bin`, see src/data/cache.ts) in `dir`. */
function decodedCacheFiles(dir: string): { path: string; bytes: number }[] {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile && e.name.startsWith("imagefolder-") && e.name.includes(".bin"))
    .map((e) => ({ path: join(dir, e.name), bytes: Deno.statSync(join(dir, e.name)).size }))
    .sort((a, b) => a.path < b.path ? -1 : 1);
}

/** One line on the decoded-image cache: where it is, how big, how to clear it. */
function cacheLine(): string {
  const dir = defaultCacheDir();
  if (dir === null) return "decoded-image cache: off (no HOME or HAJIME_CACHE_DIR readable)";
  const files = decodedCacheFiles(dir);
  const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
  return `decoded-image cache: ${dir}, ${files.length} file${files.length === 1 ? "" : "s"}, ` +
    `${formatBytes(bytes)} (--clear-cache deletes ${files.length === 1 ? "it" : "them"})`;
}

/** `--clear-cache`: deletes the decoded-image cache files, saying what went. */
function clearCache(): void {
  const dir = defaultCacheDir();
  const files = dir === null ? [] : decodedCacheFiles(dir);
  for (const file of files) Deno.removeSync(file.path);
  const bytes = files.reduce((sum, f) => sum + f.bytes, 0);
  console.log(
    `decoded-image cache: deleted ${files.length} file${files.length === 1 ? "" : "s"} ` +
      `(${formatBytes(bytes)}) from ${dir ?? "nowhere (no cache folder)"}`,
  );
}

/** The one results line: test accuracy with two decimals, and the validation loss. */
function resultLine(result: EvaluateResult): string {
  return `Accuracy on ${result.total} test images: ${(100 * result.accuracy).toFixed(2)} %, ` +
    `validation loss: ${formatFixed(result.loss, 4)}`;
}

/** Rebuilds `runs/index.html` when the run's folder is in a folder named `runs`. */
async function updateRunsIndex(out: string): Promise<void> {
  const runs = dirname(out);
  if (basename(runs) !== "runs") return;
  const entries = await writeRunsIndex(runs);
  console.log(`runs: ${join(runs, "index.html")} compares ${entries.length} runs`);
}

/** Puts an evaluation into the report's metrics (accuracies in percent). */
function recordEvaluation(metrics: RunMetrics, result: EvaluateResult): void {
  metrics.testAccuracy = 100 * result.accuracy;
  metrics.validationLoss = result.loss;
  metrics.perClassAccuracy = result.perClassAccuracy.map((a) => 100 * a);
  metrics.confusion = result.confusion;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padStart(widths[c])).join("  ")).join("\n");
}

/** The metadata key of the metrics history a checkpoint carries for the report. */
const METRICS_KEY = "hajime.metrics";

/** The part of RunMetrics a checkpoint carries, so a resumed run's report shows every epoch. */
type History = Pick<RunMetrics, "steps" | "epochs" | "wallSeconds">;

/** A checkpoint to resume: its recipe (null in files without one), position and history. */
interface Resumed {
  path: string;
  recipe: Recipe | null;
  epoch: number;
  history: History | null;
}

/**
 * A FlagError naming `flag` unless `folder` is a folder that takes new files, or one that can be
 * made there: checked without creating anything, so a run that fails later leaves no litter.
 */
async function checkFolder(flag: string, folder: string): Promise<void> {
  let at = folder;
  let info = await Deno.stat(at).catch(() => null);
  while (!info && dirname(at) !== at) {
    at = dirname(at);
    info = await Deno.stat(at).catch(() => null);
  }
  if (info && !info.isDirectory) throw new FlagError(`${flag}: ${at} is a file, not a folder`);
  const probe = join(at, `.hajime-write-check-${Deno.pid}`);
  try {
    await Deno.writeFile(probe, new Uint8Array(0));
    await Deno.remove(probe);
  } catch (error) {
    throw new FlagError(`${flag}: ${at} does not take new files (${(error as Error).message})`);
  }
}

/** Checks `--out` and `--checkpoint` before anything else is done. */
async function checkOutputs(out: string, checkpoint: string | null): Promise<void> {
  await checkFolder("--out", out);
  if (checkpoint === null) return;
  if ((await Deno.stat(checkpoint).catch(() => null))?.isDirectory) {
    throw new FlagError(`--checkpoint: ${checkpoint} is a folder; give a file name`);
  }
  await checkFolder("--checkpoint", dirname(checkpoint));
}

/** Reads (and so verifies) the checkpoint to resume. */
async function readResume(path: string): Promise<Resumed> {
  let metadata: Record<string, string>;
  try {
    metadata = (await readSafetensors(path)).metadata;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new FlagError(`--resume: ${path} does not exist`);
    }
    throw error;
  }
  let history: History | null = null;
  try {
    if (metadata[METRICS_KEY] !== undefined) history = JSON.parse(metadata[METRICS_KEY]);
  } catch {
    throw new Error(`${path}: metadata "${METRICS_KEY}" is not JSON`);
  }
  return { path, recipe: readRecipe(metadata, path), epoch: Number(metadata.epoch ?? 0), history };
}

/** The flags a resumed run uses, or a FlagError when there is nothing left to train. */
function flagsForResume(flags: TrainFlags, resumed: Resumed): TrainFlags {
  let merged = flags;
  if (resumed.recipe) merged = resumeFlags(flags, resumed.recipe, resumed.path);
  else console.log(`note: ${resumed.path} holds no recipe: the flags are not checked against it`);
  if (resumed.epoch >= merged.epochs) {
    const override = merged.schedule === "none" ? "" : " and --override epochs";
    throw new FlagError(
      `--resume ${resumed.path}: the checkpoint has trained ${resumed.epoch} of ` +
        `${merged.epochs} epochs, nothing is left to train (give --epochs N with ` +
        `N > ${resumed.epoch}${override} to train on)`,
    );
  }
  return merged;
}

function bytesText(bytes: number): string {
  return bytes < 2 ** 30
    ? `${(bytes / 2 ** 20).toFixed(1)} MiB`
    : `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** A FlagError before training when a batch would need a buffer larger than the adapter binds. */
async function checkBatchSize(flags: TrainFlags, adapter: string): Promise<void> {
  const limit = await largestBatch(() => createModel(flags.model, { seed: flags.seed }));
  if (flags.batchSize <= limit.largest) return;
  throw new FlagError(
    `--batch-size ${flags.batchSize}: too large for this adapter (${adapter}): ${limit.label} ` +
      `would take ${bytesText(flags.batchSize * limit.bytesPerImage)}, more than the ` +
      `${bytesText(limit.limitBytes)} one buffer may hold; the largest batch that fits is ` +
      `${limit.largest}`,
  );
}

/** The run's recipe, with the identity (checksum) of each data set. */
async function recipeOf(
  flags: TrainFlags,
  train: ImageDataset,
  test: ImageDataset,
  stepsPerEpoch: number,
): Promise<Recipe> {
  const [trainId, testId] = await Promise.all([dataIdentity(train), dataIdentity(test)]);
  return {
    model: flags.model,
    optimizer: {
      type: flags.optimizer,
      lr: flags.lr,
      momentum: flags.momentum,
      nesterov: flags.nesterov,
      weightDecay: flags.weightDecay,
      decayBnBias: flags.decayBnBias,
    },
    schedule: {
      type: flags.schedule,
      totalSteps: stepsPerEpoch * flags.epochs,
      pctStart: flags.pctStart,
      cycleMomentum: flags.cycleMomentum,
    },
    labelSmoothing: flags.labelSmoothing,
    epochs: flags.epochs,
    stepsPerEpoch,
    maxSteps: flags.maxSteps,
    batchSize: flags.batchSize,
    augment: flags.augment,
    normalize: flags.normalize ? { mean: [...CIFAR10_MEAN], std: [...CIFAR10_STD] } : null,
    classes: [...train.classes],
    imageSize: [train.height, train.width],
    seed: flags.seed,
    data: {
      source: flags.data,
      trainLimit: flags.trainLimit,
      testLimit: flags.testLimit,
      train: trainId,
      test: testId,
    },
  };
}

/** A FlagError when the data is not the checkpoint's, unless a data flag was overridden. */
function checkData(saved: Recipe, current: Recipe, flags: TrainFlags, path: string): void {
  if (["data", "train-limit", "test-limit"].some((flag) => flags.override.includes(flag))) return;
  const problems: string[] = [];
  if (saved.classes.join("\n") !== current.classes.join("\n")) {
    problems.push(
      `the classes are ${current.classes.join(",")}, the checkpoint's ${saved.classes.join(",")}`,
    );
  }
  for (const set of ["train", "test"] as const) {
    const [was, now] = [saved.data[set], current.data[set]];
    if (was.sha256 !== now.sha256) {
      problems.push(
        `the ${set} images (${now.images}, sha256 ${now.sha256.slice(0, 12)}…) are not the ` +
          `checkpoint's (${was.images}, sha256 ${was.sha256.slice(0, 12)}… from ${was.root})`,
      );
    }
  }
  if (problems.length > 0) {
    throw new FlagError(
      `--resume ${path}: ${problems.join("; ")}. Point --data at the checkpoint's data, or ` +
        `pass --override data to train on this data anyway`,
    );
  }
}

/** Puts the hyperparameters `--override` names into the optimizer a checkpoint restored. */
function applyOverrides(flags: TrainFlags, optimizer: AnyOptimizer): void {
  const has = (flag: string) => flags.override.includes(flag);
  for (const group of optimizer.groups) {
    if (has("lr")) Object.assign(group, { lr: flags.lr, initialLr: flags.lr });
    if (has("weight-decay")) Object.assign(group, { weightDecay: flags.weightDecay });
    if (optimizer instanceof SGD && has("momentum")) {
      Object.assign(group, { momentum: flags.momentum });
    }
    if (optimizer instanceof SGD && has("nesterov")) {
      Object.assign(group, { nesterov: flags.nesterov });
    }
  }
}

/** One line for the user: a multi-line message joined with "; ". */
function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n").map((line) => line.trim()).filter((line) => line).join("; ");
}

/** The tables and lines printed after training (outputs past the data's classes by number). */
function printResults(last: EvaluateResult, names: readonly string[]): void {
  const classes = last.confusion.map((_, i) => names[i] ?? String(i));
  console.log(resultLine(last));
  console.log(
    "\n" + table([
      ["class", "accuracy %"],
      ...classes.map((name, i) => [name, (100 * last.perClassAccuracy[i]).toFixed(2)]),
    ]),
  );
  console.log("\nconfusion matrix (rows: true class, columns: predicted)");
  console.log(table([
    ["", ...classes.map((c) => c.slice(0, 5))],
    ...last.confusion.map((row, i) => [classes[i], ...row.map(String)]),
  ]));
}

/** Everything the run needs once the checks passed. */
interface Run {
  flags: TrainFlags;
  out: string;
  model: Module;
  train: ImageDataset;
  test: ImageDataset;
  recipe: Recipe | null;
  resumed: Resumed | null;
  info: GpuInfo;
}

/** Trains, writing the report after every epoch; the metrics of what was done, whatever happens. */
async function runTraining(run: Run, metrics: RunMetrics): Promise<void> {
  const { flags, out, model, info } = run;
  const rng = new Generator(flags.seed);
  const trainLoader = new DataLoader(run.train, {
    batchSize: flags.batchSize,
    shuffle: true,
    generator: rng,
    transform: transforms(flags),
  });
  const testTransform = flags.normalize
    ? new Compose([new ToTensor(), new Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    : new Compose([new ToTensor()]);
  const testLoader = new DataLoader(run.test, {
    batchSize: flags.batchSize,
    transform: testTransform,
  });
  const optimizer = makeOptimizer(flags, model);
  // Every generator the run draws from goes into checkpoints, so a resumed run draws the same.
  const generators: Record<string, Generator> = { data: rng };
  const modelGenerator = (model as { generator?: unknown }).generator;
  if (modelGenerator instanceof Generator) generators.model = modelGenerator;

  if (flags.lrFind) {
    const result = await findLr(model, trainLoader, { optimizer });
    for (let i = 0; i < result.lrs.length; i += Math.max(1, Math.floor(result.lrs.length / 20))) {
      console.log(`lr ${result.lrs[i].toExponential(2)}  loss ${result.smoothed[i].toFixed(4)}`);
    }
    console.log(
      `suggested lr: ${result.suggestedLr.toExponential(2)}` +
        ` (lowest loss at ${result.minLossLr.toExponential(2)})`,
    );
    return;
  }

  const trainBatches = flags.maxSteps === null
    ? trainLoader
    : firstBatches(trainLoader, flags.maxSteps);
  const stepsPerEpoch = Math.min(trainLoader.length, flags.maxSteps ?? Infinity);
  const totalSteps = stepsPerEpoch * flags.epochs;
  const schedule = makeSchedule(flags, totalSteps);
  const earlierSeconds = run.resumed?.history?.wallSeconds ?? 0;
  const started = performance.now();
  const elapsed = () => earlierSeconds + (performance.now() - started) / 1000;
  let epochStarted = started;
  let epochImages = 0;
  let bar: Progress | null = null;
  let lastLr = flags.lr;
  let softwareNoteDone = !info.isSoftware;
  let noteFrom: { time: number; images: number } | null = null;
  const terminal = Deno.stdout.isTerminal();
  console.log(
    `training ${flags.epochs} epochs of ${stepsPerEpoch} steps (batch ${flags.batchSize})`,
  );
  console.log(`report: ${out}/report.html, rewritten every ${flags.logEvery} steps and epoch`);
  const live = (progress: string) => ({ live: { progress } });
  const say = (line: string) => {
    if (bar) bar.finish();
    bar = null;
    console.log(line);
  };
  const recipe = run.recipe;
  const checkpointMetadata = () => ({
    ...(recipe ? recipeMetadata(recipe) : {}),
    [METRICS_KEY]: JSON.stringify(
      {
        steps: metrics.steps,
        epochs: metrics.epochs,
        wallSeconds: elapsed(),
      } satisfies History,
    ),
  });

  const result = await fit(model, trainBatches, {
    optimizer,
    epochs: flags.epochs,
    loss: makeLoss(flags),
    schedule,
    logEvery: flags.logEvery,
    validation: testLoader,
    generators,
    checkpoint: flags.checkpoint
      ? {
        path: flags.checkpoint,
        metadata: checkpointMetadata,
        everySteps: flags.checkpointEvery ?? undefined,
      }
      : undefined,
    resume: flags.resume ?? undefined,
    onResume: () => applyOverrides(flags, optimizer),
    timeLimit: flags.timeLimit ?? undefined,
    log: say,
    onStep: (step) => {
      lastLr = step.lr;
      if (step.step === 1) {
        epochStarted = performance.now();
        epochImages = 0;
      }
      epochImages += step.batchSize;
      if (terminal) {
        bar ??= new Progress({ label: `epoch ${step.epoch}`, total: stepsPerEpoch });
        bar.set(step.step);
      }
      // Measured between steps 10 and 40, past the warm-up (pipeline creation, first uploads).
      if (step.globalStep === 10) noteFrom = { time: performance.now(), images: epochImages };
      if (!softwareNoteDone && step.globalStep === 40 && noteFrom) {
        softwareNoteDone = true;
        const rate = (epochImages - noteFrom.images) /
          ((performance.now() - noteFrom.time) / 1000);
        const seconds = totalSteps * flags.batchSize / rate;
        console.log(
          `note: ${info.description} is a software adapter: ${rate.toFixed(1)} images/s, ` +
            `about ${formatDuration(seconds)} for the whole run`,
        );
      }
    },
    onLog: async (log) => {
      metrics.steps.push({
        epoch: log.epoch,
        step: log.step,
        globalStep: log.globalStep,
        loss: log.loss,
        trainAccuracy: 100 * log.trainAccuracy,
        lr: lastLr,
      });
      metrics.wallSeconds = elapsed();
      await writeReport(
        out,
        metrics,
        live(`epoch ${log.epoch} of ${flags.epochs}, step ${log.step} of ${stepsPerEpoch}`),
      );
    },
    onEpochEnd: async (epoch) => {
      if (bar) bar.finish();
      bar = null;
      const seconds = (performance.now() - epochStarted) / 1000;
      const v = epoch.validation;
      metrics.epochs.push({
        epoch: epoch.epoch,
        trainLoss: epoch.trainLoss,
        trainAccuracy: 100 * epoch.trainAccuracy,
        testAccuracy: v ? 100 * v.accuracy : NaN,
        validationLoss: v ? v.loss : NaN,
        lr: lastLr,
        imagesPerSecond: epochImages / seconds,
        seconds: epoch.seconds,
      });
      if (v) recordEvaluation(metrics, v);
      metrics.wallSeconds = elapsed();
      await writeReport(out, metrics, live(`epoch ${epoch.epoch} of ${flags.epochs} done`));
      console.log(
        `epoch ${epoch.epoch}: train loss ${epoch.trainLoss.toFixed(4)}, train accuracy ${
          (100 * epoch.trainAccuracy).toFixed(2)
        } %, test accuracy ${v ? (100 * v.accuracy).toFixed(2) : "-"} %, ${
          (epochImages / seconds).toFixed(1)
        } images/s`,
      );
    },
  });
  if (result.stoppedBy === "timeLimit") {
    const done = result.trainState.globalStep;
    say(
      `time limit: ${flags.timeLimit} s reached after ${done} of ${totalSteps} steps ` +
        `(${(done / stepsPerEpoch).toFixed(2)} of ${flags.epochs} epochs)`,
    );
  }
  console.log("Finished training");

  // Stopped within an epoch, the last validation saw an older model: evaluate this one.
  const validated = result.trainState.step === 0 ? result.epochs.at(-1)?.validation : undefined;
  const last = validated ?? await evaluate(model, testLoader, { loss: makeLoss(flags) });
  printResults(last, run.train.classes);
  recordEvaluation(metrics, last);
  metrics.wallSeconds = elapsed();
}

/** Checks everything it can, then trains; returns the exit code. */
async function start(given: TrainFlags): Promise<number> {
  const resumed = given.resume === null ? null : await readResume(given.resume);
  const flags = resumed ? flagsForResume(given, resumed) : given;
  const out = flags.out ??
    `runs/${flags.model}-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;
  await checkOutputs(out, flags.checkpoint);

  await initGpu();
  const info = gpuInfo();
  console.log(`adapter: ${info.description}${info.isSoftware ? " (software rasterizer)" : ""}`);
  await checkBatchSize(flags, info.description);
  const model = createModel(flags.model, { seed: flags.seed });
  console.log(model.toString());
  console.log(`parameters: ${model.numParameters().toLocaleString("en-US")}`);

  const data = await loadData(flags);
  checkSameClasses(data.train, data.test);
  console.log(cacheLine());
  const train = limit(data.train, flags.trainLimit, flags.seed + 1);
  const test = limit(data.test, flags.testLimit, flags.seed + 2);
  console.log(`data: ${train.length} training and ${test.length} test images`);
  const stepsPerEpoch = Math.min(
    Math.ceil(train.length / flags.batchSize),
    flags.maxSteps ?? Infinity,
  );
  const recipe = flags.checkpoint || resumed
    ? await recipeOf(flags, train, test, stepsPerEpoch)
    : null;
  if (resumed?.recipe && recipe) checkData(resumed.recipe, recipe, flags, resumed.path);

  const metrics: RunMetrics = {
    model: flags.model,
    parameters: model.numParameters(),
    adapter: info.description,
    flags: { ...flags },
    seed: flags.seed,
    steps: [...resumed?.history?.steps ?? []],
    epochs: [...resumed?.history?.epochs ?? []],
    classes: [...train.classes],
    perClassAccuracy: [],
    confusion: [],
    testAccuracy: 0,
    validationLoss: 0,
    wallSeconds: 0,
  };
  // The checkpoint's folder is made by fit, which also removes temporaries of killed writes.
  if (!flags.lrFind) await Deno.mkdir(out, { recursive: true });
  try {
    await runTraining({ flags, out, model, train, test, recipe, resumed, info }, metrics);
  } catch (error) {
    if (flags.checkpoint) await removeStaleTemporaries(flags.checkpoint).catch(() => 0);
    if (flags.lrFind) throw error;
    const saved = await writeReport(out, metrics).then(() => true, () => false);
    const report = saved ? `the report of what was done is in ${out}/report.html` : "no report";
    throw new Error(`${oneLine(error)} (${report})`);
  }
  if (flags.lrFind) return 0;
  await writeReport(out, metrics);
  console.log(`\nreport: ${out}/report.html (${metrics.wallSeconds.toFixed(0)} s)`);
  await updateRunsIndex(out);
  return 0;
}

async function main(): Promise<number> {
  const models = modelNames();
  let flags: TrainFlags;
  try {
    flags = parseTrainFlags(Deno.args, models);
  } catch (error) {
    // A suggestion ("did you mean --epochs?") already names the flag to use.
    const message = oneLine(error);
    const hint = message.includes("did you mean") ? "" : " (--help lists every flag)";
    console.error(`error: ${message}${hint}`);
    return error instanceof FlagError ? 2 : 1;
  }
  if (flags.help) {
    console.log(helpText(models));
    return 0;
  }
  if (flags.clearCache) {
    clearCache();
    return 0;
  }
  try {
    return await start(flags);
  } catch (error) {
    console.error(`error: ${cliHint(oneLine(error))}`);
    return error instanceof FlagError ? 2 : 1;
  }
}

Deno.exit(await main());
