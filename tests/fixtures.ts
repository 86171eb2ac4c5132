/**
 * Fixture writers for the data tests: images (PNG via fast-png, JPEG via jpeg-js), ImageFolder
 * trees, tar archives (ustar, with GNU long names), gzip, CIFAR binary batches and archives in the
 * official layout; and a runner for the command lines in examples/. Every test writes its
 * fixtures into its own temporary folder.
 *
 * @module
 */

import jpeg from "jpeg-js";
import * as png from "fast-png";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Generator } from "../mod.ts";
import { decodeJpeg, jpegDecoderReady } from "../src/data/jpeg.ts";

/** Random RGB bytes [h, w, 3]. */
export function randomPixels(rng: Generator, h: number, w: number, channels = 3): Uint8Array {
  const data = new Uint8Array(h * w * channels);
  for (let i = 0; i < data.length; i++) data[i] = rng.int(256);
  return data;
}

/** A PNG file's bytes. */
export function pngBytes(
  data: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: number,
  options: { depth?: 8 | 16; palette?: number[][] } = {},
): Uint8Array {
  return png.encode({
    width,
    height,
    data,
    channels,
    depth: options.depth ?? 8,
    palette: options.palette,
  });
}

/**
 * A baseline JPEG file's bytes (jpeg-js), one that libjpeg-turbo decodes without a warning: jpeg-js
 * writes, for about 1–3 % of small random images, a file libjpeg-turbo warns about (which
 * src/data/jpeg.ts rejects, though PIL decodes it to within a few levels), so such an encoding is
 * redone one quality step lower. Deterministic for given pixels.
 */
export async function jpegBytes(
  rgb: Uint8Array,
  width: number,
  height: number,
  quality = 100,
): Promise<Uint8Array> {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  await jpegDecoderReady();
  for (let q = quality; q > quality - 10; q--) {
    const bytes = new Uint8Array(jpeg.encode({ width, height, data: rgba }, q).data);
    try {
      decodeJpeg(bytes);
      return bytes;
    } catch {
      await jpegDecoderReady(); // a failed decode may swap the decoder instance
    }
  }
  throw new Error(`jpegBytes: no quality in (${quality - 10}, ${quality}] gave a clean file`);
}

/** Writes `files` (relative path → bytes) under `root`, making folders. */
export async function writeTree(root: string, files: Record<string, Uint8Array>): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) {
    const full = join(root, path);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    await Deno.writeFile(full, bytes);
  }
}

/**
 * Writes an ImageFolder root: `root/<split>/<class>/<i>.png`, `perSplit[split]` random 32×32
 * PNGs per class.
 */
export async function writeImageFolder(
  rng: Generator,
  root: string,
  classes: readonly string[],
  perSplit: Record<string, number>,
): Promise<void> {
  const files: Record<string, Uint8Array> = {};
  for (const [split, count] of Object.entries(perSplit)) {
    for (const name of classes) {
      for (let i = 0; i < count; i++) {
        const file = `${split}/${name}/${String(i).padStart(4, "0")}.png`;
        files[file] = pngBytes(randomPixels(rng, 32, 32), 32, 32, 3);
      }
    }
  }
  await writeTree(root, files);
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Runs a script with `deno run` from the repository root, with `permissions` (all unless given)
 * and `env` added to the environment.
 */
export async function runExample(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  permissions: readonly string[] = ["-A"],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, script, ...args],
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

const encoder = new TextEncoder();

function header(name: string, size: number, type: string): Uint8Array {
  const block = new Uint8Array(512);
  const put = (text: string, at: number) => block.set(encoder.encode(text), at);
  put(name.slice(0, 100), 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(size.toString(8).padStart(11, "0") + "\0", 124);
  put("00000000000\0", 136);
  put("        ", 148);
  put(type, 156);
  put("ustar\0", 257);
  put("00", 263);
  let sum = 0;
  for (const b of block) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return block;
}

/** A tar archive of folders (names ending in `/`) and files; long names use GNU `L` records. */
export function tarBytes(entries: [string, Uint8Array | null][]): Uint8Array {
  const parts: Uint8Array[] = [];
  const add = (name: string, data: Uint8Array, type: string) => {
    parts.push(
      header(name, data.length, type),
      data,
      new Uint8Array((512 - data.length % 512) % 512),
    );
  };
  for (const [name, data] of entries) {
    if (name.length > 99) add("././@LongLink", encoder.encode(name + "\0"), "L");
    add(name, data ?? new Uint8Array(0), data ? "0" : "5");
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

/** Concatenated byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Gzip through CompressionStream. */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** CIFAR binary records: `labels[i]` (one or two bytes each) then CHW pixels per image. */
export function cifarRecords(labels: number[][], pixelsHWC: Uint8Array[]): Uint8Array {
  const labelBytes = labels[0].length;
  const out = new Uint8Array(labels.length * (labelBytes + 3072));
  labels.forEach((label, r) => {
    const base = r * (labelBytes + 3072);
    out.set(label, base);
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) out[base + labelBytes + c * 1024 + p] = pixelsHWC[r][p * 3 + c];
    }
  });
  return out;
}

/** A small CIFAR-10 in the official archive layout: the tar.gz bytes and the expected content. */
export async function cifar10Archive(rng: Generator, perFile = 3): Promise<{
  archive: Uint8Array;
  train: { labels: number[]; pixels: Uint8Array[] };
  test: { labels: number[]; pixels: Uint8Array[] };
}> {
  const names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
  const train = { labels: [] as number[], pixels: [] as Uint8Array[] };
  const entries: [string, Uint8Array | null][] = [["cifar-10-batches-bin/", null]];
  const batch = (into: typeof train) => {
    const labels = Array.from({ length: perFile }, () => rng.int(10));
    const pixels = labels.map(() => randomPixels(rng, 32, 32));
    into.labels.push(...labels);
    into.pixels.push(...pixels);
    return cifarRecords(labels.map((l) => [l]), pixels);
  };
  for (let i = 1; i <= 5; i++) {
    entries.push([`cifar-10-batches-bin/data_batch_${i}.bin`, batch(train)]);
  }
  const test = { labels: [] as number[], pixels: [] as Uint8Array[] };
  entries.push(["cifar-10-batches-bin/test_batch.bin", batch(test)]);
  entries.push(["cifar-10-batches-bin/batches.meta.txt", encoder.encode(names)]);
  entries.push(["cifar-10-batches-bin/readme.html", encoder.encode("<html></html>")]);
  return { archive: await gzip(tarBytes(entries)), train, test };
}

/** A loopback HTTP server answering each path from `routes`; close it with `shutdown()`. */
export function serve(
  routes: Record<string, () => Response>,
): { url: string; shutdown: () => Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const route = routes[new URL(request.url).pathname];
    return route ? route() : new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    shutdown: () => server.shutdown(),
  };
}

/** MD5 hex of bytes. */
export async function md5(data: Uint8Array): Promise<string> {
  const { createHash } = await import("node:crypto");
  return createHash("md5").update(data).digest("hex");
}
