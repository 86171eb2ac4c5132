/**
 * 2-D convolution over NCHW tensors (cross-correlation as PyTorch's `Conv2d`): any kernel size,
 * stride and zero padding, optional bias, forward and backward, as implicit GEMM
 * (shaders/conv2d.wgsl).
 *
 * - forward: y[n, o, ·] = Σ_{c, kh, kw} x[n, c, window] · w[o, c, kh, kw] (+ bias[o]), a GEMM with
 *   M = N·OH·OW positions, N = O channels, K = C·KH·KW, the input gathered in place (no im2col).
 * - input gradient: the same gather with dy as input, the kernel mirrored and its channels
 *   swapped; with stride s the output is split into s² phases so each phase uses only its taps.
 * - weight gradient: dW[o, (c, kh, kw)] += Σ_{n, oh, ow} dy · im2col(x), the long reduction split
 *   into chunks of rows written as partial sums and added up by a second, small pass.
 *
 * Weights (and dy for the weight gradient) are first copied into a channels-last temporary so the
 * GEMM loops read 16 channels as four vec4 loads; temporaries return to the pool after recording.
 *
 * Tuned (src/gpu/autotune.ts): the families `conv2d.forward`, `conv2d.backwardData` and
 * `conv2d.backwardWeight` pick the GEMM workgroup size per geometry (shape key
 * `n,c,h,w,o,kh,kw,stride,padding`) among `wg8` and `wg64` (and `wg<bits/32>` on a software
 * adapter of another SIMD width); untuned, `bits / 32` on a software adapter and 64 on hardware.
 * Every variant gives bit-identical results.
 *
 * @module
 */

import { autotuner, registerKernelFamily } from "../gpu/autotune.ts";
import { gpuInfo } from "../gpu/device.ts";
import { grid, Kernel } from "../gpu/kernel.ts";
import { checkShape, Tensor } from "../tensor.ts";
import code from "../../shaders/conv2d.wgsl" with { type: "text" };

/** Stride and zero padding of a convolution, the same in both spatial directions. */
export interface Conv2dOptions {
  /** Step between neighbouring windows, an integer ≥ 1. */
  stride: number;
  /** Zeros added on every side of the input, an integer ≥ 0. */
  padding: number;
}

/**
 * Output size of a convolution along one spatial dimension (PyTorch's formula).
 *
 * @example
 * ```ts
 * import { conv2dOutputSize } from "@hajime/nn/gpu";
 * conv2dOutputSize(32, 3, 2, 1); // 16
 * ```
 */
export function conv2dOutputSize(
  size: number,
  kernel: number,
  stride: number,
  padding: number,
): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/** The gather kernel's register tile: 16 positions × 16 channels (a mat4x4f per position). */
const GATHER_ROWS = 16;
const GATHER_CHANNELS = 16;
/** The weight gradient's register tile: 8 columns (c, kh, kw) × 32 output channels. */
const WGRAD_ROWS = 8;
const WGRAD_CHANNELS = 32;
/** Workgroup size of the light passes (transpose, sums), and of the GEMMs on hardware GPUs. */
const GPU_WORKGROUP = 64;
/** Workgroups the weight gradient aims for, splitting its reduction when tiles alone are fewer. */
const MIN_WORKGROUPS = 64;

interface Kernels {
  workgroup: number;
  transpose: Kernel;
  gather: Kernel;
  weightGrad: Kernel;
  sumChunks: Kernel;
  biasGrad: Kernel;
}

/** The light passes, the same in every variant. */
let lightKernels: Pick<Kernels, "transpose" | "sumChunks" | "biasGrad"> | null = null;
/** The kernel sets by GEMM workgroup size (the variants). */
const kernelSets = new Map<number, Kernels>();

/**
 * The GEMM workgroup size used until tuning says otherwise (as before tuning existed). On a
 * software adapter a workgroup is one SIMD batch of lanes (llvmpipe runs each workgroup on one
 * thread, `bits / 32` invocations at a time), so small shapes waste no lanes; on hardware it is 64
 * invocations.
 */
function defaultWorkgroup(): number {
  const info = gpuInfo();
  const bits = /(\d+) bits/.exec(info.description);
  return info.isSoftware && bits ? Math.max(1, Number(bits[1]) / 32) : GPU_WORKGROUP;
}

/** The GEMM kernels (gather, weight_grad) with `workgroup` invocations, made on first use. */
function kernels(workgroup: number): Kernels {
  let set = kernelSets.get(workgroup);
  if (set) return set;
  lightKernels ??= {
    transpose: new Kernel({
      label: "Conv2d.transpose",
      code,
      entryPoint: "transpose",
      params: {
        a_count: "u32",
        b_count: "u32",
        c_count: "u32",
        c_pad: "u32",
        a_stride: "u32",
        b_stride: "u32",
        c_stride: "u32",
      },
      inputs: 1,
      outputs: 1,
      constants: { WORKGROUP: GPU_WORKGROUP },
    }),
    sumChunks: new Kernel({
      label: "Conv2d.sumChunks",
      code,
      entryPoint: "sum_chunks",
      params: { count: "u32", chunks: "u32" },
      inputs: 1,
      outputs: 1,
      constants: { WORKGROUP: GPU_WORKGROUP },
    }),
    biasGrad: new Kernel({
      label: "Conv2d.biasGrad",
      code,
      entryPoint: "bias_grad",
      params: { batch: "u32", channels: "u32", plane: "u32" },
      inputs: 1,
      outputs: 1,
    }),
  };
  const constants = { WORKGROUP: workgroup };
  set = {
    ...lightKernels,
    workgroup,
    gather: new Kernel({
      label: "Conv2d.gather",
      code,
      entryPoint: "gather",
      params: {
        batch: "u32",
        q_count: "u32",
        r_count: "u32",
        in_h: "u32",
        in_w: "u32",
        out_h: "u32",
        out_w: "u32",
        kernel_h: "u32",
        kernel_w: "u32",
        phase_stride: "u32",
        sub_h: "u32",
        sub_w: "u32",
        in_step: "u32",
        tap_sign: "i32",
        tap_offset: "i32",
        tap_div: "i32",
        q_vec: "u32",
        use_bias: "u32",
        blocks_m: "u32",
        blocks_q: "u32",
      },
      inputs: 3,
      outputs: 1,
      constants,
    }),
    weightGrad: new Kernel({
      label: "Conv2d.weightGrad",
      code,
      entryPoint: "weight_grad",
      params: {
        batch: "u32",
        channels: "u32",
        in_h: "u32",
        in_w: "u32",
        out_channels: "u32",
        out_h: "u32",
        out_w: "u32",
        kernel_h: "u32",
        kernel_w: "u32",
        stride: "u32",
        padding: "u32",
        o_vec: "u32",
        rows_per_chunk: "u32",
        blocks_j: "u32",
        blocks_o: "u32",
        accumulate: "u32",
      },
      inputs: 2,
      outputs: 1,
      constants,
    }),
  };
  kernelSets.set(workgroup, set);
  return set;
}

/** The three tuned families: each picks the GEMM workgroup size of one direction. */
const FORWARD = "conv2d.forward";
const BACKWARD_DATA = "conv2d.backwardData";
const BACKWARD_WEIGHT = "conv2d.backwardWeight";

let variantNames: string[] | null = null;

/** `wg<size>`: the default first, then 8 (one llvmpipe SIMD batch) and 64 (hardware). */
function workgroupVariants(): string[] {
  return variantNames ??= [...new Set([defaultWorkgroup(), 8, GPU_WORKGROUP])].map((n) => `wg${n}`);
}

/** The kernels of the variant the autotuner picks for this direction and geometry. */
function chosenKernels(family: string, g: Geometry): Kernels {
  const variant = autotuner().choice(family, geometryKey(g));
  return kernels(Number(variant.slice(2)));
}

/** A geometry's shape key: `n,c,h,w,o,kh,kw,stride,padding`. */
function geometryKey(g: Geometry): string {
  return [g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.stride, g.padding].join(",");
}

function keyGeometry(key: string): Geometry {
  const [n, c, h, w, o, kh, kw, stride, padding] = key.split(",").map(Number);
  const oh = conv2dOutputSize(h, kh, stride, padding);
  const ow = conv2dOutputSize(w, kw, stride, padding);
  return { n, c, h, w, o, kh, kw, oh, ow, stride, padding };
}

/**
 * Registers one direction: its variants record `run` with each workgroup size on zero-filled
 * tensors of the key's geometry.
 */
function registerDirection(
  name: string,
  run: (k: Kernels, g: Geometry, t: Record<"x" | "weight" | "y", Tensor>) => void,
): void {
  registerKernelFamily({
    name,
    variants: workgroupVariants,
    defaultVariant: () => `wg${defaultWorkgroup()}`,
    prepare(key) {
      const g = keyGeometry(key);
      const t = {
        x: Tensor.zeros([g.n, g.c, g.h, g.w], { label: "Conv2d.tuneX" }),
        weight: Tensor.zeros([g.o, g.c, g.kh, g.kw], { label: "Conv2d.tuneWeight" }),
        y: Tensor.zeros([g.n, g.o, g.oh, g.ow], { label: "Conv2d.tuneY" }),
      };
      const variants = Object.fromEntries(
        workgroupVariants().map((v) => [v, () => run(kernels(Number(v.slice(2))), g, t)]),
      );
      return { variants, dispose: () => Object.values(t).forEach((x) => x.dispose()) };
    },
  });
}

// Tensors stand in for those of the same shape (y for dy, x for dx, weight for dWeight): values
// do not matter to the timing.
registerDirection(FORWARD, (k, g, t) => forward(k, g, t.x, t.weight, null, t.y));
registerDirection(BACKWARD_DATA, (k, g, t) => inputGrad(k, g, t.y, t.weight, t.x));
registerDirection(BACKWARD_WEIGHT, (k, g, t) => weightGrad(k, g, t.y, t.x, t.weight));

/** Sizes of one convolution, after validation. */
interface Geometry {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  stride: number;
  padding: number;
}

/**
 * Validates the input-shaped tensor (x, or dx where x is not needed), the weight-shaped one
 * (weight or dWeight) and the options; throws errors naming the argument and its shape.
 */
function geometry(
  owner: string,
  [name, x]: [string, Tensor],
  [weightName, weight]: [string, Tensor],
  opts: Conv2dOptions,
): Geometry {
  const { stride, padding } = opts;
  if (!Number.isInteger(stride) || stride < 1) {
    throw new Error(`${owner}: stride must be an integer ≥ 1, got ${stride}`);
  }
  if (!Number.isInteger(padding) || padding < 0) {
    throw new Error(`${owner}: padding must be an integer ≥ 0, got ${padding}`);
  }
  checkShape(owner, name, x, [null, null, null, null]);
  checkShape(owner, weightName, weight, [null, x.shape[1], null, null]);
  const [n, c, h, w] = x.shape;
  const [o, , kh, kw] = weight.shape;
  if (c === 0 || o === 0 || kh === 0 || kw === 0) {
    throw new Error(
      `${owner}: ${weightName} has shape [${weight.shape.join(", ")}]: ` +
        `channels and kernel must be ≥ 1`,
    );
  }
  if (kh > h + 2 * padding || kw > w + 2 * padding) {
    throw new Error(
      `${owner}: kernel ${kh}×${kw} of ${weightName} [${
        weight.shape.join(", ")
      }] is larger than the ` +
        `padded input ${h + 2 * padding}×${w + 2 * padding} of ${name} [${x.shape.join(", ")}] ` +
        `(padding ${padding})`,
    );
  }
  const oh = conv2dOutputSize(h, kh, stride, padding);
  const ow = conv2dOutputSize(w, kw, stride, padding);
  return { n, c, h, w, o, kh, kw, oh, ow, stride, padding };
}

/**
 * The output shape `[N, O, OH, OW]` of `conv2dForward(x, weight, …)`, after the checks it makes
 * on x, weight and the options (errors name `owner`): ops allocate their output with it.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { conv2dOutputShape } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.zeros([8, 3, 32, 32]);
 * const weight = Tensor.zeros([16, 3, 5, 5]);
 * conv2dOutputShape("Example", x, weight, { stride: 1, padding: 2 }); // [8, 16, 32, 32]
 * ```
 */
export function conv2dOutputShape(
  owner: string,
  x: Tensor, // x: [N, C, H, W]
  weight: Tensor, // weight: [O, C, KH, KW]
  opts: Conv2dOptions,
): number[] { // → [N, O, OH, OW]
  const g = geometry(owner, ["x", x], ["weight", weight], opts);
  return [g.n, g.o, g.oh, g.ow];
}

/** Throws when an output shares its GPU buffer with another argument (no kernel can run so). */
function checkDistinct(
  owner: string,
  outputs: Record<string, Tensor | null>,
  inputs: Record<string, Tensor | null>,
): void {
  const all = Object.entries({ ...outputs, ...inputs });
  for (const [name, tensor] of Object.entries(outputs)) {
    if (!tensor) continue;
    const other = all.find(([n, t]) => n !== name && t?.buffer === tensor.buffer);
    if (other) throw new Error(`${owner}: ${name} shares its buffer with ${other[0]}`);
  }
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/**
 * Records out[a, b, c] = input[a·aStride + b·bStride + c·cStride] (zero for c ≥ cCount) into a
 * new tensor [a, b, cPad], cPad = cCount rounded up to `channels` (a multiple of 16).
 */
function transposed(
  k: Kernels,
  input: Tensor,
  [aCount, bCount, cCount]: [number, number, number],
  [aStride, bStride, cStride]: [number, number, number],
  channels: number,
  label: string,
): Tensor {
  const cPad = roundUp(cCount, channels);
  const out = Tensor.empty([aCount, bCount, cPad], { label });
  // Each invocation writes 16 channels.
  const invocations = aCount * bCount * cPad / 16;
  k.transpose.dispatch(
    {
      a_count: aCount,
      b_count: bCount,
      c_count: cCount,
      c_pad: cPad,
      a_stride: aStride,
      b_stride: bStride,
      c_stride: cStride,
    },
    [input, out],
    grid(Math.ceil(invocations / GPU_WORKGROUP)),
  );
  return out;
}

/**
 * Records y = conv2d(x, weight) + bias.
 *
 * @param x input, `[N, C, H, W]`
 * @param weight kernels, `[O, C, KH, KW]`
 * @param bias per output channel, `[O]`, or null for none
 * @param y output, `[N, O, OH, OW]` with OH = `conv2dOutputSize(H, KH, stride, padding)`
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { conv2dForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.zeros([2, 3, 8, 8]);
 * const weight = Tensor.full([4, 3, 3, 3], 0.1);
 * const y = Tensor.empty([2, 4, 8, 8]);
 * conv2dForward(x, weight, null, y, { stride: 1, padding: 1 });
 * ```
 */
export function conv2dForward(
  x: Tensor, // x: [N, C, H, W]
  weight: Tensor, // weight: [O, C, KH, KW]
  bias: Tensor | null, // bias: [O]
  y: Tensor, // y: [N, O, OH, OW]
  opts: Conv2dOptions,
): void {
  const owner = "Conv2d.forward";
  const g = geometry(owner, ["x", x], ["weight", weight], opts);
  if (bias) checkShape(owner, "bias", bias, [g.o]);
  checkShape(owner, "y", y, [g.n, g.o, g.oh, g.ow]);
  checkDistinct(owner, { y }, { x, weight, bias });
  if (g.n > 0) forward(chosenKernels(FORWARD, g), g, x, weight, bias, y);
}

/** y = conv2d(x, weight) + bias with the kernels of one variant. */
function forward(
  k: Kernels,
  g: Geometry,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  y: Tensor,
): void {
  const taps = g.kh * g.kw;
  // w[c, tap, o]: the channels a GEMM tile produces are contiguous.
  const wT = transposed(
    k,
    weight,
    [g.c, taps, g.o],
    [taps, 1, g.c * taps],
    GATHER_CHANNELS,
    "Conv2d.weightT",
  );
  const blocksM = Math.ceil(g.n * g.oh * g.ow / (k.workgroup * GATHER_ROWS));
  const blocksQ = Math.ceil(g.o / GATHER_CHANNELS);
  k.gather.dispatch(
    {
      batch: g.n,
      q_count: g.o,
      r_count: g.c,
      in_h: g.h,
      in_w: g.w,
      out_h: g.oh,
      out_w: g.ow,
      kernel_h: g.kh,
      kernel_w: g.kw,
      phase_stride: 1,
      sub_h: g.oh,
      sub_w: g.ow,
      in_step: g.stride,
      tap_sign: 1,
      tap_offset: -g.padding,
      tap_div: 1,
      q_vec: roundUp(g.o, GATHER_CHANNELS) / 4,
      use_bias: bias ? 1 : 0,
      blocks_m: blocksM,
      blocks_q: blocksQ,
    },
    [x, wT, bias ?? wT, y],
    grid(blocksM * blocksQ),
  );
  wT.dispose();
}

/**
 * Records the gradients of `conv2dForward`: dx is overwritten, dWeight and dBias are accumulated
 * (`+=`), as parameter gradients are everywhere in hajime. Each gradient may be null: its
 * kernels are skipped (images into a first layer need no dx; a frozen weight no dWeight).
 *
 * @param dy gradient of the output, `[N, O, OH, OW]`
 * @param x the forward input, `[N, C, H, W]`
 * @param weight the forward kernels, `[O, C, KH, KW]`
 * @param dx gradient of the input, `[N, C, H, W]` (overwritten), or null to skip it
 * @param dWeight gradient of the kernels, `[O, C, KH, KW]` (accumulated), or null to skip it
 * @param dBias gradient of the bias, `[O]` (accumulated), or null (no bias, or none needed)
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { conv2dBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.full([2, 3, 8, 8], 1);
 * const weight = Tensor.full([4, 3, 3, 3], 0.1);
 * const dy = Tensor.full([2, 4, 4, 4], 1);
 * const dx = Tensor.empty([2, 3, 8, 8]);
 * const dWeight = Tensor.zeros([4, 3, 3, 3]);
 * const dBias = Tensor.zeros([4]);
 * conv2dBackward(dy, x, weight, dx, dWeight, dBias, { stride: 2, padding: 1 });
 * ```
 */
export function conv2dBackward(
  dy: Tensor, // dy: [N, O, OH, OW]
  x: Tensor, // x: [N, C, H, W]
  weight: Tensor, // weight: [O, C, KH, KW]
  dx: Tensor | null, // dx: [N, C, H, W]
  dWeight: Tensor | null, // dWeight: [O, C, KH, KW]
  dBias: Tensor | null, // dBias: [O]
  opts: Conv2dOptions,
): void {
  const owner = "Conv2d.backward";
  const g = geometry(owner, ["x", x], ["weight", weight], opts);
  checkShape(owner, "dy", dy, [g.n, g.o, g.oh, g.ow]);
  if (dx) checkShape(owner, "dx", dx, [g.n, g.c, g.h, g.w]);
  if (dWeight) checkShape(owner, "dWeight", dWeight, [g.o, g.c, g.kh, g.kw]);
  if (dBias) checkShape(owner, "dBias", dBias, [g.o]);
  checkDistinct(owner, { dx, dWeight, dBias }, { dy, x, weight });
  if (g.n === 0) return;
  if (dx) inputGrad(chosenKernels(BACKWARD_DATA, g), g, dy, weight, dx);
  if (dWeight) weightGrad(chosenKernels(BACKWARD_WEIGHT, g), g, dy, x, dWeight);
  if (dBias) biasGrad(g, dy, dBias);
}

/**
 * Records only the input gradient of `conv2dForward` (dx overwritten); `conv2dBackward` does
 * this and the parameter gradients in one call.
 *
 * @param dy gradient of the output, `[N, O, OH, OW]`
 * @param weight the forward kernels, `[O, C, KH, KW]`
 * @param dx gradient of the input, `[N, C, H, W]` (overwritten)
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { conv2dBackwardData } from "@hajime/nn/gpu";
 * await initGpu();
 * const weight = Tensor.full([4, 3, 3, 3], 0.1);
 * const dy = Tensor.full([2, 4, 8, 8], 1);
 * const dx = Tensor.empty([2, 3, 8, 8]);
 * conv2dBackwardData(dy, weight, dx, { stride: 1, padding: 1 });
 * ```
 */
export function conv2dBackwardData(
  dy: Tensor, // dy: [N, O, OH, OW]
  weight: Tensor, // weight: [O, C, KH, KW]
  dx: Tensor, // dx: [N, C, H, W]
  opts: Conv2dOptions,
): void {
  const owner = "Conv2d.backwardData";
  const g = geometry(owner, ["dx", dx], ["weight", weight], opts);
  checkShape(owner, "dy", dy, [g.n, g.o, g.oh, g.ow]);
  checkDistinct(owner, { dx }, { dy, weight });
  if (g.n > 0) inputGrad(chosenKernels(BACKWARD_DATA, g), g, dy, weight, dx);
}

/**
 * Records only the parameter gradients of `conv2dForward` (dWeight, dBias accumulated), e.g. for
 * a first layer whose input needs no gradient.
 *
 * @param dy gradient of the output, `[N, O, OH, OW]`
 * @param x the forward input, `[N, C, H, W]`
 * @param dWeight gradient of the kernels, `[O, C, KH, KW]` (accumulated)
 * @param dBias gradient of the bias, `[O]` (accumulated), or null when there is no bias
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { conv2dBackwardWeight } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.full([2, 3, 8, 8], 1);
 * const dy = Tensor.full([2, 4, 8, 8], 1);
 * const dWeight = Tensor.zeros([4, 3, 3, 3]);
 * conv2dBackwardWeight(dy, x, dWeight, null, { stride: 1, padding: 1 });
 * ```
 */
export function conv2dBackwardWeight(
  dy: Tensor, // dy: [N, O, OH, OW]
  x: Tensor, // x: [N, C, H, W]
  dWeight: Tensor, // dWeight: [O, C, KH, KW]
  dBias: Tensor | null, // dBias: [O]
  opts: Conv2dOptions,
): void {
  const owner = "Conv2d.backwardWeight";
  const g = geometry(owner, ["x", x], ["dWeight", dWeight], opts);
  checkShape(owner, "dy", dy, [g.n, g.o, g.oh, g.ow]);
  if (dBias) checkShape(owner, "dBias", dBias, [g.o]);
  checkDistinct(owner, { dWeight, dBias }, { dy, x });
  if (g.n === 0) return;
  weightGrad(chosenKernels(BACKWARD_WEIGHT, g), g, dy, x, dWeight);
  if (dBias) biasGrad(g, dy, dBias);
}

/** dx = conv2d of dy with the mirrored kernels, per phase of the stride. */
function inputGrad(k: Kernels, g: Geometry, dy: Tensor, weight: Tensor, dx: Tensor): void {
  const taps = g.kh * g.kw;
  // w[o, tap, c]: the input channels a tile produces are contiguous.
  const wT = transposed(
    k,
    weight,
    [g.o, taps, g.c],
    [g.c * taps, 1, taps],
    GATHER_CHANNELS,
    "Conv2d.weightT",
  );
  const s = g.stride;
  const subH = Math.ceil(g.h / s);
  const subW = Math.ceil(g.w / s);
  const blocksM = Math.ceil(g.n * subH * subW / (k.workgroup * GATHER_ROWS));
  const blocksQ = Math.ceil(g.c / GATHER_CHANNELS);
  k.gather.dispatch(
    {
      batch: g.n,
      q_count: g.c,
      r_count: g.o,
      in_h: g.oh,
      in_w: g.ow,
      out_h: g.h,
      out_w: g.w,
      kernel_h: g.kh,
      kernel_w: g.kw,
      phase_stride: s,
      sub_h: subH,
      sub_w: subW,
      in_step: 1,
      tap_sign: -1,
      tap_offset: g.padding,
      tap_div: s,
      q_vec: roundUp(g.c, GATHER_CHANNELS) / 4,
      use_bias: 0,
      blocks_m: blocksM,
      blocks_q: blocksQ,
    },
    [dy, wT, wT, dx],
    grid(s * s * blocksM * blocksQ),
  );
  wT.dispose();
}

/** dWeight += Σ dy · im2col(x), the reduction split into chunks of rows when tiles are few. */
function weightGrad(k: Kernels, g: Geometry, dy: Tensor, x: Tensor, dWeight: Tensor): void {
  const plane = g.oh * g.ow;
  // dy[n, pos, o]: the output channels a tile reduces are contiguous.
  const dyT = transposed(
    k,
    dy,
    [g.n, plane, g.o],
    [g.o * plane, 1, plane],
    WGRAD_CHANNELS,
    "Conv2d.dyT",
  );
  const count = g.c * g.kh * g.kw;
  const blocksJ = Math.ceil(count / (k.workgroup * WGRAD_ROWS));
  const blocksO = Math.ceil(g.o / WGRAD_CHANNELS);
  const rows = g.n * g.oh;
  // The chunks follow the default workgroup size, not this variant's, so that every variant
  // sums in the same order and gives bit-identical results.
  const defaultBlocksJ = Math.ceil(count / (defaultWorkgroup() * WGRAD_ROWS));
  const wanted = Math.min(rows, Math.ceil(MIN_WORKGROUPS / (defaultBlocksJ * blocksO)));
  const rowsPerChunk = Math.ceil(rows / wanted);
  const chunks = Math.ceil(rows / rowsPerChunk);
  const partial = chunks > 1
    ? Tensor.empty([chunks, g.o * count], { label: "Conv2d.weightGradPartial" })
    : null;
  k.weightGrad.dispatch(
    {
      batch: g.n,
      channels: g.c,
      in_h: g.h,
      in_w: g.w,
      out_channels: g.o,
      out_h: g.oh,
      out_w: g.ow,
      kernel_h: g.kh,
      kernel_w: g.kw,
      stride: g.stride,
      padding: g.padding,
      o_vec: roundUp(g.o, WGRAD_CHANNELS) / 4,
      rows_per_chunk: rowsPerChunk,
      blocks_j: blocksJ,
      blocks_o: blocksO,
      accumulate: partial ? 0 : 1,
    },
    [x, dyT, partial ?? dWeight],
    grid(blocksJ * blocksO * chunks),
  );
  dyT.dispose();
  if (partial) {
    const total = g.o * count;
    k.sumChunks.dispatch(
      { count: total, chunks },
      [partial, dWeight],
      grid(Math.ceil(total / GPU_WORKGROUP)),
    );
    partial.dispose();
  }
}

/** dBias += Σ dy over the batch and the plane (the same kernel in every variant). */
function biasGrad(g: Geometry, dy: Tensor, dBias: Tensor): void {
  kernels(defaultWorkgroup()).biasGrad.dispatch(
    { batch: g.n, channels: g.o, plane: g.oh * g.ow },
    [dy, dBias],
    grid(g.o),
  );
}
