/**
 * The layer object model: `Module` (a `forward` only, parameters, buffers, train/eval, state
 * dicts with PyTorch's dotted names, PyTorch-style printing) and `Parameter` (a leaf tensor that
 * requires a gradient, and that gradient).
 *
 * Modules hold no per-call state: their forward calls ops (src/ops/), which record what
 * backward needs on the tape (src/autograd.ts), so a module may be called any number of times in
 * a step and `loss.backward()` derives every gradient.
 *
 * @module
 */

import { beginStep, callModel } from "../autograd.ts";
import { Tensor } from "../tensor.ts";

/**
 * A trainable leaf tensor (`data`, which requires a gradient) and its gradient (same shape,
 * zero-initialised). `loss.backward()` adds into `grad`; `zeroGrad()` clears it.
 *
 * @example
 * ```ts
 * import { initGpu, Parameter, Tensor } from "@hajime/nn";
 * await initGpu();
 * const w = new Parameter(Tensor.zeros([10, 3], { label: "Example.weight" }));
 * console.log(w.grad.shape, w.data.requiresGrad); // [10, 3] true
 * ```
 */
export class Parameter {
  /** The values: a leaf that requires a gradient; ops take it as they take any tensor. */
  readonly data: Tensor;
  /** The accumulated gradient, same shape as `data` (`data.grad` is the same tensor). */
  readonly grad: Tensor;

  /** Wraps `data` and allocates a zero gradient labelled `<label>.grad`. */
  constructor(data: Tensor) {
    this.data = data;
    this.grad = Tensor.zeros(data.shape, { label: `${data.label}.grad` });
    data.requiresGrad = true;
    data.grad = this.grad;
  }

  /** The shape of `data`. */
  get shape(): readonly number[] {
    return this.data.shape;
  }

  /** Frees both tensors. */
  dispose(): void {
    this.data.dispose();
    this.grad.dispose();
  }
}

/**
 * One tensor of a state dict: its shape and its values (PyTorch's layout, row-major).
 *
 * @example
 * ```ts
 * import type { StateEntry } from "@hajime/nn";
 * const bias: StateEntry = { shape: [2], data: new Float32Array([0.1, -0.2]) };
 * console.log(bias.shape); // [2]
 * ```
 */
export interface StateEntry {
  /** Dimensions, as PyTorch reports them (`[]` for a scalar such as `num_batches_tracked`). */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

/**
 * A state dict: PyTorch's dotted names (`layers.0.conv.weight`) to tensors, in PyTorch's order.
 *
 * @example
 * ```ts
 * import { initGpu, resnet, type StateDict } from "@hajime/nn";
 * await initGpu();
 * const state: StateDict = await resnet().stateDict();
 * console.log(state.get("layers.0.bn.running_mean")!.shape); // [32]
 * ```
 */
export type StateDict = Map<string, StateEntry>;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** PyTorch's `_addindent`: indents every line but the first by `spaces`. */
function addIndent(text: string, spaces: number): string {
  const lines = text.split("\n");
  if (lines.length === 1) return text;
  const pad = " ".repeat(spaces);
  return [lines[0], ...lines.slice(1).map((line) => pad + line)].join("\n");
}

/**
 * The base of every layer and model. Subclasses register children, parameters and buffers in
 * their constructor (the order is the order of `stateDict()` and of `toString()`), and implement
 * `forward` only: `loss.backward()` derives the gradients from what the forward's ops recorded.
 *
 * @example
 * ```ts
 * import { F, initGpu, Linear, Module, Tensor } from "@hajime/nn";
 * await initGpu();
 * class Mlp extends Module {
 *   fc1: Linear = this.register("fc1", new Linear(4, 8));
 *   fc2: Linear = this.register("fc2", new Linear(8, 2));
 *   forward(x: Tensor): Tensor {
 *     return this.fc2.forward(F.relu(this.fc1.forward(x)));
 *   }
 * }
 * const model = new Mlp();
 * console.log(model.toString(), model.numParameters()); // 58 parameters
 * ```
 */
export abstract class Module {
  /** True in training mode (the default); BatchNorm and dropout behave differently in eval. */
  training = true;
  #children: [string, Module][] = [];
  #parameters: [string, Parameter][] = [];
  #buffers: [string, Tensor][] = [];

  /**
   * Wraps the subclass's `forward` so that a top-level model call may begin a new step of
   * op-made tensors (src/autograd.ts: how long they live).
   */
  constructor() {
    const forward = (this as unknown as { forward: unknown }).forward;
    Object.defineProperty(this, "forward", {
      value: (...inputs: Tensor[]): Tensor =>
        callModel(
          () => (forward as (...xs: Tensor[]) => Tensor).apply(this, inputs),
          this.training,
        ),
      writable: true,
      configurable: true,
    });
  }

  /**
   * Runs the module on `x` and returns its output, made by ops (recorded for `backward()` when
   * an input or a parameter requires a gradient).
   */
  abstract forward(x: Tensor): Tensor;

  /** The class name PyTorch prints (`Conv2d`, `BnLayer`, ...). */
  typeName(): string {
    return this.constructor.name;
  }

  /** PyTorch's `extra_repr`: the text inside the parentheses of a leaf, e.g. `p=0.2`. */
  extraRepr(): string {
    return "";
  }

  /**
   * Adds a child module under `name` (the order is PyTorch's registration order). Register every
   * child with parameters, buffers or a train/eval behaviour (BatchNorm, dropout): `train()`,
   * `parameters()` and `stateDict()` only see registered children. Stateless helpers used like
   * PyTorch's functional calls (`F.relu`) may stay unregistered, which keeps them out of the
   * printed tree, as in PyTorch.
   */
  protected register<T extends Module>(name: string, child: T): T {
    this.#checkName(name);
    this.#children.push([name, child]);
    return child;
  }

  /** Adds a parameter under `name`. */
  protected registerParameter(name: string, p: Parameter): Parameter {
    this.#checkName(name);
    this.#parameters.push([name, p]);
    return p;
  }

  /** Adds a non-trainable state tensor under `name` (e.g. `running_mean`), saved in state dicts. */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.#checkName(name);
    this.#buffers.push([name, t]);
    return t;
  }

  #checkName(name: string): void {
    if (name === "" || name.includes(".")) {
      throw new Error(`${this.typeName()}: invalid name "${name}" (non-empty, without dots)`);
    }
    const taken = [...this.#children, ...this.#parameters, ...this.#buffers]
      .some(([n]) => n === name);
    if (taken) throw new Error(`${this.typeName()}: name "${name}" is already registered`);
  }

  /** Direct children with their names, in registration order. */
  children(): [string, Module][] {
    return [...this.#children];
  }

  /** Every module of the tree with its dotted name, this one first (named `""`). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.#children) {
      out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }

  /** Every parameter of the tree with its dotted name, in PyTorch's order. */
  namedParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, p] of module.#parameters) {
        out.push([prefix ? `${prefix}.${name}` : name, p]);
      }
    }
    return out;
  }

  /** Every parameter of the tree, in PyTorch's order (what optimizers take). */
  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Every buffer of the tree with its dotted name (`layers.0.bn.running_mean`, ...). */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, t] of module.#buffers) out.push([prefix ? `${prefix}.${name}` : name, t]);
    }
    return out;
  }

  /** Sets training mode on the whole tree; returns this. */
  train(mode = true): this {
    for (const [, module] of this.namedModules()) module.training = mode;
    return this;
  }

  /** Sets evaluation mode on the whole tree (BatchNorm uses running statistics); returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Records a fill of every parameter gradient with 0; begins a new step (src/autograd.ts). */
  zeroGrad(): void {
    beginStep();
    for (const p of this.parameters()) p.grad.fill(0);
  }

  /** The number of trainable values (PyTorch's `sum(p.numel() for p in model.parameters())`). */
  numParameters(): number {
    return this.parameters().reduce((sum, p) => sum + p.data.size, 0);
  }

  /** The entries of `stateDict()` in order: for each module its parameters, then its buffers. */
  #stateTensors(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      const local: [string, Tensor][] = [
        ...module.#parameters.map(([n, p]): [string, Tensor] => [n, p.data]),
        ...module.#buffers,
      ];
      for (const [name, t] of local) out.push([prefix ? `${prefix}.${name}` : name, t]);
    }
    return out;
  }

  /**
   * Reads every parameter and buffer back: PyTorch's `state_dict()`, same names, order and
   * layouts.
   */
  async stateDict(): Promise<StateDict> {
    const tensors = this.#stateTensors();
    // All readbacks in flight at once: one wait instead of one per tensor.
    const values = await Promise.all(tensors.map(([, t]) => t.read()));
    return new Map(tensors.map(([name, t], i): [string, StateEntry] => {
      const v = values[i];
      return [name, {
        shape: [...t.shape],
        data: v instanceof Float32Array ? v : Float32Array.from(v),
      }];
    }));
  }

  /**
   * Loads a state dict of the same architecture. Every missing, unexpected or mis-shaped entry
   * is reported by name in one error, thrown before anything is changed; entries with a default
   * ({@link stateDefaults}) may be missing, as in PyTorch.
   */
  loadStateDict(given: ReadonlyMap<string, StateEntry>): void {
    const state = new Map([...this.stateDefaults(), ...given]);
    const tensors = this.#stateTensors();
    const expected = new Map(tensors);
    const problems: string[] = [];
    for (const [name, t] of tensors) {
      const entry = state.get(name);
      if (!entry) {
        problems.push(`missing "${name}"`);
      } else if (!sameShape(entry.shape, t.shape) || entry.data.length !== t.size) {
        problems.push(
          `"${name}" has shape [${entry.shape.join(", ")}] (${entry.data.length} values), ` +
            `expected [${t.shape.join(", ")}]`,
        );
      }
    }
    for (const name of state.keys()) {
      if (!expected.has(name)) problems.push(`unexpected "${name}"`);
    }
    if (problems.length > 0) {
      throw new Error(
        `${this.typeName()}.loadStateDict: ${problems.length} problem(s), nothing loaded:\n  ` +
          problems.join("\n  "),
      );
    }
    for (const [name, t] of tensors) t.write(state.get(name)!.data);
    for (const [prefix, module] of this.namedModules()) {
      const local = new Map<string, StateEntry>();
      const head = prefix ? `${prefix}.` : "";
      for (const [name] of [...module.#parameters, ...module.#buffers]) {
        local.set(name, state.get(head + name)!);
      }
      module.afterLoad(local);
    }
  }

  /**
   * The entries a state dict may lack, by dotted name, with the values `loadStateDict` gives
   * them: PyTorch's BatchNorm loads a missing `num_batches_tracked` (older or hand-filtered
   * state dicts) as 0.
   */
  stateDefaults(): StateDict {
    const out: StateDict = new Map();
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, entry] of module.localStateDefaults()) {
        out.set(prefix ? `${prefix}.${name}` : name, entry);
      }
    }
    return out;
  }

  /** This module's own entries of {@link stateDefaults}, by local name; none unless overridden. */
  protected localStateDefaults(): ReadonlyMap<string, StateEntry> {
    return new Map();
  }

  /**
   * Called by `loadStateDict` on every module with its own entries (local names) after the
   * tensors were written; BatchNorm reads `num_batches_tracked` here.
   */
  protected afterLoad(_state: ReadonlyMap<string, StateEntry>): void {}

  /** Frees every parameter, buffer and owned tensor of the tree; the module is unusable after. */
  dispose(): void {
    for (const [, module] of this.namedModules()) {
      for (const [, p] of module.#parameters) p.dispose();
      for (const [, t] of module.#buffers) t.dispose();
    }
  }

  /** The module tree as PyTorch's `print(model)` shows it. */
  toString(): string {
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split("\n") : [];
    const childLines = this.#children.map(([name, child]) =>
      `(${name}): ${addIndent(child.toString(), 2)}`
    );
    const lines = [...extraLines, ...childLines];
    let text = `${this.typeName()}(`;
    if (extraLines.length === 1 && childLines.length === 0) text += extraLines[0];
    else if (lines.length > 0) text += `\n  ${lines.join("\n  ")}\n`;
    return text + ")";
  }
}

/**
 * A number as Python's `repr(float)` writes it (`1e-05`, `0.1`, `0.0`), for PyTorch-style
 * printing of hyperparameters.
 *
 * @example
 * ```ts
 * import { pythonFloat } from "./module.ts";
 * pythonFloat(1e-5); // "1e-05"
 * ```
 */
export function pythonFloat(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? "nan" : value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const exponent = Math.floor(Math.log10(Math.abs(value)));
  if (exponent < -4 || exponent >= 16) {
    const [mantissa, exp] = value.toExponential().split("e");
    const sign = exp.startsWith("-") ? "-" : "+";
    return `${mantissa}e${sign}${exp.replace(/^[+-]/, "").padStart(2, "0")}`;
  }
  return Number.isInteger(value) ? `${value}.0` : String(value);
}
