/**
 * Models by name: `createModel("resnet", { seed: 0 })`. The article's six factories are registered
 * here; other model families add theirs with `registerModel`.
 *
 * @module
 */

import type { Module } from "../nn/module.ts";
import {
  basicCnn,
  basicNet,
  convBnNet,
  deepBnNet,
  type ModelOptions,
  resnet,
  veryBasicNet,
} from "./article.ts";

/**
 * Builds a model from options (seed or generator, and family-specific extras).
 *
 * @example
 * ```ts
 * import { convBnNet, type ModelFactory } from "@hajime/nn";
 * const narrow: ModelFactory = (options) => convBnNet([8, 16, 32], 10, options);
 * console.log(typeof narrow); // function
 * ```
 */
export type ModelFactory = (options: ModelOptions) => Module;

/**
 * A registered model.
 *
 * @example
 * ```ts
 * import { modelEntries, type ModelEntry } from "@hajime/nn";
 * const first: ModelEntry = modelEntries()[0];
 * console.log(first.name, first.description); // very-basic-net …
 * ```
 */
export interface ModelEntry {
  /** The registry name, e.g. `"resnet"`. */
  readonly name: string;
  /** One line for `--help` listings. */
  readonly description: string;
  /** The factory. */
  readonly factory: ModelFactory;
}

const registry = new Map<string, ModelEntry>();

/**
 * Registers `factory` under `name` (lower-case words joined by dashes); a taken name is an error.
 *
 * @example
 * ```ts
 * import { basicNet, registerModel } from "@hajime/nn";
 * registerModel("my-net", (options) => basicNet(options), "BasicNet under another name");
 * ```
 */
export function registerModel(name: string, factory: ModelFactory, description = ""): void {
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name)) {
    throw new Error(`registerModel: name "${name}" must be lower-case words joined by dashes`);
  }
  if (registry.has(name)) throw new Error(`registerModel: "${name}" is already registered`);
  registry.set(name, { name, description, factory });
}

/**
 * The registered names, in registration order.
 *
 * @example
 * ```ts
 * import { modelNames } from "@hajime/nn";
 * console.log(modelNames()); // ["very-basic-net", "basic-net", ..., "resnet"]
 * ```
 */
export function modelNames(): string[] {
  return [...registry.keys()];
}

/**
 * The registered entries, in registration order.
 *
 * @example
 * ```ts
 * import { modelEntries } from "@hajime/nn";
 * for (const m of modelEntries()) console.log(m.name, m.description);
 * ```
 */
export function modelEntries(): ModelEntry[] {
  return [...registry.values()];
}

/**
 * Builds the model registered as `name`; an unknown name is an error listing the known ones.
 *
 * @example
 * ```ts
 * import { createModel, initGpu } from "@hajime/nn";
 * await initGpu();
 * const model = createModel("conv-bn-net", { seed: 0 });
 * console.log(model.numParameters()); // 39650
 * ```
 */
export function createModel(name: string, options: ModelOptions = {}): Module {
  const entry = registry.get(name);
  if (!entry) {
    throw new Error(`createModel: unknown model "${name}"; known: ${modelNames().join(", ")}`);
  }
  return entry.factory(options);
}

registerModel("very-basic-net", veryBasicNet, "flatten → Linear(3072, 10); 30,730 parameters");
registerModel(
  "basic-net",
  basicNet,
  "flatten → Linear(3072, 40) → ReLU → Linear(40, 10); 123,330 parameters",
);
registerModel("basic-cnn", basicCnn, "LeNet-style 2 conv + 3 linear; 62,958 parameters");
registerModel(
  "conv-bn-net",
  (options) => convBnNet(undefined, undefined, options),
  "ConvBnNet([10, 20, 40, 80], 10); 39,650 parameters",
);
registerModel(
  "deep-bn-net",
  (options) => deepBnNet(undefined, undefined, options),
  "DeepBnNet([10, 20, 40, 80, 160], 10); 462,570 parameters",
);
registerModel(
  "resnet",
  (options) => resnet(undefined, undefined, options),
  "Resnet([16, 32, 64, 128, 256], 10); 1,965,066 parameters",
);
