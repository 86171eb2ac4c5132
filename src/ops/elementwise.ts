/**
 * Elementwise ops with their backward beside them (kernels in src/kernels/elementwise.ts,
 * shaders/elementwise.wgsl). Outputs are op-made tensors (src/autograd.ts: lifetimes).
 *
 * @module
 */

import {
  type BackwardFn,
  isGradEnabled,
  opTensor,
  passGradient,
  record,
  writeGrad,
  writeGradPair,
} from "../autograd.ts";
import * as k from "../kernels/elementwise.ts";
import { defaultGenerator, type Generator } from "../random.ts";
import { checkShape, deferWrite, isDeferred, type Tensor } from "../tensor.ts";

/**
 * `y = max(x, 0)`, PyTorch's `F.relu`; backward `dx = dy · [y > 0]`. The ReLU of a convolution's
 * output (the article's conv → ReLU → BatchNorm, conv → ReLU → max pool) is written only when
 * something other than a training batch norm or a max pool uses it: those apply the ReLU
 * themselves, forward and backward ({@link deferredReluInput}), saving two passes over the tensor.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * console.log(await F.relu(Tensor.from([-1, 2], [2])).read()); // [0, 2]
 * ```
 */
export function relu(x: Tensor): Tensor { // x: any shape → y: same shape
  checkShape("relu", "x", x, x.shape);
  const y = opTensor(x.shape, { label: "relu.y" });
  const enabled = isGradEnabled();
  const write = () => {
    k.relu(x, y);
    const backward: BackwardFn = (dy, [dx]) => writeGrad(dx, (into) => k.reluBackward(dy, y, into));
    record("relu", [x], y, backward, enabled);
  };
  // Only a conv2d output: op-made, so nothing writes it before the deferred write runs.
  if (x.gradFn?.op !== "conv2d" || x.shape.length !== 4) {
    write();
    return y;
  }
  y.requiresGrad = enabled;
  deferWrite(y, write);
  reluInputs.set(y, x);
  return y;
}

/** The input of each ReLU output whose write was deferred. */
const reluInputs = new WeakMap<Tensor, Tensor>();

/**
 * The input x of `y = relu(x)` while y is still unwritten (its write deferred and nothing has
 * used it yet), else null: a consumer may then read x and apply the ReLU itself, recording its
 * node on x (its backward masks by `x > 0`), and y is never written unless used later.
 */
export function deferredReluInput(y: Tensor): Tensor | null {
  return isDeferred(y) ? reluInputs.get(y) ?? null : null;
}

/**
 * `y = a + b` (same shapes); backward passes `dy` to both.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = Tensor.from([1, 2], [2]).add(Tensor.from([10, 20], [2]));
 * console.log(await y.read()); // [11, 22]
 * ```
 */
export function add(a: Tensor, b: Tensor): Tensor { // a: any shape, b: same → y: same
  checkShape("add", "b", b, a.shape);
  const y = opTensor(a.shape, { label: "add.y" });
  k.add(a, b, y);
  record("add", [a, b], y, (dy, [da, db]) => {
    passGradient(da, dy);
    passGradient(db, dy);
  });
  return y;
}

/**
 * `y = a·b` elementwise (same shapes), or `y = factor·a` when `b` is a number (PyTorch's
 * `torch.mul`); backward `da = dy·b`, `db = dy·a`.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.mul(Tensor.from([1, 2], [2]), Tensor.from([3, -1], [2]));
 * const z = Tensor.from([1, 2], [2]).mul(0.5);
 * console.log(await y.read(), await z.read()); // [3, -2] [0.5, 1]
 * ```
 */
export function mul(a: Tensor, b: Tensor | number): Tensor { // a: any shape, b: same → y: same
  if (typeof b === "number") return scale(a, b);
  checkShape("mul", "a", a, a.shape);
  checkShape("mul", "b", b, a.shape);
  const y = opTensor(a.shape, { label: "mul.y" });
  k.mul(a, b, y);
  record("mul", [a, b], y, (dy, [da, db]) => {
    writeGrad(da, (into) => k.mul(dy, b, into));
    writeGrad(db, (into) => k.mul(dy, a, into));
  });
  return y;
}

/**
 * `y = factor·x` for a finite number `factor`; backward `dx = factor·dy`.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.scale(Tensor.from([1, -2], [2]), 3);
 * console.log(await y.read()); // [3, -6]
 * ```
 */
export function scale(x: Tensor, factor: number): Tensor { // x: any shape → y: same shape
  checkShape("scale", "x", x, x.shape);
  if (!Number.isFinite(factor)) throw new Error(`scale: factor must be finite, got ${factor}`);
  const y = opTensor(x.shape, { label: "scale.y" });
  k.scale(x, y, factor);
  record("scale", [x], y, (dy, [dx]) => writeGrad(dx, (into) => k.scale(dy, into, factor)));
  return y;
}

/** Options of {@link dropout} and {@link dropout2d}. */
export interface DropoutOpOptions {
  /** Drop only when true (the default, as PyTorch's `F.dropout`); false returns x itself. */
  training?: boolean;
  /** Where the mask's seed comes from (default: `defaultGenerator()`, seeded by `manualSeed`). */
  generator?: Generator;
}

/** Throws unless the dropout probability `p` is in [0, 1); the dropout modules check it when built. */
export function checkDropoutP(op: string, p: number): void {
  if (!(p >= 0 && p < 1)) throw new Error(`${op}: p must be in [0, 1), got ${p}`);
}

/**
 * PyTorch's `F.dropout(x, p, training)`: in training each element is zeroed with probability p
 * and the rest scaled by 1/(1 − p), with a mask drawn on the GPU from a seed taken from the
 * generator; backward `dx = dy·mask`. Not training: x itself.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.dropout(Tensor.full([4, 100], 1), 0.5);
 * console.log((await y.read()).filter((v) => v === 0).length); // about 200: the rest are 2
 * ```
 */
export function dropout(
  x: Tensor, // x: any shape → y: same shape
  p = 0.5,
  { training = true, generator = defaultGenerator() }: DropoutOpOptions = {},
): Tensor {
  checkShape("dropout", "x", x, x.shape);
  checkDropoutP("dropout", p);
  if (!training) return x;
  const y = opTensor(x.shape, { label: "dropout.y" });
  const mask = opTensor(x.shape, { label: "dropout.mask" });
  k.dropout(x, y, mask, { p, seed: generator.nextU32() });
  record("dropout", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.dropoutBackward(dy, mask, into));
  });
  return y;
}

/**
 * PyTorch's `F.dropout2d(x, p, training)`: in training each (image, channel) plane of
 * `[N, C, H, W]` is zeroed with probability p and the rest scaled by 1/(1 − p); backward
 * `dx = dy·mask[n, c]`. Not training: x itself.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.dropout2d(Tensor.full([8, 16, 4, 4], 1), 0.2);
 * console.log((await y.read()).filter((v) => v === 0).length / 16); // about 26 of 128 planes zero
 * ```
 */
export function dropout2d(
  x: Tensor, // x: [N, C, H, W] → y: same shape
  p = 0.5,
  { training = true, generator = defaultGenerator() }: DropoutOpOptions = {},
): Tensor {
  checkShape("dropout2d", "x", x, [null, null, null, null]);
  checkDropoutP("dropout2d", p);
  if (!training) return x;
  const y = opTensor(x.shape, { label: "dropout2d.y" });
  const mask = opTensor([x.shape[0], x.shape[1]], { label: "dropout2d.mask" });
  k.dropout2d(x, y, mask, { p, seed: generator.nextU32() });
  record("dropout2d", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.dropout2dBackward(dy, mask, into));
  });
  return y;
}

/**
 * The Shake-Shake mix of two branches (Gastaldi 2017), per image n: forward
 * `y = α[n]·a + (1 − α[n])·b`, backward `da = β[n]·dy`, `db = (1 − β[n])·dy` with β drawn
 * independently of α (pass `beta = alpha` for the true gradient). α and β are not
 * differentiated; β is read by the backward, so it must stay alive until then (an op-made
 * tensor does).
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const a = Tensor.full([2, 3], 1, { requiresGrad: true }), b = Tensor.zeros([2, 3]);
 * const y = F.shakeMix(a, b, Tensor.from([0.25, 0.75], [2]), Tensor.from([0.5, 0.5], [2]));
 * y.sum().backward();
 * console.log(await a.grad!.read()); // every element 0.5: β, not α
 * ```
 */
export function shakeMix(
  a: Tensor, // a: [N, ...]
  b: Tensor, // b: same shape as a
  alpha: Tensor, // alpha: [N], the forward weight of a
  beta: Tensor, // beta: [N], the backward share of a
): Tensor { // → y: same shape as a
  if (a.shape.length === 0) throw new Error("shakeMix: a has shape [], expected [N, ...]");
  checkShape("shakeMix", "a", a, a.shape);
  checkShape("shakeMix", "b", b, a.shape);
  checkShape("shakeMix", "alpha", alpha, [a.shape[0]]);
  checkShape("shakeMix", "beta", beta, [a.shape[0]]);
  const y = opTensor(a.shape, { label: "shakeMix.y" });
  k.shakeMix(a, b, alpha, y);
  record("shakeMix", [a, b], y, (dy, [da, db]) => {
    writeGradPair([da, db], [a.shape, b.shape], (ia, ib) => k.shakeMixBackward(dy, beta, ia, ib));
  });
  return y;
}
