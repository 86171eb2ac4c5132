/**
 * Parameter-free activations: `ReLU` and `LogSoftmax` (over the class axis of `[N, K]`).
 *
 * @module
 */

import { relu, reluBackward } from "../kernels/elementwise.ts";
import { logSoftmax, logSoftmaxBackward } from "../kernels/loss.ts";
import { checkShape, type Tensor } from "../tensor.ts";
import { Module } from "./module.ts";

/**
 * y = max(x, 0) elementwise, any shape; `nn.ReLU()` (not in place: the output is its own tensor).
 *
 * @example
 * ```ts
 * import { initGpu, ReLU, Tensor } from "@hajime/nn";
 * await initGpu();
 * const act = new ReLU();
 * const y = act.forward(Tensor.from([-1, 2], [2])); // [0, 2]
 * const dx = act.backward(Tensor.from([5, 5], [2])); // [0, 5]
 * ```
 */
export class ReLU extends Module {
  #y: Tensor | null = null;

  /** x: any shape → y: same shape. */
  forward(x: Tensor): Tensor {
    checkShape("ReLU.forward", "x", x, x.shape);
    const y = this.owned("y", x.shape);
    relu(x, y);
    this.#y = y;
    return y;
  }

  /** dy → dx = dy where the output was positive, else 0. */
  backward(dy: Tensor): Tensor {
    const y = this.#y;
    if (!y) throw new Error("ReLU.backward: call forward first");
    checkShape("ReLU.backward", "dy", dy, y.shape);
    const dx = this.owned("dx", y.shape);
    reluBackward(dy, y, dx);
    return dx;
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
 * const logProbs = new LogSoftmax().forward(Tensor.zeros([2, 10])); // every entry −log 10
 * ```
 */
export class LogSoftmax extends Module {
  /** The axis as printed: 1 or −1 (both mean the class axis of `[N, K]`). */
  readonly dim: number;
  #y: Tensor | null = null;

  /** `dim` is 1 or −1: the class axis of `[N, K]`. */
  constructor(dim = 1) {
    super();
    if (dim !== 1 && dim !== -1) {
      throw new Error(`LogSoftmax: dim must be 1 or -1 (the class axis of [N, K]), got ${dim}`);
    }
    this.dim = dim;
  }

  /** x: [N, K] → y: [N, K]. */
  forward(x: Tensor): Tensor {
    checkShape("LogSoftmax.forward", "x", x, [null, null]);
    const y = this.owned("y", x.shape);
    logSoftmax(x, y);
    this.#y = y;
    return y;
  }

  /** dy: [N, K] → dx = dy − exp(y)·Σ dy. */
  backward(dy: Tensor): Tensor {
    const y = this.#y;
    if (!y) throw new Error("LogSoftmax.backward: call forward first");
    checkShape("LogSoftmax.backward", "dy", dy, y.shape);
    const dx = this.owned("dx", y.shape);
    logSoftmaxBackward(dy, y, dx);
    return dx;
  }

  /** `dim=1`. */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
