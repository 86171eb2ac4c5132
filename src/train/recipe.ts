/**
 * A training run's recipe: everything that decides what the run computes (the model, the
 * optimizer and the schedule with their lengths, the batch size, augmentation, normalization, the
 * class names, the seed, and which data: a checksum of the pixels and labels). It travels in a
 * checkpoint's metadata under `hajime.recipe`, covered by the checkpoint's checksum, so a resumed
 * run can check its flags against the run it continues, and a checkpoint alone is enough to
 * rebuild and use its model.
 *
 * @module
 */

/** Which images a run used: how many, a SHA-256 of their pixels and labels, where from. */
export interface DataIdentity {
  /** Images in the set (after any subset). */
  images: number;
  /** SHA-256 (hex) of the class names, image size, labels and pixels (see {@link dataIdentity}). */
  sha256: string;
  /** The folder the images came from, when known (informative: identity is the checksum). */
  root: string | null;
}

/** The recipe of a training run (see the module docs). */
export interface Recipe {
  /** Registered model name (`createModel`). */
  model: string;
  /** The optimizer and its hyperparameters. */
  optimizer: {
    /** `adam`, `adamw` or `sgd`. */
    type: string;
    /** Base learning rate. */
    lr: number;
    /** SGD momentum (0 for Adam). */
    momentum: number;
    /** Nesterov momentum (SGD). */
    nesterov: boolean;
    /** Weight decay. */
    weightDecay: number;
    /** Whether BatchNorm parameters and biases are decayed too (older checkpoints lack it: true). */
    decayBnBias?: boolean;
  };
  /**
   * The learning-rate schedule and the steps it spans (`none`: constant); for one-cycle, where
   * the peak falls and whether momentum cycles (older checkpoints lack them: 0.3 and true).
   */
  schedule: { type: string; totalSteps: number; pctStart?: number; cycleMomentum?: boolean };
  /** The loss's label smoothing (older checkpoints lack it: 0). */
  labelSmoothing?: number;
  /** Epochs the run was planned for. */
  epochs: number;
  /** Optimizer steps per epoch. */
  stepsPerEpoch: number;
  /** The cap on steps per epoch, or null for whole epochs. */
  maxSteps: number | null;
  /** Images per step. */
  batchSize: number;
  /** Augmentation: `none`, `crop-flip` or `crop-flip-cutout`. */
  augment: string;
  /** Per-channel normalization of the inputs, or null for ToTensor's [0, 1] alone. */
  normalize: { mean: number[]; std: number[] } | null;
  /** Class names in label order. */
  classes: string[];
  /** Input images' [height, width]. */
  imageSize: [number, number];
  /** Seed of the run's generator. */
  seed: number;
  /** The data: where it was asked for, subset sizes, and the identity of each set. */
  data: {
    /** The data flag the run was given (null: the default place). */
    source: string | null;
    /** Training images kept (a seeded subset), or null for all. */
    trainLimit: number | null;
    /** Test images kept, or null for all. */
    testLimit: number | null;
    /** The training set. */
    train: DataIdentity;
    /** The test set. */
    test: DataIdentity;
  };
}

/** The metadata key holding the recipe as JSON. */
export const RECIPE_KEY = "hajime.recipe";

/**
 * The metadata entry that stores `recipe` in a checkpoint (pass it as `metadata`).
 *
 * @example
 * ```ts
 * import { type Recipe, recipeMetadata } from "@hajime/nn";
 * function metadataOf(recipe: Recipe): Record<string, string> {
 *   return recipeMetadata(recipe); // { "hajime.recipe": "{...}" }
 * }
 * console.log(metadataOf.length); // 1
 * ```
 */
export function recipeMetadata(recipe: Recipe): Record<string, string> {
  return { [RECIPE_KEY]: JSON.stringify(recipe) };
}

type Check = (value: unknown) => boolean;
const isNumber: Check = (v) => typeof v === "number" && Number.isFinite(v);
const isCount: Check = (v) => Number.isInteger(v) && (v as number) >= 0;
const isString: Check = (v) => typeof v === "string";
const isBoolean: Check = (v) => typeof v === "boolean";
const orNull = (check: Check): Check => (v) => v === null || check(v);
/** A field later versions added: older checkpoints lack it. */
const optional = (check: Check): Check => (v) => v === undefined || check(v);
const isNumbers: Check = (v) => Array.isArray(v) && v.every(isNumber);
const isStrings: Check = (v) => Array.isArray(v) && v.every(isString);

/** Each field of a recipe (dotted path) and what it must be. */
const FIELDS: [string, Check][] = [
  ["model", isString],
  ["optimizer.type", isString],
  ["optimizer.lr", isNumber],
  ["optimizer.momentum", isNumber],
  ["optimizer.nesterov", isBoolean],
  ["optimizer.weightDecay", isNumber],
  ["optimizer.decayBnBias", optional(isBoolean)],
  ["schedule.type", isString],
  ["schedule.totalSteps", isCount],
  ["schedule.pctStart", optional(isNumber)],
  ["schedule.cycleMomentum", optional(isBoolean)],
  ["labelSmoothing", optional(isNumber)],
  ["epochs", isCount],
  ["stepsPerEpoch", isCount],
  ["maxSteps", orNull(isCount)],
  ["batchSize", isCount],
  ["augment", isString],
  ["normalize", (v) => v === null || (isNumbers(field(v, "mean")) && isNumbers(field(v, "std")))],
  ["classes", isStrings],
  ["imageSize", (v) => Array.isArray(v) && v.length === 2 && v.every(isCount)],
  ["seed", isCount],
  ["data.source", orNull(isString)],
  ["data.trainLimit", orNull(isCount)],
  ["data.testLimit", orNull(isCount)],
  ...["train", "test"].flatMap((set): [string, Check][] => [
    [`data.${set}.images`, isCount],
    [`data.${set}.sha256`, isString],
    [`data.${set}.root`, orNull(isString)],
  ]),
];

function field(value: unknown, path: string): unknown {
  let at = value;
  for (const key of path.split(".")) {
    at = at !== null && typeof at === "object" ? (at as Record<string, unknown>)[key] : undefined;
  }
  return at;
}

/**
 * The recipe in a checkpoint's metadata, or null when it has none (weights saved by PyTorch or
 * by `saveModelWeights`). A recipe with a missing or mistyped field is an error naming `source`
 * and the field.
 *
 * @example
 * ```ts
 * import { readRecipe, readSafetensors } from "@hajime/nn";
 * const path = "run/checkpoint.safetensors";
 * const recipe = readRecipe((await readSafetensors(path)).metadata, path);
 * console.log(recipe?.model, recipe?.classes);
 * ```
 */
export function readRecipe(
  metadata: Readonly<Record<string, string>>,
  source: string,
): Recipe | null {
  const text = metadata[RECIPE_KEY];
  if (text === undefined) return null;
  let recipe: unknown;
  try {
    recipe = JSON.parse(text);
  } catch {
    throw new Error(`${source}: metadata "${RECIPE_KEY}" is not JSON`);
  }
  const bad = FIELDS.filter(([path, check]) => !check(field(recipe, path))).map(([path]) => path);
  if (bad.length > 0) {
    throw new Error(`${source}: metadata "${RECIPE_KEY}" has a missing or bad ${bad.join(", ")}`);
  }
  return recipe as Recipe;
}

function hex(digest: ArrayBuffer): string {
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The identity of a labelled image set: its size and a SHA-256 over its class names, image size,
 * labels and pixels, so a resumed run can tell whether it has the same data (a renamed class, a
 * changed label or pixel, another subset all change it).
 *
 * @example
 * ```ts
 * import { dataIdentity, ImageDataset } from "@hajime/nn";
 * const data = new ImageDataset({
 *   images: new Uint8Array(2 * 32 * 32 * 3), labels: new Int32Array([0, 1]),
 *   classes: ["cat", "dog"], height: 32, width: 32,
 * });
 * console.log((await dataIdentity(data)).sha256);
 * ```
 */
export async function dataIdentity(dataset: {
  readonly images: Uint8Array;
  readonly labels: Int32Array;
  readonly classes: readonly string[];
  readonly height: number;
  readonly width: number;
  readonly root?: string;
}): Promise<DataIdentity> {
  const { images, labels, classes, height, width } = dataset;
  const [pixels, labelBytes] = await Promise.all([
    crypto.subtle.digest("SHA-256", images as Uint8Array<ArrayBuffer>),
    crypto.subtle.digest("SHA-256", labels as Int32Array<ArrayBuffer>),
  ]);
  const summary = JSON.stringify({
    classes,
    height,
    width,
    pixels: hex(pixels),
    labels: hex(labelBytes),
  });
  return {
    images: labels.length,
    sha256: hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(summary))),
    root: dataset.root ?? null,
  };
}
