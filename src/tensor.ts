/**
 * GPU-resident tensors: a shape, a dtype and a pooled buffer; upload from and read back to
 * TypedArrays, in order with the work recorded in the open frame.
 *
 * @module
 */

import { bufferPool, READBACK_USAGE, TENSOR_USAGE, UPLOAD_USAGE } from "./gpu/buffer_pool.ts";
import { gpuDevice, throwPendingGpuError } from "./gpu/device.ts";
import { grid, wgslKernels } from "./gpu/kernel.ts";
import { afterSubmit, copyBuffer, flush, hasPendingWork, noteUpload } from "./gpu/step.ts";
import tensorWgsl from "../shaders/tensor.wgsl" with { type: "text" };
import {
  backward,
  type BackwardOptions,
  keepTensor,
  type Node,
  passGradient,
  record,
} from "./autograd.ts";
import * as elementwiseOps from "./ops/elementwise.ts";
import * as reduceOps from "./ops/reduce.ts";

/** Element types. `u8` is stored packed, four bytes to a 32-bit word (image batches). */
export type DType = "f32" | "i32" | "u32" | "u8";

/** The TypedArray that holds a dtype's elements on the CPU. */
export type ArrayFor<D extends DType> = D extends "f32" ? Float32Array
  : D extends "i32" ? Int32Array
  : D extends "u32" ? Uint32Array
  : Uint8Array;

/** Options for creating a tensor. */
export interface TensorOptions<D extends DType = DType> {
  /** Element type; `"f32"` unless given. */
  dtype?: D;
  /** `Owner.purpose` label of the buffer, shown in GPU errors. */
  label?: string;
  /** Record the ops on this tensor so `backward()` gives it a `grad` (a leaf; default false). */
  requiresGrad?: boolean;
}

const WORKGROUP = 256;
const kernel = wgslKernels("Tensor", tensorWgsl, {
  params: { count: "u32", bits: "u32", src_offset: "u32", dst_offset: "u32" },
});
const fillKernel = kernel("fill", 0, 1);
const copyKernel = kernel("copy", 1, 1);

let poison = false;

/**
 * Writes recorded late: an op may leave its output unwritten until something uses the buffer
 * (any kernel binding, read, copy or view goes through `Tensor.buffer`), so that a consumer able
 * to compute the op on the fly (batch norm reading a ReLU of its input) never needs it written.
 */
const deferredWrites = new WeakMap<Tensor<DType>, () => void>();

/**
 * Leaves `tensor` (a base tensor, not a view) unwritten until its buffer is first used, then runs
 * `write` (which records the kernel that fills it). Its inputs must not change in between: ops
 * defer only writes from op-made tensors, which nothing writes twice.
 */
export function deferWrite(tensor: Tensor<DType>, write: () => void): void {
  deferredWrites.set(tensor.base, write);
}

/** True while `tensor`'s deferred write has not run (nothing used its buffer yet). */
export function isDeferred(tensor: Tensor<DType>): boolean {
  return deferredWrites.has(tensor.base);
}

/** Runs `tensor`'s deferred write now, if it has one. */
export function materialize(tensor: Tensor<DType>): void {
  const base = tensor.base;
  const write = deferredWrites.get(base);
  if (!write) return;
  deferredWrites.delete(base);
  write();
}

/**
 * When on, every new tensor is filled with a poison pattern (NaN for f32, 0xDEADBEEF otherwise)
 * before any kernel writes it, so an element a kernel forgets to write shows up in tests.
 *
 * @example
 * ```ts
 * import { setPoison } from "./tensor.ts";
 * setPoison(true);
 * ```
 */
export function setPoison(on: boolean): void {
  poison = on;
}

/** The 32-bit pattern of `value` stored as `dtype`. */
function bitsOf(value: number, dtype: DType): number {
  if (dtype === "f32") return new Uint32Array(new Float32Array([value]).buffer)[0];
  if (dtype === "u8") return (value & 0xff) * 0x01010101;
  return value >>> 0;
}

/** `shape` with a −1 dimension inferred from `tensor`'s size; throws when it does not fit. */
function resolveShape(tensor: Tensor<DType>, shape: readonly number[]): number[] {
  const fail = (): never => {
    throw new Error(
      `Tensor "${tensor.label}": cannot reshape [${tensor.shape.join(", ")}] (${tensor.size} ` +
        `elements) to [${shape.join(", ")}]`,
    );
  };
  const unknown = shape.indexOf(-1);
  if (unknown !== shape.lastIndexOf(-1)) fail();
  if (unknown < 0) return elementCount(shape) === tensor.size ? [...shape] : fail();
  const known = elementCount(shape.filter((_, i) => i !== unknown));
  if (known === 0 || tensor.size % known !== 0) fail();
  return shape.map((d, i) => i === unknown ? tensor.size / known : d);
}

function rangeOf(data: ArrayLike<number>): readonly [number, number] | null {
  if (data.length === 0) return null;
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`Tensor: invalid shape [${shape.join(", ")}]: dimensions are integers ≥ 0`);
    }
    n *= d;
  }
  return n;
}

/**
 * Checks `tensor`'s shape against `expected` (a `null` entry matches any size) and throws an
 * error naming the owner, the argument and both shapes.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { checkShape } from "./tensor.ts";
 * await initGpu();
 * checkShape("Example.op", "x", Tensor.zeros([2, 3]), [2, null]);
 * ```
 */
export function checkShape(
  owner: string,
  name: string,
  tensor: Tensor<DType>,
  expected: readonly (number | null)[],
  dtype: DType = "f32",
): void {
  const ok = tensor.shape.length === expected.length &&
    expected.every((d, i) => d === null || d === tensor.shape[i]);
  if (!ok) {
    const want = expected.map((d) => d ?? "*").join(", ");
    throw new Error(`${owner}: ${name} has shape [${tensor.shape.join(", ")}], expected [${want}]`);
  }
  if (tensor.dtype !== dtype) {
    throw new Error(`${owner}: ${name} has dtype ${tensor.dtype}, expected ${dtype}`);
  }
  if (tensor.disposed) throw new Error(`${owner}: ${name} was disposed`);
}

/**
 * Throws when two of the named tensors share a GPU buffer: WebGPU forbids binding one buffer as
 * both input and output of a dispatch, and the error should name the arguments.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { checkDistinct } from "./tensor.ts";
 * await initGpu();
 * checkDistinct("Example.op", { x: Tensor.zeros([2]), y: Tensor.zeros([2]) });
 * ```
 */
export function checkDistinct(
  owner: string,
  args: Readonly<Record<string, Tensor<DType> | null | undefined>>,
): void {
  const seen: [string, GPUBuffer][] = [];
  for (const [name, tensor] of Object.entries(args)) {
    if (!tensor) continue;
    const other = seen.find(([, buffer]) => buffer === tensor.buffer);
    if (other) throw new Error(`${owner}: ${name} shares its buffer with ${other[0]}`);
    seen.push([name, tensor.buffer]);
  }
}

/**
 * Throws when an output shares its GPU buffer with any other argument (WebGPU forbids binding a
 * buffer both writable and otherwise in one dispatch); inputs may share buffers with each other.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { checkNoAlias } from "./tensor.ts";
 * await initGpu();
 * const x = Tensor.zeros([2]);
 * checkNoAlias("Example.op", { a: x, b: x }, { y: Tensor.zeros([2]) });
 * ```
 */
export function checkNoAlias(
  owner: string,
  inputs: Readonly<Record<string, Tensor<DType>>>,
  outputs: Readonly<Record<string, Tensor<DType>>>,
): void {
  const all = [...Object.entries(inputs), ...Object.entries(outputs)];
  for (const [name, t] of Object.entries(outputs)) {
    for (const [other, u] of all) {
      if (other !== name && u.buffer === t.buffer) {
        throw new Error(`${owner}: ${name} shares its buffer with ${other}`);
      }
    }
  }
}

/**
 * A GPU-resident tensor. Data lives in a pooled GPU buffer; reading and writing are ordered with
 * the GPU work recorded so far.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const x = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
 * console.log(x.shape, await x.read());
 * x.dispose();
 * ```
 */
export class Tensor<D extends DType = "f32"> {
  /** Dimensions, outermost first (NCHW for images). */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: D;
  /** Number of elements. */
  readonly size: number;
  /** `Owner.purpose` label. */
  readonly label: string;
  /** True when ops on this tensor are recorded for `backward()` (PyTorch's `requires_grad`). */
  requiresGrad = false;
  /**
   * The gradient `backward()` accumulated into this leaf (null until then). Parameters own theirs;
   * tensors made by ops (non-leaves) keep none, as in PyTorch.
   */
  grad: Tensor | null = null;
  /** The recorded op that made this tensor (PyTorch's `grad_fn`); null for leaves. */
  gradFn: Node | null = null;
  #buffer: GPUBuffer | null;
  readonly #owner: Tensor<DType> | null;
  #releaseNote: string | null = null;
  #valueRange: readonly [number, number] | null = null;

  private constructor(
    shape: readonly number[],
    dtype: D,
    label: string,
    buffer: GPUBuffer | null,
    owner: Tensor<DType> | null,
  ) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = elementCount(shape);
    this.label = label;
    this.#owner = owner;
    this.#buffer = buffer ?? bufferPool.acquire(Math.max(4, this.byteLength), TENSOR_USAGE, label);
  }

  /**
   * A tensor whose contents are undefined (poisoned when `setPoison(true)`).
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const y = Tensor.empty([32, 10], { label: "Example.logits" });
   * console.log(y.shape, y.dtype); // [32, 10] f32
   * ```
   */
  static empty<T extends DType = "f32">(
    shape: readonly number[],
    options: TensorOptions<T> = {},
  ): Tensor<T> {
    const tensor = Tensor.#make(shape, options);
    if (poison) tensor.fill(tensor.dtype === "f32" ? 0x7fc00000 : 0xdeadbeef, true);
    return tensor;
  }

  /**
   * A tensor of zeros.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const grad = Tensor.zeros([10, 3072]);
   * console.log((await grad.read())[0]); // 0
   * ```
   */
  static zeros<T extends DType = "f32">(
    shape: readonly number[],
    options: TensorOptions<T> = {},
  ): Tensor<T> {
    return Tensor.full(shape, 0, options);
  }

  /**
   * A tensor with every element `value`.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const ones = Tensor.full([4], 1);
   * console.log(await ones.read()); // [1, 1, 1, 1]
   * ```
   */
  static full<T extends DType = "f32">(
    shape: readonly number[],
    value: number,
    options: TensorOptions<T> = {},
  ): Tensor<T> {
    return Tensor.#make(shape, options).fill(value);
  }

  /**
   * A tensor holding `data` (converted to the dtype) with `shape`.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const labels = Tensor.from([3, 1, 4], [3], { dtype: "i32" });
   * console.log(await labels.read()); // Int32Array [3, 1, 4]
   * ```
   */
  static from<T extends DType = "f32">(
    data: ArrayLike<number>,
    shape: readonly number[],
    options: TensorOptions<T> = {},
  ): Tensor<T> {
    return Tensor.#make(shape, options).write(data);
  }

  static #make<T extends DType>(shape: readonly number[], options: TensorOptions<T>): Tensor<T> {
    const dtype = (options.dtype ?? "f32") as T;
    const tensor = new Tensor<T>(shape, dtype, options.label ?? "Tensor.data", null, null);
    if (options.requiresGrad) {
      if (dtype !== "f32") {
        throw new Error(`Tensor: only f32 tensors can require grad, not ${dtype}`);
      }
      tensor.requiresGrad = true;
    }
    return tensor;
  }

  /** Bytes the elements take (u8 counts one byte each). */
  get byteLength(): number {
    return this.dtype === "u8" ? this.size : this.size * 4;
  }

  /** Number of 32-bit words the elements take (u8 rounded up). */
  get wordCount(): number {
    return Math.ceil(this.byteLength / 4);
  }

  /** True once `dispose()` was called (on this tensor or, for a view, its owner). */
  get disposed(): boolean {
    return this.#owner ? this.#owner.disposed : this.#buffer === null;
  }

  /** The GPU buffer (its deferred write recorded first, if any); throws once disposed. */
  get buffer(): GPUBuffer {
    if (!this.#owner) materialize(this as Tensor<DType>);
    const buffer = this.#owner ? this.#owner.buffer : this.#buffer;
    if (!buffer || this.disposed) {
      throw new Error(`Tensor "${this.label}" was disposed${this.#note()}`);
    }
    return buffer;
  }

  #note(): string {
    const note = this.releaseNote;
    return note ? `: ${note}` : "";
  }

  /** Why the tape released this tensor, when it did (else null). */
  get releaseNote(): string | null {
    return this.#owner ? this.#owner.releaseNote : this.#releaseNote;
  }

  /**
   * `[min, max]` of integer data last uploaded from the CPU with `write` (losses check labels
   * with it before any GPU work); null for f32 tensors and for data the GPU wrote.
   */
  get valueRange(): readonly [number, number] | null {
    return this.#owner ? this.#owner.valueRange : this.#valueRange;
  }

  #setRange(range: readonly [number, number] | null): void {
    (this.#owner ?? this).#valueRange = range;
  }

  /** The tensor that owns the buffer: this one, or the owner of a view. */
  get base(): Tensor<D> {
    return (this.#owner ?? this) as Tensor<D>;
  }

  /**
   * The same data with another shape of the same size (one dimension may be −1: inferred), a
   * view that shares the buffer, as PyTorch's `reshape`; recorded for autograd, so its gradient
   * is the output gradient reshaped back.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const flat = Tensor.zeros([2, 3, 4]).reshape([2, 12]);
   * console.log(flat.shape); // [2, 12]
   * ```
   */
  reshape(shape: readonly number[]): Tensor<D> {
    const resolved = resolveShape(this, shape);
    const owner = (this.#owner ?? this) as Tensor<DType>;
    const view = new Tensor<D>(resolved, this.dtype, this.label, owner.buffer, owner);
    if (this.dtype === "f32") {
      record("view", [this], view, (dy, [dx]) => passGradient(dx, dy));
    }
    return view;
  }

  /**
   * PyTorch's `x.view(n, -1)`: `reshape` with the dimensions as arguments.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const x = Tensor.zeros([8, 16, 5, 5]);
   * const flat = x.view(x.shape[0], -1);
   * console.log(flat.shape); // [8, 400]
   * ```
   */
  view(...shape: number[]): Tensor<D> {
    return this.reshape(shape);
  }

  // Ops as methods (PyTorch's Tensor methods): each delegates to src/ops/, recorded on the tape.

  /**
   * PyTorch's `torch.flatten(x, startDim, endDim)`: dimensions `startDim`…`endDim` (negative
   * counts from the end) merged into one, as a view (`reshape`).
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const flat = Tensor.zeros([8, 16, 5, 5]).flatten(1);
   * console.log(flat.shape); // [8, 400]
   * ```
   */
  flatten(startDim = 0, endDim = -1): Tensor<D> {
    const rank = Math.max(1, this.shape.length);
    const start = startDim < 0 ? startDim + rank : startDim;
    const end = endDim < 0 ? endDim + rank : endDim;
    if (
      !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end >= rank || start > end
    ) {
      throw new Error(
        `Tensor "${this.label}": cannot flatten dimensions ${startDim}…${endDim} of shape [${
          this.shape.join(", ")
        }]`,
      );
    }
    const shape = this.shape.length === 0 ? [1] : this.shape;
    const merged = shape.slice(start, end + 1).reduce((a, b) => a * b, 1);
    return this.reshape([...shape.slice(0, start), merged, ...shape.slice(end + 1)]);
  }

  /**
   * `this + other` (same shapes), `F.add`.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const y = Tensor.from([1, 2], [2]).add(Tensor.from([10, 20], [2]));
   * console.log(await y.read()); // [11, 22]
   * ```
   */
  add(this: Tensor, other: Tensor): Tensor {
    return elementwiseOps.add(this, other);
  }

  /**
   * `this·other` elementwise (same shapes), or `this·factor` for a number, `F.mul`.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const y = Tensor.from([1, 2], [2]).mul(Tensor.from([3, -1], [2]));
   * console.log(await y.read()); // [3, -2]
   * ```
   */
  mul(this: Tensor, other: Tensor | number): Tensor {
    return elementwiseOps.mul(this, other);
  }

  /**
   * `max(this, 0)`, `F.relu`.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const y = Tensor.from([-1, 2], [2]).relu();
   * console.log(await y.read()); // [0, 2]
   * ```
   */
  relu(this: Tensor): Tensor {
    return elementwiseOps.relu(this);
  }

  /**
   * The column of each row's largest value of `[N, K]` (`dim` 1 or −1), i32 `[N]`: PyTorch's
   * `outputs.argmax(1)`.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const predicted = Tensor.from([0, 3, 1, 5, 5, 2], [2, 3]).argmax(1);
   * console.log(await predicted.read()); // Int32Array [1, 0]
   * ```
   */
  argmax(this: Tensor, dim: number): Tensor<"i32"> {
    return reduceOps.argmax(this, dim);
  }

  /**
   * 1 where `this` equals `other` (i32 tensors of one shape), else 0: PyTorch's `a.eq(b)`.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const outputs = Tensor.from([0, 3, 1, 5, 5, 2], [2, 3]);
   * const labels = Tensor.from([1, 2], [2], { dtype: "i32" });
   * console.log(await outputs.argmax(1).eq(labels).sum().item()); // 1 correct
   * ```
   */
  eq(this: Tensor<"i32">, other: Tensor<"i32">): Tensor<"i32"> {
    return reduceOps.eq(this, other);
  }

  /**
   * The sum of every element, `[1]` of this dtype (f32, differentiable, or i32).
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * console.log(await Tensor.from([1, 2, 3], [3]).sum().item()); // 6
   * ```
   */
  sum(): Tensor<D> {
    return reduceOps.sum(this);
  }

  /**
   * The mean of every element of an f32 tensor, `[1]`, differentiable.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * console.log(await Tensor.from([1, 2, 3, 6], [4]).mean().item()); // 3
   * ```
   */
  mean(this: Tensor): Tensor {
    return reduceOps.mean(this);
  }

  /**
   * The same data with no recorded history: ops on it are not traced back (PyTorch's
   * `detach()`); shares the buffer.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const w = Tensor.zeros([2], { requiresGrad: true });
   * console.log(w.detach().requiresGrad); // false
   * ```
   */
  detach(): Tensor<D> {
    const owner = (this.#owner ?? this) as Tensor<DType>;
    return new Tensor<D>(this.shape, this.dtype, this.label, owner.buffer, owner);
  }

  /**
   * Takes a tensor made by an op out of automatic release: it stays until `dispose()`.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const y = Tensor.from([-1, 2], [2]).relu().keep();
   * y.dispose();
   * ```
   */
  keep(): this {
    keepTensor(this.base as Tensor<DType>);
    return this;
  }

  /**
   * Back-propagates from this tensor (a one-element loss, or any tensor with `{ gradient }`):
   * every leaf that requires a gradient, parameters included, gets it added into `grad`.
   * Records kernels into the open frame (the step's one submit comes later).
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const w = Tensor.from([1, -2, 3], [3], { requiresGrad: true });
   * w.relu().sum().backward();
   * console.log(await w.grad!.read()); // [1, 0, 1]
   * ```
   */
  backward(options: BackwardOptions = {}): void {
    backward(this as Tensor<DType>, options);
  }

  /**
   * The value of a one-element tensor (PyTorch's `item()`): one readback.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * console.log(await Tensor.from([4], [1]).item()); // 4
   * ```
   */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new Error(
        `Tensor "${this.label}": item() needs one element, the shape is [${this.shape.join(", ")}]`,
      );
    }
    return (await this.read())[0];
  }

  /**
   * Records a fill of every element with `value` (or raw 32-bit `value` with `rawBits`).
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const t = Tensor.empty([8]);
   * t.fill(0.5);
   * ```
   */
  fill(value: number, rawBits = false): this {
    const count = this.wordCount;
    if (count === 0) return this;
    const bits = rawBits ? value >>> 0 : bitsOf(value, this.dtype);
    this.#setRange(this.dtype === "f32" || rawBits ? null : [value, value]);
    fillKernel.dispatch(
      { count, bits, src_offset: 0, dst_offset: 0 },
      [this.buffer],
      grid(Math.ceil(count / WORKGROUP)),
    );
    return this;
  }

  /**
   * Records a copy of `source`'s elements into this tensor (same dtype and size).
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const a = Tensor.from([1, 2], [2]);
   * const b = Tensor.empty([2]);
   * b.copyFrom(a);
   * ```
   */
  copyFrom(source: Tensor<D>): this {
    if (source.size !== this.size || source.dtype !== this.dtype) {
      throw new Error(
        `Tensor "${this.label}": cannot copy from "${source.label}" ` +
          `(${source.dtype} [${source.shape.join(", ")}] into ${this.dtype} [${
            this.shape.join(", ")
          }])`,
      );
    }
    Tensor.copyWords(source, 0, this, 0, this.wordCount);
    this.#setRange(source.valueRange);
    return this;
  }

  /**
   * Records a copy of `count` raw 32-bit words of `source`, from word `sourceOffset`, into
   * `target` from word `targetOffset`: the bits are copied, not converted, so the dtypes may
   * differ. A dispatch inside the frame's compute pass, where a buffer copy would end the pass.
   * The target's recorded value range is forgotten unless the whole of it is copied by
   * `copyFrom`.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const ring = Tensor.zeros([4]);
   * Tensor.copyWords(Tensor.from([2.5], [1]), 0, ring, 3, 1);
   * console.log(await ring.read()); // [0, 0, 0, 2.5]
   * ```
   */
  static copyWords(
    source: Tensor<DType>,
    sourceOffset: number,
    target: Tensor<DType>,
    targetOffset: number,
    count: number,
  ): void {
    for (
      const [name, value] of [["sourceOffset", sourceOffset], ["targetOffset", targetOffset], [
        "count",
        count,
      ]] as const
    ) {
      if (!Number.isInteger(value) || value < 0) {
        throw new RangeError(`Tensor.copyWords: ${name} is ${value}, expected an integer ≥ 0`);
      }
    }
    for (const [t, offset] of [[source, sourceOffset], [target, targetOffset]] as const) {
      if (offset + count > t.wordCount) {
        throw new RangeError(
          `Tensor.copyWords: words [${offset}, ${offset + count}) are outside ` +
            `"${t.label}" (${t.wordCount} words)`,
        );
      }
    }
    if (source.base === target.base) {
      throw new Error(`Tensor.copyWords: "${source.label}" and "${target.label}" share a buffer`);
    }
    if (count === 0) return;
    target.#setRange(null);
    copyKernel.dispatch(
      { count, bits: 0, src_offset: sourceOffset, dst_offset: targetOffset },
      [source.buffer, target.buffer],
      grid(Math.ceil(count / WORKGROUP)),
    );
  }

  /**
   * Uploads `data` (exactly `size` elements) into the tensor, after the work recorded so far.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const t = Tensor.empty([3]);
   * t.write(new Float32Array([1, 2, 3]));
   * ```
   */
  write(data: ArrayLike<number>): this {
    if (data.length !== this.size) {
      throw new Error(
        `Tensor "${this.label}": write of ${data.length} elements into shape [${
          this.shape.join(", ")
        }] (${this.size} elements)`,
      );
    }
    this.#setRange(this.dtype === "f32" ? null : rangeOf(data));
    const bytes = this.#toBytes(data);
    if (bytes.byteLength === 0) return this;
    const device = gpuDevice();
    noteUpload(bytes.byteLength);
    if (!hasPendingWork()) {
      device.queue.writeBuffer(this.buffer, 0, bytes);
      return this;
    }
    // Work recorded earlier in the open frame may still read the old contents: stage the data
    // and copy it in order, inside the frame.
    const staging = bufferPool.acquire(bytes.byteLength, UPLOAD_USAGE, "Tensor.upload");
    device.queue.writeBuffer(staging, 0, bytes);
    copyBuffer(staging, 0, this.buffer, 0, bytes.byteLength);
    afterSubmit(() => bufferPool.release(staging));
    return this;
  }

  #toBytes(data: ArrayLike<number>): Uint8Array<ArrayBuffer> {
    const padded = Math.ceil(this.byteLength / 4) * 4;
    let array: Float32Array | Int32Array | Uint32Array | Uint8Array;
    if (this.dtype === "u8") {
      array = new Uint8Array(padded);
      array.set(data);
    } else if (this.dtype === "f32") {
      array = data instanceof Float32Array ? data : Float32Array.from(data);
    } else if (this.dtype === "i32") {
      array = data instanceof Int32Array ? data : Int32Array.from(data);
    } else {
      array = data instanceof Uint32Array ? data : Uint32Array.from(data);
    }
    return new Uint8Array(array.buffer as ArrayBuffer, array.byteOffset, padded);
  }

  /**
   * Reads the elements back. Submits the open frame (one submit), then waits for the copy.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * const values: Float32Array = await Tensor.full([3], 2).read();
   * console.log(values); // [2, 2, 2]
   * ```
   */
  async read(): Promise<ArrayFor<D>> {
    const bytes = Math.ceil(this.byteLength / 4) * 4;
    if (bytes === 0) return this.#typed(new ArrayBuffer(0));
    const staging = bufferPool.acquire(bytes, READBACK_USAGE, "Tensor.readback");
    copyBuffer(this.buffer, 0, staging, 0, bytes);
    flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
      const copy = staging.getMappedRange(0, bytes).slice(0);
      staging.unmap();
      return this.#typed(copy);
    } finally {
      bufferPool.release(staging);
      throwPendingGpuError();
    }
  }

  #typed(buffer: ArrayBuffer): ArrayFor<D> {
    switch (this.dtype) {
      case "f32":
        return new Float32Array(buffer) as ArrayFor<D>;
      case "i32":
        return new Int32Array(buffer) as ArrayFor<D>;
      case "u32":
        return new Uint32Array(buffer) as ArrayFor<D>;
      default:
        return new Uint8Array(buffer, 0, this.size) as ArrayFor<D>;
    }
  }

  /**
   * Returns the buffer to the pool. Work already recorded on it still runs; the tensor (and its
   * views) can no longer be used.
   *
   * @example
   * ```ts
   * import { initGpu, Tensor } from "@hajime/nn";
   * await initGpu();
   * Tensor.zeros([4]).dispose();
   * ```
   */
  dispose(): void {
    if (this.#owner || !this.#buffer) return;
    deferredWrites.delete(this as Tensor<DType>);
    bufferPool.release(this.#buffer);
    this.#buffer = null;
    this.gradFn = null;
  }

  /** Records why the tape releases this tensor, for the error a later use gives. */
  static markReleased(tensor: Tensor<DType>, note: string): void {
    tensor.#releaseNote = note;
  }

  /** `Tensor(label, f32 [2, 3])`. */
  toString(): string {
    return `Tensor(${this.label}, ${this.dtype} [${this.shape.join(", ")}])`;
  }
}
