/**
 * hajime against TensorFlow.js 4.22's WebGPU backend on the same adapter, in the same run: the
 * article's BasicCNN, ConvBnNet, DeepBnNet and Resnet (and, on request, Shake-Shake-26 2×32d)
 * trained with Adam (lr 0.003) and cross-entropy on random 32×32 inputs. Both sides build the
 * same architecture (TF.js in its native NHWC layout, with the article's conv → ReLU → BN order,
 * log_softmax heads and residual adds) and print their trainable parameter counts. Every step is
 * awaited to the end (hajime: the loss read back, which flushes the step's one submit; TF.js: the
 * loss's `data()`), so a step's time is its whole GPU time; the figure is the median images/s over
 * the timed steps after warm-up. As in `fit`, hajime's autotuner times its kernel variants after
 * the first step, outside the timing (`HAJIME_AUTOTUNE=0` measures the default variants).
 *
 * ```
 * deno run -A bench/compare.ts                      # 4 article models, batch 32 and 128
 * deno run -A bench/compare.ts --models resnet --batch 32 --steps 10 --tfjs-steps 2
 * ```
 *
 * TensorFlow.js is a benchmark-only dependency, imported here by `npm:` specifier (bench/ is not
 * published). It is very slow on a software adapter (Resnet 11–15 s a step at batch 32 on
 * llvmpipe), hence its own, smaller step counts.
 *
 * @module
 */

// A benchmark-only dependency, kept out of deno.json's imports (bench/ is not published).
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";
import { parseArgs } from "node:util";
import {
  Adam,
  autotuner,
  createModel,
  CrossEntropyLoss,
  Generator,
  gpuInfo,
  initGpu,
  modelNames,
  recordTrainStep,
  Tensor,
} from "../mod.ts";

/** A model both frameworks build, keyed by its hajime registry name: its label, its TF.js twin. */
interface Entry {
  label: string;
  build: () => tf.LayersModel;
}

/** Optional keyword arguments TF.js layers receive in `call`. */
type Kwargs = { training?: boolean };

/** log_softmax over the last axis, the head of the article's BatchNorm models. */
class LogSoftmax extends tf.layers.Layer {
  static className = "LogSoftmax";
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.logSoftmax(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}

/**
 * Shake-Shake-Image mixing of two branches: in training α·a + (1 − α)·b with a fresh α ~ U(0, 1)
 * per image, and in the backward pass an independent β per image (β·g to a, (1 − β)·g to b);
 * 0.5 each in inference.
 */
class ShakeMix extends tf.layers.Layer {
  static className = "ShakeMix";
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (inputShape as tf.Shape[])[0];
  }
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const [a, b] = inputs as tf.Tensor[];
    if (!kwargs.training) return tf.mul(tf.add(a, b), 0.5);
    const perImage = [a.shape[0], 1, 1, 1];
    const mix = tf.customGrad(
      ((x: tf.Tensor, y: tf.Tensor) => {
        const alpha = tf.randomUniform(perImage);
        return {
          value: tf.add(tf.mul(alpha, x), tf.mul(tf.sub(1, alpha), y)),
          gradFunc: (dy: tf.Tensor) => {
            const beta = tf.randomUniform(perImage);
            return [tf.mul(beta, dy), tf.mul(tf.sub(1, beta), dy)];
          },
        };
      }) as unknown as Parameters<typeof tf.customGrad>[0],
    );
    return mix(a, b);
  }
}
tf.serialization.registerClass(LogSoftmax);
tf.serialization.registerClass(ShakeMix);

type Sym = tf.SymbolicTensor;
const apply = (layer: tf.layers.Layer, x: Sym | Sym[]): Sym => layer.apply(x) as Sym;

/** Conv2d with PyTorch's padding semantics for the article's odd kernels ("same" or none). */
function conv(
  x: Sym,
  filters: number,
  kernelSize: number,
  opts: { strides?: number; same?: boolean; bias?: boolean; relu?: boolean } = {},
): Sym {
  return apply(
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides: opts.strides ?? 1,
      padding: opts.same === false ? "valid" : "same",
      useBias: opts.bias ?? false,
      activation: opts.relu ? "relu" : "linear",
    }),
    x,
  );
}

/** BatchNorm2d(eps 1e-5, PyTorch momentum 0.1) over the channels (NHWC). */
const bn = (x: Sym): Sym =>
  apply(tf.layers.batchNormalization({ axis: -1, momentum: 0.9, epsilon: 1e-5 }), x);

/** The article's BnLayer: conv 3×3 (no bias) → ReLU → BatchNorm. */
const bnLayer = (x: Sym, out: number, strides: number): Sym =>
  bn(conv(x, out, 3, { strides, relu: true }));

/** Global pooling → Linear → log_softmax, the BatchNorm models' head. */
function head(x: Sym, pool: "avg" | "max"): Sym {
  const pooled = apply(
    pool === "avg" ? tf.layers.globalAveragePooling2d({}) : tf.layers.globalMaxPooling2d({}),
    x,
  );
  return apply(new LogSoftmax({}), apply(tf.layers.dense({ units: 10 }), pooled));
}

const image = (): Sym => tf.input({ shape: [32, 32, 3] });

function basicCnn(): tf.LayersModel {
  const input = image();
  const pool = () => tf.layers.maxPooling2d({ poolSize: 2, strides: 2 });
  let x = apply(pool(), conv(input, 8, 5, { same: false, bias: true, relu: true }));
  x = apply(pool(), conv(x, 16, 5, { same: false, bias: true, relu: true }));
  x = apply(tf.layers.flatten(), x);
  x = apply(tf.layers.dense({ units: 120, activation: "relu" }), x);
  x = apply(tf.layers.dense({ units: 84, activation: "relu" }), x);
  return tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 10 }), x) });
}

function convBnNet(layers = [10, 20, 40, 80]): tf.LayersModel {
  const input = image();
  let x = conv(input, layers[0], 5, { bias: true });
  for (const l of layers.slice(1)) x = bnLayer(x, l, 2);
  return tf.model({ inputs: input, outputs: head(x, "avg") });
}

function deepBnNet(layers = [10, 20, 40, 80, 160]): tf.LayersModel {
  const input = image();
  let x = conv(input, layers[0], 5, { bias: true });
  for (const l of layers.slice(1)) x = bnLayer(bnLayer(x, l, 2), l, 1);
  return tf.model({ inputs: input, outputs: head(x, "max") });
}

function resnet(layers = [16, 32, 64, 128, 256]): tf.LayersModel {
  const input = image();
  let x = conv(input, layers[0], 5, { bias: true });
  for (const l of layers.slice(1)) {
    x = bnLayer(x, l, 2);
    for (let r = 0; r < 2; r++) x = apply(tf.layers.add(), [x, bnLayer(x, l, 1)]);
  }
  return tf.model({ inputs: input, outputs: head(x, "max") });
}

/** Shake-Shake-26 2×Kd as src/models/shake_shake.ts builds it. */
function shakeShake26(width: number): tf.LayersModel {
  const relu = (x: Sym) => apply(tf.layers.reLU(), x);
  const path = (x: Sym, out: number, strides: number) =>
    bn(conv(relu(bn(conv(x, out, 3, { strides }))), out, 3));
  // Two 1×1 flows subsampled by the stride, the second on the input shifted one pixel down-right.
  const shortcut = (x: Sym, out: number, strides: number) => {
    const shifted = apply(
      tf.layers.zeroPadding2d({ padding: [[1, 0], [1, 0]] }),
      apply(tf.layers.cropping2D({ cropping: [[0, 1], [0, 1]] }), x),
    );
    const flows = [x, shifted].map((f) => conv(f, out / 2, 1, { strides, same: false }));
    return bn(apply(tf.layers.concatenate({ axis: -1 }), flows));
  };
  const block = (x: Sym, inChannels: number, out: number, strides: number) => {
    const xr = relu(x);
    const mixed = apply(new ShakeMix({}), [path(xr, out, strides), path(xr, out, strides)]);
    const skip = inChannels !== out || strides !== 1 ? shortcut(xr, out, strides) : x;
    return apply(tf.layers.add(), [mixed, skip]);
  };
  const input = image();
  let x = bn(conv(input, 16, 3));
  let channels = 16;
  for (const [stage, out] of [width, 2 * width, 4 * width].entries()) {
    for (let i = 0; i < 4; i++) {
      x = block(x, channels, out, i === 0 && stage > 0 ? 2 : 1);
      channels = out;
    }
  }
  x = apply(tf.layers.globalAveragePooling2d({}), relu(x));
  return tf.model({ inputs: input, outputs: apply(tf.layers.dense({ units: 10 }), x) });
}

const MODELS: Record<string, Entry> = {
  "basic-cnn": { label: "BasicCNN", build: basicCnn },
  "conv-bn-net": { label: "ConvBnNet", build: () => convBnNet() },
  "deep-bn-net": { label: "DeepBnNet", build: () => deepBnNet() },
  "resnet": { label: "Resnet", build: () => resnet() },
  "shake-shake-26-2x32d": { label: "Shake-Shake-26 2×32d", build: () => shakeShake26(32) },
};
const DEFAULT_MODELS = ["basic-cnn", "conv-bn-net", "deep-bn-net", "resnet"];
const LR = 0.003;

const USAGE = `deno run -A bench/compare.ts [flags]
  --models a,b        ${Object.keys(MODELS).join(", ")}
                      (default ${DEFAULT_MODELS.join(",")})
  --batch 32,128      batch sizes (default 32,128)
  --warmup N          hajime warm-up steps (default 5)
  --steps N           hajime timed steps (default 20)
  --tfjs-warmup N     TF.js warm-up steps (default 2)
  --tfjs-steps N      TF.js timed steps (default 3)`;

/** Parses the flags; exits with the usage on a bad one. */
function flags() {
  const { values: v } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      models: { type: "string", default: DEFAULT_MODELS.join(",") },
      batch: { type: "string", default: "32,128" },
      warmup: { type: "string", default: "5" },
      steps: { type: "string", default: "20" },
      "tfjs-warmup": { type: "string", default: "2" },
      "tfjs-steps": { type: "string", default: "3" },
      help: { type: "boolean", short: "h" },
    },
  });
  const fail = (message: string): never => {
    console.error(`${message}\n${USAGE}`);
    Deno.exit(2);
  };
  if (v.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const count = (name: string, text: string, min: number): number => {
    const n = Number(text);
    return Number.isInteger(n) && n >= min ? n : fail(`--${name} must be an integer ≥ ${min}`);
  };
  const models = v.models.split(",");
  for (const m of models) {
    if (!(m in MODELS)) fail(`--models: unknown model "${m}"`);
    if (!modelNames().includes(m)) fail(`--models: hajime has no model "${m}" registered`);
  }
  return {
    models,
    batches: v.batch.split(",").map((b) => count("batch", b, 1)),
    hajime: { warmup: count("warmup", v.warmup, 0), steps: count("steps", v.steps, 1) },
    tfjs: {
      warmup: count("tfjs-warmup", v["tfjs-warmup"], 0),
      steps: count("tfjs-steps", v["tfjs-steps"], 1),
    },
  };
}

/**
 * Runs `first` (if any), `warmup` steps, then `steps` timed awaited steps; returns the median
 * images/s of the timed ones.
 */
async function measure(
  run: { step: () => Promise<void>; first?: () => Promise<void> },
  batch: number,
  counts: { warmup: number; steps: number },
): Promise<number> {
  const { step } = run;
  await run.first?.();
  for (let i = 0; i < counts.warmup; i++) await step();
  const seconds: number[] = [];
  for (let i = 0; i < counts.steps; i++) {
    const start = performance.now();
    await step();
    seconds.push((performance.now() - start) / 1000);
  }
  seconds.sort((a, b) => a - b);
  const mid = seconds.length >> 1;
  const median = seconds.length % 2 ? seconds[mid] : (seconds[mid - 1] + seconds[mid]) / 2;
  return batch / median;
}

/**
 * hajime: one recorded step (zero grads, forward, loss, backward, Adam), its loss read back. The
 * first step is followed by the autotuner's timing of the kernel shapes it met, as `fit` does
 * (nothing to time when the on-disk cache already holds this adapter's choices).
 */
function hajimeRun(name: string, batch: number, rng: Generator) {
  const model = createModel(name, { seed: 0 });
  const optimizer = new Adam(model, { lr: LR });
  const loss = new CrossEntropyLoss();
  const images = Tensor.from(
    Float32Array.from({ length: batch * 3 * 32 * 32 }, () => rng.uniform()),
    [batch, 3, 32, 32],
  );
  const labels = Tensor.from(Int32Array.from({ length: batch }, () => rng.int(10)), [batch], {
    dtype: "i32",
  });
  const step = async () => {
    await recordTrainStep(model, { images, labels }, loss, optimizer).read();
  };
  return {
    params: model.numParameters(),
    step,
    first: async () => {
      await step();
      const tuned = (await autotuner().tunePending()).filter((r) =>
        Object.keys(r.msPerCall).length
      );
      if (tuned.length) console.log(`  hajime: tuned ${tuned.length} kernel shapes (${name})`);
    },
    dispose: () => {
      model.dispose();
      images.dispose();
      labels.dispose();
    },
  };
}

/** TF.js: `optimizer.minimize` over the model's trainable weights, the loss's data awaited. */
function tfjsRun(entry: Entry, batch: number) {
  const model = entry.build();
  const optimizer = tf.train.adam(LR, 0.9, 0.999, 1e-8);
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const images = tf.randomUniform([batch, 32, 32, 3]);
  const labels = tf.oneHot(tf.randomUniform([batch], 0, 10, "int32") as tf.Tensor1D, 10);
  return {
    params: model.trainableWeights.reduce(
      (n, w) => n + w.shape.reduce((a: number, d) => a * d!, 1),
      0,
    ),
    step: async () => {
      const loss = optimizer.minimize(
        () =>
          tf.losses.softmaxCrossEntropy(
            labels,
            model.apply(images, { training: true }) as tf.Tensor,
          ) as tf.Scalar,
        true,
        weights,
      )!;
      await loss.data();
      loss.dispose();
    },
    dispose: () => {
      model.dispose();
      optimizer.dispose();
      tf.dispose([images, labels]);
    },
  };
}

const options = flags();
await initGpu();
if (!(await tf.setBackend("webgpu"))) throw new Error("TF.js: the webgpu backend did not start");
await tf.ready();
const load = () => Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
console.log(`adapter: ${gpuInfo().description} (hajime and TF.js ${tf.version.tfjs} webgpu)`);
console.log(`load average at start: ${load()}`);
console.log(
  `steps: hajime ${options.hajime.warmup} warm-up + ${options.hajime.steps} timed, ` +
    `TF.js ${options.tfjs.warmup} + ${options.tfjs.steps}; Adam lr ${LR}, cross-entropy`,
);

/** Images/s to three significant digits (TF.js falls below 1 on a software adapter). */
const rate = (v: number) => v >= 100 ? v.toFixed(0) : v.toPrecision(3);
const rows: string[][] = [];
const rng = new Generator(0);
for (const name of options.models) {
  const entry = MODELS[name];
  for (const batch of options.batches) {
    const h = hajimeRun(name, batch, rng);
    const hajime = await measure(h, batch, options.hajime);
    h.dispose();
    const t = tfjsRun(entry, batch);
    const tfjs = await measure(t, batch, options.tfjs);
    t.dispose();
    if (batch === options.batches[0]) {
      const same = h.params === t.params ? "match" : "MISMATCH";
      console.log(`${entry.label}: parameters hajime ${h.params}, TF.js ${t.params} (${same})`);
    }
    const row = [
      entry.label,
      String(batch),
      rate(hajime),
      rate(tfjs),
      `${(hajime / tfjs).toFixed(1)}×`,
    ];
    console.log(`  ${row.join("  ")}`);
    rows.push(row);
  }
}
console.log(`load average at end: ${load()}\n`);

const header = ["model", "batch", "hajime images/s", "TF.js images/s", "ratio"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(" | ")} |`;
console.log(line(header));
console.log(`|${widths.map((w, i) => "-".repeat(w + 1) + (i === 0 ? "-" : ":")).join("|")}|`);
for (const r of rows) console.log(line(r));
