/**
 * The Shake-Shake "26 2×Kd" ResNets for CIFAR (Gastaldi 2017): a 3×3 stem of 16 filters with
 * BatchNorm, three stages of four {@link ShakeShakeBlock}s of widths K, 2K and 4K at full, half
 * and quarter resolution, then ReLU → global average pooling → Linear. Initialisation follows the
 * paper's reference code: He-normal convolutions (N(0, 2 / (k·k·out)), no conv biases),
 * BatchNorm γ = 1 and β = 0, Linear with Torch's default weight and a zero bias. Registered as
 * `shake-shake-26-2x32d`, `-2x64d` and `-2x96d`.
 *
 * @module
 */

import { BatchNorm2d } from "../nn/batch_norm2d.ts";
import { Sequential } from "../nn/containers.ts";
import { Conv2d } from "../nn/conv2d.ts";
import { type InitOptions, kaimingNormal, resolveGenerator } from "../nn/init.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import * as F from "../ops/functional.ts";
import {
  type ShakeLevel,
  type ShakeMode,
  ShakeShakeBlock,
  type ShortcutShift,
} from "../nn/shake_shake.ts";
import type { Generator } from "../random.ts";
import { checkShape, type Tensor } from "../tensor.ts";
import { registerModel } from "./registry.ts";

/**
 * Options of {@link shakeShake26}.
 *
 * @example
 * ```ts
 * import type { ShakeShakeOptions } from "@hajime/nn";
 * const options: ShakeShakeOptions = { width: 96, classes: 10, mode: "shake-shake", seed: 0 };
 * console.log(options.width); // 96
 * ```
 */
export interface ShakeShakeOptions extends InitOptions {
  /**
   * K, the width of the first stage (the paper's 32, 64 or 96; default 32). Any even width
   * builds, so tests can use tiny models.
   */
  width?: number;
  /** Output classes (default 10). */
  classes?: number;
  /** Mixing of every block in training (default `shake-shake`). */
  mode?: ShakeMode;
  /** Coefficients per image or per batch (default `image`). */
  level?: ShakeLevel;
  /**
   * The downsampling shortcuts' second-flow sample: `pytorch` (default, the PyTorch ports') or
   * `lua` (the paper's Torch code); see {@link ShortcutShift}.
   */
  shift?: ShortcutShift;
}

/** Blocks per stage: (26 − 2) / 6. */
const BLOCKS_PER_STAGE = 4;
/** Filters of the stem convolution. */
const STEM_WIDTH = 16;

/**
 * Shake-Shake ResNet-26 2×Kd with children `conv`, `bn`, `stage1`…`stage3` (Sequentials of four
 * blocks) and `fc`, as the PyTorch port names them. The generator that initialised it keeps
 * drawing every block's α and β.
 *
 * @example
 * ```ts
 * import { initGpu, shakeShake26, Tensor } from "@hajime/nn";
 * await initGpu();
 * const model = shakeShake26({ width: 32, seed: 0 });
 * console.log(model.numParameters()); // 2923162
 * const logits = model.forward(Tensor.zeros([2, 3, 32, 32]));
 * console.log(logits.shape); // [2, 10]
 * ```
 */
export class ShakeShake26 extends Module {
  /** K. */
  readonly width: number;
  /** Output classes. */
  readonly classes: number;
  /** Draws the initial weights, then every block's coefficients. */
  readonly generator: Generator;
  /** 3×3 stem convolution, 3 → 16, no bias. */
  readonly conv: Conv2d;
  /** BatchNorm2d(16) after the stem. */
  readonly bn: BatchNorm2d;
  /** Four blocks 16 → K at full resolution. */
  readonly stage1: Sequential;
  /** Four blocks K → 2K, the first with stride 2. */
  readonly stage2: Sequential;
  /** Four blocks 2K → 4K, the first with stride 2. */
  readonly stage3: Sequential;
  /** Linear(4K, classes). */
  readonly fc: Linear;

  /** Builds the model; see {@link ShakeShakeOptions}. */
  constructor(options: ShakeShakeOptions = {}) {
    super();
    const { width = 32, classes = 10, mode, level, shift } = options;
    if (!Number.isInteger(width) || width < 2 || width % 2 !== 0) {
      throw new Error(`ShakeShake26: width must be an even integer ≥ 2, got ${width}`);
    }
    if (!Number.isInteger(classes) || classes < 1) {
      throw new Error(`ShakeShake26: classes must be an integer ≥ 1, got ${classes}`);
    }
    this.width = width;
    this.classes = classes;
    const generator = resolveGenerator(options);
    this.generator = generator;
    this.conv = this.register(
      "conv",
      new Conv2d(3, STEM_WIDTH, 3, { padding: 1, bias: false, generator }),
    );
    this.conv.weight.data.write(kaimingNormal(this.conv.weight.shape, generator, "fan_out"));
    this.bn = this.register("bn", new BatchNorm2d(STEM_WIDTH));
    const stage = (inChannels: number, outChannels: number, stride: number): Sequential =>
      new Sequential(
        ...Array.from(
          { length: BLOCKS_PER_STAGE },
          (_, i) =>
            new ShakeShakeBlock(i === 0 ? inChannels : outChannels, outChannels, {
              stride: i === 0 ? stride : 1,
              mode,
              level,
              shift,
              generator,
            }),
        ),
      );
    this.stage1 = this.register("stage1", stage(STEM_WIDTH, width, 1));
    this.stage2 = this.register("stage2", stage(width, 2 * width, 2));
    this.stage3 = this.register("stage3", stage(2 * width, 4 * width, 2));
    this.fc = this.register("fc", new Linear(4 * width, classes, { generator }));
    this.fc.bias!.data.fill(0);
  }

  /** The twelve blocks in order (to set modes or fix coefficients in tests). */
  blocks(): ShakeShakeBlock[] {
    return [this.stage1, this.stage2, this.stage3].flatMap((s) =>
      Array.from({ length: s.length }, (_, i) => s.at(i) as ShakeShakeBlock)
    );
  }

  /** x: [N, 3, H, W] (32×32 for CIFAR) → logits [N, classes]. */
  forward(x: Tensor): Tensor {
    checkShape("ShakeShake26.forward", "x", x, [null, 3, null, null]);
    let h = this.bn.forward(this.conv.forward(x));
    h = this.stage3.forward(this.stage2.forward(this.stage1.forward(h)));
    const pooled = F.adaptiveAvgPool2d(F.relu(h), 1);
    return this.fc.forward(pooled.view(pooled.shape[0], -1));
  }
}

/**
 * Shake-Shake-26 2×Kd: `width` 32 → 2,923,162 parameters, 64 → 11,653,978, 96 → 26,192,922
 * (10 classes).
 *
 * @example
 * ```ts
 * import { initGpu, shakeShake26 } from "@hajime/nn";
 * await initGpu();
 * const model = shakeShake26({ width: 64, classes: 10, seed: 1, mode: "shake-shake" });
 * console.log(model.numParameters());
 * ```
 */
export function shakeShake26(options: ShakeShakeOptions = {}): ShakeShake26 {
  return new ShakeShake26(options);
}

const PARAMETER_COUNTS: Record<number, string> = {
  32: "2,923,162",
  64: "11,653,978",
  96: "26,192,922",
};

for (const width of [32, 64, 96]) {
  registerModel(
    `shake-shake-26-2x${width}d`,
    (options) => shakeShake26({ ...(options as ShakeShakeOptions), width }),
    `Shake-Shake-26 2×${width}d (Gastaldi 2017); ${PARAMETER_COUNTS[width]} parameters`,
  );
}
