/**
 * The official CIFAR-10 and CIFAR-100 binary formats (as torchvision's `CIFAR10`/`CIFAR100`
 * datasets, from the binary archives) read from files in Deno: each record is its label byte(s)
 * then 3072 pixel bytes, 1024 red, 1024 green, 1024 blue, row-major 32×32. Records are turned into
 * packed HWC images (the parser and the browser readers are in cifar_web.ts). With
 * `download: true` the official archive is fetched, checked and unpacked first.
 *
 * @module
 */

import { join } from "node:path";
import { downloadAndExtract } from "./download.ts";
import { cifar10Files, cifarDataset, parseCifarBatch, parseClassNames } from "./cifar_web.ts";
import type { ImageDataset } from "./dataset.ts";

export { parseCifarBatch } from "./cifar_web.ts";

/**
 * Where an archive comes from: its address and MD5.
 *
 * @example
 * ```ts
 * import { type ArchiveSource, cifar10 } from "@hajime/nn";
 * const mirror: ArchiveSource = {
 *   url: "http://127.0.0.1:8000/cifar-10-binary.tar.gz",
 *   md5: "c32a1d4ab5d03f1284b67883e8d87530",
 * };
 * const train = await cifar10({ root: "data", download: true, source: mirror });
 * console.log(train.length); // 50000
 * ```
 */
export interface ArchiveSource {
  /** The `.tar.gz` archive's address. */
  url: string;
  /** Its MD5, hex. */
  md5: string;
}

/**
 * Options of {@linkcode cifar10}.
 *
 * @example
 * ```ts
 * import { cifar10, type CifarOptions } from "@hajime/nn";
 * const options: CifarOptions = { root: "data", train: false, download: true };
 * const test = await cifar10(options);
 * console.log(test.length); // 10000
 * ```
 */
export interface CifarOptions {
  /** The folder holding (or to receive) the unpacked batch folder; default `"data"`. */
  root?: string;
  /** The training set (default) or the test set. */
  train?: boolean;
  /** Fetch the official archive when the batches are not under `root` (default false). */
  download?: boolean;
  /** Show a progress bar while downloading (default true). */
  progress?: boolean;
  /** A mirror of the official archive (same layout), with its MD5; default the official one. */
  source?: ArchiveSource;
}

/**
 * Options of {@linkcode cifar100}.
 *
 * @example
 * ```ts
 * import { cifar100, type Cifar100Options } from "@hajime/nn";
 * const options: Cifar100Options = { root: "data", labels: "coarse" };
 * const train = await cifar100(options);
 * console.log(train.classes.length); // 20
 * ```
 */
export interface Cifar100Options extends CifarOptions {
  /** Which labels to use: the 100 fine classes (default) or the 20 coarse superclasses. */
  labels?: "fine" | "coarse";
}

/**
 * The official CIFAR-10 binary archive.
 *
 * @example
 * ```ts
 * import { CIFAR10_SOURCE } from "@hajime/nn";
 * console.log(CIFAR10_SOURCE.url, CIFAR10_SOURCE.md5);
 * ```
 */
export const CIFAR10_SOURCE: ArchiveSource = {
  url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
  md5: "c32a1d4ab5d03f1284b67883e8d87530",
};
/**
 * The official CIFAR-100 binary archive.
 *
 * @example
 * ```ts
 * import { CIFAR100_SOURCE } from "@hajime/nn";
 * console.log(CIFAR100_SOURCE.url, CIFAR100_SOURCE.md5);
 * ```
 */
export const CIFAR100_SOURCE: ArchiveSource = {
  url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
  md5: "03b5dce01913d631647c71ecec9e9cb8",
};

interface Format {
  name: string;
  title: string;
  folder: string;
  source: ArchiveSource;
  size: number;
  files: (train: boolean) => string[];
  /** Bytes before the pixels in each record, and which of them is the label. */
  labelBytes: number;
  labelAt: number;
  namesFile: string;
}

async function readFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new Error(`${what}: ${path} is missing`);
    throw new Error(`${what}: cannot read ${path}: ${(error as Error).message}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Class names, one per line, as in `batches.meta.txt` (blank lines dropped). */
async function readNames(path: string, what: string): Promise<string[]> {
  return parseClassNames(new TextDecoder().decode(await readFile(path, what)), `${what}: ${path}`);
}

async function load(format: Format, options: CifarOptions): Promise<ImageDataset> {
  const root = options.root ?? "data";
  const train = options.train ?? true;
  const first = format.files(train)[0];
  let folder = join(root, format.folder);
  if (!(await exists(join(folder, first))) && await exists(join(root, first))) folder = root;
  if (!(await exists(join(folder, first)))) {
    if (!options.download) {
      throw new Error(
        `${format.name}: no ${format.title} binary batches in ${root} (looked for ` +
          `${join(folder, first)}); pass download: true to fetch them ` +
          `(${Math.round(format.size / 1e6)} MB), or read a folder of images with imageFolder(...)`,
      );
    }
    const source = options.source ?? format.source;
    await downloadAndExtract({
      url: source.url,
      md5: source.md5,
      size: format.size,
      root,
      folder: format.folder,
      progress: options.progress,
      label: format.name,
    });
  }
  const classes = await readNames(join(folder, format.namesFile), format.name);
  // One file after another, so an error always names the first bad file in order.
  const parts = [];
  for (const name of format.files(train)) {
    const path = join(folder, name);
    parts.push(parseCifarBatch(await readFile(path, format.name), {
      file: path,
      labelBytes: format.labelBytes,
      labelAt: format.labelAt,
      classes: classes.length,
    }));
  }
  return cifarDataset(parts, classes, folder);
}

/**
 * CIFAR-10 from the official binary batches under `root/cifar-10-batches-bin` (or `root` itself):
 * 50,000 training or 10,000 test images, 32×32 RGB, 10 classes named by `batches.meta.txt`. With
 * `download: true` the official archive (170 MB, MD5 checked) is fetched first when missing.
 *
 * @example
 * ```ts
 * import { cifar10 } from "@hajime/nn";
 * const train = await cifar10({ root: "data", download: true });
 * const test = await cifar10({ root: "data", train: false });
 * console.log(train.length, test.length, train.classes[0]); // 50000 10000 airplane
 * ```
 */
export function cifar10(options: CifarOptions = {}): Promise<ImageDataset> {
  return load({
    name: "cifar10",
    title: "CIFAR-10",
    folder: "cifar-10-batches-bin",
    source: CIFAR10_SOURCE,
    size: 170_052_171,
    files: cifar10Files,
    labelBytes: 1,
    labelAt: 0,
    namesFile: "batches.meta.txt",
  }, options);
}

/**
 * CIFAR-100 from the official binary files under `root/cifar-100-binary` (or `root` itself):
 * `train.bin` (50,000) or `test.bin` (10,000), each record a coarse and a fine label; the fine
 * labels (100 classes, `fine_label_names.txt`) by default, or the 20 coarse ones
 * (`coarse_label_names.txt`). With `download: true` the official archive (169 MB) is fetched first.
 *
 * @example
 * ```ts
 * import { cifar100 } from "@hajime/nn";
 * const train = await cifar100({ root: "data", download: true });
 * const coarse = await cifar100({ root: "data", labels: "coarse", train: false });
 * console.log(train.classes.length, coarse.classes.length); // 100 20
 * ```
 */
export function cifar100(options: Cifar100Options = {}): Promise<ImageDataset> {
  const coarse = options.labels === "coarse";
  return load({
    name: "cifar100",
    title: "CIFAR-100",
    folder: "cifar-100-binary",
    source: CIFAR100_SOURCE,
    size: 168_513_733,
    files: (train) => [train ? "train.bin" : "test.bin"],
    labelBytes: 2,
    labelAt: coarse ? 0 : 1,
    namesFile: coarse ? "coarse_label_names.txt" : "fine_label_names.txt",
  }, options);
}
