/**
 * Pointwise activation kernels, forward and backward: sigmoid, tanh, LeakyReLU and GELU (the
 * exact erf form, PyTorch's default, or its tanh approximation). One WGSL file
 * (shaders/activation.wgsl) whose `MODE` override constant makes one pipeline per activation.
 * Outputs are caller-allocated, overwritten, and may not share a buffer with an argument.
 *
 * @module
 */

import { grid, type Kernel, wgslKernels } from "../gpu/kernel.ts";
import { checkNoAlias, checkShape, type Tensor } from "../tensor.ts";
import code from "../../shaders/activation.wgsl" with { type: "text" };

/** The activations of shaders/activation.wgsl; `geluTanh` is GELU's tanh approximation. */
export type ActivationKind = "sigmoid" | "tanh" | "leakyRelu" | "gelu" | "geluTanh";

/**
 * Which activation to run, with LeakyReLU's slope.
 *
 * @example
 * ```ts
 * import type { ActivationOptions } from "@hajime/nn/gpu";
 * const leaky: ActivationOptions = { kind: "leakyRelu", negativeSlope: 0.2 };
 * console.log(leaky.kind);
 * ```
 */
export interface ActivationOptions {
  /** The function. */
  kind: ActivationKind;
  /** LeakyReLU's `negative_slope` (default 0.01, PyTorch's); other kinds ignore it. */
  negativeSlope?: number;
}

const WORKGROUP = 256;
/** Elements per thread: fewer, busier invocations run faster on CPU adapters. */
const PER_THREAD = 8;
const MODES: Record<ActivationKind, number> = {
  sigmoid: 0,
  tanh: 1,
  leakyRelu: 2,
  gelu: 3,
  geluTanh: 4,
};

const kernels = Object.fromEntries(
  Object.entries(MODES).map(([kind, mode]) => {
    const kernel = wgslKernels(`Activation.${kind}`, code, {
      params: { count: "u32", slope: "f32" },
      constants: { WORKGROUP, PER_THREAD, MODE: mode },
    });
    return [kind, { forward: kernel("forward", 1, 1), backward: kernel("backward", 2, 1) }];
  }),
) as Record<ActivationKind, { forward: Kernel; backward: Kernel }>;

/**
 * What {@link activationBackward} reads besides dy: the forward's output `"y"` (sigmoid, tanh)
 * or its input `"x"` (the others), as PyTorch's kernels do.
 *
 * @example
 * ```ts
 * import { activationBackwardReads } from "@hajime/nn/gpu";
 * console.log(activationBackwardReads("sigmoid"), activationBackwardReads("gelu")); // y x
 * ```
 */
export function activationBackwardReads(kind: ActivationKind): "x" | "y" {
  return kind === "sigmoid" || kind === "tanh" ? "y" : "x";
}

function dispatch(
  owner: string,
  kernel: Kernel,
  buffers: Tensor[],
  negativeSlope: number,
): void {
  if (!Number.isFinite(negativeSlope)) {
    throw new Error(`${owner}: negativeSlope must be finite, got ${negativeSlope}`);
  }
  const count = buffers[0].size;
  if (count === 0) return;
  kernel.dispatch(
    { count, slope: negativeSlope },
    buffers,
    grid(Math.ceil(count / (WORKGROUP * PER_THREAD))),
  );
}

function kernelsOf(owner: string, kind: ActivationKind): { forward: Kernel; backward: Kernel } {
  const found = Object.hasOwn(kernels, kind) ? kernels[kind] : undefined;
  if (!found) {
    throw new Error(`${owner}: kind "${kind}" is not one of ${Object.keys(MODES).join(", ")}`);
  }
  return found;
}

/**
 * `y = f(x)` elementwise: sigmoid `1/(1 + e^−x)`, tanh, LeakyReLU `x > 0 ? x : slope·x`, GELU
 * `x·Φ(x)` or its tanh approximation `x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { activationForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([3]);
 * activationForward(Tensor.from([-2, 0, 2], [3]), y, { kind: "sigmoid" });
 * console.log(await y.read()); // [0.119…, 0.5, 0.880…]
 * ```
 */
export function activationForward(
  x: Tensor, // x: any shape
  y: Tensor, // y: same shape, overwritten
  activation: ActivationOptions,
): void {
  const owner = `activationForward(${activation.kind})`;
  const { forward } = kernelsOf(owner, activation.kind);
  checkShape(owner, "x", x, x.shape);
  checkShape(owner, "y", y, x.shape);
  checkNoAlias(owner, { x }, { y });
  dispatch(owner, forward, [x, y], activation.negativeSlope ?? 0.01);
}

/**
 * Backward of {@link activationForward}: `dx = dy·f'(x)` (overwritten), from `saved`, the
 * forward's output y or input x as {@link activationBackwardReads} says.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { activationBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([2]);
 * const x = Tensor.from([-1, 3], [2]);
 * activationBackward(Tensor.from([1, 1], [2]), x, dx, { kind: "leakyRelu", negativeSlope: 0.1 });
 * console.log(await dx.read()); // [0.1, 1]
 * ```
 */
export function activationBackward(
  dy: Tensor, // dy: any shape
  saved: Tensor, // saved: same shape, the forward's y (sigmoid, tanh) or x (the others)
  dx: Tensor, // dx: same shape, overwritten
  activation: ActivationOptions,
): void {
  const owner = `activationBackward(${activation.kind})`;
  const { backward } = kernelsOf(owner, activation.kind);
  checkShape(owner, "dy", dy, dy.shape);
  checkShape(owner, activationBackwardReads(activation.kind), saved, dy.shape);
  checkShape(owner, "dx", dx, dy.shape);
  checkNoAlias(owner, { dy, saved }, { dx });
  dispatch(owner, backward, [dy, saved, dx], activation.negativeSlope ?? 0.01);
}
