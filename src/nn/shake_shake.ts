/**
 * Shake-Shake regularization (Gastaldi 2017, arXiv 1705.07485) as a layer: `ShakeShakeBlock`
 * mixes two residual paths with random per-image (or per-batch) coefficients, α in the forward
 * pass and an independent β in the backward pass, plus its shortcut.
 *
 * Layout and names follow the PyTorch port by hysts (and the paper's Torch reference code,
 * xgastaldi/shake-shake, which uses the same layers): `residual_path1`, `residual_path2` (each
 * `conv1`, `bn1`, `conv2`, `bn2`, no conv biases) and, where the width or the stride changes,
 * `shortcut` (`conv1`, `conv2`, `bn`). The two codes differ in one place, the pixel the
 * shortcut's second flow samples ({@link ShortcutShift}): hajime follows the PyTorch port unless
 * told `shift: "lua"`, so a state dict trained in PyTorch evaluates the same here.
 * The ReLU that opens both paths and the downsampling shortcut is computed once per block: the
 * three see the same `relu(x)`, and the tape sums their gradients before its backward.
 *
 * Every module here is forward-only: the ops record what `loss.backward()` needs.
 *
 * @module
 */

import { isGradEnabled, opTensor, passGradient, record } from "../autograd.ts";
import * as F from "../ops/functional.ts";
import type { Generator } from "../random.ts";
import { checkShape, type Tensor } from "../tensor.ts";
import { BatchNorm2d } from "./batch_norm2d.ts";
import { Conv2d } from "./conv2d.ts";
import { type InitOptions, kaimingNormal, resolveGenerator } from "./init.ts";
import { Module } from "./module.ts";

/**
 * How the two paths are mixed, as the paper's Table 1 names them: forward then backward.
 * `shake` draws a fresh U(0, 1) coefficient, `even` uses 0.5, `keep` reuses the forward α.
 *
 * @example
 * ```ts
 * import type { ShakeMode } from "@hajime/nn";
 * const mode: ShakeMode = "shake-keep"; // fresh α forward, β = α backward
 * console.log(mode);
 * ```
 */
export type ShakeMode = "shake-shake" | "shake-even" | "shake-keep" | "even-shake" | "even-even";

/**
 * One coefficient per image (`image`, the paper's best) or one for the whole batch (`batch`).
 *
 * @example
 * ```ts
 * import type { ShakeLevel } from "@hajime/nn";
 * const level: ShakeLevel = "batch"; // one α for the whole batch
 * console.log(level);
 * ```
 */
export type ShakeLevel = "image" | "batch";

const MODES: readonly ShakeMode[] = [
  "shake-shake",
  "shake-even",
  "shake-keep",
  "even-shake",
  "even-even",
];

/**
 * Which pixel the downsampling shortcut's second flow samples, one pixel off the first flow's
 * x[i·s, j·s]:
 * - `pytorch` (the default): x[i·s + 1, j·s + 1], zero past the bottom and right edges, as the
 *   PyTorch ports compute it (`F.avg_pool2d(F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1)), 1, s)`);
 * - `lua`: x[i·s − 1, j·s − 1], zero above the top and left edges, as the paper's Torch code
 *   computes it (`SpatialZeroPadding(1, -1, 1, -1)` then `SpatialAveragePooling(1, 1, s, s)`).
 *
 * @example
 * ```ts
 * import type { ShortcutShift } from "@hajime/nn";
 * const shift: ShortcutShift = "lua"; // to load weights trained with the Torch reference code
 * console.log(shift);
 * ```
 */
export type ShortcutShift = "pytorch" | "lua";

/** The sample offset of each {@link ShortcutShift}. */
const SHIFT_OFFSETS: Readonly<Record<ShortcutShift, number>> = { pytorch: 1, lua: -1 };

/**
 * Per-image coefficients for {@link ShakeShakeBlock.fixCoefficients}.
 *
 * @example
 * ```ts
 * import type { ShakeCoefficients } from "@hajime/nn";
 * const fixed: ShakeCoefficients = { alpha: [0.2, 0.7], beta: [0.9, 0.1] }; // batch of 2
 * console.log(fixed.alpha.length); // 2
 * ```
 */
export interface ShakeCoefficients {
  /** Forward weight of `residual_path1`, one per image. */
  alpha: ArrayLike<number>;
  /** Backward share of the gradient sent to `residual_path1`, one per image. */
  beta: ArrayLike<number>;
}

/**
 * Options of {@link ShakeShakeBlock}.
 *
 * @example
 * ```ts
 * import type { ShakeShakeBlockOptions } from "@hajime/nn";
 * const options: ShakeShakeBlockOptions = { stride: 2, mode: "shake-even", level: "image", seed: 1 };
 * console.log(options.mode); // shake-even
 * ```
 */
export interface ShakeShakeBlockOptions extends InitOptions {
  /** Stride of the first 3×3 convolutions and of the shortcut's subsampling (default 1). */
  stride?: number;
  /** Mixing in training (default `shake-shake`); eval always uses α = 0.5. */
  mode?: ShakeMode;
  /** Coefficient per image or per batch (default `image`). */
  level?: ShakeLevel;
  /** The downsampling shortcut's second-flow sample (default `pytorch`). */
  shift?: ShortcutShift;
}

/**
 * A bias-free convolution with the reference code's He-normal weights: N(0, 2 / (k·k·out)),
 * i.e. `kaiming_normal_(mode="fan_out")`.
 */
function heConv(
  inChannels: number,
  outChannels: number,
  kernelSize: number,
  stride: number,
  generator: Generator,
): Conv2d {
  const conv = new Conv2d(inChannels, outChannels, kernelSize, {
    stride,
    padding: (kernelSize - 1) / 2,
    bias: false,
    generator,
  });
  conv.weight.data.write(kaimingNormal(conv.weight.shape, generator, "fan_out"));
  return conv;
}

/**
 * One residual path of a Shake-Shake block without its leading ReLU (the block applies it once
 * for both paths): conv1 (3×3, stride) → bn1 → ReLU → conv2 (3×3) → bn2.
 *
 * @example
 * ```ts
 * import { Generator, initGpu, ResidualPath, Tensor } from "@hajime/nn";
 * await initGpu();
 * const path = new ResidualPath(16, 32, 2, new Generator(0));
 * const y = path.forward(Tensor.zeros([2, 16, 32, 32]));
 * console.log(y.shape); // [2, 32, 16, 16]
 * ```
 */
export class ResidualPath extends Module {
  /** 3×3 convolution, `in` → `out`, with the path's stride. */
  readonly conv1: Conv2d;
  /** BatchNorm2d(out). */
  readonly bn1: BatchNorm2d;
  /** 3×3 convolution, `out` → `out`. */
  readonly conv2: Conv2d;
  /** BatchNorm2d(out). */
  readonly bn2: BatchNorm2d;

  /** `inChannels` → `outChannels` at `stride`; He-normal weights from `generator`. */
  constructor(inChannels: number, outChannels: number, stride: number, generator: Generator) {
    super();
    this.conv1 = this.register("conv1", heConv(inChannels, outChannels, 3, stride, generator));
    this.bn1 = this.register("bn1", new BatchNorm2d(outChannels));
    this.conv2 = this.register("conv2", heConv(outChannels, outChannels, 3, 1, generator));
    this.bn2 = this.register("bn2", new BatchNorm2d(outChannels));
  }

  /** x: [N, in, H, W] (already through the block's ReLU) → [N, out, ⌈H/s⌉, ⌈W/s⌉]. */
  forward(x: Tensor): Tensor {
    const h = F.relu(this.bn1.forward(this.conv1.forward(x)));
    return this.bn2.forward(this.conv2.forward(h));
  }
}

/**
 * The shortcut of a Shake-Shake block that changes width or stride, without its leading ReLU
 * (the block applies it once): two flows of 1×1 subsampling with `stride` → 1×1 convolution to
 * half the output width, concatenated along channels, then BatchNorm. The first flow samples
 * x[i·s, j·s]; the second x[i·s + 1, j·s + 1] (`shift: "pytorch"`, the default) or
 * x[i·s − 1, j·s − 1] (`"lua"`), zero where that falls outside x ({@link ShortcutShift}).
 *
 * @example
 * ```ts
 * import { DownsamplingShortcut, Generator, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const shortcut = new DownsamplingShortcut(32, 64, 2, new Generator(0));
 * const y = shortcut.forward(Tensor.zeros([2, 32, 16, 16]));
 * console.log(y.shape); // [2, 64, 8, 8]
 * ```
 */
export class DownsamplingShortcut extends Module {
  /** Subsampling step. */
  readonly stride: number;
  /** Which pixel the second flow samples. */
  readonly shift: ShortcutShift;
  /** 1×1 convolution of the first flow, `in` → `out / 2`. */
  readonly conv1: Conv2d;
  /** 1×1 convolution of the shifted flow, `in` → `out / 2`. */
  readonly conv2: Conv2d;
  /** BatchNorm2d(out) over the concatenation. */
  readonly bn: BatchNorm2d;

  /** `inChannels` → `outChannels` (even) at `stride`; He-normal weights from `generator`. */
  constructor(
    inChannels: number,
    outChannels: number,
    stride: number,
    generator: Generator,
    shift: ShortcutShift = "pytorch",
  ) {
    super();
    if (!Object.hasOwn(SHIFT_OFFSETS, shift)) {
      throw new Error(`DownsamplingShortcut: shift must be "pytorch" or "lua", got "${shift}"`);
    }
    if (!Number.isInteger(outChannels) || outChannels < 2 || outChannels % 2 !== 0) {
      throw new Error(
        `DownsamplingShortcut: outChannels must be an even integer ≥ 2, got ${outChannels}`,
      );
    }
    if (!Number.isInteger(stride) || stride < 1) {
      throw new Error(`DownsamplingShortcut: stride must be an integer ≥ 1, got ${stride}`);
    }
    this.stride = stride;
    this.shift = shift;
    const half = outChannels / 2;
    this.conv1 = this.register("conv1", heConv(inChannels, half, 1, 1, generator));
    this.conv2 = this.register("conv2", heConv(inChannels, half, 1, 1, generator));
    this.bn = this.register("bn", new BatchNorm2d(outChannels));
  }

  /** x: [N, in, H, W] (already through the block's ReLU) → [N, out, ⌈H/s⌉, ⌈W/s⌉]. */
  forward(x: Tensor): Tensor {
    checkShape("DownsamplingShortcut.forward", "x", x, [null, this.conv1.inChannels, null, null]);
    const stride = this.stride;
    const flow1 = this.conv1.forward(F.shiftSubsample(x, { stride, shift: 0 }));
    const flow2 = this.conv2.forward(
      F.shiftSubsample(x, { stride, shift: SHIFT_OFFSETS[this.shift] }),
    );
    return this.bn.forward(F.concatChannels(flow1, flow2));
  }
}

/**
 * A Shake-Shake residual block: `y = α·p1(relu x) + (1 − α)·p2(relu x) + shortcut(x)`, where
 * the shortcut is the identity, or a {@link DownsamplingShortcut} of `relu x` when the width or
 * the stride changes. In training, each forward draws α and each backward draws β per image (or
 * per batch) from the block's generator as `mode` says, and the backward sends β·g to
 * `residual_path1` and (1 − β)·g to `residual_path2`. In eval mode α = 0.5, and a backward is
 * the true gradient of that average (β = 0.5).
 *
 * β is drawn when the gradient reaches the block's output, as a hand-written backward would draw
 * it: a step draws every block's α in forward order, then every β in reverse order, so a seeded
 * run repeats and a checkpoint of the generator resumes it exactly. Each call draws its own
 * coefficients, so a block may be called several times in a step.
 *
 * @example
 * ```ts
 * import { initGpu, ShakeShakeBlock, Tensor } from "@hajime/nn";
 * await initGpu();
 * const block = new ShakeShakeBlock(16, 32, { stride: 2, seed: 0 });
 * const y = block.forward(Tensor.zeros([4, 16, 32, 32])); // [4, 32, 16, 16], fresh α per image
 * y.backward({ gradient: Tensor.full([4, 32, 16, 16], 1) }); // fresh β per image
 * console.log(block.toString(), block.lastAlpha, block.lastBeta);
 * ```
 */
export class ShakeShakeBlock extends Module {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Stride of the block. */
  readonly stride: number;
  /** Mixing rule in training. */
  readonly mode: ShakeMode;
  /** Coefficient per image or per batch. */
  readonly level: ShakeLevel;
  /** Draws α and β (shared with the model that passed it). */
  readonly generator: Generator;
  /** The first residual path. */
  readonly residualPath1: ResidualPath;
  /** The second residual path. */
  readonly residualPath2: ResidualPath;
  /** The downsampling shortcut, or null for the identity. */
  readonly shortcut: DownsamplingShortcut | null;
  #fixed: { alpha: Float32Array; beta: Float32Array } | null = null;
  #alpha: Float32Array = new Float32Array(0);
  #beta: Float32Array | null = null;

  /** `inChannels` → `outChannels`; He-normal conv weights from the options' generator. */
  constructor(inChannels: number, outChannels: number, options: ShakeShakeBlockOptions = {}) {
    super();
    const { stride = 1, mode = "shake-shake", level = "image", shift = "pytorch" } = options;
    for (const [name, v] of [["inChannels", inChannels], ["outChannels", outChannels]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`ShakeShakeBlock: ${name} must be an integer ≥ 1, got ${v}`);
      }
    }
    if (!Number.isInteger(stride) || stride < 1) {
      throw new Error(`ShakeShakeBlock: stride must be an integer ≥ 1, got ${stride}`);
    }
    if (!MODES.includes(mode)) {
      throw new Error(`ShakeShakeBlock: mode must be one of ${MODES.join(", ")}, got "${mode}"`);
    }
    if (level !== "image" && level !== "batch") {
      throw new Error(`ShakeShakeBlock: level must be "image" or "batch", got "${level}"`);
    }
    if (!Object.hasOwn(SHIFT_OFFSETS, shift)) {
      throw new Error(`ShakeShakeBlock: shift must be "pytorch" or "lua", got "${shift}"`);
    }
    const downsample = inChannels !== outChannels || stride !== 1;
    if (downsample && outChannels % 2 !== 0) {
      throw new Error(
        `ShakeShakeBlock: outChannels must be even when the shortcut changes width or stride ` +
          `(two flows of outChannels / 2), got ${outChannels}`,
      );
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.stride = stride;
    this.mode = mode;
    this.level = level;
    this.generator = resolveGenerator(options);
    const g = this.generator;
    this.residualPath1 = this.register(
      "residual_path1",
      new ResidualPath(inChannels, outChannels, stride, g),
    );
    this.residualPath2 = this.register(
      "residual_path2",
      new ResidualPath(inChannels, outChannels, stride, g),
    );
    this.shortcut = downsample
      ? this.register(
        "shortcut",
        new DownsamplingShortcut(inChannels, outChannels, stride, g, shift),
      )
      : null;
  }

  /**
   * Test hook: use these per-image α and β in every training forward and backward instead of
   * drawing them (whatever the mode); `null` goes back to drawing. Eval still uses α = 0.5.
   */
  fixCoefficients(coefficients: ShakeCoefficients | null): void {
    if (coefficients === null) {
      this.#fixed = null;
      return;
    }
    const alpha = Float32Array.from(coefficients.alpha);
    const beta = Float32Array.from(coefficients.beta);
    if (alpha.length !== beta.length) {
      throw new Error(
        `ShakeShakeBlock.fixCoefficients: alpha has ${alpha.length} values, beta ${beta.length}`,
      );
    }
    this.#fixed = { alpha, beta };
  }

  /** The α of the last forward, one per image (a copy). */
  get lastAlpha(): Float32Array {
    return this.#alpha.slice();
  }

  /** The β of the last backward, one per image (a copy), or null before any backward. */
  get lastBeta(): Float32Array | null {
    return this.#beta?.slice() ?? null;
  }

  /** `n` coefficients: `shake` draws from the generator (per image or once), `even` is 0.5. */
  #coefficients(n: number, shake: boolean): Float32Array {
    const out = new Float32Array(n).fill(0.5);
    if (!shake) return out;
    if (this.level === "batch") return out.fill(this.generator.uniform());
    for (let i = 0; i < n; i++) out[i] = this.generator.uniform();
    return out;
  }

  /** The forward's α for a batch of `n`: 0.5 in eval, else fixed or drawn as `mode` says. */
  #forwardAlpha(n: number): Float32Array {
    if (!this.training) return new Float32Array(n).fill(0.5);
    if (!this.#fixed) return this.#coefficients(n, this.mode.startsWith("shake-"));
    if (this.#fixed.alpha.length !== n) {
      throw new Error(
        `ShakeShakeBlock: fixed alpha has ${this.#fixed.alpha.length} values, the batch has ` +
          `${n} images`,
      );
    }
    return this.#fixed.alpha;
  }

  /** The backward's β for the forward that used `alpha`: fixed, α, drawn or 0.5 by `mode`. */
  #backwardBeta(alpha: Float32Array): Float32Array {
    if (this.#fixed) return this.#fixed.beta;
    if (this.mode.endsWith("-keep")) return alpha;
    return this.#coefficients(alpha.length, this.mode.endsWith("-shake"));
  }

  /**
   * `y` unchanged (a view) whose gradient, when it arrives, first draws β into `beta` (read by
   * the mix's backward, which runs after this one).
   */
  #drawBetaInBackward(y: Tensor, beta: Tensor, alpha: Float32Array): Tensor {
    const out = y.detach();
    record("ShakeShakeBlock.beta", [y], out, (dy, [dyIn]) => {
      this.#beta = this.#backwardBeta(alpha);
      beta.write(this.#beta);
      passGradient(dyIn, dy);
    });
    return out;
  }

  /** x: [N, in, H, W] → y: [N, out, ⌈H/s⌉, ⌈W/s⌉]. */
  forward(x: Tensor): Tensor {
    checkShape("ShakeShakeBlock.forward", "x", x, [null, this.inChannels, null, null]);
    const n = x.shape[0];
    const alphaValues = this.#forwardAlpha(n);
    this.#alpha = alphaValues;
    const alpha = opTensor([n], { label: "ShakeShakeBlock.alpha" }).write(alphaValues);
    // In eval a backward is the average's true gradient (β = α = 0.5); noGrad has none.
    const drawsBeta = this.training && isGradEnabled();
    const beta = drawsBeta ? opTensor([n], { label: "ShakeShakeBlock.beta" }) : alpha;

    const xr = F.relu(x);
    const h1 = this.residualPath1.forward(xr);
    const h2 = this.residualPath2.forward(xr);
    const mixed = F.shakeMix(h1, h2, alpha, beta);
    const skip = this.shortcut ? this.shortcut.forward(xr) : x;
    const y = F.add(mixed, skip);
    return drawsBeta ? this.#drawBetaInBackward(y, beta, alphaValues) : y;
  }

  /** `16, 32, stride=2, mode=shake-shake, level=image`. */
  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, stride=${this.stride}, mode=${this.mode}, ` +
      `level=${this.level}`;
  }
}
