/**
 * TensorFlow.js 4.22 twins of the article's BasicCNN, ConvBnNet, DeepBnNet and Resnet, and of
 * Shake-Shake-26 2×32d, for bench/compare.ts, on TF.js's WebGPU backend. They are built in TF.js's
 * native NHWC layout, with the article's conv → ReLU → BN order, log_softmax heads and residual
 * adds, and trained with TF.js's own Adam.
 *
 * @module
 */

// A benchmark-only dependency, kept out of deno.json's imports (bench/ is not published).
// deno-lint-ignore no-import-prefix
import * as tf from "npm:@tensorflow/tfjs@4.22.0";
// deno-lint-ignore no-import-prefix
import "npm:@tensorflow/tfjs-backend-webgpu@4.22.0";

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

/** The twins, keyed by hajime's model registry names. */
export const TFJS_MODELS: Record<string, () => tf.LayersModel> = {
  "basic-cnn": basicCnn,
  "conv-bn-net": () => convBnNet(),
  "deep-bn-net": () => deepBnNet(),
  "resnet": () => resnet(),
  "shake-shake-26-2x32d": () => shakeShake26(32),
};

/** Starts TF.js on its WebGPU backend; returns its version. */
export async function initTfjs(): Promise<string> {
  if (!(await tf.setBackend("webgpu"))) throw new Error("TF.js: the webgpu backend did not start");
  await tf.ready();
  return tf.version.tfjs;
}

/**
 * A TF.js training run of model `name` at `batch` on random inputs: `step` is one
 * `optimizer.minimize` over the model's trainable weights and returns the loss, its `data()`
 * awaited.
 */
export function tfjsRun(name: string, batch: number, lr: number) {
  const model = TFJS_MODELS[name]();
  const optimizer = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const images = tf.randomUniform([batch, 32, 32, 3]);
  const labels = tf.oneHot(tf.randomUniform([batch], 0, 10, "int32") as tf.Tensor1D, 10);
  return {
    params: model.trainableWeights.reduce(
      (n, w) => n + w.shape.reduce((a: number, d) => a * d!, 1),
      0,
    ),
    step: async (): Promise<number> => {
      const loss = optimizer.minimize(
        () =>
          tf.losses.softmaxCrossEntropy(
            labels,
            model.apply(images, { training: true }) as tf.Tensor,
          ) as tf.Scalar,
        true,
        weights,
      )!;
      const [value] = await loss.data();
      loss.dispose();
      return value;
    },
    dispose: () => {
      model.dispose();
      optimizer.dispose();
      tf.dispose([images, labels]);
    },
  };
}
