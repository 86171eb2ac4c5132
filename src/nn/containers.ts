/**
 * Containers and shape glue: `Sequential` (children run in order, backward in reverse),
 * `ModuleList` (a named list, printed and saved but not callable, as in PyTorch), `Residual`
 * (y = x + f(x)) and `Flatten` (a view, no copy).
 *
 * @module
 */

import { add } from "../kernels/elementwise.ts";
import { checkShape, type Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/**
 * Runs its children one after another, `nn.Sequential(...)`; children are named `0`, `1`, ...
 *
 * @example
 * ```ts
 * import { initGpu, Linear, ReLU, Sequential, Tensor } from "@hajime/nn";
 * await initGpu();
 * const mlp = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * const y = mlp.forward(Tensor.zeros([3, 4])); // [3, 2]
 * const dx = mlp.backward(Tensor.full([3, 2], 1)); // [3, 4]
 * ```
 */
export class Sequential extends Module {
  readonly #modules: Module[];

  /** The children, in order. */
  constructor(...modules: Module[]) {
    super();
    this.#modules = modules.map((m, i) => this.register(String(i), m));
  }

  /** Number of children. */
  get length(): number {
    return this.#modules.length;
  }

  /** The child at `index` (negative counts from the end). */
  at(index: number): Module {
    const m = this.#modules.at(index);
    if (!m) throw new Error(`Sequential.at: index ${index} out of range (length ${this.length})`);
    return m;
  }

  /** x through every child in order. */
  forward(x: Tensor): Tensor {
    for (const m of this.#modules) x = m.forward(x);
    return x;
  }

  /** dy through every child's backward in reverse order. */
  backward(dy: Tensor): Tensor {
    for (let i = this.#modules.length - 1; i >= 0; i--) dy = this.#modules[i].backward(dy);
    return dy;
  }
}

/**
 * A list of modules named `0`, `1`, ... for parameters, state dicts and printing,
 * `nn.ModuleList`. The owner iterates it in its own forward and backward; calling `forward` on
 * the list itself is an error, as in PyTorch.
 *
 * @example
 * ```ts
 * import { initGpu, Linear, ModuleList } from "@hajime/nn";
 * await initGpu();
 * const blocks = new ModuleList([new Linear(4, 4), new Linear(4, 4)]);
 * for (const block of blocks) console.log(block.outFeatures);
 * ```
 */
export class ModuleList<T extends Module = Module> extends Module {
  readonly #modules: T[] = [];

  /** The initial entries, in order. */
  constructor(modules: Iterable<T> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds `module` under the next index; returns this. */
  append(module: T): this {
    this.#modules.push(this.register(String(this.#modules.length), module));
    return this;
  }

  /** Number of entries. */
  get length(): number {
    return this.#modules.length;
  }

  /** The entry at `index` (negative counts from the end). */
  at(index: number): T {
    const m = this.#modules.at(index);
    if (!m) throw new Error(`ModuleList.at: index ${index} out of range (length ${this.length})`);
    return m;
  }

  /** The entries in order. */
  [Symbol.iterator](): Iterator<T> {
    return this.#modules[Symbol.iterator]();
  }

  /** Not callable: iterate the list in the owner's forward. */
  forward(_x: Tensor): Tensor {
    throw new Error("ModuleList.forward: a ModuleList is not callable; iterate its entries");
  }

  /** Not callable: iterate the list in reverse in the owner's backward. */
  backward(_dy: Tensor): Tensor {
    throw new Error("ModuleList.backward: a ModuleList is not callable; iterate its entries");
  }

  /** PyTorch's ModuleList print: consecutive identical entries collapse to `(0-3): 4 x ...`. */
  override toString(): string {
    if (this.#modules.length === 0) return `${this.typeName()}()`;
    const blocks: { start: number; end: number; text: string }[] = [];
    this.#modules.forEach((m, i) => {
      const text = m.toString();
      const last = blocks.at(-1);
      if (last && last.text === text) last.end = i;
      else blocks.push({ start: i, end: i, text });
    });
    const lines = blocks.map(({ start, end, text }) => {
      const head = start === end ? `(${start}): ` : `(${start}-${end}): ${end - start + 1} x `;
      return (head + text).split("\n").join("\n  ");
    });
    return `${this.typeName()}(\n  ${lines.join("\n  ")}\n)`;
  }
}

/**
 * A residual connection: y = x + fn(x), dx = dy + fn.backward(dy). `fn` must keep the shape.
 * The child is named `fn`.
 *
 * @example
 * ```ts
 * import { Conv2d, initGpu, Residual, Tensor } from "@hajime/nn";
 * await initGpu();
 * const block = new Residual(new Conv2d(16, 16, 3, { padding: 1 }));
 * const y = block.forward(Tensor.zeros([2, 16, 8, 8]));
 * ```
 */
export class Residual extends Module {
  /** The residual branch. */
  readonly fn: Module;

  /** Wraps `fn`. */
  constructor(fn: Module) {
    super();
    this.fn = this.register("fn", fn);
  }

  /** x → x + fn(x). */
  forward(x: Tensor): Tensor {
    const fx = this.fn.forward(x);
    checkShape("Residual.forward", "fn(x)", fx, x.shape);
    const y = this.owned("y", x.shape);
    add(x, fx, y);
    return y;
  }

  /** dy → dy + fn.backward(dy). */
  backward(dy: Tensor): Tensor {
    const dfx = this.fn.backward(dy);
    checkShape("Residual.backward", "fn.backward(dy)", dfx, dy.shape);
    const dx = this.owned("dx", dy.shape);
    add(dy, dfx, dx);
    return dx;
  }
}

/**
 * Flattens every axis after the first, `nn.Flatten()`: [N, C, H, W] → [N, C·H·W] as a view of
 * the same buffer (no copy, no dispatch).
 *
 * @example
 * ```ts
 * import { Flatten, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = new Flatten().forward(Tensor.zeros([32, 3, 32, 32])); // [32, 3072]
 * ```
 */
export class Flatten extends Module {
  #x: Tensor | null = null;
  #y: Tensor | null = null;
  #dy: Tensor | null = null;
  #dx: Tensor | null = null;
  #dxFor: Tensor | null = null;

  /** x: [N, ...] → y: [N, product of the rest], a view. */
  forward(x: Tensor): Tensor {
    if (x.shape.length < 1) throw new Error("Flatten.forward: x must have a batch axis");
    if (x !== this.#x) {
      this.#x = x;
      this.#y = x.reshape([x.shape[0], x.size / Math.max(1, x.shape[0])]);
    }
    return this.#y!;
  }

  /** dy: [N, D] → dx: dy viewed in the input's shape. */
  backward(dy: Tensor): Tensor {
    const x = this.#x;
    if (!x) throw new Error("Flatten.backward: call forward first");
    checkShape("Flatten.backward", "dy", dy, this.#y!.shape);
    if (dy !== this.#dy || x !== this.#dxFor) {
      this.#dy = dy;
      this.#dxFor = x;
      this.#dx = dy.reshape(x.shape);
    }
    return this.#dx!;
  }

  /** `start_dim=1, end_dim=-1`. */
  override extraRepr(): string {
    return "start_dim=1, end_dim=-1";
  }
}
