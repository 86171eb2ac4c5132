/**
 * Parameter-free activations as modules, forward only: `ReLU` and `LogSoftmax` (over the class
 * axis of `[N, K]`), each one op (src/ops/), so one object may be called any number of times.
 *
 * @module
 */

import { relu } from "../ops/elementwise.ts";
import { logSoftmax } from "../ops/loss.ts";
import type { Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/**
 * y = max(x, 0) elementwise, any shape; `nn.ReLU()` (not in place: the output is its own tensor).
 *
 * @example
 * ```ts
 * import { initGpu, ReLU, Tensor } from "@hajime/nn";
 * await initGpu();
 * const act = new ReLU();
 * const x = Tensor.from([-1, 2], [2], { requiresGrad: true });
 * act.forward(x).backward({ gradient: Tensor.from([5, 5], [2]) });
 * console.log(await x.grad!.read()); // [0, 5]
 * ```
 */
export class ReLU extends Module {
  /** x: any shape → y: same shape, the `relu` op. */
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

/**
 * y = x − log Σ exp(x) over the last axis of `[N, K]`: `nn.LogSoftmax(dim=1)`, the article's
 * `F.log_softmax(x, dim=-1)` head.
 *
 * @example
 * ```ts
 * import { initGpu, LogSoftmax, Tensor } from "@hajime/nn";
 * await initGpu();
 * const logProbs = new LogSoftmax().forward(Tensor.zeros([2, 10]));
 * console.log(await logProbs.read()); // every entry −log 10 ≈ −2.3026
 * ```
 */
export class LogSoftmax extends Module {
  /** The axis as printed: 1 or −1 (both mean the class axis of `[N, K]`). */
  readonly dim: number;

  /** `dim` is 1 or −1: the class axis of `[N, K]`. */
  constructor(dim = 1) {
    super();
    if (dim !== 1 && dim !== -1) {
      throw new Error(`LogSoftmax: dim must be 1 or -1 (the class axis of [N, K]), got ${dim}`);
    }
    this.dim = dim;
  }

  /** x: [N, K] → y: [N, K], the `logSoftmax` op. */
  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.dim);
  }

  /** `dim=1`. */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
