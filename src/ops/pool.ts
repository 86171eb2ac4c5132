/**
 * Pooling and channel ops on `[N, C, H, W]` tensors with their backward beside them: max and
 * average pooling, the adaptive pools, channel concatenation and splitting, and the
 * shifted subsample of Shake-Shake's shortcut (kernels in src/kernels/pool.ts,
 * shaders/pool.wgsl). Outputs are op-made tensors (src/autograd.ts: lifetimes).
 *
 * @module
 */

import { opTensor, record, writeGrad, writeGradPair } from "../autograd.ts";
import * as k from "../kernels/pool.ts";
import { checkShape, Tensor } from "../tensor.ts";
import { deferredReluInput } from "./elementwise.ts";

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
 * (the argmax the forward saves). A max pool of `relu(conv(...))` (the article's BasicCNN) pools
 * the conv's output and applies the ReLU to the maximum: the ReLU's output is never written.
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
  // Pooling relu(conv(...)) reads the conv's output: relu(max) is the max of the ReLU, and the
  // ReLU is never written (an argmax of −1 stands for its zero gradient).
  const reluOf = deferredReluInput(x);
  const input = reluOf ?? x;
  const reluInput = reluOf !== null;
  k.maxPool2dForward(input, y, argmax, { kernel: kernelSize, stride, reluInput });
  record(reluInput ? "reluMaxPool2d" : "maxPool2d", [input], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.maxPool2dBackward(dy, argmax, into));
  });
  return y;
}

/** A size PyTorch takes as one number for both axes or as `[height, width]`. */
export type Size2 = number | readonly [number, number];

/** `[height, width]` of a {@link Size2}. */
export function pair(size: Size2): [number, number] {
  return typeof size === "number" ? [size, size] : [size[0], size[1]];
}

/** A {@link Size2} as PyTorch prints it: `2` or `(2, 3)`. */
export function sizeText(size: Size2): string {
  return typeof size === "number" ? String(size) : `(${size.join(", ")})`;
}

/**
 * Options of {@link avgPool2d}, as PyTorch's `F.avg_pool2d`.
 *
 * @example
 * ```ts
 * import type { F } from "@hajime/nn";
 * const options: F.AvgPool2dOpOptions = { countIncludePad: false };
 * console.log(options.countIncludePad);
 * ```
 */
export interface AvgPool2dOpOptions {
  /**
   * Divide by the whole window, the zero padding included (default true, PyTorch's
   * `count_include_pad`); false: by the part of the window inside x.
   */
  countIncludePad?: boolean;
}

/**
 * PyTorch's `F.avg_pool2d(x, kernelSize, stride, padding, count_include_pad)` in floor mode: the
 * mean of each window, with `padding` zeros on each side (at most half the window) counted in
 * the divisor unless `countIncludePad` is false; stride defaults to the window. Sizes are one
 * number or `[height, width]`. Backward spreads each `dy` over its window, divided likewise.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.avgPool2d(Tensor.full([2, 16, 32, 32], 1), 3, 2, 1); // [2, 16, 16, 16]
 * console.log(y.shape, (await y.read())[0]); // the corner window holds 4 of its 9 ones: 0.444…
 * ```
 */
export function avgPool2d(
  x: Tensor, // x: [N, C, H, W]
  kernelSize: Size2,
  stride: Size2 = kernelSize,
  padding: Size2 = 0,
  options: AvgPool2dOpOptions = {},
): Tensor { // → y: [N, C, ⌊(H + 2p − k)/s⌋ + 1, ⌊(W + 2p − k)/s⌋ + 1]
  const [n, c, h, w] = dims4("avgPool2d", "x", x);
  const opts: k.AvgPool2dOptions = {
    kernel: pair(kernelSize),
    stride: pair(stride),
    padding: pair(padding),
    countIncludePad: options.countIncludePad ?? true,
  };
  const [oh, ow] = k.avgPool2dOutputSize(h, w, opts);
  const y = opTensor([n, c, oh, ow], { label: "avgPool2d.y" });
  k.avgPool2dForward(x, y, opts);
  record("avgPool2d", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.avgPool2dBackward(dy, into, opts));
  });
  return y;
}

/**
 * Throws unless an adaptive pool's output size is a positive integer or a pair of them; the
 * pooling modules check it when built.
 */
export function checkAdaptiveOutputSize(op: string, outputSize: Size2): void {
  if (!pair(outputSize).every((d) => Number.isInteger(d) && d >= 1)) {
    throw new Error(
      `${op}: outputSize must be an integer ≥ 1 or a pair of them, got ${sizeText(outputSize)}`,
    );
  }
}

/** Checks `x` and `outputSize` for an adaptive pool; returns `[N, C, OH, OW]`. */
function adaptiveShape(op: string, x: Tensor, outputSize: Size2): [number, number, number, number] {
  const [n, c, h, w] = dims4(op, "x", x);
  checkAdaptiveOutputSize(op, outputSize);
  if (h * w === 0 && n * c > 0) throw new Error(`${op}: x has an empty plane ${h}×${w}`);
  const [oh, ow] = pair(outputSize);
  return [n, c, oh, ow];
}

/**
 * PyTorch's `F.adaptive_avg_pool2d(x, outputSize)`: output cell (i, j) is the mean of rows
 * `⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1` and columns likewise (PyTorch's windows, which overlap when
 * the sizes do not divide); backward spreads each `dy` over its window. Output 1 is global
 * average pooling, with kernels of its own.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.adaptiveAvgPool2d(Tensor.full([2, 80, 4, 4], 3), 1); // [2, 80, 1, 1] of 3
 * const z = F.adaptiveAvgPool2d(Tensor.zeros([2, 8, 7, 7]), [3, 2]); // [2, 8, 3, 2]
 * console.log(y.shape, z.shape);
 * ```
 */
export function adaptiveAvgPool2d(
  x: Tensor, // x: [N, C, H, W]
  outputSize: Size2,
): Tensor { // → y: [N, C, OH, OW]
  const shape = adaptiveShape("adaptiveAvgPool2d", x, outputSize);
  const [n, c, oh, ow] = shape;
  const y = opTensor(shape, { label: "adaptiveAvgPool2d.y" });
  if (oh === 1 && ow === 1) {
    k.adaptiveAvgPool1Forward(x, y.reshape([n, c]));
    record("adaptiveAvgPool2d", [x], y, (dy, [dx]) => {
      writeGrad(dx, (into) => k.adaptiveAvgPool1Backward(dy.reshape([n, c]), into));
    });
    return y;
  }
  k.adaptiveAvgPool2dForward(x, y);
  record("adaptiveAvgPool2d", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.adaptiveAvgPool2dBackward(dy, into));
  });
  return y;
}

/**
 * PyTorch's `F.adaptive_max_pool2d(x, outputSize)`: output cell (i, j) is the maximum of
 * PyTorch's window (i, j) (see {@link adaptiveAvgPool2d}); backward sends `dy` to the window's
 * (first) maximum, 0 elsewhere, summed where windows overlap. Output 1 is global max pooling,
 * with kernels of its own.
 *
 * @example
 * ```ts
 * import { F, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const y = F.adaptiveMaxPool2d(Tensor.full([2, 160, 2, 2], 1), 1); // [2, 160, 1, 1]
 * const z = F.adaptiveMaxPool2d(Tensor.zeros([2, 8, 5, 5]), 2); // [2, 8, 2, 2]
 * console.log(y.shape, z.shape);
 * ```
 */
export function adaptiveMaxPool2d(
  x: Tensor, // x: [N, C, H, W]
  outputSize: Size2,
): Tensor { // → y: [N, C, OH, OW]
  const shape = adaptiveShape("adaptiveMaxPool2d", x, outputSize);
  const [n, c, oh, ow] = shape;
  const y = opTensor(shape, { label: "adaptiveMaxPool2d.y" });
  if (oh === 1 && ow === 1) {
    const argmax = opTensor<"i32">([n, c], { label: "adaptiveMaxPool2d.argmax", dtype: "i32" });
    k.adaptiveMaxPool1Forward(x, y.reshape([n, c]), argmax);
    record("adaptiveMaxPool2d", [x], y, (dy, [dx]) => {
      writeGrad(dx, (into) => k.adaptiveMaxPool1Backward(dy.reshape([n, c]), argmax, into));
    });
    return y;
  }
  const argmax = opTensor<"i32">(shape, { label: "adaptiveMaxPool2d.argmax", dtype: "i32" });
  k.adaptiveMaxPool2dForward(x, y, argmax);
  record("adaptiveMaxPool2d", [x], y, (dy, [dx]) => {
    writeGrad(dx, (into) => k.maxPool2dBackward(dy, argmax, into));
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
