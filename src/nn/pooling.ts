/**
 * Pooling layers on NCHW batches: `MaxPool2d` (no padding, floor mode), and the global pools
 * `AdaptiveAvgPool2d(1)` and `AdaptiveMaxPool2d(1)` whose `[N, C, 1, 1]` outputs feed a `Flatten`.
 *
 * @module
 */

import {
  adaptiveAvgPool1Backward,
  adaptiveAvgPool1Forward,
  adaptiveMaxPool1Backward,
  adaptiveMaxPool1Forward,
  maxPool2dBackward,
  maxPool2dForward,
} from "../kernels/pool.ts";
import { checkShape, type Tensor } from "../tensor.ts";
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
 * const y = pool.forward(Tensor.zeros([4, 8, 28, 28])); // [4, 8, 14, 14]
 * ```
 */
export class MaxPool2d extends Module {
  /** Window size. */
  readonly kernelSize: number;
  /** Step between windows. */
  readonly stride: number;
  #x: Tensor | null = null;
  #argmax: Tensor<"i32"> | null = null;

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

  /** x: [N, C, H, W] → y: [N, C, ⌊(H−k)/s⌋+1, ⌊(W−k)/s⌋+1]. */
  forward(x: Tensor): Tensor {
    checkShape("MaxPool2d.forward", "x", x, [null, null, null, null]);
    const [n, c, h, w] = x.shape;
    const k = this.kernelSize;
    if (h < k || w < k) {
      throw new Error(
        `MaxPool2d.forward: x has shape [${x.shape.join(", ")}], smaller than ${k}×${k}`,
      );
    }
    const shape = [
      n,
      c,
      Math.floor((h - k) / this.stride) + 1,
      Math.floor((w - k) / this.stride) + 1,
    ];
    const y = this.owned("y", shape);
    const argmax = this.owned("argmax", shape, "i32");
    maxPool2dForward(x, y, argmax, { kernel: k, stride: this.stride });
    this.#x = x;
    this.#argmax = argmax;
    return y;
  }

  /** dy: [N, C, OH, OW] → dx: [N, C, H, W], zero except where a maximum was taken. */
  backward(dy: Tensor): Tensor {
    const x = this.#x;
    const argmax = this.#argmax;
    if (!x || !argmax) throw new Error("MaxPool2d.backward: call forward first");
    checkShape("MaxPool2d.backward", "dy", dy, argmax.shape);
    const dx = this.owned("dx", x.shape);
    maxPool2dBackward(dy, argmax, dx);
    return dx;
  }

  /** `kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False`. */
  override extraRepr(): string {
    return `kernel_size=${this.kernelSize}, stride=${this.stride}, padding=0, dilation=1, ` +
      "ceil_mode=False";
  }
}

function checkOutputSize(owner: string, outputSize: number): void {
  if (outputSize !== 1) {
    throw new Error(
      `${owner}: only output_size 1 (global pooling) is supported, got ${outputSize}`,
    );
  }
}

/**
 * Global average pooling, `nn.AdaptiveAvgPool2d(1)`: x [N, C, H, W] → y [N, C, 1, 1].
 *
 * @example
 * ```ts
 * import { AdaptiveAvgPool2d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = new AdaptiveAvgPool2d(1).forward(Tensor.full([2, 80, 4, 4], 3)); // [2, 80, 1, 1] of 3
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  #x: Tensor | null = null;

  /** Only `outputSize` 1 exists: the article's `F.adaptive_avg_pool2d(x, 1)`. */
  constructor(outputSize = 1) {
    super();
    checkOutputSize("AdaptiveAvgPool2d", outputSize);
  }

  /** x: [N, C, H, W] → y: [N, C, 1, 1], the mean of each channel. */
  forward(x: Tensor): Tensor {
    checkShape("AdaptiveAvgPool2d.forward", "x", x, [null, null, null, null]);
    const [n, c] = x.shape;
    const y = this.owned("y", [n, c, 1, 1]);
    adaptiveAvgPool1Forward(x, y.reshape([n, c]));
    this.#x = x;
    return y;
  }

  /** dy: [N, C, 1, 1] → dx: [N, C, H, W] = dy / (H·W). */
  backward(dy: Tensor): Tensor {
    const x = this.#x;
    if (!x) throw new Error("AdaptiveAvgPool2d.backward: call forward first");
    const [n, c] = x.shape;
    checkShape("AdaptiveAvgPool2d.backward", "dy", dy, [n, c, 1, 1]);
    const dx = this.owned("dx", x.shape);
    adaptiveAvgPool1Backward(dy.reshape([n, c]), dx);
    return dx;
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
 * const y = new AdaptiveMaxPool2d(1).forward(Tensor.full([2, 160, 2, 2], 1)); // [2, 160, 1, 1]
 * ```
 */
export class AdaptiveMaxPool2d extends Module {
  #x: Tensor | null = null;

  /** Only `outputSize` 1 exists: the article's `F.adaptive_max_pool2d(x, 1)`. */
  constructor(outputSize = 1) {
    super();
    checkOutputSize("AdaptiveMaxPool2d", outputSize);
  }

  /** x: [N, C, H, W] → y: [N, C, 1, 1], the maximum of each channel. */
  forward(x: Tensor): Tensor {
    checkShape("AdaptiveMaxPool2d.forward", "x", x, [null, null, null, null]);
    const [n, c] = x.shape;
    const y = this.owned("y", [n, c, 1, 1]);
    adaptiveMaxPool1Forward(x, y.reshape([n, c]), this.owned("argmax", [n, c], "i32"));
    this.#x = x;
    return y;
  }

  /** dy: [N, C, 1, 1] → dx: [N, C, H, W], the gradient at each channel's maximum, 0 elsewhere. */
  backward(dy: Tensor): Tensor {
    const x = this.#x;
    if (!x) throw new Error("AdaptiveMaxPool2d.backward: call forward first");
    const [n, c] = x.shape;
    checkShape("AdaptiveMaxPool2d.backward", "dy", dy, [n, c, 1, 1]);
    const dx = this.owned("dx", x.shape);
    adaptiveMaxPool1Backward(dy.reshape([n, c]), this.owned("argmax", [n, c], "i32"), dx);
    return dx;
  }

  /** `output_size=1`. */
  override extraRepr(): string {
    return "output_size=1";
  }
}
