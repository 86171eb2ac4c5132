/**
 * Float64 reference of the layer objects and of the article's models, plain loops: each layer has
 * forward and backward like the GPU modules, parameter gradients accumulate, and `refModel`
 * rebuilds any factory's network from its state dict (same names), so whole-model gradients can
 * be compared with the GPU and checked by finite differences.
 *
 * @module
 */

/** A float64 array with its shape. */
export interface Arr {
  /** Row-major values. */
  data: Float64Array;
  /** Dimensions. */
  shape: number[];
}

/** A named float64 parameter and its accumulated gradient. */
export class RefParam {
  /** Values. */
  data: Float64Array;
  /** Accumulated gradient. */
  grad: Float64Array;
  /** Dimensions. */
  shape: number[];

  /** Copies `data`. */
  constructor(data: ArrayLike<number>, shape: number[]) {
    this.data = Float64Array.from(data);
    this.grad = new Float64Array(this.data.length);
    this.shape = shape;
  }
}

/** A reference layer: forward keeps what backward needs; backward accumulates parameter grads. */
export abstract class RefLayer {
  /** Training mode (BatchNorm). */
  training = true;
  /** x → y. */
  abstract forward(x: Arr): Arr;
  /** dy → dx. */
  abstract backward(dy: Arr): Arr;
  /** Named parameters (dotted names as in the GPU state dict). */
  params(): [string, RefParam][] {
    return [];
  }
  /** Sets the mode on the whole tree. */
  setTraining(mode: boolean): void {
    this.training = mode;
  }
  /**
   * How far the last forward was from a kink of this layer (a ReLU input crossing 0, a max-pool
   * winner changing): Infinity for smooth layers. Exact ties do not count: float32 sees them too.
   */
  margin(): number {
    return Infinity;
  }
}

/** `name.leaf`, or `leaf` for an unnamed layer. */
function join(name: string, leaf: string): string {
  return name ? `${name}.${leaf}` : leaf;
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** y = x·Wᵀ + b. */
export class RefLinear extends RefLayer {
  /** [out, in] */
  weight: RefParam;
  /** [out] or null */
  bias: RefParam | null;
  #name: string;
  #x: Arr | null = null;

  /** From values. */
  constructor(name: string, weight: RefParam, bias: RefParam | null) {
    super();
    this.#name = name;
    this.weight = weight;
    this.bias = bias;
  }

  forward(x: Arr): Arr {
    const [o, k] = this.weight.shape;
    const n = x.shape[0];
    if (x.shape[1] !== k) throw new Error(`RefLinear ${this.#name}: x [${x.shape}] vs k ${k}`);
    const y = new Float64Array(n * o);
    const w = this.weight.data;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < o; j++) {
        let s = this.bias ? this.bias.data[j] : 0;
        for (let t = 0; t < k; t++) s += x.data[i * k + t] * w[j * k + t];
        y[i * o + j] = s;
      }
    }
    this.#x = x;
    return { data: y, shape: [n, o] };
  }

  backward(dy: Arr): Arr {
    const x = this.#x!;
    const [o, k] = this.weight.shape;
    const n = x.shape[0];
    const dx = new Float64Array(n * k);
    const w = this.weight.data;
    const gw = this.weight.grad;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < o; j++) {
        const g = dy.data[i * o + j];
        if (this.bias) this.bias.grad[j] += g;
        for (let t = 0; t < k; t++) {
          dx[i * k + t] += g * w[j * k + t];
          gw[j * k + t] += g * x.data[i * k + t];
        }
      }
    }
    return { data: dx, shape: [...x.shape] };
  }

  override params(): [string, RefParam][] {
    const out: [string, RefParam][] = [[join(this.#name, "weight"), this.weight]];
    if (this.bias) out.push([join(this.#name, "bias"), this.bias]);
    return out;
  }
}

/** 2-D convolution, square kernel, same stride and zero padding on both axes. */
export class RefConv2d extends RefLayer {
  /** [O, C, K, K] */
  weight: RefParam;
  /** [O] or null */
  bias: RefParam | null;
  /** Stride. */
  stride: number;
  /** Padding. */
  padding: number;
  #name: string;
  #x: Arr | null = null;

  /** From values. */
  constructor(
    name: string,
    weight: RefParam,
    bias: RefParam | null,
    stride: number,
    padding: number,
  ) {
    super();
    this.#name = name;
    this.weight = weight;
    this.bias = bias;
    this.stride = stride;
    this.padding = padding;
  }

  #dims(x: Arr): number[] {
    const [n, c, h, w] = x.shape;
    const [o, , k] = this.weight.shape;
    const oh = Math.floor((h + 2 * this.padding - k) / this.stride) + 1;
    const ow = Math.floor((w + 2 * this.padding - k) / this.stride) + 1;
    return [n, c, h, w, o, k, oh, ow];
  }

  forward(x: Arr): Arr {
    const [n, c, h, w, o, k, oh, ow] = this.#dims(x);
    const { stride: s, padding: p } = this;
    const y = new Float64Array(n * o * oh * ow);
    const wt = this.weight.data;
    for (let b = 0; b < n; b++) {
      for (let oc = 0; oc < o; oc++) {
        const base = (b * o + oc) * oh * ow;
        if (this.bias) y.fill(this.bias.data[oc], base, base + oh * ow);
        for (let ic = 0; ic < c; ic++) {
          const xBase = (b * c + ic) * h * w;
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const wv = wt[((oc * c + ic) * k + ky) * k + kx];
              for (let oy = 0; oy < oh; oy++) {
                const iy = oy * s - p + ky;
                if (iy < 0 || iy >= h) continue;
                for (let ox = 0; ox < ow; ox++) {
                  const ix = ox * s - p + kx;
                  if (ix < 0 || ix >= w) continue;
                  y[base + oy * ow + ox] += wv * x.data[xBase + iy * w + ix];
                }
              }
            }
          }
        }
      }
    }
    this.#x = x;
    return { data: y, shape: [n, o, oh, ow] };
  }

  backward(dy: Arr): Arr {
    const x = this.#x!;
    const [n, c, h, w, o, k, oh, ow] = this.#dims(x);
    const { stride: s, padding: p } = this;
    const dx = new Float64Array(x.data.length);
    const wt = this.weight.data;
    const gw = this.weight.grad;
    for (let b = 0; b < n; b++) {
      for (let oc = 0; oc < o; oc++) {
        const base = (b * o + oc) * oh * ow;
        if (this.bias) {
          let sum = 0;
          for (let i = 0; i < oh * ow; i++) sum += dy.data[base + i];
          this.bias.grad[oc] += sum;
        }
        for (let ic = 0; ic < c; ic++) {
          const xBase = (b * c + ic) * h * w;
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const wi = ((oc * c + ic) * k + ky) * k + kx;
              const wv = wt[wi];
              let g = 0;
              for (let oy = 0; oy < oh; oy++) {
                const iy = oy * s - p + ky;
                if (iy < 0 || iy >= h) continue;
                for (let ox = 0; ox < ow; ox++) {
                  const ix = ox * s - p + kx;
                  if (ix < 0 || ix >= w) continue;
                  const d = dy.data[base + oy * ow + ox];
                  g += d * x.data[xBase + iy * w + ix];
                  dx[xBase + iy * w + ix] += d * wv;
                }
              }
              gw[wi] += g;
            }
          }
        }
      }
    }
    return { data: dx, shape: [...x.shape] };
  }

  override params(): [string, RefParam][] {
    const out: [string, RefParam][] = [[join(this.#name, "weight"), this.weight]];
    if (this.bias) out.push([join(this.#name, "bias"), this.bias]);
    return out;
  }
}

/** BatchNorm2d: batch statistics and running-average update in training, running ones in eval. */
export class RefBatchNorm2d extends RefLayer {
  /** γ */
  weight: RefParam;
  /** β */
  bias: RefParam;
  /** [C] */
  runningMean: Float64Array;
  /** [C] */
  runningVar: Float64Array;
  /** Training forwards so far. */
  numBatchesTracked: number;
  /** Variance epsilon. */
  eps: number;
  /** Running-average momentum. */
  momentum: number;
  #name: string;
  #x: Arr | null = null;
  #mean = new Float64Array(0);
  #invStd = new Float64Array(0);

  /** From values. */
  constructor(
    name: string,
    state: {
      weight: RefParam;
      bias: RefParam;
      runningMean: ArrayLike<number>;
      runningVar: ArrayLike<number>;
      numBatchesTracked?: number;
    },
    eps = 1e-5,
    momentum = 0.1,
  ) {
    super();
    this.#name = name;
    this.weight = state.weight;
    this.bias = state.bias;
    this.runningMean = Float64Array.from(state.runningMean);
    this.runningVar = Float64Array.from(state.runningVar);
    this.numBatchesTracked = state.numBatchesTracked ?? 0;
    this.eps = eps;
    this.momentum = momentum;
  }

  forward(x: Arr): Arr {
    const [n, c, h, w] = x.shape;
    const plane = h * w;
    const count = n * plane;
    const y = new Float64Array(x.data.length);
    this.#mean = new Float64Array(c);
    this.#invStd = new Float64Array(c);
    for (let ch = 0; ch < c; ch++) {
      let mean: number;
      let invStd: number;
      if (this.training) {
        let sum = 0;
        for (let b = 0; b < n; b++) {
          for (let i = 0; i < plane; i++) sum += x.data[(b * c + ch) * plane + i];
        }
        mean = sum / count;
        let sq = 0;
        for (let b = 0; b < n; b++) {
          for (let i = 0; i < plane; i++) sq += (x.data[(b * c + ch) * plane + i] - mean) ** 2;
        }
        invStd = 1 / Math.sqrt(sq / count + this.eps);
        const m = this.momentum;
        this.runningMean[ch] = (1 - m) * this.runningMean[ch] + m * mean;
        this.runningVar[ch] = (1 - m) * this.runningVar[ch] + m * sq / (count - 1);
      } else {
        mean = this.runningMean[ch];
        invStd = 1 / Math.sqrt(this.runningVar[ch] + this.eps);
      }
      this.#mean[ch] = mean;
      this.#invStd[ch] = invStd;
      const g = this.weight.data[ch];
      const bt = this.bias.data[ch];
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < plane; i++) {
          const j = (b * c + ch) * plane + i;
          y[j] = (x.data[j] - mean) * invStd * g + bt;
        }
      }
    }
    if (this.training) this.numBatchesTracked++;
    this.#x = x;
    return { data: y, shape: [...x.shape] };
  }

  backward(dy: Arr): Arr {
    const x = this.#x!;
    const [n, c, h, w] = x.shape;
    const plane = h * w;
    const count = n * plane;
    const dx = new Float64Array(x.data.length);
    for (let ch = 0; ch < c; ch++) {
      const mean = this.#mean[ch];
      const invStd = this.#invStd[ch];
      let sumDy = 0;
      let sumDyXhat = 0;
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < plane; i++) {
          const j = (b * c + ch) * plane + i;
          sumDy += dy.data[j];
          sumDyXhat += dy.data[j] * (x.data[j] - mean) * invStd;
        }
      }
      this.weight.grad[ch] += sumDyXhat;
      this.bias.grad[ch] += sumDy;
      const g = this.weight.data[ch] * invStd;
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < plane; i++) {
          const j = (b * c + ch) * plane + i;
          const xhat = (x.data[j] - mean) * invStd;
          dx[j] = this.training
            ? g * (dy.data[j] - sumDy / count - xhat * sumDyXhat / count)
            : g * dy.data[j];
        }
      }
    }
    return { data: dx, shape: [...x.shape] };
  }

  override params(): [string, RefParam][] {
    return [[join(this.#name, "weight"), this.weight], [join(this.#name, "bias"), this.bias]];
  }
}

/** max(x, 0). */
export class RefReLU extends RefLayer {
  #y: Arr | null = null;
  #margin = Infinity;

  forward(x: Arr): Arr {
    this.#margin = Infinity;
    for (const v of x.data) if (v !== 0) this.#margin = Math.min(this.#margin, Math.abs(v));
    this.#y = { data: x.data.map((v) => (v > 0 ? v : 0)), shape: [...x.shape] };
    return this.#y;
  }

  backward(dy: Arr): Arr {
    const y = this.#y!;
    return { data: dy.data.map((g, i) => (y.data[i] > 0 ? g : 0)), shape: [...y.shape] };
  }

  override margin(): number {
    return this.#margin;
  }
}

/** The winner of a max-pool window (the first maximum) and its lead over the best smaller value. */
class WindowMax {
  best = -Infinity;
  at = -1;
  second = -Infinity;

  reset(): void {
    this.best = this.second = -Infinity;
    this.at = -1;
  }

  offer(v: number, i: number): void {
    if (v > this.best) {
      this.second = this.best;
      this.best = v;
      this.at = i;
    } else if (v < this.best && v > this.second) {
      this.second = v;
    }
  }

  /** best − second (Infinity when every value ties). */
  lead(): number {
    return this.best - this.second;
  }
}

/** Max pooling, no padding, floor mode; the first maximum of a window wins. */
export class RefMaxPool2d extends RefLayer {
  #k: number;
  #s: number;
  #x: Arr | null = null;
  #argmax = new Int32Array(0);
  #margin = Infinity;

  /** Window `k`, stride `s`. */
  constructor(k: number, s = k) {
    super();
    this.#k = k;
    this.#s = s;
  }

  forward(x: Arr): Arr {
    const [n, c, h, w] = x.shape;
    const k = this.#k;
    const s = this.#s;
    const oh = Math.floor((h - k) / s) + 1;
    const ow = Math.floor((w - k) / s) + 1;
    const y = new Float64Array(n * c * oh * ow);
    this.#argmax = new Int32Array(y.length);
    this.#margin = Infinity;
    const win = new WindowMax();
    for (let p = 0; p < n * c; p++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          win.reset();
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const i = p * h * w + (oy * s + ky) * w + ox * s + kx;
              win.offer(x.data[i], i);
            }
          }
          const o = p * oh * ow + oy * ow + ox;
          y[o] = win.best;
          this.#argmax[o] = win.at;
          this.#margin = Math.min(this.#margin, win.lead());
        }
      }
    }
    this.#x = x;
    return { data: y, shape: [n, c, oh, ow] };
  }

  backward(dy: Arr): Arr {
    const dx = new Float64Array(this.#x!.data.length);
    for (let o = 0; o < dy.data.length; o++) dx[this.#argmax[o]] += dy.data[o];
    return { data: dx, shape: [...this.#x!.shape] };
  }

  override margin(): number {
    return this.#margin;
  }
}

/** Global average or max pooling: [N, C, H, W] → [N, C, 1, 1]. */
export class RefGlobalPool extends RefLayer {
  #kind: "avg" | "max";
  #x: Arr | null = null;
  #argmax = new Int32Array(0);
  #margin = Infinity;

  /** Average or maximum. */
  constructor(kind: "avg" | "max") {
    super();
    this.#kind = kind;
  }

  forward(x: Arr): Arr {
    const [n, c, h, w] = x.shape;
    const plane = h * w;
    const y = new Float64Array(n * c);
    this.#argmax = new Int32Array(n * c);
    this.#margin = Infinity;
    const win = new WindowMax();
    for (let p = 0; p < n * c; p++) {
      if (this.#kind === "avg") {
        let sum = 0;
        for (let i = 0; i < plane; i++) sum += x.data[p * plane + i];
        y[p] = sum / plane;
      } else {
        win.reset();
        for (let i = 0; i < plane; i++) win.offer(x.data[p * plane + i], p * plane + i);
        y[p] = win.best;
        this.#argmax[p] = win.at;
        this.#margin = Math.min(this.#margin, win.lead());
      }
    }
    this.#x = x;
    return { data: y, shape: [n, c, 1, 1] };
  }

  backward(dy: Arr): Arr {
    const x = this.#x!;
    const plane = x.shape[2] * x.shape[3];
    const dx = new Float64Array(x.data.length);
    for (let p = 0; p < dy.data.length; p++) {
      if (this.#kind === "max") dx[this.#argmax[p]] += dy.data[p];
      else for (let i = 0; i < plane; i++) dx[p * plane + i] = dy.data[p] / plane;
    }
    return { data: dx, shape: [...x.shape] };
  }

  override margin(): number {
    return this.#margin;
  }
}

/** [N, ...] → [N, rest]. */
export class RefFlatten extends RefLayer {
  #shape: number[] = [];

  forward(x: Arr): Arr {
    this.#shape = [...x.shape];
    return { data: x.data, shape: [x.shape[0], size(x.shape) / x.shape[0]] };
  }

  backward(dy: Arr): Arr {
    return { data: dy.data, shape: [...this.#shape] };
  }
}

/** log_softmax over the last axis of [N, K]. */
export class RefLogSoftmax extends RefLayer {
  #y: Arr | null = null;

  forward(x: Arr): Arr {
    const [n, k] = x.shape;
    const y = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, x.data[i * k + j]);
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(x.data[i * k + j] - max);
      const lse = max + Math.log(sum);
      for (let j = 0; j < k; j++) y[i * k + j] = x.data[i * k + j] - lse;
    }
    this.#y = { data: y, shape: [n, k] };
    return this.#y;
  }

  backward(dy: Arr): Arr {
    const y = this.#y!;
    const [n, k] = y.shape;
    const dx = new Float64Array(n * k);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < k; j++) sum += dy.data[i * k + j];
      for (let j = 0; j < k; j++) {
        dx[i * k + j] = dy.data[i * k + j] - Math.exp(y.data[i * k + j]) * sum;
      }
    }
    return { data: dx, shape: [n, k] };
  }
}

/** Children in order. */
export class RefSequential extends RefLayer {
  /** The children. */
  layers: RefLayer[];

  /** Wraps `layers`. */
  constructor(layers: RefLayer[]) {
    super();
    this.layers = layers;
  }

  forward(x: Arr): Arr {
    for (const l of this.layers) x = l.forward(x);
    return x;
  }

  backward(dy: Arr): Arr {
    for (let i = this.layers.length - 1; i >= 0; i--) dy = this.layers[i].backward(dy);
    return dy;
  }

  override params(): [string, RefParam][] {
    return this.layers.flatMap((l) => l.params());
  }

  override margin(): number {
    return Math.min(...this.layers.map((l) => l.margin()));
  }

  override setTraining(mode: boolean): void {
    this.training = mode;
    for (const l of this.layers) l.setTraining(mode);
  }
}

/** y = x + fn(x). */
export class RefResidual extends RefLayer {
  /** The branch. */
  fn: RefLayer;

  /** Wraps `fn`. */
  constructor(fn: RefLayer) {
    super();
    this.fn = fn;
  }

  forward(x: Arr): Arr {
    const f = this.fn.forward(x);
    return { data: x.data.map((v, i) => v + f.data[i]), shape: [...x.shape] };
  }

  backward(dy: Arr): Arr {
    const g = this.fn.backward(dy);
    return { data: dy.data.map((v, i) => v + g.data[i]), shape: [...dy.shape] };
  }

  override params(): [string, RefParam][] {
    return this.fn.params();
  }

  override margin(): number {
    return this.fn.margin();
  }

  override setTraining(mode: boolean): void {
    this.training = mode;
    this.fn.setTraining(mode);
  }
}

/** Mean cross entropy of logits [N, K] (log_softmax applied first) and its gradient. */
export function refCrossEntropy(
  logits: Arr,
  labels: ArrayLike<number>,
): { loss: number; grad: Float64Array } {
  const ls = new RefLogSoftmax();
  const logProbs = ls.forward(logits);
  const { loss, grad } = refNllLoss(logProbs, labels);
  return { loss, grad: ls.backward({ data: grad, shape: logProbs.shape }).data };
}

/** Mean negative log-likelihood of log-probabilities [N, K] and its gradient. */
export function refNllLoss(
  logProbs: Arr,
  labels: ArrayLike<number>,
): { loss: number; grad: Float64Array } {
  const [n, k] = logProbs.shape;
  const grad = new Float64Array(n * k);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    loss -= logProbs.data[i * k + labels[i]] / n;
    grad[i * k + labels[i]] = -1 / n;
  }
  return { loss, grad };
}

/** A state dict as the GPU modules return it. */
export type RefState = ReadonlyMap<string, { shape: number[]; data: ArrayLike<number> }>;

function param(state: RefState, name: string): RefParam {
  const e = state.get(name);
  if (!e) throw new Error(`refModel: state has no "${name}"`);
  return new RefParam(e.data, e.shape);
}

function optionalParam(state: RefState, name: string): RefParam | null {
  return state.has(name) ? param(state, name) : null;
}

function conv(state: RefState, name: string, stride: number, padding: number): RefConv2d {
  return new RefConv2d(
    name,
    param(state, `${name}.weight`),
    optionalParam(state, `${name}.bias`),
    stride,
    padding,
  );
}

function linear(state: RefState, name: string): RefLinear {
  return new RefLinear(name, param(state, `${name}.weight`), optionalParam(state, `${name}.bias`));
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

/** The article's BnLayer: conv (pad 1, no bias) → ReLU → BN. */
function bnLayer(state: RefState, name: string, stride: number): RefSequential {
  return new RefSequential([
    conv(state, `${name}.conv`, stride, 1),
    new RefReLU(),
    batchNorm(state, `${name}.bn`),
  ]);
}

function count(state: RefState, list: string): number {
  let i = 0;
  while (state.has(`${list}.${i}.conv.weight`)) i++;
  return i;
}

function head(state: RefState, kind: "avg" | "max"): RefLayer[] {
  return [new RefGlobalPool(kind), new RefFlatten(), linear(state, "out"), new RefLogSoftmax()];
}

/**
 * The article's model `name` (a registry name) written independently from the article's code,
 * with the weights of `state`.
 */
export function refModel(name: string, state: RefState): RefSequential {
  switch (name) {
    case "very-basic-net":
      return new RefSequential([new RefFlatten(), linear(state, "fc")]);
    case "basic-net":
      return new RefSequential([
        new RefFlatten(),
        linear(state, "fc1"),
        new RefReLU(),
        linear(state, "fc2"),
      ]);
    case "basic-cnn":
      return new RefSequential([
        conv(state, "conv1", 1, 0),
        new RefReLU(),
        new RefMaxPool2d(2, 2),
        conv(state, "conv2", 1, 0),
        new RefReLU(),
        new RefMaxPool2d(2, 2),
        new RefFlatten(),
        linear(state, "fc1"),
        new RefReLU(),
        linear(state, "fc2"),
        new RefReLU(),
        linear(state, "fc3"),
      ]);
    case "conv-bn-net": {
      const blocks = Array.from(
        { length: count(state, "layer") },
        (_, i) => bnLayer(state, `layer.${i}`, 2),
      );
      return new RefSequential([conv(state, "conv1", 1, 2), ...blocks, ...head(state, "avg")]);
    }
    case "deep-bn-net": {
      const blocks = Array.from({ length: count(state, "layers") }, (_, i) => [
        bnLayer(state, `layers.${i}`, 2),
        bnLayer(state, `layers2.${i}`, 1),
      ]).flat();
      return new RefSequential([conv(state, "conv1", 1, 2), ...blocks, ...head(state, "max")]);
    }
    case "resnet": {
      const blocks = Array.from({ length: count(state, "layers") }, (_, i) => [
        bnLayer(state, `layers.${i}`, 2),
        new RefResidual(bnLayer(state, `layers2.${i}`, 1)),
        new RefResidual(bnLayer(state, `layers3.${i}`, 1)),
      ]).flat();
      return new RefSequential([conv(state, "conv1", 1, 2), ...blocks, ...head(state, "max")]);
    }
    default:
      throw new Error(`refModel: unknown model ${name}`);
  }
}

/** Central finite difference of `f` with respect to `values[index]` (restored afterwards). */
export function numericGrad(
  f: () => number,
  values: Float64Array,
  index: number,
  eps = 1e-6,
): number {
  const saved = values[index];
  values[index] = saved + eps;
  const plus = f();
  values[index] = saved - eps;
  const minus = f();
  values[index] = saved;
  return (plus - minus) / (2 * eps);
}

/**
 * Central difference of `f` at `values[index]`, or null when `f` is not smooth within ±eps there
 * (a ReLU or max-pool switch: the one-sided slopes disagree), so a gradient check can sample
 * another entry instead of failing on a kink. `f0` is f at the unperturbed values.
 */
export function smoothNumericGrad(
  f: () => number,
  f0: number,
  values: Float64Array,
  index: number,
  eps = 1e-6,
): number | null {
  const saved = values[index];
  values[index] = saved + eps;
  const plus = f();
  values[index] = saved - eps;
  const minus = f();
  values[index] = saved;
  const right = (plus - f0) / eps;
  const left = (f0 - minus) / eps;
  if (Math.abs(right - left) > 1e-3 * Math.max(Math.abs(right), Math.abs(left)) + 1e-7) {
    return null;
  }
  return (plus - minus) / (2 * eps);
}
