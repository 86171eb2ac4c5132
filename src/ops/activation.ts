/**
 * Pointwise activation ops with their backward beside them: sigmoid, tanh, LeakyReLU and GELU
 * (kernels in src/kernels/activation.ts, shaders/activation.wgsl). Outputs are op-made tensors
 * (src/autograd.ts: lifetimes). ReLU is in elementwise.ts, softmax in loss.ts.
 *
 * @module
 */

import { opTensor, record, writeGrad } from "../autograd.ts";
import {
  activationBackward,
  activationBackwardReads,
  activationForward,
  type ActivationOptions,
} from "../kernels/activation.ts";
import { checkShape, type Tensor } from "../tensor.ts";

/** Records `y = f(x)` and, for the backward, what the derivative is computed from. */
function pointwise(op: string, x: Tensor, activation: ActivationOptions): Tensor {
  checkShape(op, "x", x, x.shape); // x: any shape → y: same shape
  const y = opTensor(x.shape, { label: `${op}.y` });
  activationForward(x, y, activation);
  const saved = activationBackwardReads(activation.kind) === "y" ? y : x;
  record(op, [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => activationBackward(dy, saved, into, activation));
  });
  return y;
}

/**
 * PyTorch's `torch.sigmoid(x)`: `y = 1/(1 + e^−x)`; backward `dx = dy·y·(1 − y)`.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * console.log(await F.sigmoid(Tensor.from([0, 100], [2])).read()); // [0.5, 1]
 * ```
 */
export function sigmoid(x: Tensor): Tensor { // x: any shape → y: same shape
  return pointwise("sigmoid", x, { kind: "sigmoid" });
}

/**
 * PyTorch's `torch.tanh(x)`; backward `dx = dy·(1 − y²)`.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * console.log(await F.tanh(Tensor.from([0, 1], [2])).read()); // [0, 0.7615…]
 * ```
 */
export function tanh(x: Tensor): Tensor { // x: any shape → y: same shape
  return pointwise("tanh", x, { kind: "tanh" });
}

/** Throws unless LeakyReLU's slope is finite; the module checks it when built. */
export function checkNegativeSlope(op: string, negativeSlope: number): void {
  if (!Number.isFinite(negativeSlope)) {
    throw new Error(`${op}: negativeSlope must be finite, got ${negativeSlope}`);
  }
}

/**
 * PyTorch's `F.leaky_relu(x, negativeSlope)`: `y = x` where x > 0, else `negativeSlope·x`;
 * backward `dx = dy` or `negativeSlope·dy`.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * console.log(await F.leakyRelu(Tensor.from([-10, 3], [2]), 0.2).read()); // [-2, 3]
 * ```
 */
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor { // x: any → y: same shape
  checkNegativeSlope("leakyRelu", negativeSlope);
  return pointwise("leakyRelu", x, { kind: "leakyRelu", negativeSlope });
}

/**
 * Options of {@link gelu}, as PyTorch's `F.gelu`.
 *
 * @example
 * ```ts
 * import type { F } from "@hajime/nn";
 * const options: F.GeluOptions = { approximate: "tanh" };
 * console.log(options.approximate);
 * ```
 */
export interface GeluOptions {
  /** `"none"` (default): the exact `x·Φ(x)` with the normal CDF; `"tanh"`: the approximation. */
  approximate?: "none" | "tanh";
}

/** Throws unless GELU's `approximate` is `"none"` or `"tanh"`; the module checks it when built. */
export function checkGeluApproximate(op: string, approximate: string): void {
  if (approximate !== "none" && approximate !== "tanh") {
    throw new Error(`${op}: approximate must be "none" or "tanh", got "${approximate}"`);
  }
}

/**
 * PyTorch's `F.gelu(x, approximate)`: `y = x·Φ(x)` with Φ the standard normal CDF (erf form,
 * the default), or `x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` with `approximate: "tanh"`;
 * backward the derivative of the same form.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const x = Tensor.from([-1, 0, 1], [3]);
 * console.log(await F.gelu(x).read(), await F.gelu(x, { approximate: "tanh" }).read());
 * ```
 */
export function gelu(x: Tensor, options: GeluOptions = {}): Tensor { // x: any → y: same shape
  const { approximate = "none" } = options;
  checkGeluApproximate("gelu", approximate);
  return pointwise("gelu", x, { kind: approximate === "tanh" ? "geluTanh" : "gelu" });
}
