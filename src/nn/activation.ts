/**
 * Parameter-free activations as modules, forward only: `ReLU`, `Sigmoid`, `Tanh`, `LeakyReLU`,
 * `GELU`, and `Softmax` and `LogSoftmax` (over the class axis of `[N, K]`), each one op
 * (src/ops/), so one object may be called any number of times.
 *
 * @module
 */

import {
  checkGeluApproximate,
  checkNegativeSlope,
  gelu,
  type GeluOptions,
  leakyRelu,
  sigmoid,
  tanh,
} from "../ops/activation.ts";
import { relu } from "../ops/elementwise.ts";
import { checkClassDim, logSoftmax, softmax } from "../ops/loss.ts";
import type { Tensor } from "../tensor.ts";
import { Module, pythonFloat } from "./module.ts";

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
    checkClassDim("LogSoftmax", dim);
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

/**
 * y = exp(x) / Σ exp(x) over the last axis of `[N, K]`: `nn.Softmax(dim=1)`.
 *
 * @example
 * ```ts
 * import { initGpu, Softmax, Tensor } from "@hajime/nn";
 * await initGpu();
 * const probs = new Softmax().forward(Tensor.zeros([2, 4]));
 * console.log(await probs.read()); // every entry 0.25
 * ```
 */
export class Softmax extends Module {
  /** The axis as printed: 1 or −1 (both mean the class axis of `[N, K]`). */
  readonly dim: number;

  /** `dim` is 1 or −1: the class axis of `[N, K]`. */
  constructor(dim = 1) {
    super();
    checkClassDim("Softmax", dim);
    this.dim = dim;
  }

  /** x: [N, K] → y: [N, K], the `softmax` op. */
  forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }

  /** `dim=1`. */
  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/**
 * y = 1/(1 + e^−x) elementwise, any shape: `nn.Sigmoid()`.
 *
 * @example
 * ```ts
 * import { initGpu, Sigmoid, Tensor } from "@hajime/nn";
 * await initGpu();
 * console.log(await new Sigmoid().forward(Tensor.from([0], [1])).read()); // [0.5]
 * ```
 */
export class Sigmoid extends Module {
  /** x: any shape → y: same shape, the `sigmoid` op. */
  forward(x: Tensor): Tensor {
    return sigmoid(x);
  }
}

/**
 * y = tanh(x) elementwise, any shape: `nn.Tanh()`.
 *
 * @example
 * ```ts
 * import { initGpu, Tanh, Tensor } from "@hajime/nn";
 * await initGpu();
 * console.log(await new Tanh().forward(Tensor.from([0, 20], [2])).read()); // [0, 1]
 * ```
 */
export class Tanh extends Module {
  /** x: any shape → y: same shape, the `tanh` op. */
  forward(x: Tensor): Tensor {
    return tanh(x);
  }
}

/**
 * y = x where x > 0, else negativeSlope·x, any shape: `nn.LeakyReLU(negative_slope=0.01)`.
 *
 * @example
 * ```ts
 * import { initGpu, LeakyReLU, Tensor } from "@hajime/nn";
 * await initGpu();
 * const act = new LeakyReLU(0.1);
 * console.log(`${act}`, await act.forward(Tensor.from([-5, 5], [2])).read()); // [-0.5, 5]
 * ```
 */
export class LeakyReLU extends Module {
  /** The slope for negative inputs. */
  readonly negativeSlope: number;

  /** `negativeSlope` defaults to 0.01, as PyTorch's. */
  constructor(negativeSlope = 0.01) {
    super();
    checkNegativeSlope("LeakyReLU", negativeSlope);
    this.negativeSlope = negativeSlope;
  }

  /** x: any shape → y: same shape, the `leakyRelu` op. */
  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }

  /** `negative_slope=0.01`. */
  override extraRepr(): string {
    return `negative_slope=${pythonFloat(this.negativeSlope)}`;
  }
}

/**
 * y = x·Φ(x) elementwise (Φ the standard normal CDF), any shape: `nn.GELU()`; with
 * `{ approximate: "tanh" }`, PyTorch's tanh approximation.
 *
 * @example
 * ```ts
 * import { GELU, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const act = new GELU({ approximate: "tanh" });
 * console.log(`${act}`, await act.forward(Tensor.from([1], [1])).read()); // [0.8411…]
 * ```
 */
export class GELU extends Module {
  /** `"none"` (the exact erf form) or `"tanh"`. */
  readonly approximate: "none" | "tanh";

  /** The exact form unless `approximate: "tanh"`. */
  constructor(options: GeluOptions = {}) {
    super();
    const { approximate = "none" } = options;
    checkGeluApproximate("GELU", approximate);
    this.approximate = approximate;
  }

  /** x: any shape → y: same shape, the `gelu` op. */
  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }

  /** `approximate='none'`. */
  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}
