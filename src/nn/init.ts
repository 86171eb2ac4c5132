/**
 * Weight initialisation as PyTorch does it, drawn on the CPU from a seeded `Generator`: the
 * default of `nn.Linear` and `nn.Conv2d` (Kaiming uniform with a = √5, i.e. U(±1/√fan_in) for the
 * weight, U(±1/√fan_in) for the bias) and He-normal for networks that ask for it.
 *
 * @module
 */

import { defaultGenerator, Generator } from "../random.ts";

/**
 * Where a layer's initial values come from: a generator to share, or a seed for a fresh one;
 * with neither, the default generator (`manualSeed` reseeds it), as in PyTorch.
 *
 * @example
 * ```ts
 * import { Generator, type InitOptions } from "@hajime/nn";
 * const shared: InitOptions = { generator: new Generator(3) };
 * const seeded: InitOptions = { seed: 3 };
 * console.log(shared.generator !== undefined, seeded.seed); // true 3
 * ```
 */
export interface InitOptions {
  /** Seed of a fresh generator for this layer (or model) alone. */
  seed?: number;
  /** A generator to draw from; a model passes one to all its layers, in construction order. */
  generator?: Generator;
}

/**
 * The generator `options` names: `options.generator`, else a new one seeded with
 * `options.seed`, so the same seed always gives the same layer or model; else the shared
 * default generator (`defaultGenerator()`, reseeded by `manualSeed`), so that layers built
 * one after another get different weights.
 *
 * @example
 * ```ts
 * import { resolveGenerator } from "@hajime/nn";
 * const rng = resolveGenerator({ seed: 7 });
 * console.log(rng.uniform()); // the same number on every run
 * ```
 */
export function resolveGenerator(options: InitOptions = {}): Generator {
  if (options.generator) return options.generator;
  return options.seed === undefined ? defaultGenerator() : new Generator(options.seed);
}

/**
 * PyTorch's fan-in of a weight shape: `shape[1]` times the product of the kernel dimensions
 * (`in_features` for Linear `[out, in]`, `in·kh·kw` for Conv2d `[out, in, kh, kw]`).
 *
 * @example
 * ```ts
 * import { fanIn } from "@hajime/nn";
 * fanIn([16, 3, 5, 5]); // 75
 * ```
 */
export function fanIn(shape: readonly number[]): number {
  if (shape.length < 2) throw new Error(`fanIn: weight shape [${shape}] needs at least 2 dims`);
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * PyTorch's fan-out of a weight shape: `shape[0]` times the kernel dimensions.
 *
 * @example
 * ```ts
 * import { fanOut } from "@hajime/nn";
 * fanOut([16, 3, 5, 5]); // 400
 * ```
 */
export function fanOut(shape: readonly number[]): number {
  if (shape.length < 2) throw new Error(`fanOut: weight shape [${shape}] needs at least 2 dims`);
  return shape[0] * shape.slice(2).reduce((a, b) => a * b, 1);
}

/**
 * `n` values uniform in [−bound, bound).
 *
 * @example
 * ```ts
 * import { Generator, uniformInit } from "@hajime/nn";
 * const bias = uniformInit(10, 0.1, new Generator(0));
 * console.log(bias.length, bias.every((v) => Math.abs(v) <= 0.1)); // 10 true
 * ```
 */
export function uniformInit(n: number, bound: number, generator: Generator): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = generator.uniformRange(-bound, bound);
  return out;
}

/**
 * `torch.nn.init.kaiming_uniform_(w, a)` with fan-in mode and leaky-ReLU gain: U(±bound) with
 * bound = √3 · √(2 / (1 + a²)) / √fan_in. With PyTorch's default a = √5 (what `nn.Linear` and
 * `nn.Conv2d` use) the bound is exactly 1/√fan_in.
 *
 * @example
 * ```ts
 * import { Generator, kaimingUniform } from "@hajime/nn";
 * const w = kaimingUniform([16, 3, 5, 5], new Generator(0)); // U(±1/√75)
 * console.log(w.length); // 1200
 * ```
 */
export function kaimingUniform(
  shape: readonly number[],
  generator: Generator,
  a: number = Math.sqrt(5),
): Float32Array {
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = Math.sqrt(3) * gain / Math.sqrt(fanIn(shape));
  return uniformInit(shape.reduce((x, y) => x * y, 1), bound, generator);
}

/**
 * PyTorch's default bias of Linear and Conv2d: U(±1/√fan_in) for the weight shape given.
 *
 * @example
 * ```ts
 * import { biasInit, Generator } from "@hajime/nn";
 * const b = biasInit([16, 3, 5, 5], new Generator(0));
 * console.log(b.length); // 16 values in ±1/√75
 * ```
 */
export function biasInit(weightShape: readonly number[], generator: Generator): Float32Array {
  const fan = fanIn(weightShape);
  return uniformInit(weightShape[0], fan > 0 ? 1 / Math.sqrt(fan) : 0, generator);
}

/**
 * `torch.nn.init.kaiming_normal_(w, mode, nonlinearity="relu")` (He-normal): N(0, std²) with
 * std = √2 / √fan, fan = fan_in (default) or fan_out.
 *
 * @example
 * ```ts
 * import { Generator, kaimingNormal } from "@hajime/nn";
 * const w = kaimingNormal([64, 32, 3, 3], new Generator(0), "fan_out");
 * console.log(w.length); // 18432, standard deviation √(2/576)
 * ```
 */
export function kaimingNormal(
  shape: readonly number[],
  generator: Generator,
  mode: "fan_in" | "fan_out" = "fan_in",
): Float32Array {
  const fan = mode === "fan_in" ? fanIn(shape) : fanOut(shape);
  const std = Math.SQRT2 / Math.sqrt(fan);
  const out = new Float32Array(shape.reduce((x, y) => x * y, 1));
  for (let i = 0; i < out.length; i++) out[i] = generator.normal(0, std);
  return out;
}
