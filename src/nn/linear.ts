/**
 * `Linear`: y = x·Wᵀ + b on `[N, in]` batches, PyTorch's `nn.Linear` with its default
 * initialisation and parameter names (`weight` `[out, in]`, `bias` `[out]`).
 *
 * @module
 */

import { linear } from "../ops/linear.ts";
import { checkShape, Tensor } from "../tensor.ts";
import { biasInit, type InitOptions, kaimingUniform, resolveGenerator } from "./init.ts";
import { Module, Parameter } from "./module.ts";

/**
 * Options of `Linear`.
 *
 * @example
 * ```ts
 * import type { LinearOptions } from "@hajime/nn";
 * const options: LinearOptions = { bias: false, seed: 1 };
 * console.log(options.bias); // false
 * ```
 */
export interface LinearOptions extends InitOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/**
 * A fully connected layer, `nn.Linear(inFeatures, outFeatures, bias)`.
 *
 * @example
 * ```ts
 * import { initGpu, Linear, Tensor } from "@hajime/nn";
 * await initGpu();
 * const fc = new Linear(3072, 10, { seed: 0 });
 * const y = fc.forward(Tensor.zeros([32, 3072])); // [32, 10]
 * y.backward({ gradient: Tensor.full([32, 10], 1) }); // fc.weight.grad, fc.bias.grad accumulate
 * ```
 */
export class Linear extends Module {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** `[out, in]`. */
  readonly weight: Parameter;
  /** `[out]`, or null without bias. */
  readonly bias: Parameter | null;

  /**
   * Creates the layer with PyTorch's default initialisation, drawn from the options' generator
   * or seed, else from the default generator (`manualSeed`).
   */
  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    for (const [name, v] of [["inFeatures", inFeatures], ["outFeatures", outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Linear: ${name} must be ≥ 1, got ${v}`);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const rng = resolveGenerator(options);
    const shape = [outFeatures, inFeatures];
    this.weight = this.registerParameter(
      "weight",
      new Parameter(Tensor.from(kaimingUniform(shape, rng), shape, { label: "Linear.weight" })),
    );
    this.bias = options.bias === false ? null : this.registerParameter(
      "bias",
      new Parameter(Tensor.from(biasInit(shape, rng), [outFeatures], { label: "Linear.bias" })),
    );
  }

  /** x: [N, in] → y: [N, out], the `linear` op with this layer's parameters. */
  forward(x: Tensor): Tensor {
    checkShape("Linear.forward", "x", x, [null, this.inFeatures]);
    return linear(x, this.weight.data, this.bias?.data ?? null);
  }

  /** `in_features=3072, out_features=10, bias=True`. */
  override extraRepr(): string {
    const bias = this.bias ? "True" : "False";
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${bias}`;
  }
}
