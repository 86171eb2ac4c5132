/**
 * Matrix products on the GPU: `matmul` (c (+)= op(a)·op(b) with either operand transposed) and the
 * Linear layer's forward and backward built on it. The kernels live in shaders/matmul.wgsl:
 *
 * - register tiles: each invocation computes an 8×16 tile of the output straight from storage,
 *   loading vec4s when the shapes allow (K % 4 == 0, plus M % 4 == 0 when `a` is transposed and
 *   N % 4 == 0 when `b` is not) and single floats otherwise, so every shape works.
 * - workgroup-tiled (`tiled64x64`): a workgroup of 16×16 invocations computes a 64×64 block of the
 *   output, each invocation a 4×4 register tile; K goes through workgroup memory 16 at a time,
 *   double buffered (block k + 1 is loaded while block k is multiplied; one barrier per block).
 *
 * Every output is the same fma chain over k = 0, 1, ..., K - 1 from 0, so every variant gives
 * bit-identical results.
 *
 * Tuned (src/gpu/autotune.ts): the `matmul` family picks a variant per shape key (`MxNxK` then
 * `n`/`t` for a and b, e.g. `32x10x256nt`) among the register tile's workgroup shapes `16x4` (the
 * default), `8x8` and `32x1` (invocations along N × along M) and, on hardware adapters whose
 * limits hold its workgroup, `tiled64x64`. Software adapters run a workgroup on one CPU thread,
 * where barriers are coroutine switches: there it is only built when forced (`allVariants`).
 *
 * @module
 */

import { autotuner, registerKernelFamily } from "../gpu/autotune.ts";
import { gpuInfo } from "../gpu/device.ts";
import { grid, type Kernel, wgslKernels } from "../gpu/kernel.ts";
import { checkNoAlias, checkShape, Tensor } from "../tensor.ts";
import matmulWgsl from "../../shaders/matmul.wgsl" with { type: "text" };

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** `a` is stored `[K, M]` and used transposed. */
  transA?: boolean;
  /** `b` is stored `[N, K]` and used transposed. */
  transB?: boolean;
  /** Add the product into `c` instead of overwriting it (parameter gradients). */
  accumulate?: boolean;
}

/** Rows and columns of `c` one invocation computes (shaders/matmul.wgsl: TM, TN). */
const TILE_M = 8;
const TILE_N = 16;
/**
 * The workgroup shapes (invocations along N × along M), the variants of the `matmul` family. 16×4
 * is the default: 16 adjacent tiles fill llvmpipe's SIMD lanes twice; 8×8 and 32×1 ran as fast
 * there in single-shape sweeps (bench/README.md) and may win elsewhere.
 */
const WORKGROUPS: Record<string, [number, number]> = {
  "16x4": [16, 4],
  "8x8": [8, 8],
  "32x1": [32, 1],
};
const DEFAULT_WORKGROUP = "16x4";
/**
 * The workgroup-tiled variant (shaders/matmul.wgsl, matmulTiled): a 64×64 block of c per
 * workgroup of 16×16 invocations, K staged through workgroup memory in double-buffered blocks.
 */
const TILED = "tiled64x64";
const TILED_BLOCK = 64;
const TILED_SIDE = 16;
/** Bytes of workgroup memory matmulTiled declares: 2 buffers × 2 operands × 16 × 64 floats. */
const TILED_STORAGE = 2 * 2 * 16 * TILED_BLOCK * 4;
const FAMILY = "matmul";
const WG_1D = 256;

const PARAMS = {
  M: "u32",
  N: "u32",
  K: "u32",
  accumulate: "u32",
  transA: "u32",
  transB: "u32",
  groupsX: "u32",
  groups: "u32",
} as const;
const ROW_PARAMS = { rows: "u32", cols: "u32" } as const;

/** One variant's kernels: vec4 ones by transposition of a then b ("n" plain, "t" transposed). */
interface TileKernels {
  wgX: number;
  wgY: number;
  vec4: Record<string, Kernel>;
  scalar: Kernel;
}

const kernel = wgslKernels("Matmul", matmulWgsl, { params: PARAMS });
/** The tile entry points, vec4 ones by transposition; each variant sets their WG_X and WG_Y. */
const vec4Kernels: Record<string, Kernel> = {
  nn: kernel("matmulNN", 2, 1),
  nt: kernel("matmulNT", 2, 1),
  tn: kernel("matmulTN", 2, 1),
  tt: kernel("matmulTT", 2, 1),
};
const scalarKernel = kernel("matmulScalar", 2, 1);
const tiledKernel = kernel("matmulTiled", 2, 1);
const biasRowsKernel = kernel("biasRows", 1, 1, { params: ROW_PARAMS, constants: { WG_1D } });
const columnSumsKernel = kernel("columnSumsAdd", 1, 1, {
  params: ROW_PARAMS,
  constants: { WG_1D },
});

const tileKernelSets = new Map<string, TileKernels>();

function tileKernels(variant: string): TileKernels {
  let set = tileKernelSets.get(variant);
  if (set) return set;
  const [wgX, wgY] = WORKGROUPS[variant];
  const constants = { WG_X: wgX, WG_Y: wgY };
  set = {
    wgX,
    wgY,
    vec4: Object.fromEntries(
      Object.entries(vec4Kernels).map(([ops, k]) => [ops, k.withConstants(constants)]),
    ),
    scalar: scalarKernel.withConstants(constants),
  };
  tileKernelSets.set(variant, set);
  return set;
}

/** The shape key `MxNxK` then `n`/`t` for a and b, e.g. `32x10x256nt`. */
function shapeKey(M: number, N: number, K: number, transA: boolean, transB: boolean): string {
  return `${M}x${N}x${K}${transA ? "t" : "n"}${transB ? "t" : "n"}`;
}

/** Whether this device's limits hold matmulTiled's workgroup (WebGPU's defaults do). */
function tiledFits(): boolean {
  const limits = gpuInfo().limits;
  return limits.maxComputeWorkgroupStorageSize >= TILED_STORAGE &&
    limits.maxComputeInvocationsPerWorkgroup >= TILED_SIDE * TILED_SIDE &&
    limits.maxComputeWorkgroupSizeX >= TILED_SIDE && limits.maxComputeWorkgroupSizeY >= TILED_SIDE;
}

/** Every variant this device can build: the register tiles, then the tiled one where it fits. */
function buildableVariants(): string[] {
  return [...Object.keys(WORKGROUPS), ...(tiledFits() ? [TILED] : [])];
}

registerKernelFamily({
  name: FAMILY,
  // Software adapters run a workgroup on one CPU thread, where its barriers are coroutine
  // switches and workgroup memory is just memory: the tiled variant is tuned on hardware only.
  variants: () => buildableVariants().filter((v) => v !== TILED || !gpuInfo().isSoftware),
  allVariants: buildableVariants,
  defaultVariant: () => DEFAULT_WORKGROUP,
  prepare(key) {
    const match = /^(\d+)x(\d+)x(\d+)([nt])([nt])$/.exec(key);
    if (!match) throw new Error(`Matmul: bad shape key "${key}"`);
    const [M, N, K] = match.slice(1, 4).map(Number);
    const [transA, transB] = [match[4] === "t", match[5] === "t"];
    const a = Tensor.zeros(transA ? [K, M] : [M, K], { label: "Matmul.tuneA" });
    const b = Tensor.zeros(transB ? [N, K] : [K, N], { label: "Matmul.tuneB" });
    const c = Tensor.zeros([M, N], { label: "Matmul.tuneC" });
    const run = (v: string) => () => recordVariant(v, a, b, c, M, N, K, transA, transB, false);
    const variants = Object.fromEntries(buildableVariants().map((v) => [v, run(v)]));
    return { variants, dispose: () => [a, b, c].forEach((t) => t.dispose()) };
  },
});

/** Throws unless `out` has its own buffer, apart from every input (WebGPU forbids the aliasing). */
function checkDistinct(
  owner: string,
  outName: string,
  out: Tensor,
  inputs: Record<string, Tensor>,
): void {
  for (const [name, t] of Object.entries(inputs)) {
    if (t.buffer === out.buffer) {
      throw new Error(
        `${owner}: ${outName} shares its buffer with ${name}; pass a separate tensor`,
      );
    }
  }
}

function checkFlag(owner: string, name: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== "boolean") {
    throw new Error(`${owner}: option ${name} is ${String(value)}, expected a boolean`);
  }
  return value === true;
}

/** Records c[M,N] (+)= op(a)·op(b) for validated shapes with the variant the autotuner picks. */
function recordTuned(
  a: Tensor,
  b: Tensor,
  c: Tensor,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  accumulate: boolean,
): void {
  if (M === 0 || N === 0 || (K === 0 && accumulate)) return;
  const variant = autotuner().choice(FAMILY, shapeKey(M, N, K, transA, transB));
  recordVariant(variant, a, b, c, M, N, K, transA, transB, accumulate);
}

/** Records c[M,N] (+)= op(a)·op(b) with the kernels of one variant. */
function recordVariant(
  variant: string,
  a: Tensor,
  b: Tensor,
  c: Tensor,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  accumulate: boolean,
): void {
  const flags = {
    M,
    N,
    K,
    accumulate: accumulate ? 1 : 0,
    transA: transA ? 1 : 0,
    transB: transB ? 1 : 0,
  };
  if (variant === TILED) {
    const groupsX = Math.ceil(N / TILED_BLOCK);
    const groups = groupsX * Math.ceil(M / TILED_BLOCK);
    tiledKernel.dispatch({ ...flags, groupsX, groups }, [a, b, c], grid(groups));
    return;
  }
  const k = tileKernels(variant);
  // vec4 loads need 16-byte aligned 4-element groups along each operand's rows.
  const vec4 = K % 4 === 0 && (!transA || M % 4 === 0) && (transB || N % 4 === 0);
  const tile = vec4 ? k.vec4[(transA ? "t" : "n") + (transB ? "t" : "n")] : k.scalar;
  const groupsX = Math.ceil(N / (TILE_N * k.wgX));
  const groups = groupsX * Math.ceil(M / (TILE_M * k.wgY));
  tile.dispatch({ ...flags, groupsX, groups }, [a, b, c], grid(groups));
}

/**
 * Records `c = op(a)·op(b)`, or `c += op(a)·op(b)` with `accumulate`, where op transposes an
 * operand when `transA` / `transB` says so. Any sizes; `c` must not share a buffer with `a` or `b`.
 *
 * @param a `[M, K]`, or `[K, M]` with `transA`
 * @param b `[K, N]`, or `[N, K]` with `transB`
 * @param c `[M, N]`, overwritten unless `accumulate`
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { matmul } from "@hajime/nn/gpu";
 * await initGpu();
 * const a = Tensor.from([1, 2, 3, 4, 5, 6], [2, 3]);
 * const b = Tensor.from([1, 0, 0, 1, 1, 1], [3, 2]);
 * const c = Tensor.empty([2, 2]);
 * matmul(a, b, c); // [[4, 5], [10, 11]]
 * console.log(await c.read());
 * ```
 */
export function matmul(a: Tensor, b: Tensor, c: Tensor, opts: MatmulOptions = {}): void {
  const owner = "Matmul.matmul";
  const transA = checkFlag(owner, "transA", opts.transA);
  const transB = checkFlag(owner, "transB", opts.transB);
  const accumulate = checkFlag(owner, "accumulate", opts.accumulate);
  checkShape(owner, "a", a, [null, null]); // a: [M, K] or [K, M]
  const [M, K] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  checkShape(owner, "b", b, transB ? [null, K] : [K, null]); // b: [K, N] or [N, K]
  const N = transB ? b.shape[0] : b.shape[1];
  checkShape(owner, "c", c, [M, N]); // c: [M, N]
  checkDistinct(owner, "c", c, { a, b });
  recordTuned(a, b, c, M, N, K, transA, transB, accumulate);
}

/**
 * Records the Linear layer's forward pass, `y = x·Wᵀ + bias` (PyTorch's layout: weight `[out, in]`).
 *
 * @param x `[N, K]` (batch, in features)
 * @param weight `[M, K]` (out features, in features)
 * @param bias `[M]`, or null for none
 * @param y `[N, M]`, overwritten
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { linearForward } from "@hajime/nn/gpu";
 * await initGpu();
 * const x = Tensor.from([1, 2, 3], [1, 3]);
 * const weight = Tensor.from([1, 1, 1, 0, 1, 0], [2, 3]);
 * const bias = Tensor.from([10, 20], [2]);
 * const y = Tensor.empty([1, 2]);
 * linearForward(x, weight, bias, y); // [[16, 22]]
 * ```
 */
export function linearForward(x: Tensor, weight: Tensor, bias: Tensor | null, y: Tensor): void {
  const owner = "Matmul.linearForward";
  checkShape(owner, "x", x, [null, null]); // x: [N, K]
  const [N, K] = x.shape;
  checkShape(owner, "weight", weight, [null, K]); // weight: [M, K]
  const M = weight.shape[0];
  if (bias) checkShape(owner, "bias", bias, [M]); // bias: [M]
  checkShape(owner, "y", y, [N, M]); // y: [N, M]
  checkDistinct(owner, "y", y, bias ? { x, weight, bias } : { x, weight });
  if (bias && N * M > 0) {
    biasRowsKernel.dispatch({ rows: N, cols: M }, [bias, y], grid(Math.ceil(N * M / WG_1D)));
  }
  recordTuned(x, weight, y, N, M, K, false, true, bias !== null);
}

/**
 * Records the Linear layer's backward pass: `dx = dy·W` (overwritten), `dWeight += dyᵀ·x`,
 * `dBias += Σₙ dy`.
 *
 * @param dy `[N, M]`, the gradient of the output
 * @param x `[N, K]`, the forward input
 * @param weight `[M, K]`
 * @param dx `[N, K]`, overwritten; null when the input needs no gradient
 * @param dWeight `[M, K]`, accumulated into; null when the weight needs no gradient
 * @param dBias `[M]`, accumulated into; null when there is no bias or it needs no gradient
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { linearBackward } from "@hajime/nn/gpu";
 * await initGpu();
 * const dy = Tensor.from([1, -1], [1, 2]);
 * const x = Tensor.from([1, 2, 3], [1, 3]);
 * const weight = Tensor.from([1, 1, 1, 0, 1, 0], [2, 3]);
 * const dx = Tensor.empty([1, 3]);
 * const dWeight = Tensor.zeros([2, 3]);
 * const dBias = Tensor.zeros([2]);
 * linearBackward(dy, x, weight, dx, dWeight, dBias);
 * ```
 */
export function linearBackward(
  dy: Tensor,
  x: Tensor,
  weight: Tensor,
  dx: Tensor | null,
  dWeight: Tensor | null,
  dBias: Tensor | null,
): void {
  const owner = "Matmul.linearBackward";
  checkShape(owner, "x", x, [null, null]); // x: [N, K]
  const [N, K] = x.shape;
  checkShape(owner, "weight", weight, [null, K]); // weight: [M, K]
  const M = weight.shape[0];
  checkShape(owner, "dy", dy, [N, M]); // dy: [N, M]
  if (dx) checkShape(owner, "dx", dx, [N, K]); // dx: [N, K]
  if (dWeight) checkShape(owner, "dWeight", dWeight, [M, K]); // dWeight: [M, K]
  if (dBias) checkShape(owner, "dBias", dBias, [M]); // dBias: [M]
  const outputs = Object.entries({ dx, dWeight, dBias }).filter(([, t]) => t !== null);
  checkNoAlias(owner, { dy, x, weight }, Object.fromEntries(outputs) as Record<string, Tensor>);
  if (dx) recordTuned(dy, weight, dx, N, K, M, false, false, false);
  if (dWeight) recordTuned(dy, x, dWeight, M, K, N, true, false, true);
  if (dBias && M > 0 && N > 0) {
    columnSumsKernel.dispatch({ rows: N, cols: M }, [dy, dBias], grid(Math.ceil(M / WG_1D)));
  }
}
