/**
 * Dropout layers: `Dropout` zeroes single elements, `Dropout2d` whole channels, each kept value
 * scaled by 1/(1−p). Active in training mode only; in eval mode both pass the input through. The
 * mask is drawn on the GPU from a seed taken from the layer's `Generator` at every forward.
 *
 * @module
 */

import { dropout, dropout2d, dropout2dBackward, dropoutBackward } from "../kernels/elementwise.ts";
import type { Generator } from "../random.ts";
import { checkShape, type Tensor } from "../tensor.ts";
import { type InitOptions, resolveGenerator } from "./init.ts";
import { Module, pythonFloat } from "./module.ts";

function checkP(owner: string, p: number): void {
  if (!(p >= 0 && p < 1)) throw new Error(`${owner}: p must be in [0, 1), got ${p}`);
}

/**
 * Elementwise dropout, `nn.Dropout(p)`.
 *
 * @example
 * ```ts
 * import { Dropout, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const drop = new Dropout(0.5, { seed: 1 });
 * const y = drop.forward(Tensor.full([4, 100], 1)); // about half 0, the rest 2
 * ```
 */
export class Dropout extends Module {
  /** Probability of zeroing an element. */
  readonly p: number;
  /** Where the per-forward mask seeds come from (a trainer may share its own). */
  generator: Generator;
  #mask: Tensor | null = null;
  #dropped = false;

  /** Zeroes each element with probability `p` (default 0.5) in training mode. */
  constructor(p = 0.5, options: InitOptions = {}) {
    super();
    checkP("Dropout", p);
    this.p = p;
    this.generator = resolveGenerator(options);
  }

  /** x: any shape → y: same shape (x itself in eval mode). */
  forward(x: Tensor): Tensor {
    checkShape("Dropout.forward", "x", x, x.shape);
    this.#dropped = this.training;
    if (!this.training) return x;
    const y = this.owned("y", x.shape);
    this.#mask = this.owned("mask", x.shape);
    dropout(x, y, this.#mask, { p: this.p, seed: this.generator.nextU32() });
    return y;
  }

  /** dy → dx = dy·mask (dy itself after an eval forward). */
  backward(dy: Tensor): Tensor {
    if (!this.#dropped) return dy;
    const mask = this.#mask!;
    checkShape("Dropout.backward", "dy", dy, mask.shape);
    const dx = this.owned("dx", mask.shape);
    dropoutBackward(dy, mask, dx);
    return dx;
  }

  /** `p=0.5, inplace=False`. */
  override extraRepr(): string {
    return `p=${pythonFloat(this.p)}, inplace=False`;
  }
}

/**
 * Channel dropout, `nn.Dropout2d(p)`: zeroes whole `(n, c)` feature maps of `[N, C, H, W]`.
 *
 * @example
 * ```ts
 * import { Dropout2d, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const drop = new Dropout2d(0.2, { seed: 1 });
 * const y = drop.forward(Tensor.full([8, 16, 4, 4], 1)); // about 20 % of channels zero
 * ```
 */
export class Dropout2d extends Module {
  /** Probability of zeroing a channel. */
  readonly p: number;
  /** Where the per-forward mask seeds come from (a trainer may share its own). */
  generator: Generator;
  #mask: Tensor | null = null;
  #x: Tensor | null = null;
  #dropped = false;

  /** Zeroes each channel of each image with probability `p` (default 0.5) in training mode. */
  constructor(p = 0.5, options: InitOptions = {}) {
    super();
    checkP("Dropout2d", p);
    this.p = p;
    this.generator = resolveGenerator(options);
  }

  /** x: [N, C, H, W] → y: same shape (x itself in eval mode). */
  forward(x: Tensor): Tensor {
    checkShape("Dropout2d.forward", "x", x, [null, null, null, null]);
    this.#dropped = this.training;
    if (!this.training) return x;
    const y = this.owned("y", x.shape);
    this.#mask = this.owned("mask", [x.shape[0], x.shape[1]]);
    dropout2d(x, y, this.#mask, { p: this.p, seed: this.generator.nextU32() });
    this.#x = x;
    return y;
  }

  /** dy: [N, C, H, W] → dx = dy·mask[n, c] (dy itself after an eval forward). */
  backward(dy: Tensor): Tensor {
    if (!this.#dropped) return dy;
    const x = this.#x!;
    checkShape("Dropout2d.backward", "dy", dy, x.shape);
    const dx = this.owned("dx", x.shape);
    dropout2dBackward(dy, this.#mask!, dx);
    return dx;
  }

  /** `p=0.2, inplace=False`. */
  override extraRepr(): string {
    return `p=${pythonFloat(this.p)}, inplace=False`;
  }
}
