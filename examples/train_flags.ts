/**
 * Flags of examples/train.ts: parsing with `node:util` parseArgs, validation with messages that
 * name the flag and the value, the `--help` text, and the recipes (the article's part 1 recipe is
 * the default; `--recipe shake-shake` is the paper's).
 *
 * @module
 */

import { parseArgs } from "node:util";

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
  augment: "none" | "crop-flip" | "crop-flip-cutout";
  normalize: boolean;
  data: string | null;
  download: boolean;
  seed: number;
  checkpoint: string | null;
  resume: string | null;
  out: string | null;
  lrFind: boolean;
  logEvery: number;
  maxSteps: number | null;
  trainLimit: number | null;
  testLimit: number | null;
  recipe: "article" | "shake-shake";
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
const RECIPES = ["article", "shake-shake"] as const;

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
  augment: "none",
  normalize: false,
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
  augment: "crop-flip",
  normalize: true,
} as const;

/** The help text, listing every flag with its default. */
export function helpText(models: readonly string[]): string {
  return `Train a model from the article on CIFAR-10 with hajime (WebGPU).

Usage: deno run -A examples/train.ts [flags]

  --model NAME          one of: ${models.join(", ")} (default resnet)
  --recipe NAME         article (default: Adam 0.003, batch 32, 4 epochs, ToTensor only) or
                        shake-shake (SGD 0.2 Nesterov momentum 0.9, wd 1e-4, batch 128, cosine,
                        crop+flip, per-channel normalization, 1800 epochs); flags below override it
  --epochs N            epochs to train (article: 4)
  --batch-size N        images per step (article: 32)
  --optimizer NAME      adam | adamw | sgd (article: adam)
  --lr X                learning rate (article: 0.003)
  --momentum X          SGD momentum (default 0; shake-shake: 0.9)
  --nesterov            Nesterov momentum for SGD
  --weight-decay X      weight decay (default 0)
  --schedule NAME       none | cosine | step | one-cycle (article: none)
  --augment NAME        none | crop-flip | crop-flip-cutout (article: none)
  --normalize           per-channel normalization with CIFAR-10's mean and std
  --data PATH           an ImageFolder root with train/ and test/, or a folder with the official
                        binary files (default: ./data/cifar if it exists, else the cached official
                        archive, else download it)
  --no-download         never download; fail with a hint instead
  --seed N              seed of the one generator (default 0)
  --checkpoint PATH     save a checkpoint there after every epoch
  --resume PATH         resume from a checkpoint
  --out DIR             folder for the run's report (default runs/<model>-<timestamp>)
  --lr-find             run the learning-rate finder instead of training, print its suggestion
  --log-every N         log the running loss every N steps (default 500)
  --max-steps N         stop each epoch after N steps (quick runs)
  --train-limit N       use only N training images, a seeded random subset (quick runs)
  --test-limit N        use only N test images, a seeded random subset (quick runs)
  -h, --help            this text
`;
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

function choice<T extends string>(
  name: string,
  raw: string | undefined,
  fallback: T,
  allowed: readonly T[],
): T {
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new FlagError(`--${name}: "${raw}" is not one of ${allowed.join(", ")}`);
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
        augment: { type: "string" },
        normalize: { type: "boolean" },
        data: { type: "string" },
        "no-download": { type: "boolean" },
        seed: { type: "string" },
        checkpoint: { type: "string" },
        resume: { type: "string" },
        out: { type: "string" },
        "lr-find": { type: "boolean" },
        "log-every": { type: "string" },
        "max-steps": { type: "string" },
        "train-limit": { type: "string" },
        "test-limit": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new FlagError((error as Error).message);
  }
  const v = parsed.values;
  const recipe = choice("recipe", v.recipe, "article", RECIPES);
  const base = recipe === "shake-shake" ? SHAKE_SHAKE : ARTICLE;
  const model = v.model ?? (recipe === "shake-shake" ? "shake-shake-26-2x32d" : "resnet");
  if (!v.help && !models.includes(model)) {
    throw new FlagError(`--model: "${model}" is not one of ${models.join(", ")}`);
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
    augment: choice("augment", v.augment, base.augment, AUGMENTS),
    normalize: v.normalize ?? base.normalize,
    data: v.data ?? null,
    download: !v["no-download"],
    seed: number("seed", v.seed, 0, { integer: true, min: 0 }),
    checkpoint: v.checkpoint ?? null,
    resume: v.resume ?? null,
    out: v.out ?? null,
    lrFind: v["lr-find"] ?? false,
    logEvery: number("log-every", v["log-every"], 500, { integer: true, min: 1 }),
    maxSteps: optional("max-steps", v["max-steps"]),
    trainLimit: optional("train-limit", v["train-limit"]),
    testLimit: optional("test-limit", v["test-limit"]),
    help: v.help ?? false,
  };
  if (flags.nesterov && (flags.optimizer !== "sgd" || flags.momentum <= 0)) {
    throw new FlagError("--nesterov: needs --optimizer sgd and --momentum > 0 (as in PyTorch)");
  }
  if (flags.resume !== null && flags.lrFind) {
    throw new FlagError("--lr-find: cannot be combined with --resume");
  }
  return flags;
}
