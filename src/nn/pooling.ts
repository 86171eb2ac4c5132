/**
 * Pooling layers on NCHW batches, forward only: `MaxPool2d` (no padding, floor mode), and the
 * global pools `AdaptiveAvgPool2d(1)` and `AdaptiveMaxPool2d(1)` whose `[N, C, 1, 1]` outputs
 * feed a `Flatten`. Each is one op (src/ops/pool.ts), so one object (the article's `self.pool`)
 * may be applied any number of times.
 *
 * @module
 */

import {
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  checkAdaptiveOutputSize,
  maxPool2d,
} from "../ops/pool.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

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
 * Global average pooling, `nn.AdaptiveAvgPool2d(1)`: x [N, C, H, W] → y [N, C, 1, 1].
 *
 * @example
 * ```ts
 * import { AdaptiveAvgPool2d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = new AdaptiveAvgPool2d(1).forward(Tensor.full([2, 80, 4, 4], 3));
 * console.log(y.shape, (await y.read())[0]); // [2, 80, 1, 1] 3
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  /** Only `outputSize` 1 exists: the article's `F.adaptive_avg_pool2d(x, 1)`. */
  constructor(outputSize = 1) {
    super();
    checkAdaptiveOutputSize("AdaptiveAvgPool2d", outputSize);
  }

  /** x: [N, C, H, W] → y: [N, C, 1, 1], the mean of each channel. */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, 1);
  }

  /** `output_size=1`. */
  override extraRepr(): string {
    return "output_size=1";
  }
}

/**
 * Global max pooling, `nn.AdaptiveMaxPool2d(1)`: x [N, C, H, W] → y [N, C, 1, 1].
 *
 * @example
 * ```ts
 * import { AdaptiveMaxPool2d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = new AdaptiveMaxPool2d(1).forward(Tensor.full([2, 160, 2, 2], 1));
 * console.log(y.shape); // [2, 160, 1, 1]
 * ```
 */
export class AdaptiveMaxPool2d extends Module {
  /** Only `outputSize` 1 exists: the article's `F.adaptive_max_pool2d(x, 1)`. */
  constructor(outputSize = 1) {
    super();
    checkAdaptiveOutputSize("AdaptiveMaxPool2d", outputSize);
  }

  /** x: [N, C, H, W] → y: [N, C, 1, 1], the maximum of each channel. */
  forward(x: Tensor): Tensor {
    return adaptiveMaxPool2d(x, 1);
  }

  /** `output_size=1`. */
  override extraRepr(): string {
    return "output_size=1";
  }
}
