/**
 * The official CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`)
 * from the web: URLs (fetched, e.g. from the page's own origin) or `File` / `Blob` objects (a file
 * input), and the record parser the Deno loaders (cifar_binary.ts) share. Web APIs only, so it runs
 * in a browser and in Deno alike.
 *
 * Each record is its label byte(s) then 3072 pixel bytes, 1024 red, 1024 green, 1024 blue,
 * row-major 32×32; records become packed HWC images.
 *
 * @module
 */

import { ImageDataset } from "./dataset.ts";

const SIDE = 32;
const PIXELS = SIDE * SIDE;

/**
 * CIFAR-10's class names in label order, as the official `batches.meta.txt` lists them.
 *
 * @example
 * ```ts
 * import { CIFAR10_CLASSES } from "@hajime/nn";
 * console.log(CIFAR10_CLASSES[3]); // cat
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
 * The official CIFAR-10 batch file names: five training batches of 10,000 images, one test batch.
 *
 * @example
 * ```ts
 * import { cifar10Files } from "@hajime/nn";
 * console.log(cifar10Files(true).length, cifar10Files(false)); // 5 ["test_batch.bin"]
 * ```
 */
export function cifar10Files(train: boolean): string[] {
  return train ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ["test_batch.bin"];
}

/**
 * Parses one binary batch file's bytes into packed HWC images and labels; `file` names it in
 * errors (wrong size, label out of range).
 *
 * @example
 * ```ts
 * import { parseCifarBatch } from "@hajime/nn";
 * const bytes = await Deno.readFile("data/cifar-10-batches-bin/test_batch.bin");
 * const { images, labels } = parseCifarBatch(bytes, {
 *   file: "test_batch.bin", labelBytes: 1, labelAt: 0, classes: 10,
 * });
 * console.log(images.length / 3072, labels[0]); // 10000 3
 * ```
 */
export function parseCifarBatch(
  bytes: Uint8Array,
  options: { file: string; labelBytes: number; labelAt: number; classes: number },
): { images: Uint8Array; labels: Int32Array } {
  const { file, labelBytes, labelAt, classes } = options;
  const record = labelBytes + 3 * PIXELS;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw new Error(
      `${file}: ${bytes.length} bytes is not a whole number of ${record}-byte records ` +
        `(${labelBytes} label byte${
          labelBytes > 1 ? "s" : ""
        } + 3072 pixels): wrong file or cut short`,
    );
  }
  const n = bytes.length / record;
  const images = new Uint8Array(n * 3 * PIXELS);
  const labels = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const base = r * record;
    const label = bytes[base + labelAt];
    if (label >= classes) {
      throw new Error(`${file}: record ${r} has label ${label}, outside [0, ${classes})`);
    }
    labels[r] = label;
    // CHW planes → HWC pixels.
    const src = base + labelBytes;
    const dst = r * 3 * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      images[dst + 3 * p] = bytes[src + p];
      images[dst + 3 * p + 1] = bytes[src + PIXELS + p];
      images[dst + 3 * p + 2] = bytes[src + 2 * PIXELS + p];
    }
  }
  return { images, labels };
}

/**
 * Class names, one per line, as in `batches.meta.txt` (blank lines dropped); `file` names the
 * source in the error for an empty list.
 *
 * @example
 * ```ts
 * import { parseClassNames } from "@hajime/nn";
 * console.log(parseClassNames("cat\r\ndog\n\n", "batches.meta.txt")); // ["cat", "dog"]
 * ```
 */
export function parseClassNames(text: string, file: string): string[] {
  const names = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
  if (names.length === 0) throw new Error(`${file} lists no class names`);
  return names;
}

/**
 * One 32×32 dataset of parsed batches, in order.
 *
 * @example
 * ```ts
 * import { cifarDataset, parseCifarBatch } from "@hajime/nn";
 * const part = parseCifarBatch(new Uint8Array(3073), {
 *   file: "x.bin", labelBytes: 1, labelAt: 0, classes: 10,
 * });
 * const data = cifarDataset([part, part], ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], "");
 * console.log(data.length); // 2
 * ```
 */
export function cifarDataset(
  parts: readonly { images: Uint8Array; labels: Int32Array }[],
  classes: readonly string[],
  root: string,
): ImageDataset {
  const count = parts.reduce((sum, part) => sum + part.labels.length, 0);
  const images = new Uint8Array(count * 3 * PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  for (const part of parts) {
    images.set(part.images, at * 3 * PIXELS);
    labels.set(part.labels, at);
    at += part.labels.length;
  }
  return new ImageDataset({ images, labels, classes, height: SIDE, width: SIDE, root });
}

/**
 * Options of {@linkcode cifar10FromUrl} and {@linkcode cifar10FromFiles}.
 *
 * @example
 * ```ts
 * import { cifar10FromUrl, type CifarWebOptions } from "@hajime/nn";
 * const quick: CifarWebOptions = { files: ["data_batch_1.bin"] }; // 10,000 training images
 * // In a page served by `deno task serve`: URLs relative to the page.
 * const train = await cifar10FromUrl("cifar-10-batches-bin/", quick);
 * console.log(train.length); // 10000
 * ```
 */
export interface CifarWebOptions {
  /** The training batches (default) or the test batch. */
  train?: boolean;
  /** The batch files to read, in order; default {@linkcode cifar10Files}(`train`). */
  files?: readonly string[];
  /** Called before each batch file is read (e.g. for a status line). */
  onFile?: (file: string, index: number, count: number) => void;
}

const META = "batches.meta.txt";

function batchFiles(options: CifarWebOptions): readonly string[] {
  const files = options.files ?? cifar10Files(options.train ?? true);
  if (files.length === 0) throw new Error("cifar10: options.files lists no batch file");
  return files;
}

function parseBatch(bytes: Uint8Array, file: string): { images: Uint8Array; labels: Int32Array } {
  return parseCifarBatch(bytes, { file, labelBytes: 1, labelAt: 0, classes: 10 });
}

/** The page's address, where there is one (Deno without `--location` throws on `location`). */
function pageAddress(): string | undefined {
  try {
    return globalThis.location?.href;
  } catch {
    return undefined;
  }
}

/** GETs `url`; null for a 404 when `optional`, else an error naming the address and the status. */
async function fetchBytes(url: URL, optional: boolean): Promise<Uint8Array | null> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`cifar10: cannot fetch ${url}: ${(error as Error).message}`);
  }
  if (optional && response.status === 404) {
    await response.body?.cancel();
    return null;
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`cifar10: ${url}: HTTP ${response.status} ${response.statusText}`.trimEnd());
  }
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * CIFAR-10 from the official binary batches at the address `base` (a folder URL, e.g. the page's
 * `./cifar-10-batches-bin/`): the training batches or the test batch, fetched one after another.
 * Class names come from `batches.meta.txt` there, or are {@linkcode CIFAR10_CLASSES} when the
 * folder has none. A missing file or a failed request is an error naming its address.
 *
 * @example
 * ```ts
 * import { cifar10FromUrl } from "@hajime/nn";
 * const base = "cifar-10-batches-bin/"; // relative to the page, as `deno task serve` serves it
 * const train = await cifar10FromUrl(base);
 * const test = await cifar10FromUrl(base, { train: false });
 * console.log(train.length, test.length); // 50000 10000
 * ```
 */
export async function cifar10FromUrl(
  base: string | URL,
  options: CifarWebOptions = {},
): Promise<ImageDataset> {
  const files = batchFiles(options);
  const folder = new URL(base, pageAddress());
  if (!folder.pathname.endsWith("/")) folder.pathname += "/";
  const meta = await fetchBytes(new URL(META, folder), true);
  const classes = meta
    ? parseClassNames(new TextDecoder().decode(meta), `cifar10: ${new URL(META, folder)}`)
    : CIFAR10_CLASSES;
  const parts = [];
  for (const [index, file] of files.entries()) {
    options.onFile?.(file, index, files.length);
    const url = new URL(file, folder);
    parts.push(parseBatch((await fetchBytes(url, false))!, `cifar10: ${url}`));
  }
  return cifarDataset(parts, classes, folder.href);
}

/**
 * CIFAR-10 from picked files (an `<input type="file" multiple>`'s `files`, or any `File`s): the
 * batch files are found by name among them; class names come from a `batches.meta.txt` among them,
 * else {@linkcode CIFAR10_CLASSES}. A batch file missing from the pick is an error naming it.
 *
 * @example
 * ```ts
 * import { cifar10FromFiles } from "@hajime/nn";
 * const picked = [new File([new Uint8Array(3073)], "test_batch.bin")];
 * const test = await cifar10FromFiles(picked, { train: false });
 * console.log(test.length); // 1
 * ```
 */
export async function cifar10FromFiles(
  picked: Iterable<File> | ArrayLike<File>,
  options: CifarWebOptions = {},
): Promise<ImageDataset> {
  const files = batchFiles(options);
  const byName = new Map(Array.from(picked, (file) => [file.name, file]));
  const missing = files.filter((name) => !byName.has(name));
  if (missing.length > 0) {
    const had = byName.size > 0 ? [...byName.keys()].join(", ") : "no file";
    throw new Error(`cifar10: the files picked lack ${missing.join(", ")} (picked: ${had})`);
  }
  const meta = byName.get(META);
  const classes = meta ? parseClassNames(await meta.text(), `cifar10: ${META}`) : CIFAR10_CLASSES;
  const parts = [];
  for (const [index, name] of files.entries()) {
    options.onFile?.(name, index, files.length);
    const bytes = new Uint8Array(await byName.get(name)!.arrayBuffer());
    parts.push(parseBatch(bytes, `cifar10: ${name}`));
  }
  return cifarDataset(parts, classes, "");
}
