/**
 * Float64 reference of Shake-Shake (Gastaldi 2017), written as the reference codes build it
 * rather than as hajime's layers do: each residual path and the downsampling shortcut has its
 * own leading ReLU, the shifted flow is the PyTorch ports' `F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))`
 * (or the paper's Torch code's `SpatialZeroPadding(1, -1, 1, -1)`) followed by a stride-s 1×1
 * average pooling, and the block's backward sends β·g and (1 − β)·g to the two paths. Built from a GPU model's state dict (same names), so GPU results can be compared
 * and the backward checked by finite differences (with β = α, where it is the true gradient).
 *
 * @module
 */

import {
  type Arr,
  RefBatchNorm2d,
  RefConv2d,
  RefFlatten,
  RefGlobalPool,
  RefLayer,
  RefLinear,
  RefParam,
  RefReLU,
  RefSequential,
  type RefState,
} from "./nn.ts";

/** `prefix.leaf`, or `leaf` when the prefix is empty (a module's own state dict). */
function join(prefix: string, leaf: string): string {
  return prefix ? `${prefix}.${leaf}` : leaf;
}

function param(state: RefState, name: string): RefParam {
  const e = state.get(name);
  if (!e) throw new Error(`reference shake_shake: state has no "${name}"`);
  return new RefParam(e.data, e.shape);
}

function conv(state: RefState, name: string, stride: number, padding: number): RefConv2d {
  const bias = state.has(`${name}.bias`) ? param(state, `${name}.bias`) : null;
  return new RefConv2d(name, param(state, `${name}.weight`), bias, stride, padding);
}

function batchNorm(state: RefState, name: string): RefBatchNorm2d {
  return new RefBatchNorm2d(name, {
    weight: param(state, `${name}.weight`),
    bias: param(state, `${name}.bias`),
    runningMean: state.get(`${name}.running_mean`)!.data,
    runningVar: state.get(`${name}.running_var`)!.data,
    numBatchesTracked: state.get(`${name}.num_batches_tracked`)!.data[0],
  });
}

/** Torch's `SpatialZeroPadding(1, -1, 1, -1)`: y[i, j] = x[i − 1, j − 1], 0 on row 0 / column 0. */
export class RefShiftDownRight extends RefLayer {
  forward(x: Arr): Arr {
    const [n, c, h, w] = x.shape;
    const y = new Float64Array(x.data.length);
    for (let p = 0; p < n * c; p++) {
      for (let i = 1; i < h; i++) {
        for (let j = 1; j < w; j++) y[(p * h + i) * w + j] = x.data[(p * h + i - 1) * w + j - 1];
      }
    }
    return { data: y, shape: [...x.shape] };
  }

  backward(dy: Arr): Arr {
    const [n, c, h, w] = dy.shape;
    const dx = new Float64Array(dy.data.length);
    for (let p = 0; p < n * c; p++) {
      for (let i = 1; i < h; i++) {
        for (let j = 1; j < w; j++) dx[(p * h + i - 1) * w + j - 1] = dy.data[(p * h + i) * w + j];
      }
    }
    return { data: dx, shape: [...dy.shape] };
  }
}

/**
 * The PyTorch ports' `F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))`: drop row 0 and column 0, pad a zero
 * row and column at the bottom and right, i.e. y[i, j] = x[i + 1, j + 1], 0 on the last row and
 * column.
 */
export class RefShiftUpLeft extends RefLayer {
  forward(x: Arr): Arr {
    const [n, c, h, w] = x.shape;
    const y = new Float64Array(x.data.length);
    for (let p = 0; p < n * c; p++) {
      for (let i = 0; i + 1 < h; i++) {
        for (let j = 0; j + 1 < w; j++) {
          y[(p * h + i) * w + j] = x.data[(p * h + i + 1) * w + j + 1];
        }
      }
    }
    return { data: y, shape: [...x.shape] };
  }

  backward(dy: Arr): Arr {
    const [n, c, h, w] = dy.shape;
    const dx = new Float64Array(dy.data.length);
    for (let p = 0; p < n * c; p++) {
      for (let i = 0; i + 1 < h; i++) {
        for (let j = 0; j + 1 < w; j++) {
          dx[(p * h + i + 1) * w + j + 1] = dy.data[(p * h + i) * w + j];
        }
      }
    }
    return { data: dx, shape: [...dy.shape] };
  }
}

/** Torch's `SpatialAveragePooling(1, 1, s, s)`: y[i, j] = x[i·s, j·s], ⌊(H − 1)/s⌋ + 1 rows. */
export class RefSubsample extends RefLayer {
  #s: number;
  #shape: number[] = [];

  /** Step `s`. */
  constructor(s: number) {
    super();
    this.#s = s;
  }

  forward(x: Arr): Arr {
    const [n, c, h, w] = x.shape;
    const s = this.#s;
    const oh = Math.floor((h - 1) / s) + 1;
    const ow = Math.floor((w - 1) / s) + 1;
    const y = new Float64Array(n * c * oh * ow);
    for (let p = 0; p < n * c; p++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) y[(p * oh + i) * ow + j] = x.data[(p * h + i * s) * w + j * s];
      }
    }
    this.#shape = [...x.shape];
    return { data: y, shape: [n, c, oh, ow] };
  }

  backward(dy: Arr): Arr {
    const [n, c, h, w] = this.#shape;
    const [, , oh, ow] = dy.shape;
    const s = this.#s;
    const dx = new Float64Array(n * c * h * w);
    for (let p = 0; p < n * c; p++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          dx[(p * h + i * s) * w + j * s] = dy.data[(p * oh + i) * ow + j];
        }
      }
    }
    return { data: dx, shape: [...this.#shape] };
  }
}

/** Torch's `ConcatTable` of flows on one input followed by `JoinTable(2)` (channels). */
export class RefConcatFlows extends RefLayer {
  /** The flows. */
  flows: RefLayer[];
  #channels: number[] = [];

  /** Wraps `flows`. */
  constructor(flows: RefLayer[]) {
    super();
    this.flows = flows;
  }

  forward(x: Arr): Arr {
    const outs = this.flows.map((f) => f.forward(x));
    const [n, , h, w] = outs[0].shape;
    const plane = h * w;
    this.#channels = outs.map((o) => o.shape[1]);
    const c = this.#channels.reduce((a, b) => a + b, 0);
    const y = new Float64Array(n * c * plane);
    for (let b = 0; b < n; b++) {
      let offset = 0;
      outs.forEach((o, k) => {
        const ck = this.#channels[k];
        y.set(o.data.subarray(b * ck * plane, (b + 1) * ck * plane), (b * c + offset) * plane);
        offset += ck;
      });
    }
    return { data: y, shape: [n, c, h, w] };
  }

  backward(dy: Arr): Arr {
    const [n, c, h, w] = dy.shape;
    const plane = h * w;
    let dx: Float64Array | null = null;
    let shape: number[] = [];
    let offset = 0;
    this.flows.forEach((f, k) => {
      const ck = this.#channels[k];
      const part = new Float64Array(n * ck * plane);
      for (let b = 0; b < n; b++) {
        part.set(
          dy.data.subarray((b * c + offset) * plane, (b * c + offset + ck) * plane),
          b * ck * plane,
        );
      }
      offset += ck;
      const g = f.backward({ data: part, shape: [n, ck, h, w] });
      if (dx === null) dx = Float64Array.from(g.data);
      else for (let i = 0; i < dx.length; i++) dx[i] += g.data[i];
      shape = g.shape;
    });
    return { data: dx!, shape };
  }

  override params(): [string, RefParam][] {
    return this.flows.flatMap((f) => f.params());
  }

  override setTraining(mode: boolean): void {
    this.training = mode;
    for (const f of this.flows) f.setTraining(mode);
  }
}

/** The identity shortcut. */
class RefIdentity extends RefLayer {
  forward(x: Arr): Arr {
    return x;
  }

  backward(dy: Arr): Arr {
    return dy;
  }
}

/**
 * The reference codes' downsampling shortcut: ReLU → [subsample → 1×1 conv1 ‖ shift → subsample
 * → 1×1 conv2] → BN, from `<name>.conv1`, `<name>.conv2`, `<name>.bn`; the shift is the PyTorch
 * ports' (`pytorch`) or the Torch code's (`lua`).
 */
export function refDownsamplingShortcut(
  state: RefState,
  name: string,
  stride: number,
  shift: "pytorch" | "lua" = "pytorch",
): RefSequential {
  return new RefSequential([
    new RefReLU(),
    new RefConcatFlows([
      new RefSequential([new RefSubsample(stride), conv(state, join(name, "conv1"), 1, 0)]),
      new RefSequential([
        shift === "pytorch" ? new RefShiftUpLeft() : new RefShiftDownRight(),
        new RefSubsample(stride),
        conv(state, join(name, "conv2"), 1, 0),
      ]),
    ]),
    batchNorm(state, join(name, "bn")),
  ]);
}

/**
 * A Shake-Shake block from `<name>.residual_path{1,2}.*` and, when the state has it,
 * `<name>.shortcut.*`. Set `alpha` and `beta` (one per image) before a training forward and
 * backward; eval uses α = 0.5.
 */
export class RefShakeShakeBlock extends RefLayer {
  /** Forward weights of path 1, per image (training). */
  alpha: Float64Array = new Float64Array(0);
  /** Backward shares of path 1, per image. */
  beta: Float64Array = new Float64Array(0);
  /** ReLU → conv1 → bn1 → ReLU → conv2 → bn2. */
  net1: RefSequential;
  /** The second path. */
  net2: RefSequential;
  /** Identity or the downsampling shortcut. */
  skip: RefLayer;
  #alphaUsed: Float64Array = new Float64Array(0);
  #inner = 0;

  /** Reads the block `name` with `stride` from `state`. */
  constructor(state: RefState, name: string, stride: number, shift: "pytorch" | "lua" = "pytorch") {
    super();
    const path = (p: string) =>
      new RefSequential([
        new RefReLU(),
        conv(state, `${p}.conv1`, stride, 1),
        batchNorm(state, `${p}.bn1`),
        new RefReLU(),
        conv(state, `${p}.conv2`, 1, 1),
        batchNorm(state, `${p}.bn2`),
      ]);
    this.net1 = path(join(name, "residual_path1"));
    this.net2 = path(join(name, "residual_path2"));
    this.skip = state.has(join(name, "shortcut.conv1.weight"))
      ? refDownsamplingShortcut(state, join(name, "shortcut"), stride, shift)
      : new RefIdentity();
  }

  forward(x: Arr): Arr {
    const n = x.shape[0];
    const alpha = this.training ? this.alpha : new Float64Array(n).fill(0.5);
    if (alpha.length !== n) {
      throw new Error(`RefShakeShakeBlock: ${alpha.length} α for ${n} images`);
    }
    const s = this.skip.forward(x);
    const h1 = this.net1.forward(x);
    const h2 = this.net2.forward(x);
    const inner = h1.data.length / n;
    const y = new Float64Array(h1.data.length);
    for (let i = 0; i < y.length; i++) {
      const a = alpha[Math.floor(i / inner)];
      y[i] = s.data[i] + a * h1.data[i] + (1 - a) * h2.data[i];
    }
    this.#alphaUsed = alpha;
    this.#inner = inner;
    return { data: y, shape: [...h1.shape] };
  }

  backward(dy: Arr): Arr {
    const n = dy.shape[0];
    if (this.beta.length !== n) throw new Error(`RefShakeShakeBlock: ${this.beta.length} β`);
    const d1 = dy.data.map((g, i) => this.beta[Math.floor(i / this.#inner)] * g);
    const d2 = dy.data.map((g, i) => (1 - this.beta[Math.floor(i / this.#inner)]) * g);
    const g0 = this.skip.backward(dy);
    const g1 = this.net1.backward({ data: d1, shape: dy.shape });
    const g2 = this.net2.backward({ data: d2, shape: dy.shape });
    return { data: g0.data.map((v, i) => v + g1.data[i] + g2.data[i]), shape: [...g0.shape] };
  }

  /** The α of the last forward (0.5s in eval). */
  get lastAlpha(): Float64Array {
    return this.#alphaUsed;
  }

  override params(): [string, RefParam][] {
    return [...this.net1.params(), ...this.net2.params(), ...this.skip.params()];
  }

  override setTraining(mode: boolean): void {
    this.training = mode;
    this.net1.setTraining(mode);
    this.net2.setTraining(mode);
    this.skip.setTraining(mode);
  }
}

/**
 * The whole Shake-Shake-26 network from a GPU state dict: conv → bn → stages → ReLU → global
 * average pool → fc. Returns the network and its blocks in order (to set α and β).
 */
export function refShakeShake26(
  state: RefState,
  shift: "pytorch" | "lua" = "pytorch",
): { model: RefSequential; blocks: RefShakeShakeBlock[] } {
  const blocks: RefShakeShakeBlock[] = [];
  for (let s = 1; s <= 3; s++) {
    for (let b = 0; state.has(`stage${s}.${b}.residual_path1.conv1.weight`); b++) {
      const stride = s > 1 && b === 0 ? 2 : 1;
      blocks.push(new RefShakeShakeBlock(state, `stage${s}.${b}`, stride, shift));
    }
  }
  const model = new RefSequential([
    conv(state, "conv", 1, 1),
    batchNorm(state, "bn"),
    ...blocks,
    new RefReLU(),
    new RefGlobalPool("avg"),
    new RefFlatten(),
    new RefLinear("fc", param(state, "fc.weight"), param(state, "fc.bias")),
  ]);
  return { model, blocks };
}
