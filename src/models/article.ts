/**
 * The six models of the article (../shared/article), layer for layer as its PyTorch code builds
 * them: the same module names (so state dicts map one to one), the same printed tree, the same
 * parameter counts, the same forward order (BnLayer is conv → ReLU → BN), the log_softmax heads,
 * and the Dropout2d that BnLayer owns but never calls (real dropout is the opt-in
 * `dropout: true`). Each forward reads as the article's: layers and the functional calls
 * (`F.relu`, pooling, `view`, `log_softmax`); the tape derives the backward.
 *
 * @module
 */

import { BatchNorm2d } from "../nn/batch_norm2d.ts";
import { ModuleList } from "../nn/containers.ts";
import { Conv2d } from "../nn/conv2d.ts";
import { Dropout2d } from "../nn/dropout.ts";
import { type InitOptions, resolveGenerator } from "../nn/init.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { MaxPool2d } from "../nn/pooling.ts";
import * as F from "../ops/functional.ts";
import type { Generator } from "../random.ts";
import { checkShape, type Tensor } from "../tensor.ts";

/**
 * Options every model factory takes.
 *
 * @example
 * ```ts
 * import type { ModelOptions } from "@hajime/nn";
 * const options: ModelOptions = { seed: 0, dropout: true };
 * console.log(options);
 * ```
 */
export interface ModelOptions extends InitOptions {
  /**
   * Apply each BnLayer's Dropout2d(p=0.2) after its BatchNorm in training mode. The article
   * creates it but never calls it, which is the default (false).
   */
  dropout?: boolean;
}

/**
 * Options of `BnLayer` and `ResnetLayer`.
 *
 * @example
 * ```ts
 * import { type BnLayerOptions, Generator } from "@hajime/nn";
 * const options: BnLayerOptions = { stride: 1, generator: new Generator(0) };
 * console.log(options.stride); // 1
 * ```
 */
export interface BnLayerOptions {
  /** Convolution kernel size (default 3; padding stays 1, as in the article). */
  kernelSize?: number;
  /** Convolution stride (default 2). */
  stride?: number;
  /** Call the Dropout2d in training mode (default false, as in the article). */
  dropout?: boolean;
  /** Draws the convolution weight and the dropout seeds. */
  generator?: Generator;
}

/**
 * The article's `BnLayer(in, out, kernel_size=3, stride=2)`: Conv2d (padding 1, no bias) → ReLU →
 * BatchNorm2d, with children `dropout`, `conv`, `bn` in the article's order.
 *
 * @example
 * ```ts
 * import { BnLayer, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const layer = new BnLayer(10, 20);
 * const y = layer.forward(Tensor.zeros([2, 10, 32, 32]));
 * console.log(y.shape); // [2, 20, 16, 16]
 * ```
 */
export class BnLayer extends Module {
  /** Dropout2d(p=0.2): only called with `dropout: true`. */
  readonly dropout: Dropout2d;
  /** The convolution, no bias. */
  readonly conv: Conv2d;
  /** The batch normalisation after the ReLU. */
  readonly bn: BatchNorm2d;
  /** Whether the forward applies `dropout`. */
  readonly useDropout: boolean;

  /** `in_chan` → `out_chan` channels. */
  constructor(inChannels: number, outChannels: number, options: BnLayerOptions = {}) {
    super();
    const { kernelSize = 3, stride = 2, dropout = false } = options;
    const generator = options.generator ?? resolveGenerator();
    this.useDropout = dropout;
    this.dropout = this.register("dropout", new Dropout2d(0.2, { generator }));
    this.conv = this.register(
      "conv",
      new Conv2d(inChannels, outChannels, kernelSize, {
        stride,
        padding: 1,
        bias: false,
        generator,
      }),
    );
    this.bn = this.register("bn", new BatchNorm2d(outChannels));
  }

  /** x: [N, in, H, W] → bn(relu(conv(x))) (then dropout when enabled). */
  forward(x: Tensor): Tensor {
    const y = this.bn.forward(F.relu(this.conv.forward(x)));
    return this.useDropout ? this.dropout.forward(y) : y;
  }
}

/**
 * The article's `ResnetLayer`: a BnLayer (stride 1 in its models) whose forward is
 * `x + BnLayer(x)`.
 *
 * @example
 * ```ts
 * import { initGpu, ResnetLayer, Tensor } from "@hajime/nn";
 * await initGpu();
 * const layer = new ResnetLayer(32, 32, { stride: 1 });
 * const y = layer.forward(Tensor.zeros([2, 32, 16, 16]));
 * console.log(y.shape); // [2, 32, 16, 16]
 * ```
 */
export class ResnetLayer extends BnLayer {
  /** x → x + bn(relu(conv(x))). */
  override forward(x: Tensor): Tensor {
    return x.add(super.forward(x));
  }
}

/** Channel widths: at least two positive integers. */
function checkLayers(owner: string, layers: readonly number[], classes: number): void {
  if (layers.length < 2 || !layers.every((l) => Number.isInteger(l) && l >= 1)) {
    throw new Error(`${owner}: layers must be ≥ 2 positive integers, got [${layers.join(", ")}]`);
  }
  if (!Number.isInteger(classes) || classes < 1) {
    throw new Error(`${owner}: classes must be an integer ≥ 1, got ${classes}`);
  }
}

function checkImages(owner: string, x: Tensor, size: number | null): void {
  checkShape(owner, "x", x, [null, 3, size, size]);
}

/**
 * The article's `VeryBasicNet`: flatten → Linear(3072, 10) (`fc`), 30,730 parameters.
 *
 * @example
 * ```ts
 * import { initGpu, veryBasicNet } from "@hajime/nn";
 * await initGpu();
 * console.log(veryBasicNet().toString());
 * ```
 */
export class VeryBasicNet extends Module {
  /** Linear(3072, 10). */
  readonly fc: Linear;

  /** Builds the model. */
  constructor(options: ModelOptions = {}) {
    super();
    this.fc = this.register(
      "fc",
      new Linear(3 * 32 * 32, 10, { generator: resolveGenerator(options) }),
    );
  }

  /** x: [N, 3, 32, 32] → logits [N, 10]. */
  forward(x: Tensor): Tensor {
    checkImages("VeryBasicNet.forward", x, 32);
    return this.fc.forward(x.view(x.shape[0], -1));
  }
}

/**
 * The article's `BasicNet`: flatten → Linear(3072, 40) → ReLU → Linear(40, 10) (`fc1`, `fc2`),
 * 123,330 parameters.
 *
 * @example
 * ```ts
 * import { basicNet, initGpu } from "@hajime/nn";
 * await initGpu();
 * console.log(basicNet().numParameters()); // 123330
 * ```
 */
export class BasicNet extends Module {
  /** Linear(3072, 40). */
  readonly fc1: Linear;
  /** Linear(40, 10). */
  readonly fc2: Linear;

  /** Builds the model. */
  constructor(options: ModelOptions = {}) {
    super();
    const generator = resolveGenerator(options);
    this.fc1 = this.register("fc1", new Linear(3 * 32 * 32, 40, { generator }));
    this.fc2 = this.register("fc2", new Linear(40, 10, { generator }));
  }

  /** x: [N, 3, 32, 32] → logits [N, 10]. */
  forward(x: Tensor): Tensor {
    checkImages("BasicNet.forward", x, 32);
    x = x.view(x.shape[0], -1);
    x = F.relu(this.fc1.forward(x));
    return this.fc2.forward(x);
  }
}

/**
 * The article's `BasicCNN`: Conv(3→8, 5) → ReLU → MaxPool 2 → Conv(8→16, 5) → ReLU → MaxPool 2
 * → flatten(400) → Linear 120 → ReLU → Linear 84 → ReLU → Linear 10; 62,958 parameters. As in
 * the article, the one `pool` module is applied twice.
 *
 * @example
 * ```ts
 * import { basicCnn, initGpu, Tensor } from "@hajime/nn";
 * await initGpu();
 * const model = basicCnn({ seed: 0 });
 * const logits = model.forward(Tensor.zeros([4, 3, 32, 32]));
 * console.log(logits.shape); // [4, 10]
 * ```
 */
export class BasicCNN extends Module {
  /** Conv2d(3, 8, 5). */
  readonly conv1: Conv2d;
  /** Conv2d(8, 16, 5). */
  readonly conv2: Conv2d;
  /** MaxPool2d(2, 2), after conv1's ReLU. */
  readonly pool: MaxPool2d;
  /** Linear(400, 120). */
  readonly fc1: Linear;
  /** Linear(120, 84). */
  readonly fc2: Linear;
  /** Linear(84, 10). */
  readonly fc3: Linear;

  /** Builds the model. */
  constructor(options: ModelOptions = {}) {
    super();
    const generator = resolveGenerator(options);
    this.conv1 = this.register("conv1", new Conv2d(3, 8, 5, { generator }));
    this.conv2 = this.register("conv2", new Conv2d(8, 16, 5, { generator }));
    this.pool = this.register("pool", new MaxPool2d(2, 2));
    this.fc1 = this.register("fc1", new Linear(16 * 5 * 5, 120, { generator }));
    this.fc2 = this.register("fc2", new Linear(120, 84, { generator }));
    this.fc3 = this.register("fc3", new Linear(84, 10, { generator }));
  }

  /** x: [N, 3, 32, 32] → logits [N, 10]. */
  forward(x: Tensor): Tensor {
    checkImages("BasicCNN.forward", x, 32);
    x = this.pool.forward(F.relu(this.conv1.forward(x)));
    x = this.pool.forward(F.relu(this.conv2.forward(x)));
    x = x.view(-1, 16 * 5 * 5);
    x = F.relu(this.fc1.forward(x));
    x = F.relu(this.fc2.forward(x));
    return this.fc3.forward(x);
  }
}

/**
 * The article's `ConvBnNet(layers, out_dim)`: Conv(3→l[0], 5×5, pad 2, bias) → BnLayer(l[i]→l[i+1],
 * stride 2) for each i (the list is named `layer`, as in the article) → adaptive avg pool 1 →
 * Linear(l[-1], classes) (`out`) → log_softmax. 39,650 parameters for [10, 20, 40, 80].
 *
 * @example
 * ```ts
 * import { convBnNet, initGpu } from "@hajime/nn";
 * await initGpu();
 * console.log(convBnNet().numParameters()); // 39650
 * ```
 */
export class ConvBnNet extends Module {
  /** Conv2d(3, l[0], 5, padding 2). */
  readonly conv1: Conv2d;
  /** BnLayer(l[i], l[i+1]) for each i. */
  readonly layer: ModuleList<BnLayer>;
  /** Linear(l[-1], classes). */
  readonly out: Linear;

  /** Builds the model for channel widths `layers` and `classes` outputs. */
  constructor(layers: readonly number[], classes: number, options: ModelOptions = {}) {
    super();
    checkLayers("ConvBnNet", layers, classes);
    const generator = resolveGenerator(options);
    const dropout = options.dropout ?? false;
    this.conv1 = this.register(
      "conv1",
      new Conv2d(3, layers[0], 5, { stride: 1, padding: 2, generator }),
    );
    this.layer = this.register(
      "layer",
      new ModuleList(
        layers.slice(0, -1).map((l, i) => new BnLayer(l, layers[i + 1], { dropout, generator })),
      ),
    );
    this.out = this.register("out", new Linear(layers.at(-1)!, classes, { generator }));
  }

  /** x: [N, 3, H, W] → log-probabilities [N, classes]. */
  forward(x: Tensor): Tensor {
    checkImages("ConvBnNet.forward", x, null);
    x = this.conv1.forward(x);
    for (const l of this.layer) x = l.forward(x);
    x = F.adaptiveAvgPool2d(x, 1);
    x = x.view(x.shape[0], -1);
    return F.logSoftmax(this.out.forward(x), -1);
  }
}

/**
 * The article's `DeepBnNet(layers, c)`: Conv(3→l[0], 5×5, pad 2) → for each i: BnLayer(l[i]→l[i+1],
 * stride 2) from `layers`, BnLayer(l[i+1]→l[i+1], stride 1) from `layers2` → adaptive max pool 1
 * → Linear (`out`) → log_softmax. 462,570 parameters for [10, 20, 40, 80, 160]. (The article
 * hard-codes conv1's 10 output channels; here it is l[0], the same for its widths.)
 *
 * @example
 * ```ts
 * import { deepBnNet, initGpu } from "@hajime/nn";
 * await initGpu();
 * console.log(deepBnNet().numParameters()); // 462570
 * ```
 */
export class DeepBnNet extends Module {
  /** Conv2d(3, l[0], 5, padding 2). */
  readonly conv1: Conv2d;
  /** BnLayer(l[i], l[i+1]), stride 2. */
  readonly layers: ModuleList<BnLayer>;
  /** BnLayer(l[i+1], l[i+1]), stride 1. */
  readonly layers2: ModuleList<BnLayer>;
  /** Linear(l[-1], classes). */
  readonly out: Linear;

  /** Builds the model for channel widths `layers` and `classes` outputs. */
  constructor(layers: readonly number[], classes: number, options: ModelOptions = {}) {
    super();
    checkLayers("DeepBnNet", layers, classes);
    const generator = resolveGenerator(options);
    const dropout = options.dropout ?? false;
    this.conv1 = this.register(
      "conv1",
      new Conv2d(3, layers[0], 5, { stride: 1, padding: 2, generator }),
    );
    const widths = layers.slice(1);
    this.layers = this.register(
      "layers",
      new ModuleList(widths.map((l, i) => new BnLayer(layers[i], l, { dropout, generator }))),
    );
    this.layers2 = this.register(
      "layers2",
      new ModuleList(widths.map((l) => new BnLayer(l, l, { stride: 1, dropout, generator }))),
    );
    this.out = this.register("out", new Linear(layers.at(-1)!, classes, { generator }));
  }

  /** x: [N, 3, H, W] → log-probabilities [N, classes]. */
  forward(x: Tensor): Tensor {
    checkImages("DeepBnNet.forward", x, null);
    x = this.conv1.forward(x);
    for (let i = 0; i < this.layers.length; i++) {
      x = this.layers2.at(i).forward(this.layers.at(i).forward(x));
    }
    x = F.adaptiveMaxPool2d(x, 1);
    x = x.view(x.shape[0], -1);
    return F.logSoftmax(this.out.forward(x), -1);
  }
}

/**
 * The article's `Resnet(layers, c)`: Conv(3→l[0], 5×5, pad 2) → for each i: BnLayer(l[i]→l[i+1],
 * stride 2) (`layers`), ResnetLayer (`layers2`), ResnetLayer (`layers3`) → adaptive max pool 1 →
 * Linear (`out`) → log_softmax. 1,965,066 parameters for [16, 32, 64, 128, 256]. (The article
 * hard-codes conv1's 16 output channels; here it is l[0], the same for its widths.)
 *
 * @example
 * ```ts
 * import { initGpu, resnet } from "@hajime/nn";
 * await initGpu();
 * const model = resnet(); // [16, 32, 64, 128, 256], 10 classes
 * console.log(model.toString());
 * ```
 */
export class Resnet extends Module {
  /** Conv2d(3, l[0], 5, padding 2). */
  readonly conv1: Conv2d;
  /** BnLayer(l[i], l[i+1]), stride 2. */
  readonly layers: ModuleList<BnLayer>;
  /** ResnetLayer(l[i+1], l[i+1]), stride 1. */
  readonly layers2: ModuleList<ResnetLayer>;
  /** ResnetLayer(l[i+1], l[i+1]), stride 1. */
  readonly layers3: ModuleList<ResnetLayer>;
  /** Linear(l[-1], classes). */
  readonly out: Linear;

  /** Builds the model for channel widths `layers` and `classes` outputs. */
  constructor(layers: readonly number[], classes: number, options: ModelOptions = {}) {
    super();
    checkLayers("Resnet", layers, classes);
    const generator = resolveGenerator(options);
    const dropout = options.dropout ?? false;
    this.conv1 = this.register(
      "conv1",
      new Conv2d(3, layers[0], 5, { stride: 1, padding: 2, generator }),
    );
    const widths = layers.slice(1);
    this.layers = this.register(
      "layers",
      new ModuleList(widths.map((l, i) => new BnLayer(layers[i], l, { dropout, generator }))),
    );
    const residuals = () =>
      new ModuleList(widths.map((l) => new ResnetLayer(l, l, { stride: 1, dropout, generator })));
    this.layers2 = this.register("layers2", residuals());
    this.layers3 = this.register("layers3", residuals());
    this.out = this.register("out", new Linear(layers.at(-1)!, classes, { generator }));
  }

  /** x: [N, 3, H, W] → log-probabilities [N, classes]. */
  forward(x: Tensor): Tensor {
    checkImages("Resnet.forward", x, null);
    x = this.conv1.forward(x);
    for (let i = 0; i < this.layers.length; i++) {
      x = this.layers3.at(i).forward(this.layers2.at(i).forward(this.layers.at(i).forward(x)));
    }
    x = F.adaptiveMaxPool2d(x, 1);
    x = x.view(x.shape[0], -1);
    return F.logSoftmax(this.out.forward(x), -1);
  }
}

/**
 * `VeryBasicNet()`: 30,730 parameters.
 *
 * @example
 * ```ts
 * import { initGpu, veryBasicNet } from "@hajime/nn";
 * await initGpu();
 * const model = veryBasicNet({ seed: 1 });
 * console.log(model.numParameters()); // 30730
 * ```
 */
export function veryBasicNet(options: ModelOptions = {}): VeryBasicNet {
  return new VeryBasicNet(options);
}

/**
 * `BasicNet()`: 123,330 parameters.
 *
 * @example
 * ```ts
 * import { basicNet, initGpu } from "@hajime/nn";
 * await initGpu();
 * const model = basicNet({ seed: 1 });
 * console.log(model.numParameters()); // 123330
 * ```
 */
export function basicNet(options: ModelOptions = {}): BasicNet {
  return new BasicNet(options);
}

/**
 * `BasicCNN()`: 62,958 parameters.
 *
 * @example
 * ```ts
 * import { basicCnn, initGpu } from "@hajime/nn";
 * await initGpu();
 * const model = basicCnn({ seed: 1 });
 * console.log(model.numParameters()); // 62958
 * ```
 */
export function basicCnn(options: ModelOptions = {}): BasicCNN {
  return new BasicCNN(options);
}

/**
 * `ConvBnNet([10, 20, 40, 80], 10)`: 39,650 parameters with the defaults.
 *
 * @example
 * ```ts
 * import { convBnNet, initGpu } from "@hajime/nn";
 * await initGpu();
 * const model = convBnNet([10, 20, 40, 80], 10, { seed: 1 });
 * console.log(model.numParameters());
 * ```
 */
export function convBnNet(
  layers: readonly number[] = [10, 20, 40, 80],
  classes = 10,
  options: ModelOptions = {},
): ConvBnNet {
  return new ConvBnNet(layers, classes, options);
}

/**
 * `DeepBnNet([10, 20, 40, 80, 160], 10)`: 462,570 parameters with the defaults.
 *
 * @example
 * ```ts
 * import { deepBnNet, initGpu } from "@hajime/nn";
 * await initGpu();
 * const model = deepBnNet([10, 20, 40, 80, 160], 10, { seed: 1 });
 * console.log(model.numParameters());
 * ```
 */
export function deepBnNet(
  layers: readonly number[] = [10, 20, 40, 80, 160],
  classes = 10,
  options: ModelOptions = {},
): DeepBnNet {
  return new DeepBnNet(layers, classes, options);
}

/**
 * `Resnet([16, 32, 64, 128, 256], 10)`: 1,965,066 parameters with the defaults.
 *
 * @example
 * ```ts
 * import { initGpu, resnet } from "@hajime/nn";
 * await initGpu();
 * const model = resnet([16, 32, 64, 128, 256], 10, { seed: 1, dropout: true });
 * console.log(model.numParameters()); // 1965066
 * ```
 */
export function resnet(
  layers: readonly number[] = [16, 32, 64, 128, 256],
  classes = 10,
  options: ModelOptions = {},
): Resnet {
  return new Resnet(layers, classes, options);
}
