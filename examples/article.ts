/**
 * The article's code (../shared/article/part1.ja.txt), transliterated line by line from PyTorch:
 * its six models as classes with a constructor and a `forward` only (`ResnetLayer extends
 * BnLayer`, BasicCNN's one `pool` applied twice), and its training and test loops (`zeroGrad`,
 * forward, loss, `loss.backward()`, `step`, the running loss every 500 steps, `model.eval()`, the
 * accuracy and validation-loss lines). PyTorch's `self.x = nn.Layer(...)` is
 * `x = this.register("x", new Layer(...))`, `model(x)` is `model.forward(x)`, `with
 * torch.no_grad():` is `noGrad(...)`.
 *
 * Usage: deno run -A examples/article.ts --model resnet --data ../shared/cifar10
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  Adam,
  BatchNorm2d,
  Conv2d,
  CrossEntropyLoss,
  DataLoader,
  Dropout2d,
  F,
  imageFolder,
  initGpu,
  Linear,
  MaxPool2d,
  Module,
  ModuleList,
  noGrad,
  type Tensor,
} from "../mod.ts";

/** `class VeryBasicNet(nn.Module)`. */
export class VeryBasicNet extends Module {
  fc: Linear = this.register("fc", new Linear(3 * 32 * 32, 10));

  forward(x: Tensor): Tensor {
    x = x.view(x.shape[0], -1);
    x = this.fc.forward(x);
    return x;
  }
}

/** `class BasicNet(nn.Module)`. */
export class BasicNet extends Module {
  fc1: Linear = this.register("fc1", new Linear(3 * 32 * 32, 40));
  fc2: Linear = this.register("fc2", new Linear(40, 10));

  forward(x: Tensor): Tensor {
    x = x.view(x.shape[0], -1);
    x = F.relu(this.fc1.forward(x));
    x = this.fc2.forward(x);
    return x;
  }
}

/** `class BasicCNN(nn.Module)`. */
export class BasicCNN extends Module {
  conv1: Conv2d = this.register("conv1", new Conv2d(3, 8, 5));
  conv2: Conv2d = this.register("conv2", new Conv2d(8, 16, 5));
  pool: MaxPool2d = this.register("pool", new MaxPool2d(2, 2));
  fc1: Linear = this.register("fc1", new Linear(16 * 5 * 5, 120));
  fc2: Linear = this.register("fc2", new Linear(120, 84));
  fc3: Linear = this.register("fc3", new Linear(84, 10));

  forward(x: Tensor): Tensor {
    x = this.pool.forward(F.relu(this.conv1.forward(x)));
    x = this.pool.forward(F.relu(this.conv2.forward(x)));
    x = x.view(-1, 16 * 5 * 5);
    x = F.relu(this.fc1.forward(x));
    x = F.relu(this.fc2.forward(x));
    x = this.fc3.forward(x);
    return x;
  }
}

/** `class BnLayer(nn.Module)`: `def __init__(self, in_chan, out_chan, kernel_size=3, stride=2)`. */
export class BnLayer extends Module {
  dropout: Dropout2d;
  conv: Conv2d;
  bn: BatchNorm2d;

  constructor(inChan: number, outChan: number, kernelSize = 3, stride = 2) {
    super();
    this.dropout = this.register("dropout", new Dropout2d(0.2));
    this.conv = this.register(
      "conv",
      new Conv2d(inChan, outChan, kernelSize, { stride, padding: 1, bias: false }),
    );
    this.bn = this.register("bn", new BatchNorm2d(outChan));
  }

  forward(x: Tensor): Tensor {
    return this.bn.forward(F.relu(this.conv.forward(x)));
  }
}

/** `class ConvBnNet(nn.Module)`. */
export class ConvBnNet extends Module {
  conv1: Conv2d;
  layer: ModuleList<BnLayer>;
  out: Linear;

  constructor(layers: number[], outDim: number) {
    super();
    this.conv1 = this.register("conv1", new Conv2d(3, layers[0], 5, { stride: 1, padding: 2 }));
    this.layer = this.register(
      "layer",
      new ModuleList(layers.slice(0, -1).map((l, i) => new BnLayer(l, layers[i + 1]))),
    );
    this.out = this.register("out", new Linear(layers.at(-1)!, outDim));
  }

  forward(x: Tensor): Tensor {
    x = this.conv1.forward(x);
    for (const l of this.layer) x = l.forward(x);
    x = F.adaptiveAvgPool2d(x, 1);
    x = x.view(x.shape[0], -1);
    return F.logSoftmax(this.out.forward(x), -1);
  }
}

/** `class DeepBnNet(nn.Module)`. */
export class DeepBnNet extends Module {
  conv1: Conv2d;
  layers: ModuleList<BnLayer>;
  layers2: ModuleList<BnLayer>;
  out: Linear;

  constructor(layers: number[], c: number) {
    super();
    this.conv1 = this.register("conv1", new Conv2d(3, 10, 5, { stride: 1, padding: 2 }));
    this.layers = this.register(
      "layers",
      new ModuleList(layers.slice(0, -1).map((l, i) => new BnLayer(l, layers[i + 1]))),
    );
    this.layers2 = this.register(
      "layers2",
      new ModuleList(layers.slice(1).map((l) => new BnLayer(l, l, 3, 1))),
    );
    this.out = this.register("out", new Linear(layers.at(-1)!, c));
  }

  forward(x: Tensor): Tensor {
    x = this.conv1.forward(x);
    for (let i = 0; i < this.layers.length; i++) {
      x = this.layers2.at(i).forward(this.layers.at(i).forward(x));
    }
    x = F.adaptiveMaxPool2d(x, 1);
    x = x.view(x.shape[0], -1);
    return F.logSoftmax(this.out.forward(x), -1);
  }
}

/** `class ResnetLayer(BnLayer)`: `def forward(self, x): return x + super().forward(x)`. */
export class ResnetLayer extends BnLayer {
  override forward(x: Tensor): Tensor {
    return x.add(super.forward(x));
  }
}

/** `class Resnet(nn.Module)`. */
export class Resnet extends Module {
  conv1: Conv2d;
  layers: ModuleList<BnLayer>;
  layers2: ModuleList<ResnetLayer>;
  layers3: ModuleList<ResnetLayer>;
  out: Linear;

  constructor(layers: number[], c: number) {
    super();
    this.conv1 = this.register("conv1", new Conv2d(3, 16, 5, { stride: 1, padding: 2 }));
    this.layers = this.register(
      "layers",
      new ModuleList(layers.slice(0, -1).map((l, i) => new BnLayer(l, layers[i + 1]))),
    );
    this.layers2 = this.register(
      "layers2",
      new ModuleList(layers.slice(1).map((l) => new ResnetLayer(l, l, 3, 1))),
    );
    this.layers3 = this.register(
      "layers3",
      new ModuleList(layers.slice(1).map((l) => new ResnetLayer(l, l, 3, 1))),
    );
    this.out = this.register("out", new Linear(layers.at(-1)!, c));
  }

  forward(x: Tensor): Tensor {
    x = this.conv1.forward(x);
    for (let i = 0; i < this.layers.length; i++) {
      x = this.layers3.at(i).forward(this.layers2.at(i).forward(this.layers.at(i).forward(x)));
    }
    x = F.adaptiveMaxPool2d(x, 1);
    x = x.view(x.shape[0], -1);
    return F.logSoftmax(this.out.forward(x), -1);
  }
}

/** The article's models by the names examples/train.ts uses, built as the article builds them. */
export const ARTICLE_MODELS: Readonly<Record<string, () => Module>> = {
  "very-basic-net": () => new VeryBasicNet(),
  "basic-net": () => new BasicNet(),
  "basic-cnn": () => new BasicCNN(),
  "conv-bn-net": () => new ConvBnNet([10, 20, 40, 80], 10),
  "deep-bn-net": () => new DeepBnNet([10, 20, 40, 80, 160], 10),
  "resnet": () => new Resnet([16, 32, 64, 128, 256], 10),
};

const USAGE = `Usage: deno run -A examples/article.ts [options]
  --model NAME     ${Object.keys(ARTICLE_MODELS).join(", ")} (default resnet)
  --data DIR       a folder with train/<class>/*.jpg and test/<class>/*.jpg (default ./data/cifar)
  --epochs N       nepoch (default 4)
  --max-steps N    stop each epoch after N steps (default: the whole epoch)`;

/** The article's script: data loaders, model, loss, Adam, the training loop, the test loop. */
async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string", default: "resnet" },
      data: { type: "string", default: "./data/cifar" },
      epochs: { type: "string", default: "4" },
      "max-steps": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (flags.help) return console.log(USAGE);
  const build = ARTICLE_MODELS[flags.model];
  const nepoch = Number(flags.epochs);
  const maxSteps = flags["max-steps"] === undefined ? Infinity : Number(flags["max-steps"]);
  if (!build || !Number.isInteger(nepoch) || nepoch < 1 || !(maxSteps >= 1)) {
    console.error(USAGE);
    Deno.exit(2);
  }
  await initGpu();
  const BATCH_SIZE = 32;
  const trainData = await imageFolder(`${flags.data}/train`);
  const trainLoader = new DataLoader(trainData, { batchSize: BATCH_SIZE, shuffle: true });
  const testData = await imageFolder(`${flags.data}/test`);
  const testLoader = new DataLoader(testData, { batchSize: BATCH_SIZE, shuffle: false });

  const model = build();
  const lossFunc = new CrossEntropyLoss();
  const optimizer = new Adam(model.parameters(), { lr: 0.003 });

  for (let epoch = 0; epoch < nepoch; epoch++) {
    let runningLoss = 0.0;
    let i = 0;
    for await (const { images: inputs, labels } of trainLoader) {
      optimizer.zeroGrad();
      const outputs = model.forward(inputs);
      const loss = lossFunc.forward(outputs, labels);
      loss.backward();
      optimizer.step();
      runningLoss += await loss.item();
      if (i % 500 === 499) {
        console.log(`epoch:${epoch + 1}, step:${i + 1}, loss:${(runningLoss / 500).toFixed(4)}`);
        runningLoss = 0.0;
      }
      if (++i >= maxSteps) break;
    }
  }
  console.log("Finished training");

  let correct = 0;
  let total = 0;
  model.eval();
  let testLoss = 0.0;
  await noGrad(async () => {
    for await (const { images: inputs, labels } of testLoader) {
      const outputs = model.forward(inputs);
      const loss = lossFunc.forward(outputs, labels);
      testLoss += await loss.item();
      const predicted = outputs.argmax(1);
      total += labels.shape[0];
      correct += await predicted.eq(labels).sum().item();
    }
  });
  console.log(`Accuracy on ${total} test image: ${Math.trunc(100 * correct / total)} %`);
  console.log(`Validation loss:${(testLoss / (total / BATCH_SIZE)).toFixed(4)}`);
}

if (import.meta.main) await main();
