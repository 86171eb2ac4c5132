import jpeg from "jpeg-js";
import { Tensor } from "../mod.ts";
import { adamStep } from "../src/kernels/optim.ts";
import { basicCnn } from "../src/models/article.ts";
import { CrossEntropyLoss } from "../src/nn/loss.ts";
import { assert } from "./assert.ts";
import "./gpu.ts";

const CIFAR = new URL("../../shared/cifar10/train/", import.meta.url);
const IMAGES = 64;

/** 64 fixed training images (6 or 7 per class, classes sorted as ImageFolder does), ToTensor. */
async function loadImages(): Promise<{ x: Float32Array; labels: Int32Array }> {
  const classes = [...Deno.readDirSync(CIFAR)].filter((e) => e.isDirectory).map((e) => e.name)
    .sort();
  const x = new Float32Array(IMAGES * 3 * 32 * 32);
  const labels = new Int32Array(IMAGES);
  for (let i = 0; i < IMAGES; i++) {
    const label = i % classes.length;
    const file = `${classes[label]}/${String(Math.floor(i / classes.length)).padStart(4, "0")}.jpg`;
    const image = jpeg.decode(await Deno.readFile(new URL(file, CIFAR)), { useTArray: true });
    assert(image.width === 32 && image.height === 32, `${file} is 32×32`);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < 32 * 32; p++) {
        x[(i * 3 + c) * 1024 + p] = image.data[p * 4 + c] / 255;
      }
    }
    labels[i] = label;
  }
  return { x, labels };
}

Deno.test("BasicCNN overfits 64 CIFAR-10 images to ≥ 95 % training accuracy", async () => {
  const { x, labels } = await loadImages();
  const images = Tensor.from(x, [IMAGES, 3, 32, 32], { label: "Test.images" });
  const targets = Tensor.from(labels, [IMAGES], { dtype: "i32", label: "Test.labels" });
  const model = basicCnn({ seed: 0 });
  const lossFn = new CrossEntropyLoss();
  const moments = model.parameters().map((p) => ({
    p,
    m: Tensor.zeros(p.shape, { label: "Test.expAvg" }),
    v: Tensor.zeros(p.shape, { label: "Test.expAvgSq" }),
  }));
  let accuracy = 0;
  for (let step = 1; step <= 400 && accuracy < 0.95; step++) {
    model.zeroGrad();
    const logits = model.forward(images);
    lossFn.forward(logits, targets).backward();
    for (const { p, m, v } of moments) {
      adamStep(p.data, p.grad, m, v, {
        lr: 0.003,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0,
        step,
        decoupled: false,
      });
    }
    if (step % 25 === 0) {
      const scores = await model.forward(images).read();
      let correct = 0;
      for (let i = 0; i < IMAGES; i++) {
        const row = scores.subarray(i * 10, i * 10 + 10);
        if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
      }
      accuracy = correct / IMAGES;
    }
  }
  assert(accuracy >= 0.95, `training accuracy ${(accuracy * 100).toFixed(1)} % < 95 %`);
});
