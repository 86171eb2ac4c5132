/**
 * Pooling, loss and optimizer kernels at the article's shapes, batch 32: BasicCNN's 2×2 max pool,
 * the Resnet head's adaptive max and average pools, log_softmax + cross-entropy on 10 classes,
 * and Adam and SGD updates over a parameter the size of the Resnet's largest (256×128×3×3).
 * Prints GB/s of the memory traffic (4 bytes per element read or written).
 *
 * @module
 */

import {
  adamStep,
  adaptiveAvgPool1Backward,
  adaptiveAvgPool1Forward,
  adaptiveMaxPool1Backward,
  adaptiveMaxPool1Forward,
  crossEntropy,
  maxPool2dBackward,
  maxPool2dForward,
  sgdStep,
  sync,
} from "../gpu.ts";
import { Generator, gpuInfo, initGpu, Tensor } from "../mod.ts";
import { timeCalls } from "./timing.ts";

await initGpu();
const rng = new Generator(0);
function random(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from(Float32Array.from({ length: n }, () => rng.uniformRange(-1, 1)), shape);
}
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

const pooled = [32, 8, 14, 14];
const poolIn = random([32, 8, 28, 28]);
const poolOut = Tensor.empty(pooled);
const poolArg = Tensor.empty<"i32">(pooled, { dtype: "i32" });
const poolDx = Tensor.empty([32, 8, 28, 28]);
const poolDy = random(pooled);
const head = random([32, 256, 2, 2]);
const headY = Tensor.empty([32, 256]);
const headArg = Tensor.empty<"i32">([32, 256], { dtype: "i32" });
const headDy = random([32, 256]);
const headDx = Tensor.empty([32, 256, 2, 2]);
const logits = random([32, 10]);
const labels = Tensor.from(Array.from({ length: 32 }, (_, i) => i % 10), [32], { dtype: "i32" });
const loss = Tensor.empty([1]);
const dLogits = Tensor.empty([32, 10]);
const paramShape = [256, 128, 3, 3];
const param = random(paramShape);
const grad = random(paramShape);
const m = Tensor.zeros(paramShape);
const v = Tensor.zeros(paramShape);
const momentum = Tensor.zeros(paramShape);
const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false };
const sgd = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-4 };

const cases: [string, () => void, number][] = [
  ["maxPool2dForward [32, 8, 28, 28]", () =>
    maxPool2dForward(poolIn, poolOut, poolArg, {
      kernel: 2,
      stride: 2,
    }), 4 * (size([32, 8, 28, 28]) + 2 * size(pooled))],
  [
    "maxPool2dBackward [32, 8, 14, 14]",
    () => maxPool2dBackward(poolDy, poolArg, poolDx),
    4 *
    (2 * size(pooled) + size([32, 8, 28, 28])),
  ],
  [
    "adaptiveMaxPool1Forward [32, 256, 2, 2]",
    () => adaptiveMaxPool1Forward(head, headY, headArg),
    4 *
    (size([32, 256, 2, 2]) + 2 * size([32, 256])),
  ],
  [
    "adaptiveMaxPool1Backward [32, 256]",
    () => adaptiveMaxPool1Backward(headDy, headArg, headDx),
    4 *
    (2 * size([32, 256]) + size([32, 256, 2, 2])),
  ],
  [
    "adaptiveAvgPool1Forward [32, 256, 2, 2]",
    () => adaptiveAvgPool1Forward(head, headY),
    4 *
    (size([32, 256, 2, 2]) + size([32, 256])),
  ],
  [
    "adaptiveAvgPool1Backward [32, 256]",
    () => adaptiveAvgPool1Backward(headDy, headDx),
    4 *
    (size([32, 256]) + size([32, 256, 2, 2])),
  ],
  [
    "crossEntropy forward+backward [32, 10]",
    () => crossEntropy(logits, labels, loss, dLogits),
    4 *
    (2 * size([32, 10]) + 33),
  ],
  [
    "adamStep [256, 128, 3, 3]",
    () => adamStep(param, grad, m, v, { ...adam, step: 1 }),
    4 * 7 *
    size(paramShape),
  ],
  [
    "sgdStep nesterov [256, 128, 3, 3]",
    () => sgdStep(param, grad, momentum, { ...sgd, firstStep: false }),
    4 * 5 * size(paramShape),
  ],
];

console.log(`adapter: ${gpuInfo().description}`);
const ITERATIONS = 20;
for (const [label, run, bytes] of cases) {
  const [best, median] = await timeCalls(run, ITERATIONS, 5);
  console.log(
    `${label}: ${(bytes / best / 1e9).toFixed(2)} GB/s best, ${
      (bytes / median / 1e9).toFixed(2)
    } GB/s median (${(median * 1e3).toFixed(3)} ms)`,
  );
  Deno.bench(label, { n: 3, warmup: 1 }, async () => {
    for (let i = 0; i < ITERATIONS; i++) run();
    await sync();
  });
}
