/**
 * jax-js 0.1.25 twins of the article's BasicCNN, ConvBnNet, DeepBnNet and Resnet, for
 * bench/compare.ts. jax-js has no layers, batch norm or optimizer, so a model is a list of layer
 * records that both the initialisation (PyTorch's defaults, drawn by hajime's own init helpers)
 * and the forward walk, in NCHW/OIHW as hajime lays tensors out. Batch norm is the training-mode
 * formula (batch mean, biased variance, eps 1e-5; running statistics are not kept, since the
 * benchmark never evaluates), and Adam is PyTorch's update written out. The whole training step
 * (forward, cross-entropy, `valueAndGrad`, Adam) is one `jit`, so jax-js may fuse across all of it.
 *
 * jax-js counts references: an operation consumes its array arguments, so an array used twice is
 * passed as `.ref` the first time, and `data()` disposes the array it reads.
 *
 * @module
 */

// A benchmark-only dependency, kept out of deno.json's imports (bench/ is not published).
// deno-lint-ignore no-import-prefix
import * as jax from "npm:@jax-js/jax@0.1.25";
import { biasInit, type Generator, kaimingUniform } from "../mod.ts";

/** The version imported above (jax-js exports none). */
export const JAX_VERSION = "0.1.25";

const { lax, nn, numpy: np } = jax;
type Array = jax.Array;

/** One layer of a twin; `residual` is x + body(x). */
type Layer =
  | {
    kind: "conv";
    in: number;
    out: number;
    size: number;
    stride: number;
    pad: number;
    bias: boolean;
  }
  | { kind: "batchNorm"; channels: number }
  | { kind: "linear"; in: number; out: number }
  | { kind: "relu" | "maxPool" | "flatten" | "logSoftmax" }
  | { kind: "globalPool"; op: "avg" | "max" }
  | { kind: "residual"; body: Layer[] };

const conv = (
  inChannels: number,
  out: number,
  size: number,
  opts: { stride?: number; pad?: number; bias?: boolean } = {},
): Layer => ({
  kind: "conv",
  in: inChannels,
  out,
  size,
  stride: opts.stride ?? 1,
  pad: opts.pad ?? 0,
  bias: opts.bias ?? true,
});
const linear = (inFeatures: number, out: number): Layer => ({
  kind: "linear",
  in: inFeatures,
  out,
});
const relu: Layer = { kind: "relu" };

/** The article's BnLayer: conv 3×3 (padding 1, no bias) → ReLU → BatchNorm. */
const bnLayer = (inChannels: number, out: number, stride: number): Layer[] => [
  conv(inChannels, out, 3, { stride, pad: 1, bias: false }),
  relu,
  { kind: "batchNorm", channels: out },
];

/** The BatchNorm models: 5×5 stem (padding 2, bias), `body`, global pool → Linear → log_softmax. */
const bnModel = (stem: number, body: Layer[], channels: number, pool: "avg" | "max"): Layer[] => [
  conv(3, stem, 5, { pad: 2 }),
  ...body,
  { kind: "globalPool", op: pool },
  linear(channels, 10),
  { kind: "logSoftmax" },
];

function basicCnn(): Layer[] {
  const pool: Layer = { kind: "maxPool" };
  return [
    ...[conv(3, 8, 5), relu, pool, conv(8, 16, 5), relu, pool],
    { kind: "flatten" },
    ...[linear(400, 120), relu, linear(120, 84), relu, linear(84, 10)],
  ];
}

function convBnNet(layers = [10, 20, 40, 80]): Layer[] {
  const body = layers.slice(1).flatMap((l, i) => bnLayer(layers[i], l, 2));
  return bnModel(layers[0], body, layers.at(-1)!, "avg");
}

function deepBnNet(layers = [10, 20, 40, 80, 160]): Layer[] {
  const body = layers.slice(1).flatMap((l, i) => [
    ...bnLayer(layers[i], l, 2),
    ...bnLayer(l, l, 1),
  ]);
  return bnModel(layers[0], body, layers.at(-1)!, "max");
}

function resnet(layers = [16, 32, 64, 128, 256]): Layer[] {
  const residual = (l: number): Layer => ({ kind: "residual", body: bnLayer(l, l, 1) });
  const body = layers.slice(1).flatMap((l, i) => [
    ...bnLayer(layers[i], l, 2),
    residual(l),
    residual(l),
  ]);
  return bnModel(layers[0], body, layers.at(-1)!, "max");
}

/** The twins, keyed by hajime's model registry names. */
export const JAX_MODELS: Record<string, () => Layer[]> = {
  "basic-cnn": basicCnn,
  "conv-bn-net": () => convBnNet(),
  "deep-bn-net": () => deepBnNet(),
  "resnet": () => resnet(),
};

/** A parameter's initial values and its jax-js shape. */
interface HostParam {
  data: Float32Array;
  shape: number[];
}

/** The parameters in the order `forward` consumes them, with PyTorch's default initialisation. */
function initParams(layers: Layer[], rng: Generator, out: HostParam[] = []): HostParam[] {
  for (const layer of layers) {
    if (layer.kind === "conv") {
      const shape = [layer.out, layer.in, layer.size, layer.size];
      out.push({ data: kaimingUniform(shape, rng), shape });
      if (layer.bias) out.push({ data: biasInit(shape, rng), shape: [layer.out] });
    } else if (layer.kind === "linear") {
      // PyTorch's [out, in] bounds, stored [in, out] so the forward is x·W with no transpose.
      const shape = [layer.out, layer.in];
      out.push({ data: kaimingUniform(shape, rng), shape: [layer.in, layer.out] });
      out.push({ data: biasInit(shape, rng), shape: [layer.out] });
    } else if (layer.kind === "batchNorm") {
      out.push({ data: new Float32Array(layer.channels).fill(1), shape: [layer.channels] });
      out.push({ data: new Float32Array(layer.channels), shape: [layer.channels] });
    } else if (layer.kind === "residual") {
      initParams(layer.body, rng, out);
    }
  }
  return out;
}

/** x: [N, C, H, W], weight and bias: [C] → training-mode BatchNorm2d (biased variance). */
function batchNorm(x: Array, weight: Array, bias: Array): Array {
  const axes = [0, 2, 3];
  const centered = x.ref.sub(x.mean(axes, { keepdims: true }));
  const variance = np.square(centered.ref).mean(axes, { keepdims: true });
  const scale = weight.reshape([1, -1, 1, 1]).div(np.sqrt(variance.add(1e-5)));
  return centered.mul(scale).add(bias.reshape([1, -1, 1, 1]));
}

/** x: [N, 3, 32, 32] → the last layer's output; takes each parameter from `params` in order. */
function forward(layers: Layer[], params: Iterator<Array>, x: Array): Array {
  const next = (): Array => params.next().value as Array;
  for (const layer of layers) {
    switch (layer.kind) {
      case "conv": {
        const { stride, pad } = layer;
        x = lax.convGeneralDilated(x, next(), [stride, stride], [[pad, pad], [pad, pad]]);
        if (layer.bias) x = x.add(next().reshape([1, -1, 1, 1]));
        break;
      }
      case "linear":
        x = np.matmul(x, next()).add(next());
        break;
      case "batchNorm":
        x = batchNorm(x, next(), next());
        break;
      case "relu":
        x = nn.relu(x);
        break;
      case "maxPool":
        x = lax.reduceWindow(x, (window) => window.max(), [2, 2], [2, 2]);
        break;
      case "flatten":
        x = x.reshape([x.shape[0], -1]);
        break;
      case "globalPool":
        x = layer.op === "avg" ? x.mean([2, 3]) : x.max([2, 3]);
        break;
      case "logSoftmax":
        x = nn.logSoftmax(x, -1);
        break;
      case "residual":
        x = x.ref.add(forward(layer.body, params, x));
        break;
    }
  }
  return x;
}

/** PyTorch's Adam defaults, with the benchmark's learning rate passed in. */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;

/** One training step's state: parameters and Adam's two moments, in `initParams` order. */
type State = { params: Array[]; m: Array[]; v: Array[] };

/**
 * The jitted step: cross-entropy of the model on (images, one-hot labels), its gradient, and
 * PyTorch's Adam update, p −= stepSize · m / (√v / √(1 − β₂ᵗ) + ε) with stepSize = lr / (1 − β₁ᵗ).
 */
function trainStep(layers: Layer[]) {
  const loss = (params: Array[], images: Array, oneHot: Array): Array => {
    const batch = images.shape[0];
    const logits = forward(layers, params.values(), images);
    return nn.logSoftmax(logits, -1).mul(oneHot).sum().mul(-1 / batch);
  };
  return jax.jit(
    (state: State, images: Array, oneHot: Array, stepSize: Array, rootCorrection2: Array) => {
      const [value, grads] = jax.valueAndGrad(loss)(jax.tree.ref(state.params), images, oneHot);
      const next: State = { params: [], m: [], v: [] };
      grads.forEach((g, i) => {
        const m = state.m[i].mul(BETA1).add(g.ref.mul(1 - BETA1));
        const v = state.v[i].mul(BETA2).add(g.ref.mul(g).mul(1 - BETA2));
        const denominator = np.sqrt(v.ref).div(rootCorrection2.ref).add(EPS);
        next.params.push(state.params[i].sub(m.ref.mul(stepSize.ref).div(denominator)));
        next.m.push(m);
        next.v.push(v);
      });
      stepSize.dispose();
      rootCorrection2.dispose();
      return { loss: value, state: next };
    },
  );
}

/** Starts jax-js on its WebGPU backend (its own device); returns its adapter's description. */
export async function initJax(): Promise<string> {
  if (!(await jax.init("webgpu")).includes("webgpu")) {
    throw new Error("jax-js: the webgpu backend did not start");
  }
  jax.defaultDevice("webgpu");
  const info = jax.getWebGPUDevice().adapterInfo;
  return info.description || info.device || info.vendor; // as hajime's gpuInfo() names it
}

/**
 * A jax-js training run of model `name` at `batch` on random inputs: `step` runs one jitted step
 * and returns its loss, read back (which waits for the step's GPU work).
 */
export function jaxRun(name: string, batch: number, lr: number, rng: Generator) {
  const layers = JAX_MODELS[name]();
  const host = initParams(layers, rng);
  let state: State = {
    // hajime's init helpers allocate plain (not shared) ArrayBuffers.
    params: host.map((p) => np.array(p.data as Float32Array<ArrayBuffer>, { shape: p.shape })),
    m: host.map((p) => np.zeros(p.shape)),
    v: host.map((p) => np.zeros(p.shape)),
  };
  const images = np.array(
    Float32Array.from({ length: batch * 3 * 32 * 32 }, () => rng.uniform()),
    { shape: [batch, 3, 32, 32] },
  );
  const oneHot = new Float32Array(batch * 10);
  for (let i = 0; i < batch; i++) oneHot[i * 10 + rng.int(10)] = 1;
  const labels = np.array(oneHot, { shape: [batch, 10] });
  const step = trainStep(layers);
  let t = 0;
  return {
    params: host.reduce((n, p) => n + p.data.length, 0),
    step: async (): Promise<number> => {
      t++;
      const out = step(
        state,
        images.ref,
        labels.ref,
        np.array(lr / (1 - BETA1 ** t)),
        np.array(Math.sqrt(1 - BETA2 ** t)),
      );
      state = out.state;
      return (await out.loss.data())[0];
    },
    dispose: () => {
      jax.tree.dispose([state, images, labels]);
      step.dispose();
    },
  };
}
