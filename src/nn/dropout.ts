/**
 * Dropout layers, forward only: `Dropout` zeroes single elements, `Dropout2d` whole channels,
 * each kept value scaled by 1/(1−p). Active in training mode only; in eval mode both return the
 * input itself. The mask is drawn on the GPU from a seed taken from the layer's `Generator` at
 * every forward (ops `dropout` and `dropout2d`).
 *
 * @module
 */

import { checkDropoutP, dropout, dropout2d } from "../ops/elementwise.ts";
import type { Generator } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import { type InitOptions, resolveGenerator } from "./init.ts";
import { Module, pythonFloat } from "./module.ts";

/**
 * Elementwise dropout, `nn.Dropout(p)`.
 *
 * @example
 * ```ts
 * import { Dropout, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const drop = new Dropout(0.5, { seed: 1 });
 * const y = drop.forward(Tensor.full([4, 100], 1));
 * console.log((await y.read()).filter((v) => v === 0).length); // about 200: the rest are 2
 * ```
 */
export class Dropout extends Module {
  /** Probability of zeroing an element. */
  readonly p: number;
  /** Where the per-forward mask seeds come from (a trainer may share its own). */
  generator: Generator;

  /**
   * Zeroes each element with probability `p` (default 0.5) in training mode; seeds from the
   * options' generator or seed, else the default generator.
   */
  constructor(p = 0.5, options: InitOptions = {}) {
    super();
    checkDropoutP("Dropout", p);
    this.p = p;
    this.generator = resolveGenerator(options);
  }

  /** x: any shape → y: same shape (x itself in eval mode). */
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, { training: this.training, generator: this.generator });
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
 * const y = drop.forward(Tensor.full([8, 16, 4, 4], 1));
 * console.log((await y.read()).filter((v) => v === 0).length / 16); // about 26 of 128 planes zero
 * ```
 */
export class Dropout2d extends Module {
  /** Probability of zeroing a channel. */
  readonly p: number;
  /** Where the per-forward mask seeds come from (a trainer may share its own). */
  generator: Generator;

  /**
   * Zeroes each channel of each image with probability `p` (default 0.5) in training mode;
   * seeds from the options' generator or seed, else the default generator.
   */
  constructor(p = 0.5, options: InitOptions = {}) {
    super();
    checkDropoutP("Dropout2d", p);
    this.p = p;
    this.generator = resolveGenerator(options);
  }

  /** x: [N, C, H, W] → y: same shape (x itself in eval mode). */
  forward(x: Tensor): Tensor {
    return dropout2d(x, this.p, { training: this.training, generator: this.generator });
  }

  /** `p=0.2, inplace=False`. */
  override extraRepr(): string {
    return `p=${pythonFloat(this.p)}, inplace=False`;
  }
}
