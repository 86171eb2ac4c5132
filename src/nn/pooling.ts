/**
 * Pooling layers on NCHW batches, forward only: `MaxPool2d` (no padding, floor mode),
 * `AvgPool2d` (padding, floor mode), and the adaptive pools `AdaptiveAvgPool2d` and
 * `AdaptiveMaxPool2d` (output 1: global pooling, whose `[N, C, 1, 1]` outputs feed a `Flatten`).
 * Each is one op (src/ops/pool.ts), so one object (the article's `self.pool`) may be applied any
 * number of times.
 *
 * @module
 */

import { avgPool2dOutputSize } from "../kernels/pool.ts";
import {
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  avgPool2d,
  type AvgPool2dOpOptions,
  checkAdaptiveOutputSize,
  maxPool2d,
  pair,
  type Size2,
  sizeText,
} from "../ops/pool.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

export type { Size2 } from "../ops/pool.ts";

/**
 * Max pooling with a square window, `nn.MaxPool2d(kernelSize, stride)` (stride defaults to the
 * window size, as in PyTorch); backward routes each gradient to the input that won.
 *
 * @example
 * ```ts
 * import { initGpu, MaxPool2d, Tensor } from "@hajime/nn";
 * await initGpu();
 * const pool = new MaxPool2d(2);
 * const y = pool.forward(Tensor.zeros([4, 8, 28, 28]));
 * console.log(y.shape); // [4, 8, 14, 14]
 * ```
 */
export class MaxPool2d extends Module {
  /** Window size. */
  readonly kernelSize: number;
  /** Step between windows. */
  readonly stride: number;

  /** A `kernelSize`×`kernelSize` window moved by `stride` (default `kernelSize`). */
  constructor(kernelSize: number, stride: number = kernelSize) {
    super();
    for (const [name, v] of [["kernelSize", kernelSize], ["stride", stride]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`MaxPool2d: ${name} must be an integer ≥ 1, got ${v}`);
      }
    }
    this.kernelSize = kernelSize;
    this.stride = stride;
  }

  /** x: [N, C, H, W] → y: [N, C, ⌊(H−k)/s⌋+1, ⌊(W−k)/s⌋+1], the `maxPool2d` op. */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.stride);
  }

  /** `kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False`. */
  override extraRepr(): string {
    return `kernel_size=${this.kernelSize}, stride=${this.stride}, padding=0, dilation=1, ` +
      "ceil_mode=False";
  }
}

/**
 * Average pooling, `nn.AvgPool2d(kernelSize, stride, padding, count_include_pad)` in floor mode
 * (stride defaults to the window, padding to 0, and the zero padding counts in the divisor
 * unless `countIncludePad` is false). Sizes are one number or `[height, width]`.
 *
 * @example
 * ```ts
 * import { AvgPool2d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const pool = new AvgPool2d(3, 2, 1);
 * console.log(`${pool}`, pool.forward(Tensor.zeros([4, 8, 32, 32])).shape); // [4, 8, 16, 16]
 * ```
 */
export class AvgPool2d extends Module {
  /** Window size. */
  readonly kernelSize: Size2;
  /** Step between windows. */
  readonly stride: Size2;
  /** Zeros added on each side (at most half the window). */
  readonly padding: Size2;
  /** Whether the padding counts in the divisor (PyTorch's default true). */
  readonly countIncludePad: boolean;

  /** A `kernelSize` window moved by `stride` (default `kernelSize`) over x padded by `padding`. */
  constructor(
    kernelSize: Size2,
    stride: Size2 = kernelSize,
    padding: Size2 = 0,
    options: AvgPool2dOpOptions = {},
  ) {
    super();
    this.kernelSize = kernelSize;
    this.stride = stride;
    this.padding = padding;
    this.countIncludePad = options.countIncludePad ?? true;
    // The checks of the op, run on a plane the window fits, so a bad option fails here.
    const [kh, kw] = pair(kernelSize);
    avgPool2dOutputSize(kh, kw, {
      kernel: [kh, kw],
      stride: pair(stride),
      padding: pair(padding),
      countIncludePad: this.countIncludePad,
    }, "AvgPool2d");
  }

  /** x: [N, C, H, W] → y: [N, C, ⌊(H + 2p − k)/s⌋ + 1, ⌊(W + 2p − k)/s⌋ + 1], `avgPool2d`. */
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.stride, this.padding, {
      countIncludePad: this.countIncludePad,
    });
  }

  /** `kernel_size=3, stride=2, padding=1` (and `count_include_pad=False` when so). */
  override extraRepr(): string {
    return `kernel_size=${sizeText(this.kernelSize)}, stride=${sizeText(this.stride)}, ` +
      `padding=${sizeText(this.padding)}` +
      (this.countIncludePad ? "" : ", count_include_pad=False");
  }
}

/**
 * Adaptive average pooling, `nn.AdaptiveAvgPool2d(outputSize)`: x [N, C, H, W] → y
 * [N, C, OH, OW] with PyTorch's windows; `AdaptiveAvgPool2d(1)` is global average pooling.
 *
 * @example
 * ```ts
 * import { AdaptiveAvgPool2d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = new AdaptiveAvgPool2d(1).forward(Tensor.full([2, 80, 4, 4], 3)); // [2, 80, 1, 1] of 3
 * const z = new AdaptiveAvgPool2d([2, 3]).forward(Tensor.zeros([2, 80, 7, 7])); // [2, 80, 2, 3]
 * console.log(y.shape, z.shape);
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  /** The output's `[OH, OW]`, or one number for both. */
  readonly outputSize: Size2;

  /** Pools every plane to `outputSize` (default 1: the article's `F.adaptive_avg_pool2d(x, 1)`). */
  constructor(outputSize: Size2 = 1) {
    super();
    checkAdaptiveOutputSize("AdaptiveAvgPool2d", outputSize);
    this.outputSize = outputSize;
  }

  /** x: [N, C, H, W] → y: [N, C, OH, OW], the `adaptiveAvgPool2d` op. */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }

  /** `output_size=1`. */
  override extraRepr(): string {
    return `output_size=${sizeText(this.outputSize)}`;
  }
}

/**
 * Adaptive max pooling, `nn.AdaptiveMaxPool2d(outputSize)`: x [N, C, H, W] → y [N, C, OH, OW]
 * with PyTorch's windows; `AdaptiveMaxPool2d(1)` is global max pooling.
 *
 * @example
 * ```ts
 * import { AdaptiveMaxPool2d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = new AdaptiveMaxPool2d(1).forward(Tensor.full([2, 160, 2, 2], 1)); // [2, 160, 1, 1]
 * console.log(y.shape);
 * ```
 */
export class AdaptiveMaxPool2d extends Module {
  /** The output's `[OH, OW]`, or one number for both. */
  readonly outputSize: Size2;

  /** Pools every plane to `outputSize` (default 1: the article's `F.adaptive_max_pool2d(x, 1)`). */
  constructor(outputSize: Size2 = 1) {
    super();
    checkAdaptiveOutputSize("AdaptiveMaxPool2d", outputSize);
    this.outputSize = outputSize;
  }

  /** x: [N, C, H, W] → y: [N, C, OH, OW], the `adaptiveMaxPool2d` op. */
  forward(x: Tensor): Tensor {
    return adaptiveMaxPool2d(x, this.outputSize);
  }

  /** `output_size=1`. */
  override extraRepr(): string {
    return `output_size=${sizeText(this.outputSize)}`;
  }
}
