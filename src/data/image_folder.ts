/**
 * torchvision's `ImageFolder` as an in-memory {@linkcode ImageDataset} (src/data/dataset.ts,
 * re-exported here): `root/<class>/<image>` files, classes sorted by name giving the label ids,
 * JPEG and PNG decoded in parallel workers once and kept in a packed u8 cache file so later runs
 * start without decoding.
 *
 * @module
 */

import { join, relative, resolve } from "node:path";
import { defaultCacheDir, digest, readPackedCache, writePackedCache } from "./cache.ts";
import type { PackedImages } from "./cache.ts";
import { ImageDataset } from "./dataset.ts";
import { decodeChunk, decodeImage } from "./decode_worker.ts";
import type { DecodeRequest, DecodeResult } from "./decode_worker.ts";
import { jpegDecoderReady } from "./jpeg.ts";
import { Progress } from "./progress.ts";

export { ImageDataset, type ImageDatasetInit } from "./dataset.ts";

/**
 * Throws unless `test` has exactly the classes of `train`, the same names in the same order. A
 * label is an index into the class list, so a test folder whose class folders differ from the
 * training folder's (one renamed, added or missing) would score every image against the wrong
 * class without a word; call this before training on a pair of datasets.
 *
 * @example
 * ```ts
 * import { checkSameClasses, imageFolder } from "@hajime/nn";
 * const train = await imageFolder("data/cifar/train");
 * const test = await imageFolder("data/cifar/test");
 * checkSameClasses(train, test); // throws if not: test class 3 is "kat", train has "cat" ...
 * console.log(train.classes); // the class names, in order: the label numbers of both
 * ```
 */
export function checkSameClasses(
  train: Pick<ImageDataset, "classes" | "root">,
  test: Pick<ImageDataset, "classes" | "root">,
): void {
  const a = train.classes;
  const b = test.classes;
  const i = a.findIndex((name, k) => name !== b[k]);
  if (i < 0 && a.length === b.length) return;
  const difference = i < 0
    ? `test class ${a.length} is "${b[a.length]}", train has only ${a.length} classes`
    : i >= b.length
    ? `train class ${i} is "${a[i]}", test has only ${b.length} classes`
    : `test class ${i} is "${b[i]}", train has "${a[i]}"`;
  const where = (name: string, root: string) => root ? `${name} (${root})` : name;
  throw new Error(
    `the classes of ${where("the test set", test.root)} differ from ${
      where("the training set", train.root)
    }: ${difference}; every test label would name the wrong class. Give both folders the same ` +
      `class folders.`,
  );
}

/**
 * Options of {@linkcode imageFolder}.
 *
 * @example
 * ```ts
 * import { imageFolder, type ImageFolderOptions } from "@hajime/nn";
 * const options: ImageFolderOptions = { size: [32, 32], cache: "data/cache", skipBroken: true };
 * const train = await imageFolder("data/cifar/train", options);
 * console.log(train.length, train.classes);
 * ```
 */
export interface ImageFolderOptions {
  /**
   * The size every image must have, `[height, width]`; default: the commonest size (an image of
   * another size is the one named, even when it comes first).
   */
  size?: readonly [number, number];
  /**
   * Cache folder for the decoded pixels; `false` turns caching off. Default
   * {@linkcode defaultCacheDir} (`$HAJIME_CACHE_DIR`, `$XDG_CACHE_HOME/hajime`, `~/.cache/hajime`).
   */
  cache?: string | false;
  /** Decoding workers; default `navigator.hardwareConcurrency`; 0 decodes on this thread. */
  workers?: number;
  /** Warn about undecodable or wrongly sized images and leave them out, instead of failing. */
  skipBroken?: boolean;
  /** Show a progress bar while decoding (default true). */
  progress?: boolean;
}

/** File name endings read as images (case-insensitive). */
const EXTENSIONS = [".jpg", ".jpeg", ".png"];
/** Files per worker message: big enough to make messages cheap, small for a smooth progress bar. */
const CHUNK = 250;

function isDirectory(path: string, entry: Deno.DirEntry): boolean {
  if (entry.isSymlink) {
    try {
      return Deno.statSync(join(path, entry.name)).isDirectory;
    } catch {
      return false; // a dangling link
    }
  }
  return entry.isDirectory;
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Image files under `dir`, recursively, in torchvision's order: sorted(os.walk), sorted names. */
function listImages(dir: string): string[] {
  const found: [string, string][] = [];
  const walk = (path: string) => {
    for (const entry of Deno.readDirSync(path)) {
      if (isDirectory(path, entry)) {
        walk(join(path, entry.name));
      } else {
        const lower = entry.name.toLowerCase();
        if (EXTENSIONS.some((ext) => lower.endsWith(ext))) found.push([path, entry.name]);
      }
    }
  };
  walk(dir);
  found.sort((a, b) => byCodePoint(a[0], b[0]) || byCodePoint(a[1], b[1]));
  return found.map(([path, name]) => join(path, name));
}

/** What {@linkcode decodeAll} found: per file, null or why it failed, and its decoded size. */
interface Decoded {
  errors: (string | null)[];
  /** [paths.length, 2]: height and width, 0 where the file did not decode. */
  sizes: Int32Array;
}

/** Decodes every path into `pixels`, in workers (or here with `workers` 0). */
async function decodeAll(
  paths: string[],
  height: number,
  width: number,
  pixels: Uint8Array,
  workers: number,
  bar: Progress | null,
): Promise<Decoded> {
  const stride = height * width * 3;
  const errors: (string | null)[] = new Array(paths.length).fill(null);
  const sizes = new Int32Array(paths.length * 2);
  const chunks = Math.ceil(paths.length / CHUNK);
  const store = (result: DecodeResult) => {
    const start = result.id * CHUNK;
    pixels.set(result.pixels, start * stride);
    sizes.set(result.sizes, start * 2);
    result.errors.forEach((error, i) => errors[start + i] = error);
    bar?.add(result.errors.length);
  };
  const request = (id: number): DecodeRequest => ({
    id,
    paths: paths.slice(id * CHUNK, (id + 1) * CHUNK),
    height,
    width,
  });
  if (workers === 0) {
    for (let id = 0; id < chunks; id++) {
      await jpegDecoderReady();
      store(decodeChunk(request(id)));
    }
    return { errors, sizes };
  }
  let next = 0;
  const url = new URL("./decode_worker.ts", import.meta.url).href;
  const pool = Array.from(
    { length: Math.min(workers, chunks) },
    () => new Worker(url, { type: "module", name: "hajime.decode" }),
  );
  try {
    await Promise.all(pool.map((worker) =>
      new Promise<void>((done, fail) => {
        let pending = 0;
        const send = () => {
          if (next < chunks) {
            worker.postMessage(request(next++));
            pending++;
          } else if (pending === 0) {
            done();
          }
        };
        worker.onmessage = (event: MessageEvent<DecodeResult | "ready">) => {
          if (event.data === "ready") {
            // Two requests in flight per worker, so it never waits for the main thread.
            send();
            send();
            return;
          }
          pending--;
          store(event.data);
          send();
        };
        worker.onerror = (event) => {
          event.preventDefault();
          fail(new Error(`imageFolder: a decoding worker failed: ${event.message}`));
        };
      })
    ));
  } finally {
    for (const worker of pool) worker.terminate();
  }
  return { errors, sizes };
}

/** The commonest decoded size, [height, width]; ties go to `preferred`. */
function commonestSize(sizes: Int32Array, preferred: readonly [number, number]): [number, number] {
  const counts = new Map<string, number>();
  for (let i = 0; i < sizes.length; i += 2) {
    const size = `${sizes[i]},${sizes[i + 1]}`;
    if (sizes[i] > 0) counts.set(size, (counts.get(size) ?? 0) + 1);
  }
  let best = preferred.join(",");
  for (const [size, count] of counts) if (count > (counts.get(best) ?? 0)) best = size;
  const [height, width] = best.split(",").map(Number);
  return [height, width];
}

/** The error for a folder whose commonest size is not its first image's: names the odd files. */
function oddSizeError(root: string, paths: string[], sizes: Int32Array, common: number[]): Error {
  const [height, width] = common;
  const odd: string[] = [];
  let same = 0;
  for (let i = 0; i < paths.length; i++) {
    const [h, w] = [sizes[2 * i], sizes[2 * i + 1]];
    if (h === height && w === width) same++;
    else if (h > 0) odd.push(`${paths[i]} (${w}×${h})`);
  }
  const more = odd.length > 5 ? ` and ${odd.length - 5} more` : "";
  return new Error(
    `imageFolder: ${same} images in ${root} are ${width}×${height}, ${odd.length} ` +
      `${odd.length > 1 ? "are" : "is"} not: ${odd.slice(0, 5).join(", ")}${more}; resize or ` +
      `remove ${
        odd.length > 1 ? "them" : "it"
      }, or pass skipBroken: true to leave broken images out`,
  );
}

/**
 * Reads an image folder as torchvision's `ImageFolder` does: `root/<class>/**\/<image>` with the
 * class folders sorted by name giving the labels 0, 1, …, and the files of a class in sorted
 * order. JPEG (as PIL decodes it, bit for bit) and PNG are decoded in parallel workers with a
 * progress bar; grey and RGBA images become RGB; every image must have the same size. The decoded
 * pixels are cached (keyed by the folder's absolute path, file names, sizes and modification
 * times, and checked against a checksum of their content) so the next call reads one file instead
 * of decoding again; a damaged cache file is named in a warning and rebuilt.
 *
 * Errors name the folder or file: a missing or empty folder, a class folder without images, an
 * unreadable, truncated or corrupt image, an image of another size. With `skipBroken`, broken
 * images are reported as warnings and left out instead.
 *
 * @example
 * ```ts
 * import { imageFolder } from "@hajime/nn";
 * const train = await imageFolder("data/cifar/train");
 * console.log(train.length, train.classes); // 50000 ["airplane", "automobile", …]
 * ```
 */
export async function imageFolder(
  root: string,
  options: ImageFolderOptions = {},
): Promise<ImageDataset> {
  const absolute = resolve(root);
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(absolute);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(`imageFolder: folder ${absolute} does not exist`);
    }
    throw new Error(`imageFolder: cannot read ${absolute}: ${(error as Error).message}`);
  }
  if (!info.isDirectory) throw new Error(`imageFolder: ${absolute} is not a folder`);

  const classes = [...Deno.readDirSync(absolute)]
    .filter((entry) => isDirectory(absolute, entry))
    .map((entry) => entry.name)
    .sort(byCodePoint);
  if (classes.length === 0) {
    throw new Error(
      `imageFolder: ${absolute} has no class folders (expected ${absolute}/<class>/<image>.jpg)`,
    );
  }
  const paths: string[] = [];
  const classOf: number[] = [];
  const empty: string[] = [];
  classes.forEach((name, label) => {
    const images = listImages(join(absolute, name));
    if (images.length === 0) empty.push(join(absolute, name));
    for (const path of images) {
      paths.push(path);
      classOf.push(label);
    }
  });
  if (empty.length > 0) {
    throw new Error(
      `imageFolder: no .jpg, .jpeg or .png images in the class folder${
        empty.length > 1 ? "s" : ""
      } ${empty.join(", ")}`,
    );
  }
  const files = paths.map((path) => relative(absolute, path));

  // The fingerprint changes when a file is added, removed, renamed, resized or touched.
  const lines = [`hajime.imageFolder`, absolute, `${paths.length}`];
  lines.push(`size=${options.size ?? "first"}`, `skipBroken=${!!options.skipBroken}`);
  for (let i = 0; i < paths.length; i++) {
    const stat = Deno.statSync(paths[i]);
    lines.push(`${files[i]}\t${stat.size}\t${stat.mtime?.getTime() ?? 0}`);
  }
  const fingerprint = digest(lines);
  const cacheDir = options.cache === false ? null : options.cache ?? defaultCacheDir();
  const cacheFile = cacheDir ? join(cacheDir, `imagefolder-${digest([absolute])}.bin`) : null;
  if (cacheFile) {
    const hit = await readPackedCache(cacheFile, fingerprint);
    if (hit) return new ImageDataset({ ...hit, root: absolute });
  }

  // The first image that decodes sets the size, unless the caller fixed it.
  await jpegDecoderReady();
  let height = options.size?.[0] ?? 0;
  let width = options.size?.[1] ?? 0;
  for (let i = 0; height === 0 && i < paths.length; i++) {
    try {
      ({ height, width } = decodeImage(Deno.readFileSync(paths[i]), paths[i]));
    } catch (error) {
      if (!options.skipBroken) throw new Error(`imageFolder: ${(error as Error).message}`);
    }
  }
  if (height === 0) throw new Error(`imageFolder: no image in ${absolute} could be decoded`);

  const bar = options.progress === false ? null : new Progress({
    label: `imageFolder: decoding ${root}`,
    total: paths.length,
    unit: "items",
  });
  const workers = Math.max(0, Math.floor(options.workers ?? navigator.hardwareConcurrency ?? 1));
  let pixels = new Uint8Array(paths.length * height * width * 3);
  const decoded = await decodeAll(paths, height, width, pixels, workers, bar);
  let errors = decoded.errors;
  if (!options.size) {
    // The first image set the size; when it is the odd one, the commonest size is the one meant.
    const common = commonestSize(decoded.sizes, [height, width]);
    if (common[0] !== height || common[1] !== width) {
      if (!options.skipBroken) throw oddSizeError(absolute, paths, decoded.sizes, common);
      [height, width] = common;
      pixels = new Uint8Array(paths.length * height * width * 3);
      errors = (await decodeAll(paths, height, width, pixels, workers, null)).errors;
    }
  }
  bar?.finish();
  const stride = height * width * 3;

  const broken = errors.filter((error): error is string => error !== null);
  let data: PackedImages = {
    images: pixels,
    labels: Int32Array.from(classOf),
    classes,
    height,
    width,
    files,
  };
  if (broken.length > 0) {
    if (!options.skipBroken) {
      const more = broken.length > 1 ? ` (and ${broken.length - 1} more broken images)` : "";
      throw new Error(
        `imageFolder: ${broken[0]}${more}; fix or remove it, or pass skipBroken: true to leave ` +
          `broken images out`,
      );
    }
    for (const error of broken.slice(0, 10)) console.warn(`imageFolder: skipping ${error}`);
    if (broken.length > 10) console.warn(`imageFolder: skipping ${broken.length - 10} more`);
    const keep = errors.flatMap((error, i) => error === null ? [i] : []);
    const images = new Uint8Array(keep.length * stride);
    keep.forEach((i, k) => images.set(pixels.subarray(i * stride, (i + 1) * stride), k * stride));
    data = {
      images,
      labels: Int32Array.from(keep, (i) => classOf[i]),
      classes,
      height,
      width,
      files: keep.map((i) => files[i]),
    };
  }
  const dataset = new ImageDataset({ ...data, root: absolute });
  if (cacheFile) {
    try {
      await writePackedCache(cacheFile, fingerprint, dataset);
    } catch (error) {
      console.warn(
        `imageFolder: could not write the cache ${cacheFile}: ${(error as Error).message}`,
      );
    }
  }
  return dataset;
}
