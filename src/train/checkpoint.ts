/**
 * Checkpoints in the safetensors format, with a reader and writer of our own: an 8-byte
 * little-endian header length, a JSON header (each tensor's `dtype`, `shape` and `data_offsets`,
 * plus `__metadata__` strings), then the raw little-endian data.
 *
 * A checkpoint holds the model's state dict under PyTorch's names (so a file saved from PyTorch
 * with `safetensors.torch.save_file(model.state_dict(), path)` loads directly, and our model part
 * loads in PyTorch), the optimizer state under `optimizer.state.<param name>.<key>`, generator
 * states under `generator.<name>`, and the epoch, step and optimizer groups in the metadata.
 * Files are written atomically: a temporary file in the same folder, then a rename. A checkpoint's
 * metadata ends with `hajime.sha256`, a SHA-256 of every other metadata entry and every tensor,
 * checked whenever the file is read: an edited header value or a flipped byte is an error that
 * names the file, never a silently different run.
 *
 * @module
 */

import type { Module, StateEntry } from "../nn/module.ts";
import type { Optimizer, OptimizerState, OptimizerStateEntry } from "../optim/optimizer.ts";
import type { Generator } from "../random.ts";

/** The element types of the safetensors format. */
export type SafetensorsDType =
  | "BOOL"
  | "U8"
  | "I8"
  | "U16"
  | "I16"
  | "F16"
  | "BF16"
  | "U32"
  | "I32"
  | "F32"
  | "U64"
  | "I64"
  | "F64";

/** The TypedArray holding each dtype's elements (F16 and BF16 as raw 16-bit words). */
export type SafetensorsArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | BigUint64Array
  | BigInt64Array
  | Float64Array;

/** One tensor of a safetensors file. */
export interface SafeTensor {
  /** Element type. */
  dtype: SafetensorsDType;
  /** Dimensions (`[]` for a scalar). */
  shape: number[];
  /** Row-major elements in the dtype's array type. */
  data: SafetensorsArray;
}

/** The contents of a safetensors file. */
export interface Safetensors {
  /** Tensors by name, in the file's header order. */
  tensors: Map<string, SafeTensor>;
  /** The `__metadata__` strings (empty when absent). */
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDType, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  U16: 2,
  I16: 2,
  F16: 2,
  BF16: 2,
  U32: 4,
  I32: 4,
  F32: 4,
  U64: 8,
  I64: 8,
  F64: 8,
};

function view(dtype: SafetensorsDType, buffer: ArrayBuffer): SafetensorsArray {
  switch (dtype) {
    case "BOOL":
    case "U8":
      return new Uint8Array(buffer);
    case "I8":
      return new Int8Array(buffer);
    case "U16":
    case "F16":
    case "BF16":
      return new Uint16Array(buffer);
    case "I16":
      return new Int16Array(buffer);
    case "U32":
      return new Uint32Array(buffer);
    case "I32":
      return new Int32Array(buffer);
    case "F32":
      return new Float32Array(buffer);
    case "U64":
      return new BigUint64Array(buffer);
    case "I64":
      return new BigInt64Array(buffer);
    case "F64":
      return new Float64Array(buffer);
  }
}

function count(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Serialises tensors and metadata into safetensors bytes, in the given order, the header padded
 * with spaces to a multiple of 8 bytes (as the reference implementation does).
 *
 * @example
 * ```ts
 * import { decodeSafetensors, encodeSafetensors } from "@hajime/nn";
 * const bytes = encodeSafetensors(
 *   new Map([["w", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }]]),
 *   { epoch: "3" },
 * );
 * console.log(decodeSafetensors(bytes).metadata.epoch); // "3"
 * ```
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "__metadata__") throw new Error(`encodeSafetensors: "__metadata__" is reserved`);
    const bytes = BYTES[t.dtype];
    if (bytes === undefined) throw new Error(`encodeSafetensors: "${name}" has dtype ${t.dtype}`);
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`encodeSafetensors: "${name}" has shape ${shapeText(t.shape)}`);
    }
    if (t.data.length !== count(t.shape) || t.data.BYTES_PER_ELEMENT !== bytes) {
      throw new Error(
        `encodeSafetensors: "${name}" holds ${t.data.length} ${t.data.constructor.name} values ` +
          `for ${t.dtype} ${shapeText(t.shape)}`,
      );
    }
    header[name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const spaced = new Uint8Array(padded).fill(0x20);
    spaced.set(json);
    json = spaced;
  }
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  let at = 8 + padded;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Parses safetensors bytes, checking the header against the data: every error names the tensor.
 *
 * @example
 * ```ts
 * import { decodeSafetensors } from "@hajime/nn";
 * const file = decodeSafetensors(await Deno.readFile("model.safetensors"));
 * for (const [name, t] of file.tensors) console.log(name, t.dtype, t.shape);
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) {
    throw new Error(`safetensors: ${bytes.length} bytes, too short for a header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(dv.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) {
    throw new Error(
      `safetensors: header length ${headerLength} exceeds the file (${bytes.length} bytes)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new Error(`safetensors: the header is not JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new Error("safetensors: the header is not a JSON object");
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafeTensor>();
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      for (const [key, text] of Object.entries(value as Record<string, unknown>)) {
        if (typeof text !== "string") {
          throw new Error(`safetensors: metadata "${key}" is not a string`);
        }
        metadata[key] = text;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info?.dtype as SafetensorsDType;
    const shape = info?.shape as number[];
    const offsets = info?.data_offsets as [number, number];
    if (typeof dtype !== "string" || !(dtype in BYTES)) {
      throw new Error(
        `safetensors: "${name}" has unsupported dtype ${JSON.stringify(info?.dtype)}`,
      );
    }
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`safetensors: "${name}" has invalid shape ${JSON.stringify(info?.shape)}`);
    }
    if (
      !Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(Number.isInteger) ||
      offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength
    ) {
      throw new Error(
        `safetensors: "${name}" has data_offsets ${JSON.stringify(info?.data_offsets)} ` +
          `outside the ${dataLength} data bytes`,
      );
    }
    const byteLength = offsets[1] - offsets[0];
    if (byteLength !== count(shape) * BYTES[dtype]) {
      throw new Error(
        `safetensors: "${name}" (${dtype} ${shapeText(shape)}) spans ${byteLength} bytes, ` +
          `expected ${count(shape) * BYTES[dtype]}`,
      );
    }
    // A copy, so every array is aligned for its type whatever the file's offsets.
    const start = bytes.byteOffset + dataStart + offsets[0];
    const data = view(dtype, bytes.buffer.slice(start, start + byteLength) as ArrayBuffer);
    tensors.set(name, { dtype, shape: [...shape], data });
  }
  return { tensors, metadata };
}

/**
 * Writes a safetensors file atomically: to a temporary file beside `path`, flushed to disk, then
 * renamed over `path`, so a crash leaves either the old file or the new one. A missing folder is
 * created.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "@hajime/nn";
 * await writeSafetensors("weights.safetensors", new Map([
 *   ["w", { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) }],
 * ]));
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata);
  await Deno.mkdir(splitPath(path).folder, { recursive: true });
  const temporary = `${path}.tmp-${Deno.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
    try {
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
}

/** The metadata key of a checkpoint's checksum (see the module docs). */
export const CHECKSUM_KEY = "hajime.sha256";

/**
 * The SHA-256 (hex) of a file's contents as {@link CHECKSUM_KEY} covers them: every metadata entry
 * but the checksum (sorted by key), every tensor's name, dtype and shape in order, then their data.
 */
async function contentDigest(
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: Readonly<Record<string, string>>,
): Promise<string> {
  const entries = Object.entries(metadata).filter(([key]) => key !== CHECKSUM_KEY).sort();
  const index = [...tensors].map(([name, t]) => [name, t.dtype, t.shape]);
  const head = new TextEncoder().encode(JSON.stringify({ metadata: entries, tensors: index }));
  let length = head.length;
  for (const t of tensors.values()) length += t.data.byteLength;
  const bytes = new Uint8Array(length);
  bytes.set(head);
  let at = head.length;
  for (const t of tensors.values()) {
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Reads and parses a safetensors file. When its metadata holds a {@link CHECKSUM_KEY} (every
 * checkpoint hajime writes), the contents are checked against it first.
 *
 * @example
 * ```ts
 * import { readSafetensors } from "@hajime/nn";
 * const { tensors, metadata } = await readSafetensors("run/checkpoint.safetensors");
 * console.log(tensors.size, metadata);
 * ```
 */
export async function readSafetensors(path: string): Promise<Safetensors> {
  let file: Safetensors;
  try {
    file = decodeSafetensors(await Deno.readFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw error;
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  const expected = file.metadata[CHECKSUM_KEY];
  if (expected !== undefined && expected !== await contentDigest(file.tensors, file.metadata)) {
    throw new Error(
      `${path}: the contents do not match the checksum in its metadata ("${CHECKSUM_KEY}"): ` +
        `the file was changed after it was written (an edited header or damaged data); ` +
        `nothing loaded`,
    );
  }
  return file;
}

/**
 * `path`'s folder (`.` for a bare name) and file name, for either separator. Written here rather
 * than imported from node:path, which would keep the browser bundle (web.ts) from building.
 */
function splitPath(path: string): { folder: string; name: string } {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (cut < 0) return { folder: ".", name: path };
  return { folder: path.slice(0, cut) || path.slice(0, 1), name: path.slice(cut + 1) };
}

/** The checkpoint file names `writeSafetensors` writes first, for `path`. */
function isTemporaryOf(path: string, name: string): boolean {
  return name.startsWith(`${splitPath(path).name}.tmp-`);
}

/**
 * Readies `path` for checkpoints before any training: creates its folder if needed, checks that
 * the folder takes new files and that `path` is not a folder, and removes the temporary files
 * (`<name>.tmp-*`) that a run killed while writing left beside it. Throws an error naming the
 * path and the reason.
 *
 * @example
 * ```ts
 * import { prepareCheckpointPath } from "@hajime/nn";
 * await prepareCheckpointPath("runs/new/checkpoint.safetensors"); // creates runs/new/
 * ```
 */
export async function prepareCheckpointPath(path: string): Promise<void> {
  const { folder } = splitPath(path);
  const fail = (why: string): never => {
    throw new Error(`checkpoint ${path}: ${why}`);
  };
  try {
    await Deno.mkdir(folder, { recursive: true });
  } catch (error) {
    fail(`cannot create its folder ${folder} (${(error as Error).message})`);
  }
  const info = await Deno.stat(path).catch(() => null);
  if (info?.isDirectory) fail("is a folder; give a file name, e.g. checkpoint.safetensors");
  await removeStaleTemporaries(path);
  const probe = `${path}.tmp-${Deno.pid}-check`;
  try {
    await Deno.writeFile(probe, new Uint8Array(0));
    await Deno.remove(probe);
  } catch (error) {
    fail(`its folder ${folder} does not take new files (${(error as Error).message})`);
  }
}

/**
 * Removes the temporary files (`<name>.tmp-*`) that interrupted writes of `path` left in its
 * folder; returns how many. A missing folder has none.
 *
 * @example
 * ```ts
 * import { removeStaleTemporaries } from "@hajime/nn";
 * const removed = await removeStaleTemporaries("runs/a/checkpoint.safetensors");
 * console.log(removed); // 0 when nothing was left behind
 * ```
 */
export async function removeStaleTemporaries(path: string): Promise<number> {
  const { folder } = splitPath(path);
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(folder)) {
      if (entry.isFile && isTemporaryOf(path, entry.name)) {
        await Deno.remove(`${folder}/${entry.name}`);
        removed++;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return removed;
}

/** Decodes IEEE half-precision bits. */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * A tensor's elements as float32, whatever its dtype (F16 and BF16 decoded, integers converted).
 *
 * @example
 * ```ts
 * import { toFloat32 } from "@hajime/nn";
 * const x = toFloat32({ dtype: "I64", shape: [], data: new BigInt64Array([7n]) });
 * console.log(x); // Float32Array [7]
 * ```
 */
export function toFloat32(tensor: SafeTensor): Float32Array {
  const { dtype, data } = tensor;
  if (data instanceof Float32Array) return data;
  if (dtype === "BF16") {
    const words = new Uint32Array(data.length);
    for (let i = 0; i < data.length; i++) words[i] = Number(data[i]) << 16;
    return new Float32Array(words.buffer);
  }
  if (dtype === "F16") return Float32Array.from(data as Uint16Array, halfToFloat);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]);
  return out;
}

/** Where training stands: enough to resume the loop and the schedule exactly. */
export interface TrainState {
  /** The epoch in progress, 0-based (after a whole epoch `e`, this is `e + 1` with step 0). */
  epoch: number;
  /** Steps done within that epoch. */
  step: number;
  /** Optimizer steps done since the start of training (the schedule's position). */
  globalStep: number;
}

/** What a checkpoint saves or restores; every part but the model is optional. */
export interface CheckpointParts {
  /** The model: its state dict under PyTorch's names. */
  model: Module;
  /** The optimizer: `optimizer.state.*` tensors and its groups in the metadata. */
  optimizer?: Optimizer<{ lr: number }>;
  /** Where training stands. */
  trainState?: TrainState;
  /** Generators whose states are saved as `generator.<name>` (U32 [7]). */
  generators?: Readonly<Record<string, Generator>>;
  /** Further tensors saved as they are (names must not clash with the model's). */
  extra?: ReadonlyMap<string, SafeTensor>;
  /** Further metadata strings. */
  metadata?: Readonly<Record<string, string>>;
}

const OPTIMIZER_PREFIX = "optimizer.state.";
const GENERATOR_PREFIX = "generator.";
/** Checkpoint entries that are not model state. */
const RESERVED_PREFIXES = ["optimizer.", "generator.", "trainer."];

function isReserved(name: string): boolean {
  return RESERVED_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** The safetensors form of a model state dict: F32, and I64 for `num_batches_tracked`. */
function modelTensors(state: ReadonlyMap<string, StateEntry>): Map<string, SafeTensor> {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, entry] of state) {
    if (isReserved(name)) {
      throw new Error(
        `saveCheckpoint: model entry "${name}" clashes with the checkpoint's own names`,
      );
    }
    if (name.endsWith("num_batches_tracked") && entry.data.length === 1) {
      // PyTorch keeps this counter as an int64 scalar.
      tensors.set(name, {
        dtype: "I64",
        shape: [],
        data: new BigInt64Array([BigInt(Math.round(entry.data[0]))]),
      });
    } else {
      tensors.set(name, { dtype: "F32", shape: [...entry.shape], data: entry.data });
    }
  }
  return tensors;
}

/**
 * Saves a model's state dict alone, as PyTorch's `save_file(model.state_dict(), path)` would:
 * F32 tensors, I64 `num_batches_tracked`, `{"format": "pt"}` metadata. Atomic.
 *
 * @example
 * ```ts
 * import { initGpu, resnet, saveModelWeights } from "@hajime/nn";
 * await initGpu();
 * await saveModelWeights("resnet.safetensors", resnet());
 * ```
 */
export async function saveModelWeights(path: string, model: Module): Promise<void> {
  await writeSafetensors(path, modelTensors(await model.stateDict()), { format: "pt" });
}

/**
 * Saves a checkpoint: the model state, the optimizer state, the train state and generator
 * states, in one safetensors file written atomically, its metadata closed by a checksum
 * ({@link CHECKSUM_KEY}) that every later read verifies.
 *
 * @example
 * ```ts
 * import { Adam, Generator, initGpu, saveCheckpoint, veryBasicNet } from "@hajime/nn";
 * await initGpu();
 * const model = veryBasicNet();
 * const optimizer = new Adam(model, { lr: 0.003 });
 * await saveCheckpoint("run/checkpoint.safetensors", {
 *   model,
 *   optimizer,
 *   trainState: { epoch: 1, step: 0, globalStep: 1563 },
 *   generators: { data: new Generator(0) },
 * });
 * ```
 */
export async function saveCheckpoint(path: string, parts: CheckpointParts): Promise<void> {
  const tensors = modelTensors(await parts.model.stateDict());
  const metadata: Record<string, string> = { format: "pt", ...parts.metadata };
  if (parts.optimizer) {
    const state = await parts.optimizer.stateDict();
    for (const [key, entry] of state.tensors) {
      tensors.set(OPTIMIZER_PREFIX + key, { dtype: "F32", shape: entry.shape, data: entry.data });
    }
    metadata["optimizer.type"] = state.type;
    metadata["optimizer.param_groups"] = JSON.stringify(state.groups);
  }
  for (const [name, generator] of Object.entries(parts.generators ?? {})) {
    tensors.set(GENERATOR_PREFIX + name, { dtype: "U32", shape: [7], data: generator.getState() });
  }
  for (const [name, tensor] of parts.extra ?? []) {
    if (tensors.has(name)) throw new Error(`saveCheckpoint: extra tensor "${name}" clashes`);
    tensors.set(name, tensor);
  }
  if (parts.trainState) {
    metadata.epoch = String(parts.trainState.epoch);
    metadata.step = String(parts.trainState.step);
    metadata.global_step = String(parts.trainState.globalStep);
  }
  metadata[CHECKSUM_KEY] = await contentDigest(tensors, metadata);
  await writeSafetensors(path, tensors, metadata);
}

/** Options of {@link restoreCheckpoint} and {@link loadModelWeights}. */
export interface RestoreOptions {
  /**
   * As PyTorch's `strict`: when true (the default) missing and unexpected model tensors are
   * errors; when false they are ignored. Mis-shaped tensors are errors either way.
   */
  strict?: boolean;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length === b.length && a.every((d, i) => d === b[i])) return true;
  // A one-element tensor and a scalar are the same thing (PyTorch's `[]` counters).
  return count(a) === 1 && count(b) === 1 && (a.length === 0 || b.length === 0);
}

/** The model part of a file: checked against the model, problems collected by name. */
function modelState(
  file: Safetensors,
  model: Module,
  strict: boolean,
  problems: string[],
): Map<string, StateEntry> {
  const expected = new Map<string, readonly number[]>([
    ...model.namedParameters().map((
      [name, p],
    ): [string, readonly number[]] => [name, p.data.shape]),
    ...model.namedBuffers().map(([name, t]): [string, readonly number[]] => [name, t.shape]),
  ]);
  const defaults = model.stateDefaults();
  const state = new Map<string, StateEntry>();
  for (const [name, shape] of expected) {
    const tensor = file.tensors.get(name);
    if (!tensor) {
      const fallback = defaults.get(name);
      if (fallback) state.set(name, fallback);
      else if (strict) problems.push(`missing "${name}"`);
    } else if (!sameShape(tensor.shape, shape)) {
      problems.push(`"${name}" has shape ${shapeText(tensor.shape)}, expected ${shapeText(shape)}`);
    } else if (tensor.dtype === "BOOL") {
      problems.push(`"${name}" has dtype BOOL, expected a number type`);
    } else {
      state.set(name, { shape: [...shape], data: toFloat32(tensor) });
    }
  }
  if (strict) {
    for (const name of file.tensors.keys()) {
      if (!isReserved(name) && !expected.has(name)) problems.push(`unexpected "${name}"`);
    }
  }
  return state;
}

/** Loads a model state after checking it, keeping entries it lacks when not strict. */
async function applyModelState(
  model: Module,
  state: Map<string, StateEntry>,
  strict: boolean,
): Promise<void> {
  if (!strict) {
    const names = [...model.namedParameters(), ...model.namedBuffers()].map(([name]) => name);
    if (names.some((name) => !state.has(name))) {
      const current = await model.stateDict();
      for (const name of names) if (!state.has(name)) state.set(name, current.get(name)!);
    }
  }
  model.loadStateDict(state);
}

function failIf(owner: string, path: string, problems: string[]): void {
  if (problems.length > 0) {
    throw new Error(
      `${owner}: ${path}: ${problems.length} problem(s), nothing loaded:\n  ${
        problems.join("\n  ")
      }`,
    );
  }
}

/**
 * Loads model weights from a safetensors state dict (ours, a checkpoint, or one saved from
 * PyTorch with the `safetensors` package: F32/F16/BF16/F64 tensors, I64 counters). Every missing,
 * unexpected or mis-shaped tensor is reported by name before anything changes; as in PyTorch, a
 * missing BatchNorm `num_batches_tracked` loads as 0 (`Module.stateDefaults`).
 *
 * @example
 * ```ts
 * import { initGpu, loadModelWeights, resnet } from "@hajime/nn";
 * await initGpu();
 * const model = resnet();
 * await loadModelWeights("resnet_from_pytorch.safetensors", model);
 * ```
 */
export async function loadModelWeights(
  path: string,
  model: Module,
  options: RestoreOptions = {},
): Promise<void> {
  const strict = options.strict ?? true;
  const file = await readSafetensors(path);
  const problems: string[] = [];
  const state = modelState(file, model, strict, problems);
  failIf("loadModelWeights", path, problems);
  await applyModelState(model, state, strict);
}

function integerMetadata(
  metadata: Record<string, string>,
  key: string,
  problems: string[],
): number {
  const value = Number(metadata[key]);
  if (metadata[key] === undefined || !Number.isInteger(value) || value < 0) {
    problems.push(`metadata "${key}" is ${JSON.stringify(metadata[key])}, expected an integer ≥ 0`);
  }
  return value;
}

/**
 * Restores a checkpoint into the given parts (model, optimizer, generators) and returns its
 * train state (null when it holds none). Everything is checked first and every problem reported
 * by name in one error; nothing changes unless all parts fit.
 *
 * @example
 * ```ts
 * import { Adam, Generator, initGpu, restoreCheckpoint, veryBasicNet } from "@hajime/nn";
 * await initGpu();
 * const model = veryBasicNet();
 * const optimizer = new Adam(model, { lr: 0.003 });
 * const data = new Generator(0);
 * const state = await restoreCheckpoint("run/checkpoint.safetensors", {
 *   model,
 *   optimizer,
 *   generators: { data },
 * });
 * console.log(state?.epoch);
 * ```
 */
export async function restoreCheckpoint(
  path: string,
  parts: Omit<CheckpointParts, "trainState" | "extra" | "metadata">,
  options: RestoreOptions = {},
): Promise<TrainState | null> {
  const strict = options.strict ?? true;
  const file = await readSafetensors(path);
  const problems: string[] = [];
  const state = modelState(file, parts.model, strict, problems);

  let optimizerState: OptimizerState | null = null;
  if (parts.optimizer) {
    const tensors = new Map<string, OptimizerStateEntry>();
    for (const [name, tensor] of file.tensors) {
      if (name.startsWith(OPTIMIZER_PREFIX)) {
        tensors.set(name.slice(OPTIMIZER_PREFIX.length), {
          shape: tensor.shape,
          data: toFloat32(tensor),
        });
      }
    }
    const groupsText = file.metadata["optimizer.param_groups"];
    if (groupsText === undefined) {
      problems.push(`no optimizer state (metadata "optimizer.param_groups" is missing)`);
    } else {
      let groups: Record<string, unknown>[] | null = null;
      try {
        groups = JSON.parse(groupsText);
      } catch {
        problems.push(`metadata "optimizer.param_groups" is not JSON`);
      }
      if (groups) {
        optimizerState = { type: file.metadata["optimizer.type"] ?? "unknown", tensors, groups };
        problems.push(
          ...parts.optimizer.checkStateDict(optimizerState).map((p) => `optimizer: ${p}`),
        );
      }
    }
  }

  const generatorStates = new Map<Generator, Uint32Array>();
  for (const [name, generator] of Object.entries(parts.generators ?? {})) {
    const tensor = file.tensors.get(GENERATOR_PREFIX + name);
    if (!tensor) problems.push(`missing "${GENERATOR_PREFIX}${name}"`);
    else if (tensor.dtype !== "U32" || tensor.data.length !== 7) {
      problems.push(
        `"${GENERATOR_PREFIX}${name}" is ${tensor.dtype} ${
          shapeText(tensor.shape)
        }, expected U32 [7]`,
      );
    } else generatorStates.set(generator, tensor.data as Uint32Array);
  }

  let trainState: TrainState | null = null;
  if (file.metadata.epoch !== undefined) {
    trainState = {
      epoch: integerMetadata(file.metadata, "epoch", problems),
      step: integerMetadata(file.metadata, "step", problems),
      globalStep: integerMetadata(file.metadata, "global_step", problems),
    };
  }
  failIf("restoreCheckpoint", path, problems);

  await applyModelState(parts.model, state, strict);
  if (parts.optimizer && optimizerState) parts.optimizer.loadStateDict(optimizerState);
  for (const [generator, words] of generatorStates) generator.setState(words);
  return trainState;
}
