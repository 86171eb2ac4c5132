/**
 * Pooling and channel plumbing for [N, C, H, W] tensors, forward and backward: max pooling
 * (floor mode, no padding), average pooling (floor mode, zero padding, PyTorch's
 * `count_include_pad` either way), adaptive average and max pooling to any output size (with
 * kernels of their own for 1×1), the shifted stride subsampling of Shake-Shake's downsampling
 * shortcut, and channel concatenation / splitting.
 *
 * Max-pool argmax values are indices within an H×W plane (h·W + w), as PyTorch's
 * `return_indices`; they are i32 tensors.
 *
 * @module
 */

import { grid, type Kernel, type ParamType, wgslKernels } from "../gpu/kernel.ts";
import { checkNoAlias, checkShape, type DType, type Tensor } from "../tensor.ts";
import code from "../../shaders/pool.wgsl" with { type: "text" };

/** Options of {@link maxPool2dForward}. */
export interface MaxPool2dOptions {
  /** Window size (kernel × kernel), ≥ 1. */
  kernel: number;
  /** Step between windows, ≥ 1. */
  stride: number;
  /**
   * Pool `relu(x)` (a ReLU in front fused in; default false): `y = relu(max)`, and `argmax` is −1
   * where y is not > 0, so that the backward routes nothing there, as relu's backward would mask.
   */
  reluInput?: boolean;
}

/** Options of {@link avgPool2dForward} and {@link avgPool2dBackward}: `[height, width]` pairs. */
export interface AvgPool2dOptions {
  /** Window size, each ≥ 1. */
  kernel: readonly [number, number];
  /** Step between windows, each ≥ 1. */
  stride: readonly [number, number];
  /** Zeros added on each side, each at most half the window (as PyTorch requires). */
  padding: readonly [number, number];
  /** Divide by the whole window, padding included (PyTorch's default), else by the part in x. */
  countIncludePad: boolean;
}

/** Options of {@link shiftSubsample} and {@link shiftSubsampleBackward}. */
export interface ShiftSubsampleOptions {
  /** Step between samples, ≥ 1. */
  stride: number;
  /**
   * Offset of the first sample in both directions (an integer): Shake-Shake's second flow uses 1
   * (the PyTorch ports' `F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))`) or −1 (the Torch code's
   * `SpatialZeroPadding(1, -1, 1, -1)`).
   */
  shift: number;
}

const WORKGROUP = 256;

const PARAMS: Record<string, ParamType> = {
  count: "u32",
  height: "u32",
  width: "u32",
  outHeight: "u32",
  outWidth: "u32",
  kernel: "u32",
  stride: "u32",
  shift: "i32",
  channelsA: "u32",
  channelsB: "u32",
  windowH: "u32",
  windowW: "u32",
  strideH: "u32",
  strideW: "u32",
  padH: "u32",
  padW: "u32",
  includePad: "u32",
  reluInput: "u32",
};

const kernel = wgslKernels("Pool", code, { params: PARAMS, constants: { WORKGROUP } });

const maxPoolKernel = kernel("maxPool2dForward", 1, 2);
const maxPoolScatterKernel = kernel("maxPool2dScatter", 2, 1);
const avgPoolKernel = kernel("adaptiveAvgPool1Forward", 1, 1);
const avgPoolBackwardKernel = kernel("adaptiveAvgPool1Backward", 1, 1);
const maxPool1Kernel = kernel("adaptiveMaxPool1Forward", 1, 2);
const avgPool2dKernel = kernel("avgPool2dForward", 1, 1);
const avgPool2dBackwardKernel = kernel("avgPool2dBackward", 1, 1);
const adaptiveAvgKernel = kernel("adaptiveAvgPool2dForward", 1, 1);
const adaptiveAvgBackwardKernel = kernel("adaptiveAvgPool2dBackward", 1, 1);
const adaptiveMaxKernel = kernel("adaptiveMaxPool2dForward", 1, 2);
const maxPool1BackwardKernel = kernel("adaptiveMaxPool1Backward", 2, 1);
const shiftKernel = kernel("shiftSubsample", 1, 1);
const shiftBackwardKernel = kernel("shiftSubsampleBackward", 1, 1);
const concatKernel = kernel("concatChannels", 2, 1);
const splitKernel = kernel("splitChannels", 1, 2);

/** Records a dispatch of one thread per element written (nothing when there are none). */
function run(
  k: Kernel,
  count: number,
  buffers: Tensor<DType>[],
  p: Partial<Record<string, number>>,
): void {
  if (count === 0) return;
  k.dispatch(
    {
      count,
      height: 0,
      width: 0,
      outHeight: 0,
      outWidth: 0,
      kernel: 0,
      stride: 1,
      shift: 0,
      channelsA: 0,
      channelsB: 0,
      windowH: 1,
      windowW: 1,
      strideH: 1,
      strideW: 1,
      padH: 0,
      padW: 0,
      includePad: 1,
      reluInput: 0,
      ...p,
    } as Record<string, number>,
    buffers,
    grid(Math.ceil(count / WORKGROUP)),
  );
}

function checkPositiveInt(owner: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${owner}: ${name} must be an integer ≥ 1, got ${value}`);
  }
}

/** Checks `x` is an f32 [N, C, H, W] tensor and returns its dimensions. */
function dims4(owner: string, name: string, x: Tensor): number[] {
  checkShape(owner, name, x, [null, null, null, null]);
  return [...x.shape];
}

/**
 * Max pooling, floor mode, no padding: `y[n, c, i, j]` is the maximum of the kernel×kernel
 * window at (i·stride, j·stride), `argmax` its position h·W + w in the plane (first maximum on
 * ties). OH = ⌊(H − kernel)/stride⌋ + 1, likewise OW.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { maxPool2dForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.from([1, 5, 2, 0, 3, 4, 8, 6, 7, 1, 0, 2, 9, 3, 4, 5], [1, 1, 4, 4]);
 * const y = Tensor.empty([1, 1, 2, 2]);
 * const argmax = Tensor.empty([1, 1, 2, 2], { dtype: "i32" });
 * maxPool2dForward(x, y, argmax, { kernel: 2, stride: 2 }); // y = [5, 8, 9, 5]
 * ```
 */
export function maxPool2dForward(
  x: Tensor, // x: [N, C, H, W]
  y: Tensor, // y: [N, C, OH, OW]
  argmax: Tensor<"i32">, // argmax: i32 [N, C, OH, OW], index h·W + w in the input plane
  opts: MaxPool2dOptions,
): void {
  const owner = "maxPool2dForward";
  const [n, c, h, w] = dims4(owner, "x", x);
  const { kernel, stride } = opts;
  checkPositiveInt(owner, "kernel", kernel);
  checkPositiveInt(owner, "stride", stride);
  if (kernel > h || kernel > w) {
    throw new Error(`${owner}: kernel ${kernel} is larger than x's plane ${h}×${w}`);
  }
  const oh = Math.floor((h - kernel) / stride) + 1;
  const ow = Math.floor((w - kernel) / stride) + 1;
  checkShape(owner, "y", y, [n, c, oh, ow]);
  checkShape(owner, "argmax", argmax, [n, c, oh, ow], "i32");
  checkNoAlias(owner, { x }, { y, argmax });
  run(maxPoolKernel, y.size, [x, y, argmax], {
    height: h,
    width: w,
    outHeight: oh,
    outWidth: ow,
    kernel,
    stride,
    reluInput: opts.reluInput ? 1 : 0,
  });
}

/**
 * Backward of {@link maxPool2dForward}: `dx` is overwritten with zeros except at each window's
 * argmax, which receives the window's `dy` (summed where overlapping windows share a maximum;
 * that sum's order, and so its last bit, can vary between runs); an argmax of −1 (a fused ReLU's
 * zero) routes nowhere.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { maxPool2dBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dy = Tensor.from([1, 2, 3, 4], [1, 1, 2, 2]);
 * const argmax = Tensor.from([1, 2, 12, 15], [1, 1, 2, 2], { dtype: "i32" });
 * const dx = Tensor.empty([1, 1, 4, 4]);
 * maxPool2dBackward(dy, argmax, dx);
 * ```
 */
export function maxPool2dBackward(
  dy: Tensor, // dy: [N, C, OH, OW]
  argmax: Tensor<"i32">, // argmax: i32 [N, C, OH, OW], from maxPool2dForward
  dx: Tensor, // dx: [N, C, H, W], overwritten
): void {
  const owner = "maxPool2dBackward";
  const [n, c, oh, ow] = dims4(owner, "dy", dy);
  checkShape(owner, "argmax", argmax, [n, c, oh, ow], "i32");
  const [, , h, w] = dims4(owner, "dx", dx);
  checkShape(owner, "dx", dx, [n, c, null, null]);
  checkNoAlias(owner, { dy, argmax }, { dx });
  if (dx.size === 0) return;
  dx.fill(0);
  run(maxPoolScatterKernel, dy.size, [dy, argmax, dx], {
    height: h,
    width: w,
    outHeight: oh,
    outWidth: ow,
  });
}

/**
 * The output size `[OH, OW]` of {@link avgPool2dForward} for an `h`×`w` plane, PyTorch's floor
 * mode: `⌊(H + 2·padH − kernelH)/strideH⌋ + 1`, likewise OW; throws naming the option at fault.
 *
 * @example
 * ```ts
 * import { avgPool2dOutputSize } from "@hajime/nn/gpu";
 * const options = { kernel: [3, 3], stride: [2, 2], padding: [1, 1] } as const;
 * console.log(avgPool2dOutputSize(32, 32, { ...options, countIncludePad: true })); // [16, 16]
 * ```
 */
export function avgPool2dOutputSize(
  h: number,
  w: number,
  opts: AvgPool2dOptions,
  owner = "avgPool2d",
): [number, number] {
  const { kernel, stride, padding } = opts;
  const out: number[] = [];
  for (const [axis, size] of [[0, h], [1, w]] as const) {
    checkPositiveInt(owner, "kernel", kernel[axis]);
    checkPositiveInt(owner, "stride", stride[axis]);
    const pad = padding[axis];
    if (!Number.isInteger(pad) || pad < 0 || 2 * pad > kernel[axis]) {
      throw new Error(
        `${owner}: padding [${padding.join(", ")}] must be integers in [0, kernel/2] for kernel ` +
          `[${kernel.join(", ")}] (as PyTorch)`,
      );
    }
    if (size + 2 * pad < kernel[axis]) {
      throw new Error(
        `${owner}: the ${h}×${w} plane padded by [${padding.join(", ")}] is smaller than the ` +
          `[${kernel.join(", ")}] window`,
      );
    }
    out.push(Math.floor((size + 2 * pad - kernel[axis]) / stride[axis]) + 1);
  }
  return [out[0], out[1]];
}

function avgParams(opts: AvgPool2dOptions): Record<string, number> {
  return {
    windowH: opts.kernel[0],
    windowW: opts.kernel[1],
    strideH: opts.stride[0],
    strideW: opts.stride[1],
    padH: opts.padding[0],
    padW: opts.padding[1],
    includePad: opts.countIncludePad ? 1 : 0,
  };
}

/**
 * Average pooling, PyTorch's `avg_pool2d` in floor mode: `y[n, c, i, j]` is the sum of the
 * kernel window at (i·strideH − padH, j·strideW − padW), zeros outside x, divided by the window
 * size (`countIncludePad`) or by its positions inside x.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { avgPool2dForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([1, 1, 2, 2]);
 * avgPool2dForward(Tensor.full([1, 1, 3, 3], 1), y, {
 *   kernel: [2, 2], stride: [2, 2], padding: [1, 1], countIncludePad: true,
 * });
 * console.log(await y.read()); // [0.25, 0.5, 0.5, 1]
 * ```
 */
export function avgPool2dForward(
  x: Tensor, // x: [N, C, H, W]
  y: Tensor, // y: [N, C, OH, OW] (avgPool2dOutputSize), overwritten
  opts: AvgPool2dOptions,
): void {
  const owner = "avgPool2dForward";
  const [n, c, h, w] = dims4(owner, "x", x);
  const [oh, ow] = avgPool2dOutputSize(h, w, opts, owner);
  checkShape(owner, "y", y, [n, c, oh, ow]);
  checkNoAlias(owner, { x }, { y });
  run(avgPool2dKernel, y.size, [x, y], {
    height: h,
    width: w,
    outHeight: oh,
    outWidth: ow,
    ...avgParams(opts),
  });
}

/**
 * Backward of {@link avgPool2dForward}: `dx[h, w]` is the sum over the windows holding (h, w)
 * of their `dy` over their divisor (overwritten; gathered per input, so deterministic).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { avgPool2dBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([1, 1, 2, 2]);
 * avgPool2dBackward(Tensor.from([4], [1, 1, 1, 1]), dx, {
 *   kernel: [2, 2], stride: [2, 2], padding: [0, 0], countIncludePad: true,
 * });
 * console.log(await dx.read()); // [1, 1, 1, 1]
 * ```
 */
export function avgPool2dBackward(
  dy: Tensor, // dy: [N, C, OH, OW]
  dx: Tensor, // dx: [N, C, H, W], overwritten
  opts: AvgPool2dOptions,
): void {
  const owner = "avgPool2dBackward";
  const [n, c, h, w] = dims4(owner, "dx", dx);
  const [oh, ow] = avgPool2dOutputSize(h, w, opts, owner);
  checkShape(owner, "dy", dy, [n, c, oh, ow]);
  checkNoAlias(owner, { dy }, { dx });
  run(avgPool2dBackwardKernel, dx.size, [dy, dx], {
    height: h,
    width: w,
    outHeight: oh,
    outWidth: ow,
    ...avgParams(opts),
  });
}

/** Checks an adaptive pool's x [N, C, H, W] (no empty plane) and y [N, C, OH, OW]. */
function adaptiveDims(owner: string, x: Tensor, y: Tensor): Record<string, number> {
  const [n, c, h, w] = dims4(owner, "x", x);
  const [, , oh, ow] = dims4(owner, "y", y);
  checkShape(owner, "y", y, [n, c, null, null]);
  if (h * w === 0 && y.size > 0) throw new Error(`${owner}: x has an empty plane ${h}×${w}`);
  return { height: h, width: w, outHeight: oh, outWidth: ow };
}

/**
 * Adaptive average pooling to any `[OH, OW]` (y's shape), PyTorch's windows: `y[n, c, i, j]` is
 * the mean of rows `⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1` and columns likewise.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { adaptiveAvgPool2dForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([1, 1, 2, 1]);
 * adaptiveAvgPool2dForward(Tensor.from([1, 2, 3, 4, 5, 6], [1, 1, 3, 2]), y);
 * console.log(await y.read()); // [2.5, 4.5]: rows 0–1 and 1–2
 * ```
 */
export function adaptiveAvgPool2dForward(
  x: Tensor, // x: [N, C, H, W]
  y: Tensor, // y: [N, C, OH, OW], overwritten
): void {
  const owner = "adaptiveAvgPool2dForward";
  const sizes = adaptiveDims(owner, x, y);
  checkNoAlias(owner, { x }, { y });
  run(adaptiveAvgKernel, y.size, [x, y], sizes);
}

/**
 * Backward of {@link adaptiveAvgPool2dForward}: `dx[h, w]` is the sum over the windows holding
 * (h, w) of their `dy` over their size (overwritten; gathered, so deterministic).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { adaptiveAvgPool2dBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([1, 1, 3, 1]);
 * adaptiveAvgPool2dBackward(Tensor.from([2, 4], [1, 1, 2, 1]), dx);
 * console.log(await dx.read()); // [1, 3, 2]
 * ```
 */
export function adaptiveAvgPool2dBackward(
  dy: Tensor, // dy: [N, C, OH, OW]
  dx: Tensor, // dx: [N, C, H, W], overwritten
): void {
  const owner = "adaptiveAvgPool2dBackward";
  const sizes = adaptiveDims(owner, dx, dy);
  checkNoAlias(owner, { dy }, { dx });
  run(adaptiveAvgBackwardKernel, dx.size, [dy, dx], sizes);
}

/**
 * Adaptive max pooling to any `[OH, OW]` (y's shape), PyTorch's windows: `y[n, c, i, j]` is the
 * maximum of window (i, j), `argmax` its position h·W + w in the plane (the first on ties), the
 * input of {@link maxPool2dBackward}.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { adaptiveMaxPool2dForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([1, 1, 1, 2]);
 * const argmax = Tensor.empty([1, 1, 1, 2], { dtype: "i32" });
 * adaptiveMaxPool2dForward(Tensor.from([1, 7, 3, 2, 0, 5], [1, 1, 2, 3]), y, argmax);
 * console.log(await y.read(), await argmax.read()); // [7, 7], [1, 1]
 * ```
 */
export function adaptiveMaxPool2dForward(
  x: Tensor, // x: [N, C, H, W]
  y: Tensor, // y: [N, C, OH, OW], overwritten
  argmax: Tensor<"i32">, // argmax: i32 [N, C, OH, OW], index h·W + w in the input plane
): void {
  const owner = "adaptiveMaxPool2dForward";
  const sizes = adaptiveDims(owner, x, y);
  checkShape(owner, "argmax", argmax, y.shape, "i32");
  checkNoAlias(owner, { x }, { y, argmax });
  run(adaptiveMaxKernel, y.size, [x, y, argmax], sizes);
}

/**
 * Adaptive average pooling to 1×1: `y[n, c]` is the mean of the plane x[n, c].
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { adaptiveAvgPool1Forward } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([1, 2]);
 * adaptiveAvgPool1Forward(Tensor.from([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]), y); // [2.5, 6.5]
 * ```
 */
export function adaptiveAvgPool1Forward(
  x: Tensor, // x: [N, C, H, W]
  y: Tensor, // y: [N, C]
): void {
  const owner = "adaptiveAvgPool1Forward";
  const [n, c, h, w] = dims4(owner, "x", x);
  checkShape(owner, "y", y, [n, c]);
  if (h * w === 0 && y.size > 0) throw new Error(`${owner}: x has an empty plane ${h}×${w}`);
  checkNoAlias(owner, { x }, { y });
  run(avgPoolKernel, y.size, [x, y], { height: h, width: w });
}

/**
 * Backward of {@link adaptiveAvgPool1Forward}: `dx[n, c, h, w] = dy[n, c]/(H·W)` (overwritten).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { adaptiveAvgPool1Backward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([1, 2, 2, 2]);
 * adaptiveAvgPool1Backward(Tensor.from([4, 8], [1, 2]), dx); // [1, 1, 1, 1, 2, 2, 2, 2]
 * ```
 */
export function adaptiveAvgPool1Backward(
  dy: Tensor, // dy: [N, C]
  dx: Tensor, // dx: [N, C, H, W], overwritten
): void {
  const owner = "adaptiveAvgPool1Backward";
  checkShape(owner, "dy", dy, [null, null]);
  const [, , h, w] = dims4(owner, "dx", dx);
  checkShape(owner, "dx", dx, [dy.shape[0], dy.shape[1], null, null]);
  checkNoAlias(owner, { dy }, { dx });
  run(avgPoolBackwardKernel, dx.size, [dy, dx], { height: h, width: w });
}

/**
 * Adaptive max pooling to 1×1: `y[n, c]` is the maximum of the plane x[n, c], `argmax[n, c]` its
 * position h·W + w (first maximum on ties).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { adaptiveMaxPool1Forward } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([1, 1]);
 * const argmax = Tensor.empty([1, 1], { dtype: "i32" });
 * adaptiveMaxPool1Forward(Tensor.from([1, 7, 3, 2], [1, 1, 2, 2]), y, argmax); // 7 at 1
 * ```
 */
export function adaptiveMaxPool1Forward(
  x: Tensor, // x: [N, C, H, W]
  y: Tensor, // y: [N, C]
  argmax: Tensor<"i32">, // argmax: i32 [N, C], index h·W + w in the plane
): void {
  const owner = "adaptiveMaxPool1Forward";
  const [n, c, h, w] = dims4(owner, "x", x);
  checkShape(owner, "y", y, [n, c]);
  checkShape(owner, "argmax", argmax, [n, c], "i32");
  if (h * w === 0 && y.size > 0) throw new Error(`${owner}: x has an empty plane ${h}×${w}`);
  checkNoAlias(owner, { x }, { y, argmax });
  run(maxPool1Kernel, y.size, [x, y, argmax], { height: h, width: w });
}

/**
 * Backward of {@link adaptiveMaxPool1Forward}: `dx` is dy[n, c] at the plane's argmax and 0
 * elsewhere (overwritten).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { adaptiveMaxPool1Backward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([1, 1, 2, 2]);
 * adaptiveMaxPool1Backward(
 *   Tensor.from([5], [1, 1]),
 *   Tensor.from([1], [1, 1], { dtype: "i32" }),
 *   dx,
 * ); // [0, 5, 0, 0]
 * ```
 */
export function adaptiveMaxPool1Backward(
  dy: Tensor, // dy: [N, C]
  argmax: Tensor<"i32">, // argmax: i32 [N, C], from adaptiveMaxPool1Forward
  dx: Tensor, // dx: [N, C, H, W], overwritten
): void {
  const owner = "adaptiveMaxPool1Backward";
  checkShape(owner, "dy", dy, [null, null]);
  checkShape(owner, "argmax", argmax, dy.shape, "i32");
  const [, , h, w] = dims4(owner, "dx", dx);
  checkShape(owner, "dx", dx, [dy.shape[0], dy.shape[1], null, null]);
  checkNoAlias(owner, { dy, argmax }, { dx });
  run(maxPool1BackwardKernel, dx.size, [dy, argmax, dx], { height: h, width: w });
}

function checkShift(owner: string, opts: ShiftSubsampleOptions): void {
  checkPositiveInt(owner, "stride", opts.stride);
  if (!Number.isInteger(opts.shift) || Math.abs(opts.shift) >= 2 ** 31) {
    throw new Error(`${owner}: shift must be a 32-bit integer, got ${opts.shift}`);
  }
}

/**
 * Strided subsampling with a shift (Shake-Shake's downsampling shortcut, as 1×1 average pooling
 * with stride 2 of x and of x shifted by one pixel): `y[n, c, i, j] = x[n, c, i·stride + shift,
 * j·stride + shift]`, 0 where that falls outside x. OH = ⌈H/stride⌉, OW = ⌈W/stride⌉.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { shiftSubsample } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.from(Array.from({ length: 9 }, (_, i) => i), [1, 1, 3, 3]);
 * const y = Tensor.empty([1, 1, 2, 2]);
 * shiftSubsample(x, y, { stride: 2, shift: 1 }); // [4, 0, 0, 0]
 * ```
 */
export function shiftSubsample(
  x: Tensor, // x: [N, C, H, W]
  y: Tensor, // y: [N, C, ⌈H/stride⌉, ⌈W/stride⌉]
  opts: ShiftSubsampleOptions,
): void {
  const owner = "shiftSubsample";
  const [n, c, h, w] = dims4(owner, "x", x);
  checkShift(owner, opts);
  const oh = Math.ceil(h / opts.stride);
  const ow = Math.ceil(w / opts.stride);
  checkShape(owner, "y", y, [n, c, oh, ow]);
  checkNoAlias(owner, { x }, { y });
  run(shiftKernel, y.size, [x, y], {
    height: h,
    width: w,
    outHeight: oh,
    outWidth: ow,
    stride: opts.stride,
    shift: opts.shift,
  });
}

/**
 * Backward of {@link shiftSubsample}: each sampled position of `dx` receives its `dy`, every
 * other position 0 (overwritten).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { shiftSubsampleBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dx = Tensor.empty([1, 1, 4, 4]);
 * shiftSubsampleBackward(Tensor.from([1, 2, 3, 4], [1, 1, 2, 2]), dx, { stride: 2, shift: 0 });
 * ```
 */
export function shiftSubsampleBackward(
  dy: Tensor, // dy: [N, C, ⌈H/stride⌉, ⌈W/stride⌉]
  dx: Tensor, // dx: [N, C, H, W], overwritten
  opts: ShiftSubsampleOptions,
): void {
  const owner = "shiftSubsampleBackward";
  const [n, c, h, w] = dims4(owner, "dx", dx);
  checkShift(owner, opts);
  const oh = Math.ceil(h / opts.stride);
  const ow = Math.ceil(w / opts.stride);
  checkShape(owner, "dy", dy, [n, c, oh, ow]);
  checkNoAlias(owner, { dy }, { dx });
  run(shiftBackwardKernel, dx.size, [dy, dx], {
    height: h,
    width: w,
    outHeight: oh,
    outWidth: ow,
    stride: opts.stride,
    shift: opts.shift,
  });
}

/**
 * Concatenation along channels: `y = [a, b]`.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { concatChannels } from "@hajime/nn/gpu";
 * await initGpu();
 * const y = Tensor.empty([2, 3, 4, 4]);
 * concatChannels(Tensor.zeros([2, 1, 4, 4]), Tensor.full([2, 2, 4, 4], 1), y);
 * ```
 */
export function concatChannels(
  a: Tensor, // a: [N, Ca, H, W]
  b: Tensor, // b: [N, Cb, H, W]
  y: Tensor, // y: [N, Ca + Cb, H, W]
): void {
  const owner = "concatChannels";
  const [n, ca, h, w] = dims4(owner, "a", a);
  checkShape(owner, "b", b, [n, null, h, w]);
  const cb = b.shape[1];
  checkShape(owner, "y", y, [n, ca + cb, h, w]);
  checkNoAlias(owner, { a, b }, { y });
  run(concatKernel, y.size, [a, b, y], { height: h, width: w, channelsA: ca, channelsB: cb });
}

/**
 * Backward of {@link concatChannels}: `da`, `db` receive the first Ca and the last Cb channels
 * of `dy` (overwritten).
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { splitChannels } from "@hajime/nn/gpu";
 * await initGpu();
 * const da = Tensor.empty([2, 1, 4, 4]), db = Tensor.empty([2, 2, 4, 4]);
 * splitChannels(Tensor.full([2, 3, 4, 4], 1), da, db);
 * ```
 */
export function splitChannels(
  dy: Tensor, // dy: [N, Ca + Cb, H, W]
  da: Tensor, // da: [N, Ca, H, W], overwritten
  db: Tensor, // db: [N, Cb, H, W], overwritten
): void {
  const owner = "splitChannels";
  const [n, c, h, w] = dims4(owner, "dy", dy);
  checkShape(owner, "da", da, [n, null, h, w]);
  const ca = da.shape[1];
  checkShape(owner, "db", db, [n, c - ca, h, w]);
  checkNoAlias(owner, { dy }, { da, db });
  run(splitKernel, dy.size, [dy, da, db], {
    height: h,
    width: w,
    channelsA: ca,
    channelsB: c - ca,
  });
}
