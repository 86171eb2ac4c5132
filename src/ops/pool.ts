/**
 * Pooling and channel ops on `[N, C, H, W]` tensors with their backward beside them: max and
 * average pooling, the adaptive (global) pools, channel concatenation and splitting, and the
 * shifted subsample of Shake-Shake's shortcut (kernels in src/kernels/pool.ts,
 * shaders/pool.wgsl). Outputs are op-made tensors (src/autograd.ts: lifetimes).
 *
 * @module
 */

import { opTensor, record, writeGrad, writeGradPair } from "../autograd.ts";
import * as k from "../kernels/pool.ts";
import { checkShape, Tensor } from "../tensor.ts";

/** Checks `x` is an f32 `[N, C, H, W]` tensor and returns its dimensions. */
function dims4(op: string, name: string, x: Tensor): [number, number, number, number] {
  checkShape(op, name, x, [null, null, null, null]);
  const [n, c, h, w] = x.shape;
  return [n, c, h, w];
}

function checkPositiveInt(op: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${op}: ${name} must be an integer ≥ 1, got ${value}`);
  }
}

/**
 * PyTorch's `F.max_pool2d(x, kernelSize, stride)` without padding, floor mode (stride defaults
 * to the window, as in PyTorch). Backward routes each window's gradient to the input that won
 * (the argmax the forward saves).
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.maxPool2d(Tensor.zeros([4, 8, 28, 28]), 2);
 * console.log(y.shape); // [4, 8, 14, 14]
 * ```
 */
export function maxPool2d(
  x: Tensor, // x: [N, C, H, W]
  kernelSize: number,
  stride: number = kernelSize,
): Tensor { // → y: [N, C, ⌊(H − k)/s⌋ + 1, ⌊(W − k)/s⌋ + 1]
  const [n, c, h, w] = dims4("maxPool2d", "x", x);
  checkPositiveInt("maxPool2d", "kernelSize", kernelSize);
  checkPositiveInt("maxPool2d", "stride", stride);
  if (h < kernelSize || w < kernelSize) {
    throw new Error(
      `maxPool2d: x has shape [${x.shape.join(", ")}], smaller than the ${kernelSize}×` +
        `${kernelSize} window`,
    );
  }
  const shape = [
    n,
    c,
    Math.floor((h - kernelSize) / stride) + 1,
    Math.floor((w - kernelSize) / stride) + 1,
  ];
  const y = opTensor(shape, { label: "maxPool2d.y" });
  const argmax = opTensor<"i32">(shape, { label: "maxPool2d.argmax", dtype: "i32" });
  k.maxPool2dForward(x, y, argmax, { kernel: kernelSize, stride });
  record("maxPool2d", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.maxPool2dBackward(dy, argmax, into));
  });
  return y;
}

/**
 * PyTorch's `F.avg_pool2d(x, kernelSize, stride)` for a 1×1 window: the strided subsample
 * `y[n, c, i, j] = x[n, c, i·stride, j·stride]` (Shake-Shake's shortcut). Larger windows are
 * not implemented yet and are an error.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.avgPool2d(Tensor.zeros([2, 16, 32, 32]), 1, 2);
 * console.log(y.shape); // [2, 16, 16, 16]
 * ```
 */
export function avgPool2d(
  x: Tensor, // x: [N, C, H, W]
  kernelSize: number,
  stride: number = kernelSize,
): Tensor { // → y: [N, C, ⌊(H − 1)/s⌋ + 1, ⌊(W − 1)/s⌋ + 1]
  dims4("avgPool2d", "x", x);
  checkPositiveInt("avgPool2d", "kernelSize", kernelSize);
  if (kernelSize !== 1) {
    throw new Error(
      `avgPool2d: only kernelSize 1 (a strided subsample) is implemented, got ${kernelSize}`,
    );
  }
  return shiftSubsample(x, { stride, shift: 0 });
}

/**
 * Throws unless an adaptive pool's output size is 1 (or [1, 1]), global pooling, the only one
 * implemented so far; the pooling modules check it when built.
 */
export function checkAdaptiveOutputSize(
  op: string,
  outputSize: number | readonly [number, number],
): void {
  const [oh, ow] = typeof outputSize === "number" ? [outputSize, outputSize] : outputSize;
  if (oh !== 1 || ow !== 1) {
    throw new Error(
      `${op}: only output size 1 (global pooling) is implemented, got ${
        typeof outputSize === "number" ? outputSize : `[${outputSize.join(", ")}]`
      }`,
    );
  }
}

/** Checks `x` for a global pool and returns `[N, C]`. */
function globalPoolDims(op: string, x: Tensor): [number, number] {
  const [n, c, h, w] = dims4(op, "x", x);
  if (h * w === 0 && n * c > 0) throw new Error(`${op}: x has an empty plane ${h}×${w}`);
  return [n, c];
}

/**
 * PyTorch's `F.adaptive_avg_pool2d(x, 1)`: the mean of each plane; backward spreads
 * `dy / (H·W)` over the plane. Output sizes other than 1 are not implemented yet (an error).
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.adaptiveAvgPool2d(Tensor.full([2, 80, 4, 4], 3), 1);
 * console.log(y.shape, (await y.read())[0]); // [2, 80, 1, 1] 3
 * ```
 */
export function adaptiveAvgPool2d(
  x: Tensor, // x: [N, C, H, W]
  outputSize: number | readonly [number, number],
): Tensor { // → y: [N, C, 1, 1]
  checkAdaptiveOutputSize("adaptiveAvgPool2d", outputSize);
  const [n, c] = globalPoolDims("adaptiveAvgPool2d", x);
  const y = opTensor([n, c, 1, 1], { label: "adaptiveAvgPool2d.y" });
  k.adaptiveAvgPool1Forward(x, y.reshape([n, c]));
  record("adaptiveAvgPool2d", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.adaptiveAvgPool1Backward(dy.reshape([n, c]), into));
  });
  return y;
}

/**
 * PyTorch's `F.adaptive_max_pool2d(x, 1)`: the maximum of each plane; backward sends `dy` to
 * the plane's (first) maximum, 0 elsewhere. Output sizes other than 1 are not implemented yet.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.adaptiveMaxPool2d(Tensor.full([2, 160, 2, 2], 1), 1);
 * console.log(y.shape); // [2, 160, 1, 1]
 * ```
 */
export function adaptiveMaxPool2d(
  x: Tensor, // x: [N, C, H, W]
  outputSize: number | readonly [number, number],
): Tensor { // → y: [N, C, 1, 1]
  checkAdaptiveOutputSize("adaptiveMaxPool2d", outputSize);
  const [n, c] = globalPoolDims("adaptiveMaxPool2d", x);
  const y = opTensor([n, c, 1, 1], { label: "adaptiveMaxPool2d.y" });
  const argmax = opTensor<"i32">([n, c], { label: "adaptiveMaxPool2d.argmax", dtype: "i32" });
  k.adaptiveMaxPool1Forward(x, y.reshape([n, c]), argmax);
  record("adaptiveMaxPool2d", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.adaptiveMaxPool1Backward(dy.reshape([n, c]), argmax, into));
  });
  return y;
}

/**
 * `torch.cat([a, b], 1)` for `[N, C, H, W]` tensors: channels of a, then of b; backward splits
 * `dy` back.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.concatChannels(Tensor.zeros([2, 1, 4, 4]), Tensor.full([2, 2, 4, 4], 1));
 * console.log(y.shape); // [2, 3, 4, 4]
 * ```
 */
export function concatChannels(
  a: Tensor, // a: [N, Ca, H, W]
  b: Tensor, // b: [N, Cb, H, W]
): Tensor { // → y: [N, Ca + Cb, H, W]
  const [n, ca, h, w] = dims4("concatChannels", "a", a);
  checkShape("concatChannels", "b", b, [n, null, h, w]);
  const y = opTensor([n, ca + b.shape[1], h, w], { label: "concatChannels.y" });
  k.concatChannels(a, b, y);
  record("concatChannels", [a, b], y, (dy, [da, db]) => {
    writeGradPair([da, db], [a.shape, b.shape], (ia, ib) => k.splitChannels(dy, ia, ib));
  });
  return y;
}

/**
 * `torch.split(x, [channelsA, C − channelsA], 1)` for `[N, C, H, W]`: the first `channelsA`
 * channels and the rest, as two tensors (copies). The backward of each places its gradient
 * in its channels of `dx` and zeros in the other's.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const [a, b] = F.splitChannels(Tensor.zeros([2, 3, 4, 4]), 1);
 * console.log(a.shape, b.shape); // [2, 1, 4, 4] [2, 2, 4, 4]
 * ```
 */
export function splitChannels(
  x: Tensor, // x: [N, C, H, W]
  channelsA: number, // 0 ≤ channelsA ≤ C
): [Tensor, Tensor] { // → a: [N, channelsA, H, W], b: [N, C − channelsA, H, W]
  const [n, c, h, w] = dims4("splitChannels", "x", x);
  if (!Number.isInteger(channelsA) || channelsA < 0 || channelsA > c) {
    throw new Error(`splitChannels: channelsA must be an integer in [0, ${c}], got ${channelsA}`);
  }
  const a = opTensor([n, channelsA, h, w], { label: "splitChannels.a" });
  const b = opTensor([n, c - channelsA, h, w], { label: "splitChannels.b" });
  k.splitChannels(x, a, b);
  // Each part's gradient, with zeros for the other part's channels.
  const placed = (first: boolean) => (dy: Tensor, into: Tensor) => {
    const zeros = Tensor.zeros(first ? b.shape : a.shape, { label: "splitChannels.zeros" });
    k.concatChannels(first ? dy : zeros, first ? zeros : dy, into);
    zeros.dispose();
  };
  const placeA = placed(true), placeB = placed(false);
  record("splitChannels", [x], a, (dy, [dx]) => writeGrad(dx, (into) => placeA(dy, into)));
  record("splitChannels", [x], b, (dy, [dx]) => writeGrad(dx, (into) => placeB(dy, into)));
  return [a, b];
}

/**
 * Shake-Shake's shifted subsample (1×1 average pooling with a stride, of x and of x shifted):
 * `y[n, c, i, j] = x[n, c, i·stride + shift, j·stride + shift]`, 0 where that falls outside x;
 * backward scatters `dy` back to the sampled positions.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.shiftSubsample(Tensor.zeros([2, 16, 32, 32]), { stride: 2, shift: 1 });
 * console.log(y.shape); // [2, 16, 16, 16]
 * ```
 */
export function shiftSubsample(
  x: Tensor, // x: [N, C, H, W]
  options: k.ShiftSubsampleOptions,
): Tensor { // → y: [N, C, ⌈H/stride⌉, ⌈W/stride⌉]
  const [n, c, h, w] = dims4("shiftSubsample", "x", x);
  const { stride, shift } = options;
  checkPositiveInt("shiftSubsample", "stride", stride);
  if (!Number.isInteger(shift) || Math.abs(shift) >= 2 ** 31) {
    throw new Error(`shiftSubsample: shift must be a 32-bit integer, got ${shift}`);
  }
  const y = opTensor([n, c, Math.ceil(h / stride), Math.ceil(w / stride)], {
    label: "shiftSubsample.y",
  });
  k.shiftSubsample(x, y, { stride, shift });
  record("shiftSubsample", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.shiftSubsampleBackward(dy, into, { stride, shift }));
  });
  return y;
}
