/**
 * A small streaming tar reader (POSIX ustar, with GNU long names and pax path/size records), enough
 * for the CIFAR archives, and an extractor that refuses paths escaping the target folder.
 *
 * @module
 */

import { dirname, join } from "node:path";

/**
 * One member of a tar archive.
 *
 * @example
 * ```ts
 * import { readTar, type TarEntry } from "./tar.ts";
 * const file = await Deno.open("archive.tar");
 * for await (const entry of readTar(file.readable)) {
 *   const member: TarEntry = entry;
 *   console.log(member.name, member.type, member.size);
 * }
 * ```
 */
export interface TarEntry {
  /** Path inside the archive, `/`-separated, without a leading `./`. */
  name: string;
  /** What the member is; links and devices are reported as `"other"`. */
  type: "file" | "directory" | "other";
  /** Size of the contents in bytes (0 for folders). */
  size: number;
  /** The contents of a file; empty for other types. */
  data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

/** Reads exact byte counts from a stream of chunks. */
class ByteReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunk: Uint8Array = new Uint8Array(0);
  #offset = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Exactly `n` bytes, or null at a clean end of stream; throws on a partial read. */
  async read(n: number, what: () => string): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.#offset === this.#chunk.length) {
        const { done, value } = await this.#reader.read();
        if (done) {
          if (filled === 0) return null;
          throw new Error(`${what()}: truncated (ended ${n - filled} bytes early)`);
        }
        this.#chunk = value;
        this.#offset = 0;
        continue;
      }
      const take = Math.min(n - filled, this.#chunk.length - this.#offset);
      out.set(this.#chunk.subarray(this.#offset, this.#offset + take), filled);
      this.#offset += take;
      filled += take;
    }
    return out;
  }

  /** Stops reading: the source is cancelled (closes a download cut short by an error). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  /** Reads and drops the rest of the stream (so a hash over it sees every byte). */
  async drain(): Promise<void> {
    while (!(await this.#reader.read()).done) {
      // Discard: padding after the end-of-archive blocks.
    }
  }
}

function field(header: Uint8Array, start: number, length: number): string {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

function octal(header: Uint8Array, start: number, length: number): number {
  if (header[start] & 0x80) {
    // GNU base-256 for sizes of 8 GiB and more.
    let value = header[start] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + header[start + i];
    return value;
  }
  const text = field(header, start, length).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumOk(header: Uint8Array): boolean {
  const stored = octal(header, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
  return sum === stored;
}

function parsePax(data: Uint8Array): Map<string, string> {
  const records = new Map<string, string>();
  const text = decoder.decode(data);
  let i = 0;
  while (i < text.length) {
    const space = text.indexOf(" ", i);
    const length = parseInt(text.slice(i, space), 10);
    if (space === -1 || !(length > 0)) break;
    const record = text.slice(space + 1, i + length - 1);
    const eq = record.indexOf("=");
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1));
    i += length;
  }
  return records;
}

/**
 * Reads a tar archive from a stream, one member at a time. `source` names the archive in errors.
 * The stream is read to its end, also past the end-of-archive blocks.
 *
 * @example
 * ```ts
 * import { readTar } from "./tar.ts";
 * const file = await Deno.open("archive.tar.gz");
 * const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
 * for await (const entry of readTar(stream, "archive.tar.gz")) console.log(entry.name, entry.size);
 * ```
 */
export async function* readTar(
  stream: ReadableStream<Uint8Array>,
  source = "tar archive",
): AsyncGenerator<TarEntry> {
  const reader = new ByteReader(stream);
  let complete = false;
  try {
    yield* members(reader, source);
    complete = true;
  } finally {
    if (!complete) await reader.cancel();
  }
}

async function* members(reader: ByteReader, source: string): AsyncGenerator<TarEntry> {
  let longName: string | null = null;
  let pax = new Map<string, string>();
  let index = 0;
  while (true) {
    const header = await reader.read(BLOCK, () => `${source}: header of member ${index}`);
    if (header === null) return; // no end-of-archive blocks: accept, as GNU tar does
    if (header.every((b) => b === 0)) {
      await reader.drain();
      return;
    }
    if (!checksumOk(header)) {
      throw new Error(`${source}: member ${index} has a bad header checksum (corrupt archive)`);
    }
    const typeflag = String.fromCharCode(header[156]);
    let name = field(header, 0, 100);
    const prefix = field(header, 345, 155);
    if (field(header, 257, 5) === "ustar" && prefix) name = `${prefix}/${name}`;
    const size = pax.has("size") ? Number(pax.get("size")) : octal(header, 124, 12);
    const shown = name;
    const data = await reader.read(size, () => `${source}: member "${shown}"`) ??
      new Uint8Array(0);
    if (size > 0 && data.length === 0) {
      throw new Error(`${source}: member "${name}": truncated (no data)`);
    }
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (padding > 0) await reader.read(padding, () => `${source}: member "${shown}"`);
    index++;
    if (typeflag === "L") {
      longName = field(data, 0, data.length);
      continue;
    }
    if (typeflag === "x") {
      pax = parsePax(data);
      continue;
    }
    if (typeflag === "g" || typeflag === "K") continue;
    name = pax.get("path") ?? longName ?? name;
    longName = null;
    pax = new Map();
    name = name.replace(/^(\.\/)+/, "");
    if (typeflag === "0" || typeflag === "\0" || typeflag === "7") {
      yield { name, type: "file", size, data };
    } else if (typeflag === "5") {
      yield { name: name.replace(/\/+$/, ""), type: "directory", size: 0, data };
    } else {
      yield { name, type: "other", size, data: new Uint8Array(0) };
    }
  }
}

/**
 * Extracts the files and folders of a tar stream under `destination` (created if missing) and
 * returns the file paths written, relative to it. Members with absolute paths or `..` are refused.
 *
 * @example
 * ```ts
 * import { extractTar } from "./tar.ts";
 * const file = await Deno.open("cifar-10-binary.tar.gz");
 * const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
 * const written = await extractTar(stream, "data/tmp", "cifar-10-binary.tar.gz");
 * console.log(written); // the paths of the files written
 * ```
 */
export async function extractTar(
  stream: ReadableStream<Uint8Array>,
  destination: string,
  source = "tar archive",
): Promise<string[]> {
  const written: string[] = [];
  await Deno.mkdir(destination, { recursive: true });
  for await (const entry of readTar(stream, source)) {
    if (entry.type === "other" || entry.name === "") continue;
    const parts = entry.name.split("/");
    if (entry.name.startsWith("/") || parts.includes("..")) {
      throw new Error(`${source}: member "${entry.name}" would be written outside the folder`);
    }
    const path = join(destination, ...parts);
    if (entry.type === "directory") {
      await Deno.mkdir(path, { recursive: true });
      continue;
    }
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, entry.data);
    written.push(entry.name);
  }
  return written;
}
