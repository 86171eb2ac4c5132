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
 * `conv2d.backwardWeight` pick a variant `<tile>/wg<size>` per geometry (shape key
 * `n,c,h,w,o,kh,kw,stride,padding`): the register tile of the GEMM times the workgroup size (the
 * adapter's subgroup size on a software adapter, and 64). The tiles:
 * - everywhere: `4x16`, and `row5x16` for the weight gradient (one kernel row of up to 5 taps: the
 *   5×5 stem over 3 channels);
 * - on llvmpipe only, whose compiler alone builds them in reasonable time: the gathers `16x16`,
 *   `16x32`, `16x8` and `16x12`, the stem's forward `row16x16` (offered where C ≤ 4, KW ≤ 5,
 *   stride 1), and the weight gradients `8x32`, `3x3x2x16`, `3x3x4x16` (3×3 taps of 2 or 4 input
 *   channels), `3x3x2x8` and `3x3x2x12`; the 8- and 12-channel ones are offered where their blocks
 *   leave fewer of the GEMM's output channels unused than blocks of 16;
 * - on hardware adapters: the workgroup-tiled `tiled64x64/wg64` of all three directions (64
 *   positions or columns × 64 channels per workgroup, the reduction staged in double-buffered
 *   workgroup memory in steps of one tap × 16 channels, or 16 positions for the weight gradient;
 *   one barrier per step), which software adapters build only when forced (`allVariants`: tests
 *   run every variant everywhere).
 *
 * On llvmpipe every storage load, uniform or not, costs about as much as 8 to 9 multiply-adds (a
 * loop over the SIMD lanes), so the tiles that win there are those that feed the most
 * multiply-adds per value loaded. Untuned: `16x16` and `8x32` on llvmpipe, else `4x16`; the
 * subgroup size on a software adapter, else 64. Every variant gives bit-identical results.
 *
 * @module
 */

import { autotuner, registerKernelFamily } from "../gpu/autotune.ts";
import { gpuInfo } from "../gpu/device.ts";
import { grid, type Kernel, wgslKernels } from "../gpu/kernel.ts";
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

/** Channels per (r, tap) row of the transposed weights the gather reads: a multiple of 16. */
const GATHER_PAD = 16;
/** Channels per position of the transposed dy the widest weight-gradient tiles read: 32. */
const WGRAD_PAD = 32;
/** Workgroup size of the light passes (transpose, sums), and of the GEMMs on hardware GPUs. */
const GPU_WORKGROUP = 64;
/** Workgroups the weight gradient aims for, splitting its reduction when tiles alone are fewer. */
const MIN_WORKGROUPS = 64;

/** A GEMM's register tile per invocation (shaders/conv2d.wgsl). */
interface Tile {
  /** Positions (gather) or columns (c, kh, kw) (weightGrad) per invocation. */
  readonly rows: number;
  /** Channels per invocation. */
  readonly channels: number;
  /** Only for llvmpipe, whose compiler builds 256 accumulators and more in a few seconds. */
  readonly llvmpipe: boolean;
  /**
   * Offered on hardware adapters only: workgroup memory and barriers, which cost on a CPU (a
   * software adapter runs a workgroup on one thread). Built elsewhere when forced (tests).
   */
  readonly hardware?: boolean;
  /** Bytes of workgroup memory the tile declares: not built where the device allows less. */
  readonly storage?: number;
  /** The one workgroup size the tile's layout works with. */
  readonly workgroup?: number;
  /**
   * Timed with the default workgroup size only: 64 invocations never won for these tiles on
   * llvmpipe, and every size is one more pipeline to build while tuning.
   */
  readonly oneWorkgroup?: boolean;
  /**
   * The invocations along the positions (gather) or the columns (c, kh, kw) (weightGrad) of tiles
   * laid out otherwise than `rows` positions or columns WORKGROUP apart: a row of positions, a
   * kernel row, 3 × 3 taps of a few channels.
   */
  readonly lanes?: (g: Geometry) => number;
  /**
   * The geometries the tile is offered for (default: all), given the GEMM's output channels `q`
   * (O for the forward pass and the weight gradient, C for the input gradient).
   */
  readonly applies?: (g: Geometry, q: number) => boolean;
}

/**
 * The narrow tiles' offer: where blocks of `width` channels leave fewer of the GEMM's q output
 * channels unused than blocks of `than` (8 against 16; 12 against 8, and so against 16).
 */
function fewerUnused(width: number, than: number): (g: Geometry, q: number) => boolean {
  return (_g, q) => roundUp(q, width) < roundUp(q, than);
}

/** The invocations of the kernel tiles `3x3x<channels>x16`: ⌈C / channels⌉ · ⌈KH / 3⌉ · ⌈KW / 3⌉. */
function kernelTileLanes(channels: number): (g: Geometry) => number {
  return (g) => Math.ceil(g.c / channels) * Math.ceil(g.kh / 3) * Math.ceil(g.kw / 3);
}

/**
 * The workgroup-tiled GEMMs' tile (shaders/conv2d.wgsl, for hardware GPUs): 64 × 64 outputs per
 * workgroup of 64, the reduction staged through 16 KiB of workgroup memory.
 */
const TILED: Tile = {
  rows: 1,
  channels: 64,
  llvmpipe: false,
  hardware: true,
  storage: 16384,
  workgroup: GPU_WORKGROUP,
};

/** The tiles by name; the entry points are `gather<Name>` and `weightGrad<Name>`. */
const GATHER_TILES: Readonly<Record<string, Tile>> = {
  "4x16": { rows: 4, channels: 16, llvmpipe: false },
  "16x16": { rows: 16, channels: 16, llvmpipe: true },
  "16x32": { rows: 16, channels: 32, llvmpipe: true, oneWorkgroup: true },
  // Where 8- or 12-channel blocks waste fewer lanes than 16-channel ones.
  "16x8": {
    rows: 16,
    channels: 8,
    llvmpipe: true,
    oneWorkgroup: true,
    applies: fewerUnused(8, 16),
  },
  "16x12": {
    rows: 16,
    channels: 12,
    llvmpipe: true,
    oneWorkgroup: true,
    applies: fewerUnused(12, 8),
  },
  // 64 positions × 64 channels per workgroup of 64 (4 positions × 16 channels per invocation, laid
  // out across the block): counted as 1 position per invocation.
  "tiled64x64": TILED,
};
/** The forward pass also has the stem's tile: 16 positions of one row × 16 channels. */
const FORWARD_TILES: Readonly<Record<string, Tile>> = {
  ...GATHER_TILES,
  "row16x16": {
    rows: 16,
    channels: 16,
    llvmpipe: true,
    oneWorkgroup: true,
    lanes: (g) => g.n * g.oh * Math.ceil(g.ow / 16),
    applies: (g) => g.c <= 4 && g.kw <= 5 && g.stride === 1,
  },
};
const WGRAD_TILES: Readonly<Record<string, Tile>> = {
  "4x16": { rows: 4, channels: 16, llvmpipe: false },
  "8x32": { rows: 8, channels: 32, llvmpipe: true },
  // One kernel row (c, kh) of up to 5 taps × 16 output channels: the 5 × 5 stem over 3 channels.
  "row5x16": {
    rows: 5,
    channels: 16,
    llvmpipe: false,
    lanes: (g) => g.c * g.kh * Math.ceil(g.kw / 5),
  },
  // 3 × 3 taps of 2 or 4 input channels × 16 output channels: the 3 × 3 layers.
  "3x3x2x16": {
    rows: 18,
    channels: 16,
    llvmpipe: true,
    oneWorkgroup: true,
    lanes: kernelTileLanes(2),
  },
  // 3 × 3 taps of 2 input channels × 8 or 12 output channels, where 16-channel blocks waste more.
  "3x3x2x8": {
    rows: 18,
    channels: 8,
    llvmpipe: true,
    oneWorkgroup: true,
    lanes: kernelTileLanes(2),
    applies: fewerUnused(8, 16),
  },
  "3x3x2x12": {
    rows: 18,
    channels: 12,
    llvmpipe: true,
    oneWorkgroup: true,
    lanes: kernelTileLanes(2),
    applies: fewerUnused(12, 8),
  },
  "3x3x4x16": {
    rows: 36,
    channels: 16,
    llvmpipe: true,
    oneWorkgroup: true,
    lanes: kernelTileLanes(4),
  },
  // 64 columns (c, kh, kw) × 64 output channels, counted as 1 column per invocation.
  "tiled64x64": TILED,
};

/** One GEMM variant: a tile, a workgroup size, and its kernel. */
interface Gemm extends Tile {
  readonly workgroup: number;
  readonly kernel: Kernel;
}

const GATHER_PARAMS = {
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
} as const;
const WGRAD_PARAMS = {
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
} as const;

const kernel = wgslKernels("Conv2d", code);

/** The light passes, the same in every variant. */
const light = {
  transpose: kernel("transpose", 1, 1, {
    params: {
      a_count: "u32",
      b_count: "u32",
      c_count: "u32",
      c_pad: "u32",
      a_stride: "u32",
      b_stride: "u32",
      c_stride: "u32",
    },
    constants: { WORKGROUP: GPU_WORKGROUP },
  }),
  sumChunks: kernel("sumChunks", 1, 1, {
    params: { count: "u32", chunks: "u32" },
    constants: { WORKGROUP: GPU_WORKGROUP },
  }),
  biasGrad: kernel("biasGrad", 1, 1, { params: { batch: "u32", channels: "u32", plane: "u32" } }),
};

/** A tile's entry point: `gather4x16`, `weightGradRow5x16`, ... */
function entryPoint(entry: string, tile: string): string {
  return entry + tile[0].toUpperCase() + tile.slice(1);
}

/** The GEMM entry points by `entryPoint` name; each variant sets WORKGROUP. */
const gemmKernels: Record<string, Kernel> = {};
for (const tile of Object.keys(FORWARD_TILES)) {
  const name = entryPoint("gather", tile);
  gemmKernels[name] = kernel(name, 3, 1, { params: GATHER_PARAMS });
}
for (const tile of Object.keys(WGRAD_TILES)) {
  const name = entryPoint("weightGrad", tile);
  gemmKernels[name] = kernel(name, 2, 1, { params: WGRAD_PARAMS });
}

/**
 * The GEMM workgroup size used until tuning says otherwise. On a software adapter a workgroup is
 * one SIMD batch of lanes (llvmpipe and SwiftShader run each workgroup on one thread, a subgroup
 * at a time), so small shapes waste no lanes; on hardware, or where the adapter does not give its
 * subgroup size, it is 64 invocations.
 */
function defaultWorkgroup(): number {
  const info = gpuInfo();
  return info.isSoftware && info.subgroupSize ? info.subgroupSize : GPU_WORKGROUP;
}

/** The GEMM workgroup sizes worth timing: the default, the subgroup size and 64. */
function workgroupSizes(): number[] {
  const subgroup = gpuInfo().subgroupSize;
  return [...new Set([defaultWorkgroup(), ...(subgroup ? [subgroup] : []), GPU_WORKGROUP])];
}

/** Whether this adapter gets the llvmpipe tiles (by name: no other compiler builds them fast). */
function llvmpipe(): boolean {
  return /llvmpipe/i.test(gpuInfo().description);
}

/** The GEMM variants made so far, by entry point and variant. */
const gemms = new Map<string, Gemm>();

/** One tuned direction: its tiles, its entry point and its variants, `<tile>/wg<size>`. */
class Direction {
  readonly #tiles: Readonly<Record<string, Tile>>;
  readonly #entry: string;
  readonly #outputs: (g: Geometry) => number;
  #variants: string[] | null = null;
  #allVariants: string[] | null = null;

  /** `outputs`: the GEMM's output channels for a geometry (what `Tile.applies` gets as `q`). */
  constructor(
    tiles: Readonly<Record<string, Tile>>,
    entry: string,
    outputs: (g: Geometry) => number,
  ) {
    this.#tiles = tiles;
    this.#entry = entry;
    this.#outputs = outputs;
  }

  /** Whether `gemm` is offered for `g` in this direction. */
  offers(gemm: Gemm, g: Geometry): boolean {
    return gemm.applies?.(g, this.#outputs(g)) ?? true;
  }

  /** The variants offered on this adapter, the default first; with a geometry, those for it. */
  variants(g?: Geometry): string[] {
    const offered = this.#variants ??= this.allVariants().filter((v) =>
      !this.gemm(v).hardware || !gpuInfo().isSoftware
    );
    return g ? offered.filter((v) => this.offers(this.gemm(v), g)) : offered;
  }

  /** Every variant this adapter builds, offered or not (tests force each), the default first. */
  allVariants(): string[] {
    return this.#allVariants ??= [...new Set([this.defaultVariant(), ...this.#all()])];
  }

  /** The llvmpipe tile with the default workgroup on llvmpipe, else the hardware tile. */
  defaultVariant(): string {
    const tile = Object.entries(this.#tiles).find(([, t]) => t.llvmpipe === llvmpipe())!;
    return `${tile[0]}/wg${defaultWorkgroup()}`;
  }

  /** The kernel of `variant`, made on first use (forward and backward-data share theirs). */
  gemm(variant: string): Gemm {
    const id = `${this.#entry}_${variant}`;
    let gemm = gemms.get(id);
    if (gemm) return gemm;
    const [tile, size] = variant.split("/wg");
    const workgroup = Number(size);
    const kernel = gemmKernels[entryPoint(this.#entry, tile)].withConstants({
      WORKGROUP: workgroup,
    });
    gemm = { ...this.#tiles[tile], workgroup, kernel };
    gemms.set(id, gemm);
    return gemm;
  }

  #all(): string[] {
    const limits = gpuInfo().limits;
    const tiles = Object.entries(this.#tiles).filter(([, t]) =>
      (!t.llvmpipe || llvmpipe()) && (t.storage ?? 0) <= limits.maxComputeWorkgroupStorageSize &&
      (t.workgroup ?? 0) <= limits.maxComputeInvocationsPerWorkgroup
    );
    return tiles.flatMap(([name, tile]) => {
      const sizes = tile.workgroup
        ? [tile.workgroup]
        : tile.oneWorkgroup
        ? [defaultWorkgroup()]
        : workgroupSizes();
      return sizes.map((size) => `${name}/wg${size}`);
    });
  }
}

/** The three tuned families: forward and backward-data share the gather, backward-weight not. */
const FORWARD = "conv2d.forward";
const BACKWARD_DATA = "conv2d.backwardData";
const BACKWARD_WEIGHT = "conv2d.backwardWeight";
const directions: Record<string, Direction> = {
  [FORWARD]: new Direction(FORWARD_TILES, "gather", (g) => g.o),
  [BACKWARD_DATA]: new Direction(GATHER_TILES, "gather", (g) => g.c),
  [BACKWARD_WEIGHT]: new Direction(WGRAD_TILES, "weightGrad", (g) => g.o),
};

/**
 * The GEMM of the variant the autotuner picks for this direction and geometry (the default where
 * a forced variant is not offered for the geometry).
 */
function chosenGemm(family: string, g: Geometry): Gemm {
  const direction = directions[family];
  const gemm = direction.gemm(autotuner().choice(family, geometryKey(g)));
  return direction.offers(gemm, g) ? gemm : direction.gemm(direction.defaultVariant());
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

/** Registers one direction: its variants record `run` on zero-filled tensors of the key's geometry. */
function registerDirection(
  name: string,
  run: (gemm: Gemm, g: Geometry, t: Record<"x" | "weight" | "y", Tensor>) => void,
): void {
  const direction = directions[name];
  registerKernelFamily({
    name,
    variants: (key) => direction.variants(key === undefined ? undefined : keyGeometry(key)),
    allVariants: () => direction.allVariants(),
    defaultVariant: () => direction.defaultVariant(),
    prepare(key) {
      const g = keyGeometry(key);
      const t = {
        x: Tensor.zeros([g.n, g.c, g.h, g.w], { label: "Conv2d.tuneX" }),
        weight: Tensor.zeros([g.o, g.c, g.kh, g.kw], { label: "Conv2d.tuneWeight" }),
        y: Tensor.zeros([g.n, g.o, g.oh, g.ow], { label: "Conv2d.tuneY" }),
      };
      const variants = Object.fromEntries(
        direction.variants(g).map((v) => [v, () => run(direction.gemm(v), g, t)]),
      );
      return { variants, dispose: () => Object.values(t).forEach((x) => x.dispose()) };
    },
  });
}

// Tensors stand in for those of the same shape (y for dy, x for dx, weight for dWeight): values
// do not matter to the timing.
registerDirection(FORWARD, (k, g, t) => forward(k, g, t.x, t.weight, null, t.y));
registerDirection(BACKWARD_DATA, (k, g, t) => inputGrad(k, g, t.y, t.weight, t.x));
registerDirection(BACKWARD_WEIGHT, (k, g, t) => weightGrad(k, g, t.y, t.x, t.weight, null));

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
  light.transpose.dispatch(
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
  if (g.n > 0) forward(chosenGemm(FORWARD, g), g, x, weight, bias, y);
}

/** y = conv2d(x, weight) + bias with the gather of one variant. */
function forward(
  gemm: Gemm,
  g: Geometry,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  y: Tensor,
): void {
  const taps = g.kh * g.kw;
  // w[c, tap, o]: the channels a GEMM tile produces are contiguous.
  const wT = transposed(
    weight,
    [g.c, taps, g.o],
    [taps, 1, g.c * taps],
    GATHER_PAD,
    "Conv2d.weightT",
  );
  const lanes = gemm.lanes ? gemm.lanes(g) : g.n * g.oh * g.ow / gemm.rows;
  const blocksM = Math.ceil(lanes / gemm.workgroup);
  const blocksQ = Math.ceil(g.o / gemm.channels);
  gemm.kernel.dispatch(
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
      q_vec: roundUp(g.o, GATHER_PAD) / 4,
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
  if (dx) inputGrad(chosenGemm(BACKWARD_DATA, g), g, dy, weight, dx);
  if (dWeight) weightGrad(chosenGemm(BACKWARD_WEIGHT, g), g, dy, x, dWeight, dBias);
  else if (dBias) biasGrad(g, dy, dBias);
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
  if (g.n > 0) inputGrad(chosenGemm(BACKWARD_DATA, g), g, dy, weight, dx);
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
  if (dWeight) weightGrad(chosenGemm(BACKWARD_WEIGHT, g), g, dy, x, dWeight, dBias);
  else if (dBias) biasGrad(g, dy, dBias);
}

/** dx = conv2d of dy with the mirrored kernels, per phase of the stride. */
function inputGrad(gemm: Gemm, g: Geometry, dy: Tensor, weight: Tensor, dx: Tensor): void {
  const taps = g.kh * g.kw;
  // w[o, tap, c]: the input channels a tile produces are contiguous.
  const wT = transposed(
    weight,
    [g.o, taps, g.c],
    [g.c * taps, 1, taps],
    GATHER_PAD,
    "Conv2d.weightT",
  );
  const s = g.stride;
  const subH = Math.ceil(g.h / s);
  const subW = Math.ceil(g.w / s);
  const blocksM = Math.ceil(g.n * subH * subW / (gemm.workgroup * gemm.rows));
  const blocksQ = Math.ceil(g.c / gemm.channels);
  gemm.kernel.dispatch(
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
      q_vec: roundUp(g.c, GATHER_PAD) / 4,
      use_bias: 0,
      blocks_m: blocksM,
      blocks_q: blocksQ,
    },
    [dy, wT, wT, dx],
    grid(s * s * blocksM * blocksQ),
  );
  wT.dispose();
}

/**
 * dWeight += Σ dy · im2col(x), the reduction split into chunks of rows when tiles are few;
 * dBias += Σ dy.
 */
function weightGrad(
  gemm: Gemm,
  g: Geometry,
  dy: Tensor,
  x: Tensor,
  dWeight: Tensor,
  dBias: Tensor | null,
): void {
  const plane = g.oh * g.ow;
  // dy[n, pos, o]: the output channels a tile reduces are contiguous, padded to 16 (the transpose
  // writes 16 channels per invocation), 32 for the wider tiles: every padded channel is one more
  // to write and skip.
  const pad = Math.max(16, Math.min(gemm.channels, WGRAD_PAD));
  const dyT = transposed(dy, [g.n, plane, g.o], [g.o * plane, 1, plane], pad, "Conv2d.dyT");
  const count = g.c * g.kh * g.kw;
  const [blocksJ, blocksO] = weightGradBlocks(gemm, g);
  const rows = g.n * g.oh;
  // The chunks follow the default variant's tiles, not this variant's, so that every variant
  // sums in the same order and gives bit-identical results.
  const [referenceJ, referenceO] = weightGradBlocks(
    directions[BACKWARD_WEIGHT].gemm(directions[BACKWARD_WEIGHT].defaultVariant()),
    g,
  );
  const referenceTiles = referenceJ * referenceO;
  const wanted = Math.min(rows, Math.ceil(MIN_WORKGROUPS / referenceTiles));
  const rowsPerChunk = Math.ceil(rows / wanted);
  const chunks = Math.ceil(rows / rowsPerChunk);
  const partial = chunks > 1
    ? Tensor.empty([chunks, g.o * count], { label: "Conv2d.weightGradPartial" })
    : null;
  gemm.kernel.dispatch(
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
      o_vec: roundUp(g.o, pad) / 4,
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
    light.sumChunks.dispatch(
      { count: total, chunks },
      [partial, dWeight],
      grid(Math.ceil(total / GPU_WORKGROUP)),
    );
    partial.dispose();
  }
  if (dBias) biasGrad(g, dy, dBias);
}

/** A weight-gradient variant's workgroups along the columns (c, kh, kw) and the output channels. */
function weightGradBlocks(gemm: Gemm, g: Geometry): [number, number] {
  const lanes = gemm.lanes ? gemm.lanes(g) : g.c * g.kh * g.kw / gemm.rows;
  return [Math.ceil(lanes / gemm.workgroup), Math.ceil(g.o / gemm.channels)];
}

/** dBias += Σ dy over the batch and the plane (the same kernel in every variant). */
function biasGrad(g: Geometry, dy: Tensor, dBias: Tensor): void {
  light.biasGrad.dispatch(
    { batch: g.n, channels: g.o, plane: g.oh * g.ow },
    [dy, dBias],
    grid(g.o),
  );
}
