/**
 * The pieces of examples/predict.ts, kept apart so tests can call them: flag parsing, finding
 * image files (recursively in folders), decoding them into one packed batch, running a model in
 * eval mode on the GPU in batches, softmax on the CPU and the top-k classes per image.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  CIFAR10_MEAN,
  CIFAR10_STD,
  decodeImage,
  imageDecodersReady,
  loadModelWeights,
  type Module,
  noGrad,
  readRecipe,
  readSafetensors,
  Tensor,
} from "../mod.ts";
import { imagesToTensor } from "../gpu.ts";
import { FlagError } from "./train_flags.ts";

/**
 * CIFAR-10's class names in ImageFolder order (sorted folder names), the label order a model
 * trained by examples/train.ts on a CIFAR-10 image folder uses.
 *
 * @example
 * ```ts
 * import { CIFAR10_CLASSES } from "./predict_lib.ts";
 * console.log(CIFAR10_CLASSES[3]); // "cat"
 * ```
 */
export const CIFAR10_CLASSES: readonly string[] = Object.freeze([
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
]);

/**
 * CIFAR-10's per-channel mean and standard deviation: `--normalize` in examples/train.ts, so the
 * same flag here feeds a model the inputs it was trained on.
 *
 * @example
 * ```ts
 * import { CIFAR_NORMALIZE } from "./predict_lib.ts";
 * console.log(CIFAR_NORMALIZE.mean); // [0.4914, 0.4822, 0.4465]
 * ```
 */
export const CIFAR_NORMALIZE: {
  readonly mean: readonly number[];
  readonly std: readonly number[];
} = { mean: CIFAR10_MEAN, std: CIFAR10_STD };

/** File name endings a folder is searched for (case-insensitive), as imageFolder reads. */
const EXTENSIONS = [".jpg", ".jpeg", ".png"];

/**
 * The parsed, validated flags of examples/predict.ts.
 *
 * @example
 * ```ts
 * import { parsePredictFlags, type PredictFlags } from "./predict_lib.ts";
 * const flags: PredictFlags = parsePredictFlags(["--checkpoint", "c.safetensors", "a.png"], [
 *   "resnet",
 * ]);
 * ```
 */
export interface PredictFlags {
  /** The checkpoint or weights file (safetensors). */
  checkpoint: string;
  /** Registered model name, or null to take the checkpoint's. */
  model: string | null;
  /** Class names in label order, or null to take the checkpoint's (else CIFAR-10's). */
  classes: string[] | null;
  /** Normalise with CIFAR-10's mean and std (as `--normalize` in training); else as trained. */
  normalize: boolean;
  /** Image files and folders to classify. */
  paths: string[];
  /** Images per GPU batch. */
  batchSize: number;
  /** Print the help text and exit. */
  help: boolean;
}

/**
 * The help text of examples/predict.ts.
 *
 * @example
 * ```ts
 * import { predictHelp } from "./predict_lib.ts";
 * console.log(predictHelp(["basic-cnn", "resnet"]));
 * ```
 */
export function predictHelp(models: readonly string[]): string {
  return `Classify images with a trained model: the top 3 classes and their probabilities per image.

Usage: deno run -A examples/predict.ts --checkpoint PATH [flags] IMAGE_OR_FOLDER...

  --checkpoint PATH     a checkpoint written by examples/train.ts --checkpoint, or a weights
                        file (saveModelWeights, or PyTorch's safetensors save_file) (required)
  --model NAME          one of: ${models.join(", ")} (default: the checkpoint's;
                        required for a weights file, which does not say)
  --classes A,B,...     class names in label order (default: the checkpoint's, else CIFAR-10's:
                        ${CIFAR10_CLASSES.join(",")})
  --normalize           per-channel normalization with CIFAR-10's mean and std (default: as the
                        checkpoint was trained; for a weights file, give it when the model was
                        trained with --normalize)
  --batch-size N        images per GPU batch (default 64)
  -h, --help            this text

A checkpoint from examples/train.ts needs no other flag: it records the model, the normalization,
the class names and the image size; a flag that contradicts it is an error. Folders are searched
recursively for .jpg, .jpeg and .png files; every image must have the size the model was trained
on (32×32 for CIFAR).
`;
}

/**
 * Parses `args` into validated flags. Throws FlagError, naming the flag, on an unknown flag, a
 * bad value, a missing `--checkpoint` or no image paths.
 *
 * @example
 * ```ts
 * import { parsePredictFlags } from "./predict_lib.ts";
 * const flags = parsePredictFlags(["--checkpoint", "ckpt.safetensors", "cat.png"], ["resnet"]);
 * ```
 */
export function parsePredictFlags(args: string[], models: readonly string[]): PredictFlags {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        checkpoint: { type: "string" },
        model: { type: "string" },
        classes: { type: "string" },
        normalize: { type: "boolean" },
        "batch-size": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new FlagError((error as Error).message);
  }
  const v = parsed.values;
  const help = v.help ?? false;
  const model = v.model ?? null;
  if (model !== null && !models.includes(model)) {
    throw new FlagError(`--model: "${model}" is not one of ${models.join(", ")}`);
  }
  const classes = v.classes === undefined ? null : v.classes.split(",").map((name) => name.trim());
  if (classes !== null) {
    if (classes.length < 2 || classes.some((name) => name === "")) {
      throw new FlagError(
        `--classes: "${v.classes}" must be at least two non-empty names separated by commas`,
      );
    }
    const repeated = classes.find((name, i) => classes.indexOf(name) !== i);
    if (repeated !== undefined) throw new FlagError(`--classes: "${repeated}" is given twice`);
  }
  let batchSize = 64;
  if (v["batch-size"] !== undefined) {
    batchSize = Number(v["batch-size"]);
    if (v["batch-size"].trim() === "" || !Number.isInteger(batchSize) || batchSize < 1) {
      throw new FlagError(`--batch-size: "${v["batch-size"]}" is not an integer ≥ 1`);
    }
  }
  if (!help && v.checkpoint === undefined) {
    throw new FlagError(
      "--checkpoint: required (a file written by examples/train.ts --checkpoint)",
    );
  }
  if (!help && parsed.positionals.length === 0) {
    throw new FlagError("no images: give one or more image files or folders after the flags");
  }
  return {
    checkpoint: v.checkpoint ?? "",
    model,
    classes,
    normalize: v.normalize ?? false,
    paths: parsed.positionals,
    batchSize,
    help,
  };
}

/** Per-channel normalization of a model's inputs (as `Normalize`), or null for none. */
export type Normalization = { readonly mean: readonly number[]; readonly std: readonly number[] };

/**
 * What classifying needs, from the checkpoint's recipe where it has one and the flags otherwise.
 *
 * @example
 * ```ts
 * import type { PredictSetup } from "./predict_lib.ts";
 * const setup: PredictSetup = {
 *   model: "basic-cnn", classes: ["cat", "dog"], normalize: null, height: 32, width: 32,
 *   fromRecipe: true,
 * };
 * ```
 */
export interface PredictSetup {
  /** Registered model name. */
  model: string;
  /** Class names in label order. */
  classes: readonly string[];
  /** The inputs' normalization, or null for ToTensor's [0, 1] alone. */
  normalize: Normalization | null;
  /** The image height the model was trained on. */
  height: number;
  /** The image width the model was trained on. */
  width: number;
  /** Whether this comes from the checkpoint's recipe (else from the flags and defaults). */
  fromRecipe: boolean;
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Reads the checkpoint's recipe (verifying the file's checksum) and settles the model, classes,
 * normalization and image size: the recipe's, where the flags say nothing or the same; a flag
 * that contradicts the recipe is a FlagError naming both. A file without a recipe (weights from
 * `saveModelWeights` or PyTorch) needs `--model`; its classes default to CIFAR-10's and its
 * images to 32×32.
 *
 * @example
 * ```ts
 * import { parsePredictFlags, predictSetup } from "./predict_lib.ts";
 * const flags = parsePredictFlags(["--checkpoint", "ck.safetensors", "cat.png"], ["basic-cnn"]);
 * const setup = await predictSetup(flags, ["basic-cnn"]);
 * console.log(setup.model, setup.classes);
 * ```
 */
export async function predictSetup(
  flags: PredictFlags,
  models: readonly string[],
): Promise<PredictSetup> {
  const path = flags.checkpoint;
  let metadata: Record<string, string>;
  try {
    metadata = (await readSafetensors(path)).metadata;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new FlagError(`--checkpoint: ${path} does not exist`);
    }
    throw error;
  }
  const recipe = readRecipe(metadata, path);
  const cifar = flags.normalize ? CIFAR_NORMALIZE : null;
  if (recipe === null) {
    if (flags.model === null) {
      throw new FlagError(
        `--model: ${path} holds weights but no recipe, so it does not say which model it is: ` +
          `give --model (one of ${models.join(", ")})`,
      );
    }
    const classes = flags.classes ?? CIFAR10_CLASSES;
    return {
      model: flags.model,
      classes,
      normalize: cifar,
      height: 32,
      width: 32,
      fromRecipe: false,
    };
  }
  const conflicts: string[] = [];
  if (flags.model !== null && flags.model !== recipe.model) {
    conflicts.push(`--model ${flags.model} contradicts the checkpoint's ${recipe.model}`);
  }
  if (flags.classes !== null && !sameList(flags.classes, recipe.classes)) {
    conflicts.push(
      `--classes ${flags.classes.join(",")} contradicts the checkpoint's ${
        recipe.classes.join(",")
      }`,
    );
  }
  if (cifar && !(recipe.normalize && sameList(recipe.normalize.mean, cifar.mean))) {
    conflicts.push("--normalize contradicts the checkpoint, trained without it");
  }
  if (conflicts.length > 0) {
    throw new FlagError(`${conflicts.join("; ")}: drop the flag to use the checkpoint's`);
  }
  const [height, width] = recipe.imageSize;
  const { model, classes, normalize } = recipe;
  return { model, classes, normalize, height, width, fromRecipe: true };
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The image files to classify: each file as given, each folder searched recursively for .jpg,
 * .jpeg and .png files (sorted by path). A missing path or a folder without images is a
 * FlagError naming it.
 *
 * @example
 * ```ts
 * import { listImageFiles } from "./predict_lib.ts";
 * const files = listImageFiles(["photos/", "cat.png"]);
 * ```
 */
export function listImageFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch {
      throw new FlagError(`${path}: no such file or folder`);
    }
    if (!info.isDirectory) {
      files.push(path);
      continue;
    }
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const entry of Deno.readDirSync(dir)) {
        const full = join(dir, entry.name);
        // stat follows symbolic links, as imageFolder does.
        const isDirectory = entry.isSymlink ? Deno.statSync(full).isDirectory : entry.isDirectory;
        if (isDirectory) walk(full);
        else if (EXTENSIONS.some((ext) => entry.name.toLowerCase().endsWith(ext))) {
          found.push(full);
        }
      }
    };
    walk(path);
    if (found.length === 0) {
      throw new FlagError(`${path}: no .jpg, .jpeg or .png images in this folder`);
    }
    files.push(...found.sort(byCodePoint));
  }
  return files;
}

/**
 * Loads a model's weights from a checkpoint written by examples/train.ts (its optimizer,
 * generator and trainer entries are left aside) or from a plain weights file. A missing file is
 * a FlagError naming `--checkpoint`; a file made for another model is an error that says so,
 * listing the first mismatched tensors.
 *
 * @example
 * ```ts
 * import { createModel, initGpu } from "../mod.ts";
 * import { loadWeights } from "./predict_lib.ts";
 * await initGpu();
 * const model = createModel("resnet");
 * await loadWeights("runs/resnet/checkpoint.safetensors", model, "resnet");
 * ```
 */
export async function loadWeights(path: string, model: Module, modelName: string): Promise<void> {
  try {
    await loadModelWeights(path, model);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new FlagError(`--checkpoint: ${path} does not exist`);
    }
    const lines = (error as Error).message.split("\n");
    if (lines.length <= 1) throw error;
    // One line per tensor: a whole model's worth when --model is not the checkpoint's.
    const shown = lines.slice(0, 9);
    if (lines.length > shown.length) shown.push(`  … and ${lines.length - shown.length} more`);
    throw new Error(
      `${shown.join("\n")}\n${path} does not fit --model ${modelName}: was it trained with ` +
        `another --model?`,
    );
  }
}

/**
 * Reads and decodes image files into one packed u8 batch [N, height, width, 3]. A file that cannot
 * be read or decoded, or has another size, is an error naming it.
 *
 * @example
 * ```ts
 * import { loadImages } from "./predict_lib.ts";
 * await imageDecodersReady();
 * const pixels = loadImages(["cat.png", "dog.jpg"]); // 2·32·32·3 bytes
 * ```
 */
export function loadImages(files: readonly string[], height = 32, width = 32): Uint8Array {
  const stride = height * width * 3;
  const pixels = new Uint8Array(files.length * stride);
  files.forEach((file, i) => {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(file);
    } catch (error) {
      throw new Error(`${file}: cannot read: ${(error as Error).message}`);
    }
    const image = decodeImage(bytes, file);
    if (image.width !== width || image.height !== height) {
      throw new Error(
        `${file}: image is ${image.width}×${image.height}, expected ${width}×${height} ` +
          `(the size the model was trained on)`,
      );
    }
    pixels.set(image.data, i * stride);
  });
  return pixels;
}

/**
 * Row-wise softmax of `logits` [N, K] in float64, shifted by each row's maximum so large values
 * do not overflow. For a model ending in log_softmax it gives back the probabilities.
 *
 * @example
 * ```ts
 * import { softmaxRows } from "./predict_lib.ts";
 * softmaxRows([0, Math.log(3)], 2); // [0.25, 0.75]
 * ```
 */
export function softmaxRows(logits: ArrayLike<number>, classes: number): Float64Array {
  if (!Number.isInteger(classes) || classes < 1 || logits.length % classes !== 0) {
    throw new Error(`softmaxRows: ${logits.length} values do not make rows of ${classes}`);
  }
  const out = new Float64Array(logits.length);
  for (let row = 0; row < logits.length; row += classes) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[row + j]);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += out[row + j] = Math.exp(logits[row + j] - max);
    for (let j = 0; j < classes; j++) out[row + j] /= sum;
  }
  return out;
}

/**
 * The `k` largest entries of `values` as `[index, value]`, largest first (the lower index first
 * among equals).
 *
 * @example
 * ```ts
 * import { topK } from "./predict_lib.ts";
 * topK([0.1, 0.6, 0.3], 2); // [[1, 0.6], [2, 0.3]]
 * ```
 */
export function topK(values: ArrayLike<number>, k: number): [number, number][] {
  const order = Array.from({ length: values.length }, (_, i) => i);
  order.sort((a, b) => values[b] - values[a] || a - b);
  return order.slice(0, k).map((i) => [i, values[i]]);
}

/**
 * Runs `model` in eval mode on packed u8 images [N, height, width, 3], `batchSize` at a time on
 * the GPU (ToTensor, then Normalize: CIFAR-10's mean and std for `normalize: true`, or the
 * given ones), and returns the softmax of its
 * outputs, computed on the CPU: probabilities [N, K] and K. The model's previous mode is put back.
 *
 * @example
 * ```ts
 * import { createModel, initGpu } from "../mod.ts";
 * import { loadImages, predict } from "./predict_lib.ts";
 * await initGpu();
 * const model = createModel("basic-cnn");
 * const { probabilities, classes } = await predict(model, loadImages(["cat.png"]), 1);
 * ```
 */
export async function predict(
  model: Module,
  images: Uint8Array, // images: [N, height, width, 3]
  count: number,
  options: {
    normalize?: boolean | Normalization | null;
    batchSize?: number;
    height?: number;
    width?: number;
  } = {},
): Promise<{ probabilities: Float64Array; classes: number }> {
  const { normalize = null, batchSize = 64, height = 32, width = 32 } = options;
  const stride = height * width * 3;
  if (!Number.isInteger(count) || count < 1 || images.length !== count * stride) {
    throw new Error(
      `predict: images has ${images.length} bytes, expected ${count}·${height}·${width}·3 ` +
        `(count ≥ 1)`,
    );
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`predict: batchSize is ${batchSize}, expected an integer ≥ 1`);
  }
  const norm = normalize === true
    ? CIFAR_NORMALIZE
    : normalize || { mean: [0, 0, 0], std: [1, 1, 1] };
  const modes = model.namedModules().map(([, m]) => [m, m.training] as const);
  const logits: Float32Array[] = [];
  let classes = 0;
  model.eval();
  try {
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const batch = Tensor.from(
        images.subarray(start * stride, (start + n) * stride),
        [n, height, width, 3],
        { dtype: "u8", label: "Predict.images" },
      );
      const x = Tensor.empty([n, 3, height, width], { label: "Predict.input" });
      try {
        imagesToTensor(batch, x, norm);
        const output = noGrad(() => model.forward(x)); // [n, K]: read before the next batch
        classes = output.shape[1];
        logits.push(await output.read());
      } finally {
        batch.dispose();
        x.dispose();
      }
    }
  } finally {
    for (const [m, mode] of modes) m.training = mode;
  }
  const all = new Float32Array(count * classes);
  let at = 0;
  for (const part of logits) {
    all.set(part, at);
    at += part.length;
  }
  return { probabilities: softmaxRows(all, classes), classes };
}

/**
 * One image's top classes.
 *
 * @example
 * ```ts
 * import type { Prediction } from "./predict_lib.ts";
 * const p: Prediction = { file: "cat.png", top: [{ name: "cat", probability: 0.9 }] };
 * ```
 */
export interface Prediction {
  /** The image file. */
  file: string;
  /** Class name and probability, most probable first. */
  top: { name: string; probability: number }[];
}

/**
 * Classifies image files with `model`: decodes them (`height`×`width` expected, 32×32 unless
 * given), runs {@link predict}, and names the `top` most probable classes of each. `classNames` must have one name per model
 * output (a FlagError naming `--classes` otherwise).
 *
 * @example
 * ```ts
 * import { createModel, initGpu } from "../mod.ts";
 * import { CIFAR10_CLASSES, classifyFiles, formatPrediction } from "./predict_lib.ts";
 * await initGpu();
 * const model = createModel("basic-cnn");
 * const results = await classifyFiles(model, ["cat.png"], { classNames: CIFAR10_CLASSES });
 * for (const result of results) console.log(formatPrediction(result));
 * ```
 */
export async function classifyFiles(
  model: Module,
  files: readonly string[],
  options: {
    classNames: readonly string[];
    normalize?: boolean | Normalization | null;
    batchSize?: number;
    top?: number;
    height?: number;
    width?: number;
    /**
     * Name outputs past `classNames` by their index (`#7`) instead of failing: for names that
     * are the training data's classes (a checkpoint's recipe) and a model with more outputs.
     */
    unnamedOutputs?: boolean;
  },
): Promise<Prediction[]> {
  const { classNames, top = 3 } = options;
  await imageDecodersReady();
  const images = loadImages(files, options.height, options.width);
  const { probabilities, classes } = await predict(model, images, files.length, options);
  const fewer = classNames.length < classes && options.unnamedOutputs;
  if (classes !== classNames.length && !fewer) {
    throw new FlagError(
      `--classes: ${classNames.length} class names given, but the model has ${classes} outputs`,
    );
  }
  return files.map((file, i) => ({
    file,
    top: topK(probabilities.subarray(i * classes, (i + 1) * classes), top).map((
      [index, probability],
    ) => ({ name: classNames[index] ?? `#${index}`, probability })),
  }));
}

/**
 * One output line: `file: name1 0.8123, name2 0.1034, name3 0.0311`.
 *
 * @example
 * ```ts
 * import { formatPrediction } from "./predict_lib.ts";
 * formatPrediction({ file: "cat.png", top: [{ name: "cat", probability: 0.9 }] });
 * // "cat.png: cat 0.9000"
 * ```
 */
export function formatPrediction(prediction: Prediction): string {
  const classes = prediction.top.map((t) => `${t.name} ${t.probability.toFixed(4)}`);
  return `${prediction.file}: ${classes.join(", ")}`;
}
