/**
 * Flags of examples/train.ts: parsing with `node:util` parseArgs, validation with messages that
 * name the flag and the value, the `--help` text, the recipes (the article's part 1 recipe is
 * the default; `--recipe fast` is what part 2 brings before Shake-Shake; `--recipe shake-shake`
 * is the paper's), and the optimizer, schedule and loss the flags make.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  Adam,
  AdamW,
  type AnyOptimizer,
  cosineAnnealing,
  CrossEntropyLoss,
  type Module,
  oneCycle,
  paramGroupsNoDecay,
  type Recipe,
  type Schedule,
  SGD,
  stepDecay,
} from "../mod.ts";

/** The parsed, validated flags of a training run. */
export interface TrainFlags {
  model: string;
  epochs: number;
  batchSize: number;
  optimizer: "adam" | "adamw" | "sgd";
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  schedule: "none" | "cosine" | "step" | "one-cycle";
  /** One-cycle: the fraction of the steps spent rising to the peak (PyTorch's `pct_start`). */
  pctStart: number;
  /** One-cycle: cycle the momentum inversely to the rate (PyTorch's `cycle_momentum`). */
  cycleMomentum: boolean;
  /** Weight decay on BatchNorm parameters and biases too (false: on weights only). */
  decayBnBias: boolean;
  /** CrossEntropyLoss's label smoothing ε. */
  labelSmoothing: number;
  augment: "none" | "crop-flip" | "crop-flip-cutout";
  normalize: boolean;
  data: string | null;
  download: boolean;
  skipBroken: boolean;
  clearCache: boolean;
  seed: number;
  checkpoint: string | null;
  /** Steps between checkpoints within an epoch (null: at epoch ends only). */
  checkpointEvery: number | null;
  resume: string | null;
  out: string | null;
  lrFind: boolean;
  logEvery: number;
  maxSteps: number | null;
  /**
   * Seconds the training may take, validation included: it stops after the step during which
   * they ran out, then the model is evaluated and reported as at the end (null: no limit).
   */
  timeLimit: number | null;
  trainLimit: number | null;
  testLimit: number | null;
  recipe: "article" | "fast" | "shake-shake";
  /** With `--resume`: the flags to take where they contradict the checkpoint's recipe. */
  override: string[];
  /** The recipe flags given on the command line (a `--recipe` gives every flag it sets). */
  given: string[];
  help: boolean;
}

/** A bad flag or value: examples/train.ts prints the message and exits with code 2. */
export class FlagError extends Error {
  /** Creates the error with a message naming the flag and the value at fault. */
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

const OPTIMIZERS = ["adam", "adamw", "sgd"] as const;
const SCHEDULES = ["none", "cosine", "step", "one-cycle"] as const;
const AUGMENTS = ["none", "crop-flip", "crop-flip-cutout"] as const;
const RECIPES = ["article", "fast", "shake-shake"] as const;

/** The article's recipe (part 1): the defaults. */
const ARTICLE = {
  epochs: 4,
  batchSize: 32,
  optimizer: "adam",
  lr: 0.003,
  momentum: 0,
  nesterov: false,
  weightDecay: 0,
  schedule: "none",
  pctStart: 0.3,
  cycleMomentum: true,
  decayBnBias: true,
  labelSmoothing: 0,
  augment: "none",
  normalize: false,
} as const;

/**
 * Part 2 of the series before Shake-Shake, on the article's Resnet: random crop (pad 4, per
 * image) and flip, per-channel normalization, SGD with Nesterov momentum 0.9 (held, not cycled),
 * weight decay 5e-4 on weights only, one-cycle learning rate peaking at 0.1 after a quarter of
 * the steps, label smoothing 0.1, batch 128, 10 epochs.
 */
const FAST = {
  epochs: 10,
  batchSize: 128,
  optimizer: "sgd",
  lr: 0.1,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  schedule: "one-cycle",
  pctStart: 0.25,
  cycleMomentum: false,
  decayBnBias: false,
  labelSmoothing: 0.1,
  augment: "crop-flip",
  normalize: true,
} as const;

/** The Shake-Shake paper's recipe (part 2). */
const SHAKE_SHAKE = {
  epochs: 1800,
  batchSize: 128,
  optimizer: "sgd",
  lr: 0.2,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 1e-4,
  schedule: "cosine",
  pctStart: 0.3,
  cycleMomentum: true,
  decayBnBias: true,
  labelSmoothing: 0,
  augment: "crop-flip",
  normalize: true,
} as const;

/** The flags a checkpoint's recipe records, with where the recipe keeps each. */
const RECIPE_FLAGS: readonly {
  flag: string;
  key: keyof TrainFlags;
  saved: (recipe: Recipe) => TrainFlags[keyof TrainFlags];
}[] = [
  { flag: "model", key: "model", saved: (r) => r.model },
  { flag: "optimizer", key: "optimizer", saved: (r) => r.optimizer.type },
  { flag: "lr", key: "lr", saved: (r) => r.optimizer.lr },
  { flag: "momentum", key: "momentum", saved: (r) => r.optimizer.momentum },
  { flag: "nesterov", key: "nesterov", saved: (r) => r.optimizer.nesterov },
  { flag: "weight-decay", key: "weightDecay", saved: (r) => r.optimizer.weightDecay },
  { flag: "schedule", key: "schedule", saved: (r) => r.schedule.type },
  // Older checkpoints lack these four: they ran with the values then fixed.
  { flag: "pct-start", key: "pctStart", saved: (r) => r.schedule.pctStart ?? 0.3 },
  {
    flag: "no-cycle-momentum",
    key: "cycleMomentum",
    saved: (r) => r.schedule.cycleMomentum ?? true,
  },
  { flag: "no-decay-bn-bias", key: "decayBnBias", saved: (r) => r.optimizer.decayBnBias ?? true },
  { flag: "label-smoothing", key: "labelSmoothing", saved: (r) => r.labelSmoothing ?? 0 },
  { flag: "epochs", key: "epochs", saved: (r) => r.epochs },
  { flag: "max-steps", key: "maxSteps", saved: (r) => r.maxSteps },
  { flag: "batch-size", key: "batchSize", saved: (r) => r.batchSize },
  { flag: "augment", key: "augment", saved: (r) => r.augment },
  { flag: "normalize", key: "normalize", saved: (r) => r.normalize !== null },
  { flag: "seed", key: "seed", saved: (r) => r.seed },
  { flag: "data", key: "data", saved: (r) => r.data.source },
  { flag: "train-limit", key: "trainLimit", saved: (r) => r.data.trainLimit },
  { flag: "test-limit", key: "testLimit", saved: (r) => r.data.testLimit },
];

/** What a resumed run cannot change: the checkpoint's weights and optimizer state fit only these. */
const FIXED = ["model", "optimizer"];

/** The names `--override` takes: every recipe flag but the fixed ones. */
export const OVERRIDABLE: readonly string[] = RECIPE_FLAGS.map((f) => f.flag).filter((flag) =>
  !FIXED.includes(flag)
);

/** The flags each recipe preset sets (they count as given). */
const PRESET_FLAGS = [
  "model",
  "epochs",
  "batch-size",
  "optimizer",
  "lr",
  "momentum",
  "nesterov",
  "weight-decay",
  "schedule",
  "pct-start",
  "no-cycle-momentum",
  "no-decay-bn-bias",
  "label-smoothing",
  "augment",
  "normalize",
];

const BASES = { article: ARTICLE, fast: FAST, "shake-shake": SHAKE_SHAKE } as const;

/** The help text, listing every flag with its default. */
export function helpText(models: readonly string[]): string {
  return `Train a model from the article on CIFAR-10 with hajime (WebGPU).

Usage: deno run ${TRAIN_PERMISSIONS} examples/train.ts [flags]

  --model NAME          one of: ${models.join(", ")} (default resnet)
  --recipe NAME         article (default: Adam 0.003, batch 32, 4 epochs, ToTensor only),
                        fast (resnet, SGD Nesterov momentum 0.9, wd 5e-4 on weights only,
                        one-cycle to lr 0.1 at 25 % of the steps, label smoothing 0.1, batch 128,
                        crop+flip, per-channel normalization, 10 epochs) or shake-shake (SGD 0.2
                        Nesterov momentum 0.9, wd 1e-4, batch 128, cosine, crop+flip, per-channel
                        normalization, 1800 epochs); flags below override it
  --epochs N            epochs to train (article: 4)
  --batch-size N        images per step (article: 32)
  --optimizer NAME      adam | adamw | sgd (article: adam)
  --lr X                learning rate (article: 0.003)
  --momentum X          SGD momentum (default 0; shake-shake: 0.9)
  --nesterov            Nesterov momentum for SGD
  --weight-decay X      weight decay (default 0)
  --schedule NAME       none | cosine | step | one-cycle (article: none)
  --pct-start X         one-cycle: fraction of the steps rising to the peak lr (default 0.3;
                        fast: 0.25)
  --no-cycle-momentum   one-cycle: keep the momentum fixed instead of cycling it 0.95-0.85
  --no-decay-bn-bias    weight decay on conv and linear weights only, not BatchNorm or biases
  --label-smoothing X   label smoothing of the cross-entropy loss, in [0, 1] (default 0; fast: 0.1)
  --augment NAME        none | crop-flip | crop-flip-cutout (article: none)
  --normalize           per-channel normalization with CIFAR-10's mean and std
  --data PATH           an ImageFolder root with train/ and test/, or a folder with the official
                        binary files (default: ./data/cifar if it exists, else the cached official
                        archive, else download it)
  --no-download         never download; fail with a hint instead
  --skip-broken         leave unreadable or corrupt images of an ImageFolder out (warning each)
  --clear-cache         delete the decoded-image cache (its folder and size are printed every
                        run), then exit
  --seed N              seed of the one generator (default 0)
  --checkpoint PATH     save a checkpoint there after every epoch
  --checkpoint-every N  with --checkpoint, also every N steps within an epoch (long epochs on a
                        slow adapter: a killed run resumes from the last one)
  --resume PATH         resume from a checkpoint: its recipe (model, optimizer, schedule, epochs,
                        batch size, augmentation, normalization, seed, data) is taken for every
                        flag not given; a given flag that contradicts it is an error
  --override A,B,...    with --resume, take these flags where they contradict the checkpoint: ${
    OVERRIDABLE.join(", ")
  }
  --out DIR             folder for the run's report (default runs/<model>-<timestamp>)
  --lr-find             run the learning-rate finder instead of training, print its suggestion
  --log-every N         log the running loss every N steps (default 500)
  --max-steps N         stop each epoch after N steps (quick runs)
  --time-limit S        stop training after the step during which S seconds of it (validation
                        included) ran out, then evaluate and report as at the end; the schedule
                        still plans for --epochs (a fixed budget on a machine lent for minutes)
  --train-limit N       use only N training images, a seeded random subset (quick runs)
  --test-limit N        use only N test images, a seeded random subset (quick runs)
  -h, --help            this text

Permissions: ${TRAIN_PERMISSIONS_HELP}
`;
}

/**
 * The permissions examples/train.ts needs, narrowest first: read the data, the cache and its own
 * modules (the decode workers); write the run's folder, checkpoints and the cache; the
 * environment (`HOME`, `XDG_CACHE_HOME`, `HAJIME_*`); the network only to download CIFAR-10.
 */
export const TRAIN_PERMISSIONS =
  "--allow-read --allow-write --allow-env --allow-net=www.cs.toronto.edu";

const TRAIN_PERMISSIONS_HELP = `${TRAIN_PERMISSIONS}
  --allow-read    the data, the decoded-image and kernel caches, a --resume checkpoint, and the
                  decoding workers' module files
  --allow-write   the run's folder (--out), runs/index.html, --checkpoint, the caches
  --allow-env     HOME, XDG_CACHE_HOME, HAJIME_CACHE_DIR, HAJIME_AUTOTUNE, HAJIME_KERNEL_CACHE
  --allow-net     www.cs.toronto.edu, only when the CIFAR-10 archive is downloaded (--no-download
                  or --data need none)
  Without --allow-env and --allow-write outside the run's folder, the caches are off.`;

/**
 * The Levenshtein distance between `a` and `b`: the fewest single-character insertions,
 * deletions and substitutions turning one into the other.
 *
 * @example
 * ```ts
 * console.log(editDistance("--epoch", "--epochs")); // 1
 * ```
 */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min(previous[j] + 1, row[j - 1] + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length];
}

/**
 * The candidate closest to `word` by {@link editDistance}, when it is close enough to be a
 * typo (at most 2 edits, and at most a third of the word's length); else null.
 *
 * @example
 * ```ts
 * console.log(closest("--epoch", ["--epochs", "--lr"])); // "--epochs"
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.min(2, Math.ceil(word.length / 3));
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance <= bestDistance && (best === null || distance < bestDistance)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** "; did you mean X?" when a candidate X is close to `word`, else "". */
function didYouMean(word: string, candidates: readonly string[]): string {
  const suggestion = closest(word, candidates);
  return suggestion === null ? "" : `; did you mean ${suggestion}?`;
}

/** parseArgs' message, with "did you mean --x?" for an unknown flag close to one --help lists. */
function parseErrorMessage(error: Error, models: readonly string[]): string {
  const unknown = /^Unknown option '(-{1,2}[^'=]+)/.exec(error.message)?.[1];
  if (unknown === undefined) return error.message;
  const flags = [...helpText(models).matchAll(/^ {2}(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) =>
    m[1]
  );
  return `${unknown}: unknown flag${didYouMean(unknown, flags)}`;
}

function number(
  name: string,
  raw: string | undefined,
  fallback: number,
  { integer = false, min = -Infinity, exclusiveMin = false } = {},
): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  const tooSmall = exclusiveMin ? value <= min : value < min;
  if (
    raw.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value)) ||
    tooSmall
  ) {
    const kind = integer ? "an integer" : "a number";
    const bound = min === -Infinity ? "" : ` ${exclusiveMin ? ">" : "≥"} ${min}`;
    throw new FlagError(`--${name}: "${raw}" is not ${kind}${bound}`);
  }
  return value;
}

/** A number in [0, 1] (or (0, 1] with `exclusiveMin`). */
function fraction(
  name: string,
  raw: string | undefined,
  fallback: number,
  { exclusiveMin = false } = {},
): number {
  const value = number(name, raw, fallback, { min: 0, exclusiveMin });
  if (value > 1) throw new FlagError(`--${name}: "${raw}" is more than 1`);
  return value;
}

function choice<T extends string>(
  name: string,
  raw: string | undefined,
  fallback: T,
  allowed: readonly T[],
): T {
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new FlagError(
      `--${name}: "${raw}" is not one of ${allowed.join(", ")}${didYouMean(raw, allowed)}`,
    );
  }
  return raw as T;
}

/**
 * Parses `args` into validated flags. Throws FlagError on an unknown flag or a bad value.
 *
 * @example
 * ```ts
 * const flags = parseTrainFlags(["--model", "basic-cnn", "--epochs", "1"], ["basic-cnn"]);
 * ```
 */
export function parseTrainFlags(args: string[], models: readonly string[]): TrainFlags {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: "string" },
        recipe: { type: "string" },
        epochs: { type: "string" },
        "batch-size": { type: "string" },
        optimizer: { type: "string" },
        lr: { type: "string" },
        momentum: { type: "string" },
        nesterov: { type: "boolean" },
        "weight-decay": { type: "string" },
        schedule: { type: "string" },
        "pct-start": { type: "string" },
        "no-cycle-momentum": { type: "boolean" },
        "no-decay-bn-bias": { type: "boolean" },
        "label-smoothing": { type: "string" },
        augment: { type: "string" },
        normalize: { type: "boolean" },
        data: { type: "string" },
        "no-download": { type: "boolean" },
        "skip-broken": { type: "boolean" },
        "clear-cache": { type: "boolean" },
        seed: { type: "string" },
        checkpoint: { type: "string" },
        "checkpoint-every": { type: "string" },
        resume: { type: "string" },
        out: { type: "string" },
        "lr-find": { type: "boolean" },
        "log-every": { type: "string" },
        "max-steps": { type: "string" },
        "time-limit": { type: "string" },
        "train-limit": { type: "string" },
        "test-limit": { type: "string" },
        override: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new FlagError(parseErrorMessage(error as Error, models));
  }
  const v = parsed.values;
  const recipe = choice("recipe", v.recipe, "article", RECIPES);
  const base = BASES[recipe];
  const model = v.model ?? (recipe === "shake-shake" ? "shake-shake-26-2x32d" : "resnet");
  if (!v.help && !models.includes(model)) {
    throw new FlagError(
      `--model: "${model}" is not one of ${models.join(", ")}${didYouMean(model, models)}`,
    );
  }
  const optional = (name: string, raw: string | undefined) =>
    raw === undefined ? null : number(name, raw, 0, { integer: true, min: 1 });
  const flags: TrainFlags = {
    model,
    recipe,
    epochs: number("epochs", v.epochs, base.epochs, { integer: true, min: 1 }),
    batchSize: number("batch-size", v["batch-size"], base.batchSize, { integer: true, min: 1 }),
    optimizer: choice("optimizer", v.optimizer, base.optimizer, OPTIMIZERS),
    lr: number("lr", v.lr, base.lr, { min: 0, exclusiveMin: true }),
    momentum: number("momentum", v.momentum, base.momentum, { min: 0 }),
    nesterov: v.nesterov ?? base.nesterov,
    weightDecay: number("weight-decay", v["weight-decay"], base.weightDecay, { min: 0 }),
    schedule: choice("schedule", v.schedule, base.schedule, SCHEDULES),
    pctStart: fraction("pct-start", v["pct-start"], base.pctStart, { exclusiveMin: true }),
    cycleMomentum: v["no-cycle-momentum"] ? false : base.cycleMomentum,
    decayBnBias: v["no-decay-bn-bias"] ? false : base.decayBnBias,
    labelSmoothing: fraction("label-smoothing", v["label-smoothing"], base.labelSmoothing),
    augment: choice("augment", v.augment, base.augment, AUGMENTS),
    normalize: v.normalize ?? base.normalize,
    data: v.data ?? null,
    download: !v["no-download"],
    skipBroken: v["skip-broken"] ?? false,
    clearCache: v["clear-cache"] ?? false,
    seed: number("seed", v.seed, 0, { integer: true, min: 0 }),
    checkpoint: v.checkpoint ?? null,
    checkpointEvery: optional("checkpoint-every", v["checkpoint-every"]),
    resume: v.resume ?? null,
    out: v.out ?? null,
    lrFind: v["lr-find"] ?? false,
    logEvery: number("log-every", v["log-every"], 500, { integer: true, min: 1 }),
    maxSteps: optional("max-steps", v["max-steps"]),
    timeLimit: v["time-limit"] === undefined
      ? null
      : number("time-limit", v["time-limit"], 0, { min: 0, exclusiveMin: true }),
    trainLimit: optional("train-limit", v["train-limit"]),
    testLimit: optional("test-limit", v["test-limit"]),
    override: v.override === undefined ? [] : v.override.split(",").map((name) => name.trim()),
    given: RECIPE_FLAGS.map((f) => f.flag).filter((flag) =>
      (v as Record<string, unknown>)[flag] !== undefined ||
      (v.recipe !== undefined && PRESET_FLAGS.includes(flag))
    ),
    help: v.help ?? false,
  };
  if (flags.checkpointEvery !== null && flags.checkpoint === null) {
    throw new FlagError("--checkpoint-every: give --checkpoint too (where to save)");
  }
  if (flags.nesterov && (flags.optimizer !== "sgd" || flags.momentum <= 0)) {
    throw new FlagError("--nesterov: needs --optimizer sgd and --momentum > 0 (as in PyTorch)");
  }
  if (flags.resume !== null && flags.lrFind) {
    throw new FlagError("--lr-find: cannot be combined with --resume");
  }
  if (flags.override.length > 0 && flags.resume === null) {
    throw new FlagError("--override: only means something with --resume");
  }
  for (const name of flags.override) {
    if (!OVERRIDABLE.includes(name)) {
      const why = FIXED.includes(name)
        ? "a checkpoint's weights and optimizer state fit only its own"
        : `not one of ${OVERRIDABLE.join(", ")}`;
      throw new FlagError(`--override: "${name}" cannot be overridden (${why})`);
    }
    if (!flags.given.includes(name) && name !== "data") {
      throw new FlagError(`--override ${name}: give --${name} too (the value to use)`);
    }
  }
  return flags;
}

function shown(value: TrainFlags[keyof TrainFlags]): string {
  if (value === null) return "unset";
  return typeof value === "boolean" ? (value ? "on" : "off") : String(value);
}

/** Whether a recipe flag's value, given the schedule, changes what the run computes. */
function lengthFree(flag: string, schedule: string): boolean {
  // Without a schedule nothing depends on the planned length: more epochs continue exactly as
  // a longer run would have.
  return flag === "epochs" && schedule === "none";
}

/**
 * The flags of a run that resumes a checkpoint with `recipe`: every recipe flag not given takes
 * the checkpoint's value; a given one that contradicts it is a FlagError naming both values,
 * unless `--override` names it (`model` and `optimizer` never can). Changing `--epochs` is no
 * contradiction without a schedule (the run then equals one planned that long); with one, the
 * schedule's length would change, so it needs `--override epochs`. Another `--data` path is no
 * contradiction either: the data is checked by content once loaded (`--override data` lets
 * other content through).
 *
 * @example
 * ```ts
 * import { readRecipe, readSafetensors } from "../mod.ts";
 * import { parseTrainFlags, resumeFlags } from "./train_flags.ts";
 * const flags = parseTrainFlags(["--resume", "ck.safetensors"], ["basic-cnn"]);
 * const recipe = readRecipe((await readSafetensors("ck.safetensors")).metadata, "ck.safetensors");
 * const resumed = recipe ? resumeFlags(flags, recipe, "ck.safetensors") : flags;
 * ```
 */
export function resumeFlags(flags: TrainFlags, recipe: Recipe, path: string): TrainFlags {
  const merged: Record<string, unknown> = { ...flags };
  const schedule = flags.given.includes("schedule") ? flags.schedule : recipe.schedule.type;
  const contradictions: string[] = [];
  for (const { flag, key, saved } of RECIPE_FLAGS) {
    const value = saved(recipe);
    if (!flags.given.includes(flag)) merged[key] = value;
    else if (
      flags[key] !== value && !flags.override.includes(flag) &&
      !lengthFree(flag, schedule) && flag !== "data"
    ) {
      contradictions.push(
        `--${flag} ${shown(flags[key])} contradicts the checkpoint's ${shown(value)}` +
          (FIXED.includes(flag) ? " (cannot be overridden)" : ""),
      );
    }
  }
  if (contradictions.length > 0) {
    const free = flags.given.filter((flag) =>
      !FIXED.includes(flag) && contradictions.some((c) => c.startsWith(`--${flag} `))
    );
    throw new FlagError(
      `--resume ${path}: ${contradictions.join("; ")}. Drop the flag to continue the ` +
        `checkpoint's recipe` + (free.length > 0 ? `, or pass --override ${free.join(",")}` : ""),
    );
  }
  return merged as unknown as TrainFlags;
}

/**
 * The optimizer the flags ask for on `model`'s parameters: with `decayBnBias` false, weight decay
 * on conv and linear weights only (`paramGroupsNoDecay`).
 *
 * @example
 * ```ts
 * import { initGpu, resnet } from "../mod.ts";
 * await initGpu();
 * const optimizer = makeOptimizer(parseTrainFlags(["--recipe", "fast"], ["resnet"]), resnet());
 * console.log(optimizer.groups.length); // 2: weights with decay 5e-4, BatchNorm and biases without
 * ```
 */
export function makeOptimizer(flags: TrainFlags, model: Module): AnyOptimizer {
  const { lr, weightDecay } = flags;
  const params = flags.decayBnBias ? model : paramGroupsNoDecay(model, weightDecay);
  if (flags.optimizer === "adam") return new Adam(params, { lr, weightDecay });
  if (flags.optimizer === "adamw") return new AdamW(params, { lr, weightDecay });
  return new SGD(params, { lr, momentum: flags.momentum, nesterov: flags.nesterov, weightDecay });
}

/**
 * The learning-rate schedule the flags ask for over `totalSteps` (none for `--schedule none`).
 *
 * @example
 * ```ts
 * const flags = parseTrainFlags(["--recipe", "fast"], ["resnet"]);
 * console.log(makeSchedule(flags, 1000)?.lr(249, flags.lr)); // 0.1, the peak
 * ```
 */
export function makeSchedule(flags: TrainFlags, totalSteps: number): Schedule | undefined {
  switch (flags.schedule) {
    case "cosine":
      return cosineAnnealing({ totalSteps });
    case "step":
      return stepDecay({ stepSize: Math.max(1, Math.floor(totalSteps / 3)) });
    case "one-cycle":
      return oneCycle({
        totalSteps,
        maxLr: flags.lr,
        pctStart: flags.pctStart,
        cycleMomentum: flags.cycleMomentum,
      });
    default:
      return undefined;
  }
}

/**
 * The loss the flags ask for: `CrossEntropyLoss`, with `--label-smoothing`.
 *
 * @example
 * ```ts
 * console.log(`${makeLoss(parseTrainFlags(["--recipe", "fast"], ["resnet"]))}`);
 * ```
 */
export function makeLoss(flags: TrainFlags): CrossEntropyLoss {
  return new CrossEntropyLoss({ labelSmoothing: flags.labelSmoothing });
}
