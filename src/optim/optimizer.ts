/**
 * The optimizer base: parameter groups with their own hyperparameters (as `torch.optim`'s
 * `param_groups`), per-parameter state tensors on the GPU, and a state dict of that state with the
 * parameters' dotted names, for checkpoints. Subclasses record one update dispatch per parameter
 * in `step()` and never read anything back.
 *
 * @module
 */

import type { Module, Parameter } from "../nn/module.ts";
import { beginStep } from "../autograd.ts";
import { Tensor } from "../tensor.ts";

/** A parameter with the dotted name it has in its model (`layers.0.conv.weight`). */
export interface NamedParameter {
  /** The name; for parameters given without one, their index as a string (`"0"`, `"1"`, ...). */
  readonly name: string;
  /** The parameter. */
  readonly param: Parameter;
}

/** Parameters as an optimizer takes them: a model, named pairs, or bare parameters. */
export type ParameterSource =
  | Module
  | Iterable<readonly [string, Parameter]>
  | Iterable<Parameter>;

/** A parameter group to create: its parameters and the hyperparameters it overrides. */
export type ParamGroupInput<O> = Partial<O> & {
  /** The group's parameters. */
  params: ParameterSource;
};

/** A parameter group: its parameters, its hyperparameters, and the learning rate it began with. */
export type ParamGroup<O> = O & {
  /** The group's parameters, named. */
  readonly params: readonly NamedParameter[];
  /** The learning rate the group was created with (`initial_lr`): schedules scale from it. */
  initialLr: number;
};

/** One state tensor read back: its shape (PyTorch's, `[]` for a scalar) and values. */
export interface OptimizerStateEntry {
  /** Dimensions (`[]` for a scalar such as Adam's `step`). */
  shape: number[];
  /** Row-major values. */
  data: Float32Array;
}

/** An optimizer's state: what a checkpoint must hold to resume it exactly. */
export interface OptimizerState {
  /** The optimizer's class (`"Adam"`, `"AdamW"`, `"SGD"`). */
  type: string;
  /** `<param name>.<state key>` (`layers.0.conv.weight.exp_avg`) to the tensor. */
  tensors: Map<string, OptimizerStateEntry>;
  /** Each group's hyperparameters, with `params` holding its parameter names. */
  groups: Record<string, unknown>[];
}

/** The numeric hyperparameters every optimizer has. */
export interface BaseOptions {
  /** The learning rate. */
  lr: number;
}

function isModule(source: ParameterSource): source is Module {
  return typeof (source as Module).namedParameters === "function";
}

function isGroupList<O>(source: unknown): source is ParamGroupInput<O>[] {
  return Array.isArray(source) && source.length > 0 &&
    source.every((g) => g !== null && typeof g === "object" && "params" in g);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * The base of SGD, Adam and AdamW: parameter groups and the optimizer state.
 *
 * @example
 * ```ts
 * import { Adam, initGpu, Linear } from "@hajime/nn";
 * await initGpu();
 * const model = new Linear(4, 2);
 * const optimizer = new Adam(model, { lr: 0.003 });
 * optimizer.zeroGrad();
 * // ... forward, loss, backward ...
 * optimizer.step();
 * console.log(optimizer.groups[0].lr); // 0.003
 * ```
 */
export abstract class Optimizer<O extends BaseOptions = BaseOptions> {
  /** The parameter groups (PyTorch's `param_groups`); change `lr` here between steps. */
  readonly groups: ParamGroup<O>[];
  /** The hyperparameters a group takes unless it says otherwise. */
  readonly defaults: Readonly<O>;
  /** Per-parameter state tensors, by parameter name then state key (`exp_avg`, ...). */
  protected readonly state: Map<string, Map<string, Tensor>> = new Map();
  /** Per-parameter scalar state kept on the CPU (Adam's `step`), by parameter name then key. */
  protected readonly scalars: Map<string, Map<string, number>> = new Map();

  /**
   * Groups the parameters. `params` is a model, `[name, parameter]` pairs, bare parameters, or
   * a list of `{ params, ...overrides }` groups.
   */
  constructor(params: ParameterSource | ParamGroupInput<O>[], defaults: O) {
    this.defaults = Object.freeze({ ...defaults });
    const inputs: ParamGroupInput<O>[] = isGroupList<O>(params)
      ? params
      : [{ params: params as ParameterSource } as ParamGroupInput<O>];
    const seen = new Map<Parameter, string>();
    const names = new Set<string>();
    let index = 0;
    this.groups = inputs.map((input, g) => {
      const named: NamedParameter[] = [];
      const entries: Iterable<readonly [string, Parameter] | Parameter> = isModule(input.params)
        ? input.params.namedParameters()
        : input.params;
      for (const entry of entries) {
        const [name, param] = Array.isArray(entry)
          ? entry as readonly [string, Parameter]
          : [String(index), entry as Parameter];
        index++;
        if (seen.has(param)) {
          throw new Error(
            `${this.typeName}: parameter "${name}" appears twice (also as "${seen.get(param)}")`,
          );
        }
        if (names.has(name)) {
          throw new Error(`${this.typeName}: two parameters are named "${name}"`);
        }
        seen.set(param, name);
        names.add(name);
        named.push({ name, param });
      }
      const { params: _, ...overrides } = input;
      const options = { ...defaults, ...overrides } as O;
      this.validate(options, `group ${g}`);
      return { ...options, params: named, initialLr: options.lr } as ParamGroup<O>;
    });
    if (seen.size === 0) throw new Error(`${this.typeName}: got an empty parameter list`);
  }

  /** The class name used in messages and state dicts (`"Adam"`). */
  get typeName(): string {
    return this.constructor.name;
  }

  /** Throws an error naming the option when a group's hyperparameters are invalid. */
  protected abstract validate(options: O, where: string): void;

  /** The state keys a parameter has once stepped, with their shapes (`[]` for scalars). */
  protected abstract stateShapes(param: Parameter): Map<string, readonly number[]>;

  /**
   * Records one update of every parameter from its gradient: one dispatch per parameter, nothing
   * read back. `lr`, when given, replaces every group's learning rate for this step only.
   */
  abstract step(lr?: number): void;

  /** Sets a group's momentum (SGD's `momentum`, Adam's `β₁`); one-cycle schedules call it. */
  abstract setMomentum(group: ParamGroup<O>, momentum: number): void;

  /** The learning rate of the first group; setting it sets every group's. */
  get lr(): number {
    return this.groups[0].lr;
  }

  set lr(value: number) {
    for (const group of this.groups) group.lr = value;
  }

  /** Every parameter, named, across groups. */
  namedParameters(): NamedParameter[] {
    return this.groups.flatMap((g) => [...g.params]);
  }

  /** Records a fill of every parameter's gradient with 0; begins a new step (src/autograd.ts). */
  zeroGrad(): void {
    beginStep();
    for (const { param } of this.namedParameters()) param.grad.fill(0);
  }

  /** A parameter's state tensors, created (zeroed unless `empty`) on first use. */
  protected stateOf(name: string, param: Parameter, empty = false): Map<string, Tensor> {
    let entry = this.state.get(name);
    if (!entry) {
      entry = new Map();
      for (const [key, shape] of this.stateShapes(param)) {
        if (shape.length === 0) continue; // scalars (step counts) live on the CPU
        const label = `${this.typeName}.${key}`;
        entry.set(key, empty ? Tensor.empty(shape, { label }) : Tensor.zeros(shape, { label }));
      }
      this.state.set(name, entry);
    }
    return entry;
  }

  /** The group hyperparameters saved in a state dict (numbers, booleans, arrays of numbers). */
  protected groupRecord(group: ParamGroup<O>): Record<string, unknown> {
    const { params, ...rest } = group;
    return { ...rest, params: params.map((p) => p.name) };
  }

  /**
   * Reads the optimizer state back (torch's `optimizer.state_dict()` with parameter names in
   * place of indices): every state tensor and each group's hyperparameters.
   */
  async stateDict(): Promise<OptimizerState> {
    const tensors = new Map<string, OptimizerStateEntry>();
    const reads: Promise<void>[] = [];
    for (const { name } of this.namedParameters()) {
      for (const [key, value] of this.scalars.get(name) ?? []) {
        tensors.set(`${name}.${key}`, { shape: [], data: new Float32Array([value]) });
      }
      for (const [key, tensor] of this.state.get(name) ?? []) {
        const entry: OptimizerStateEntry = { shape: [...tensor.shape], data: new Float32Array(0) };
        tensors.set(`${name}.${key}`, entry);
        reads.push(
          tensor.read().then((data) => {
            entry.data = data;
          }),
        );
      }
    }
    await Promise.all(reads);
    return { type: this.typeName, tensors, groups: this.groups.map((g) => this.groupRecord(g)) };
  }

  /**
   * Problems that would stop `loadStateDict(state)`, each naming the tensor or group at fault
   * (missing, unexpected, mis-shaped); empty when the state fits.
   */
  checkStateDict(state: OptimizerState): string[] {
    const problems: string[] = [];
    if (state.type !== this.typeName) {
      problems.push(`state is of a ${state.type} optimizer, this is ${this.typeName}`);
    }
    const params = new Map(this.namedParameters().map((p) => [p.name, p.param]));
    const stepped = new Set<string>();
    for (const [key, entry] of state.tensors) {
      const dot = this.#split(key, params);
      if (!dot) {
        problems.push(`unexpected "${key}"`);
        continue;
      }
      const [name, stateKey] = dot;
      const shape = this.stateShapes(params.get(name)!).get(stateKey);
      if (!shape) {
        problems.push(`unexpected "${key}"`);
      } else if (
        !sameShape(shape, entry.shape) || entry.data.length !== shape.reduce((a, b) => a * b, 1)
      ) {
        problems.push(
          `"${key}" has shape ${shapeText(entry.shape)} (${entry.data.length} values), ` +
            `expected ${shapeText(shape)}`,
        );
      } else {
        stepped.add(name);
      }
    }
    for (const name of stepped) {
      for (const stateKey of this.stateShapes(params.get(name)!).keys()) {
        if (!state.tensors.has(`${name}.${stateKey}`)) {
          problems.push(`missing "${name}.${stateKey}"`);
        }
      }
    }
    if (state.groups.length !== this.groups.length) {
      problems.push(
        `state has ${state.groups.length} parameter groups, expected ${this.groups.length}`,
      );
    } else {
      state.groups.forEach((record, g) => {
        const expected = this.groups[g].params.map((p) => p.name);
        const got = record.params;
        if (!Array.isArray(got) || got.join("\n") !== expected.join("\n")) {
          problems.push(`group ${g} holds other parameters than this optimizer's group ${g}`);
        }
        for (const key of Object.keys(this.defaults)) {
          if (!(key in record)) problems.push(`group ${g} lacks "${key}"`);
        }
      });
    }
    return problems;
  }

  /** `[param name, state key]` of a state tensor's name, when the parameter exists. */
  #split(key: string, params: Map<string, Parameter>): [string, string] | null {
    const dot = key.lastIndexOf(".");
    if (dot < 0) return null;
    const name = key.slice(0, dot);
    return params.has(name) ? [name, key.slice(dot + 1)] : null;
  }

  /**
   * Replaces the optimizer state with `state` (from `stateDict()` or a checkpoint): tensors,
   * step counts and group hyperparameters. Every problem is reported in one error, thrown before
   * anything changes. Parameters without state in `state` start afresh.
   */
  loadStateDict(state: OptimizerState): void {
    const problems = this.checkStateDict(state);
    if (problems.length > 0) {
      throw new Error(
        `${this.typeName}.loadStateDict: ${problems.length} problem(s), nothing loaded:\n  ` +
          problems.join("\n  "),
      );
    }
    for (const { name, param } of this.namedParameters()) {
      const shapes = this.stateShapes(param);
      const stepped = [...shapes.keys()].some((key) => state.tensors.has(`${name}.${key}`));
      const old = this.state.get(name);
      if (!stepped) {
        for (const tensor of old?.values() ?? []) tensor.dispose();
        this.state.delete(name);
        this.scalars.delete(name);
        continue;
      }
      const tensors = this.stateOf(name, param, true);
      const scalars = new Map<string, number>();
      for (const [key, shape] of shapes) {
        const entry = state.tensors.get(`${name}.${key}`)!;
        if (shape.length === 0) scalars.set(key, entry.data[0]);
        else tensors.get(key)!.write(entry.data);
      }
      if (scalars.size > 0) this.scalars.set(name, scalars);
      else this.scalars.delete(name);
    }
    state.groups.forEach((record, g) => {
      const group = this.groups[g] as unknown as Record<string, unknown>;
      for (const [key, value] of Object.entries(record)) {
        if (key !== "params") group[key] = Array.isArray(value) ? [...value] : value;
      }
    });
  }

  /** Frees the state tensors; the optimizer starts afresh on its next step. */
  dispose(): void {
    for (const entry of this.state.values()) {
      for (const tensor of entry.values()) tensor.dispose();
    }
    this.state.clear();
    this.scalars.clear();
  }
}
