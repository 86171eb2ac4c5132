/**
 * `Conv2d`: 2-D convolution on NCHW batches (square kernel, one stride and zero padding for both
 * axes), PyTorch's `nn.Conv2d` with its default initialisation and names (`weight`
 * `[out, in, kh, kw]`, `bias` `[out]`).
 *
 * @module
 */

import { conv2d } from "../ops/conv2d.ts";
import { checkShape, Tensor } from "../tensor.ts";
import { biasInit, type InitOptions, kaimingUniform, resolveGenerator } from "./init.ts";
import { Module, Parameter } from "./module.ts";

/**
 * Options of `Conv2d`.
 *
 * @example
 * ```ts
 * import type { Conv2dLayerOptions } from "@hajime/nn";
 * const options: Conv2dLayerOptions = { stride: 2, padding: 1, bias: false };
 * console.log(options.stride); // 2
 * ```
 */
export interface Conv2dLayerOptions extends InitOptions {
  /** Step between windows, both axes (default 1). */
  stride?: number;
  /** Zero padding on every side (default 0). */
  padding?: number;
  /** Learn an additive bias per output channel (default true). */
  bias?: boolean;
}

/**
 * A convolution layer, `nn.Conv2d(in, out, kernelSize, stride, padding, bias)`.
 *
 * @example
 * ```ts
 * import { Conv2d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const conv = new Conv2d(3, 16, 5, { padding: 2, seed: 0 });
 * const y = conv.forward(Tensor.zeros([8, 3, 32, 32]));
 * console.log(y.shape); // [8, 16, 32, 32]
 * console.log(conv.toString()); // Conv2d(3, 16, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
 * ```
 */
export class Conv2d extends Module {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Kernel height and width. */
  readonly kernelSize: number;
  /** Stride, both axes. */
  readonly stride: number;
  /** Zero padding, every side. */
  readonly padding: number;
  /** `[out, in, k, k]`. */
  readonly weight: Parameter;
  /** `[out]`, or null without bias. */
  readonly bias: Parameter | null;

  /**
   * Creates the layer with PyTorch's default initialisation, drawn from the options' generator
   * or seed, else from the default generator (`manualSeed`).
   */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number,
    options: Conv2dLayerOptions = {},
  ) {
    super();
    const { stride = 1, padding = 0 } = options;
    const checks: [string, number, number][] = [
      ["inChannels", inChannels, 1],
      ["outChannels", outChannels, 1],
      ["kernelSize", kernelSize, 1],
      ["stride", stride, 1],
      ["padding", padding, 0],
    ];
    for (const [name, v, min] of checks) {
      if (!Number.isInteger(v) || v < min) {
        throw new Error(`Conv2d: ${name} must be an integer ≥ ${min}, got ${v}`);
      }
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = kernelSize;
    this.stride = stride;
    this.padding = padding;
    const rng = resolveGenerator(options);
    const shape = [outChannels, inChannels, kernelSize, kernelSize];
    this.weight = this.registerParameter(
      "weight",
      new Parameter(Tensor.from(kaimingUniform(shape, rng), shape, { label: "Conv2d.weight" })),
    );
    this.bias = options.bias === false ? null : this.registerParameter(
      "bias",
      new Parameter(Tensor.from(biasInit(shape, rng), [outChannels], { label: "Conv2d.bias" })),
    );
  }

  /** x: [N, in, H, W] → y: [N, out, OH, OW], the `conv2d` op with this layer's parameters. */
  forward(x: Tensor): Tensor {
    checkShape("Conv2d.forward", "x", x, [null, this.inChannels, null, null]);
    return conv2d(x, this.weight.data, this.bias?.data ?? null, {
      stride: this.stride,
      padding: this.padding,
    });
  }

  /** `3, 16, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2)` as PyTorch prints it. */
  override extraRepr(): string {
    const k = this.kernelSize;
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=(${k}, ${k}), ` +
      `stride=(${this.stride}, ${this.stride})`;
    if (this.padding !== 0) s += `, padding=(${this.padding}, ${this.padding})`;
    if (!this.bias) s += ", bias=False";
    return s;
  }
}
