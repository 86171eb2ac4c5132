/**
 * Containers and shape glue, forward only (the tape derives their backward): `Sequential`
 * (children run in order), `ModuleList` (a named list, printed and saved but not callable, as in
 * PyTorch), `Residual` (y = x + f(x)) and `Flatten` (a view, no copy).
 *
 * @module
 */

import { add } from "../ops/elementwise.ts";
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
 * y.backward({ gradient: Tensor.full([3, 2], 1) }); // every Linear's grads accumulate
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
}

/**
 * A list of modules named `0`, `1`, ... for parameters, state dicts and printing,
 * `nn.ModuleList`. The owner iterates it in its own forward; calling `forward` on the list
 * itself is an error, as in PyTorch.
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
 * A residual connection: y = x + fn(x) (the `add` op). `fn` must keep the shape. The child is
 * named `fn`.
 *
 * @example
 * ```ts
 * import { Conv2d, initGpu, Residual, Tensor } from "@hajime/nn";
 * await initGpu();
 * const block = new Residual(new Conv2d(16, 16, 3, { padding: 1 }));
 * const y = block.forward(Tensor.zeros([2, 16, 8, 8]));
 * console.log(y.shape); // [2, 16, 8, 8]
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
    return add(x, fx);
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
 * const y = new Flatten().forward(Tensor.zeros([32, 3, 32, 32]));
 * console.log(y.shape); // [32, 3072]
 * ```
 */
export class Flatten extends Module {
  /** x: [N, ...] → y: [N, product of the rest], a view (recorded: its gradient is dy reshaped). */
  forward(x: Tensor): Tensor {
    if (x.shape.length < 1) throw new Error("Flatten.forward: x must have a batch axis");
    return x.reshape([x.shape[0], x.shape.slice(1).reduce((a, b) => a * b, 1)]);
  }

  /** `start_dim=1, end_dim=-1`. */
  override extraRepr(): string {
    return "start_dim=1, end_dim=-1";
  }
}
