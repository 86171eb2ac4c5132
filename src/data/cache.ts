/**
 * The packed cache of decoded image datasets: one file per source folder holding a small JSON
 * header (fingerprint of the source, class names, file list), the labels as int32 and the pixels
 * as packed u8 [N, H, W, 3], so a warm start is one file read. Writes go to a temporary file that
 * is renamed into place, so a reader never sees half a cache. A SHA-256 checksum over everything
 * after the preamble (header, labels, pixels) is verified on every read: a file damaged on disk
 * is reported and rebuilt, never used.
 *
 * File layout: `HAJIMEDS` (8 bytes), version u32, header length u32, SHA-256 of the rest (32
 * bytes), header JSON, zero padding to a multiple of 4, labels (N × i32, little-endian), pixels
 * (N·H·W·3 bytes).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, join } from "node:path";

/**
 * A decoded dataset as stored in the cache.
 *
 * @example
 * ```ts
 * import { type PackedImages, writePackedCache } from "./cache.ts";
 * const data: PackedImages = {
 *   images: new Uint8Array(12), labels: new Int32Array([0]), classes: ["a"], height: 2, width: 2,
 *   files: ["a/0.png"],
 * };
 * await writePackedCache("/tmp/hajime/example.bin", "fingerprint", data);
 * ```
 */
export interface PackedImages {
  /** Pixels, packed u8 [N, H, W, 3] (HWC, as decoded). */
  readonly images: Uint8Array;
  /** Class index per image, [N]. */
  readonly labels: Int32Array;
  /** Class names; label i names `classes[i]`. */
  readonly classes: readonly string[];
  /** Image height in pixels. */
  readonly height: number;
  /** Image width in pixels. */
  readonly width: number;
  /** Source file per image, relative to the dataset's root. */
  readonly files: readonly string[];
}

const MAGIC = "HAJIMEDS";
const VERSION = 2;
/** Magic, version, header length, checksum. */
const PREAMBLE = 48;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The default cache folder: `$HAJIME_CACHE_DIR`, else `$XDG_CACHE_HOME/hajime`, else
 * `~/.cache/hajime` (`%LOCALAPPDATA%\hajime` on Windows); null when none can be found (no HOME, or
 * no permission to read the environment), which turns caching off.
 *
 * @example
 * ```ts
 * import { defaultCacheDir } from "./cache.ts";
 * console.log(defaultCacheDir()); // e.g. /home/me/.cache/hajime
 * ```
 */
export function defaultCacheDir(): string | null {
  try {
    const own = Deno.env.get("HAJIME_CACHE_DIR");
    if (own) return own;
    const xdg = Deno.env.get("XDG_CACHE_HOME");
    if (xdg) return join(xdg, "hajime");
    const local = Deno.build.os === "windows" ? Deno.env.get("LOCALAPPDATA") : undefined;
    if (local) return join(local, "hajime");
    const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
    return home ? join(home, ".cache", "hajime") : null;
  } catch {
    return null;
  }
}

/**
 * MD5 hex of some strings joined by newlines: names cache files and fingerprints sources.
 *
 * @example
 * ```ts
 * import { digest } from "./cache.ts";
 * console.log(digest(["/data/cifar/train", "50000"])); // 32 hex digits
 * ```
 */
export function digest(parts: readonly string[]): string {
  const hash = createHash("md5");
  for (const part of parts) hash.update(part).update("\n");
  return hash.digest("hex");
}

/**
 * SHA-256 of some byte ranges in order: the content checksum of a cache file (node:crypto's runs
 * at twice MD5's speed here, 0.2 s for the 150 MB of CIFAR-10's training set).
 */
function checksum(parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/**
 * Reads a cache file; returns null when it is missing, of another version, or was made from a
 * source whose fingerprint differs (then the caller decodes again and overwrites it). A file that
 * is damaged (cut short, unreadable header, content checksum mismatch) also gives null, with a
 * warning naming it.
 *
 * @example
 * ```ts
 * import { readPackedCache } from "./cache.ts";
 * const hit = await readPackedCache("/tmp/hajime/imagefolder-x.bin", "fingerprint");
 * if (hit) console.log(hit.labels.length, "images from the cache");
 * ```
 */
export async function readPackedCache(
  path: string,
  fingerprint: string,
): Promise<PackedImages | null> {
  const corrupt = (why: string): null => {
    console.warn(`packed cache ${path} is damaged (${why}): ignored, it will be rebuilt`);
    return null;
  };
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? null
      : corrupt(`cannot read it: ${(error as Error).message}`);
  }
  if (bytes.length < PREAMBLE || decoder.decode(bytes.subarray(0, 8)) !== MAGIC) {
    return corrupt("not a hajime cache file");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8, true) !== VERSION) return null;
  const headerLength = view.getUint32(12, true);
  if (PREAMBLE + headerLength > bytes.length) return corrupt("cut short inside its header");
  let header: {
    fingerprint: string;
    count: number;
    height: number;
    width: number;
    classes: string[];
    files: string[];
  };
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(PREAMBLE, PREAMBLE + headerLength)));
  } catch {
    return corrupt("its header is not valid JSON");
  }
  if (header.fingerprint !== fingerprint) return null;
  const { count, height, width } = header;
  const labelsAt = Math.ceil((PREAMBLE + headerLength) / 4) * 4;
  const imagesAt = labelsAt + count * 4;
  const expected = imagesAt + count * height * width * 3;
  if (bytes.length !== expected) return corrupt(`${bytes.length} bytes, expected ${expected}`);
  const stored = bytes.subarray(16, PREAMBLE);
  if (!checksum([bytes.subarray(PREAMBLE)]).every((b, i) => b === stored[i])) {
    return corrupt("content checksum mismatch: its labels, pixels or header changed on disk");
  }
  return {
    images: bytes.subarray(imagesAt),
    // Deno.readFile's buffer starts at offset 0, so the labels are 4-byte aligned.
    labels: new Int32Array(bytes.buffer, labelsAt, count),
    classes: header.classes,
    height,
    width,
    files: header.files,
  };
}

/**
 * Writes a cache file atomically: a temporary file in the same folder, renamed over `path`.
 *
 * @example
 * ```ts
 * import { writePackedCache } from "./cache.ts";
 * await writePackedCache("/tmp/hajime/x.bin", "fingerprint", {
 *   images: new Uint8Array(2 * 2 * 3), labels: new Int32Array([0]), classes: ["a"],
 *   height: 2, width: 2, files: ["a/0.png"],
 * });
 * ```
 */
export async function writePackedCache(
  path: string,
  fingerprint: string,
  data: PackedImages,
): Promise<void> {
  const count = data.labels.length;
  const header = encoder.encode(JSON.stringify({
    fingerprint,
    count,
    height: data.height,
    width: data.width,
    classes: data.classes,
    files: data.files,
  }));
  const labelsAt = Math.ceil((PREAMBLE + header.length) / 4) * 4;
  const head = new Uint8Array(labelsAt + count * 4);
  head.set(encoder.encode(MAGIC), 0);
  const view = new DataView(head.buffer);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, header.length, true);
  head.set(header, PREAMBLE);
  for (let i = 0; i < count; i++) view.setInt32(labelsAt + i * 4, data.labels[i], true);
  const pixels = data.images.subarray(0, count * data.height * data.width * 3);
  head.set(checksum([head.subarray(PREAMBLE), pixels]), 16);

  await Deno.mkdir(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    const file = await Deno.open(temp, { write: true, create: true, truncate: true });
    try {
      await writeAll(file, head);
      await writeAll(file, pixels);
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}
