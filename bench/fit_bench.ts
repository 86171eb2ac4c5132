/**
 * Training images/s through `fit`, the whole loop a user runs: the DataLoader (gather, upload,
 * crop, flip, normalise on the GPU), the step, the trainer's loss ring and log reads, and the one
 * throttle that keeps the GPU fed (src/gpu/step.ts `endStep`). Synthetic CIFAR-sized data in
 * memory, so decoding and disk stay out of it. Prints one line per model and batch: the median
 * images/s of `--epochs` timed epochs, after one untimed epoch (pipelines, autotuning).
 *
 * ```
 * deno run -A bench/fit_bench.ts                                  # very-basic-net, basic-cnn
 * deno run -A bench/fit_bench.ts --models resnet --batch 32 --images 640 --epochs 2
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Adam, createModel, fit, gpuInfo, initGpu } from "../mod.ts";
import { ImageDataset } from "../src/data/dataset.ts";
import { DataLoader } from "../src/data/loader.ts";
import {
  Compose,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  ToTensor,
} from "../src/data/transforms.ts";
import { Generator } from "../src/random.ts";

const { values } = parseArgs({
  args: Deno.args,
  strict: true,
  options: {
    models: { type: "string", default: "very-basic-net,basic-cnn" },
    batch: { type: "string", default: "128" },
    images: { type: "string", default: "6400" },
    epochs: { type: "string", default: "3" },
  },
});
const models = values.models.split(",");
const batches = values.batch.split(",").map(Number);
const count = Number(values.images);
const epochs = Number(values.epochs);

await initGpu();
const rng = new Generator(0);
const dataset = new ImageDataset({
  images: Uint8Array.from({ length: count * 32 * 32 * 3 }, () => rng.int(256)),
  labels: Int32Array.from({ length: count }, () => rng.int(10)),
  classes: Array.from({ length: 10 }, (_, k) => `class${k}`),
  height: 32,
  width: 32,
});
const transform = new Compose([
  new RandomCrop(32, { padding: 4 }),
  new RandomHorizontalFlip(),
  new ToTensor(),
  new Normalize([0.49, 0.48, 0.45], [0.25, 0.24, 0.26]),
]);
console.log(
  `${gpuInfo().description}; ${count} images per epoch, ${epochs} timed epochs after one; ` +
    `load average ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`,
);
for (const name of models) {
  for (const batchSize of batches) {
    const model = createModel(name, { seed: 0 });
    const optimizer = new Adam(model, { lr: 0.001 });
    const loader = new DataLoader(dataset, { batchSize, shuffle: true, transform, seed: 0 });
    const perEpoch: number[] = [];
    let last = performance.now();
    await fit(model, loader, {
      optimizer,
      epochs: epochs + 1,
      log: null,
      onEpochEnd: () => {
        const now = performance.now();
        perEpoch.push(count / ((now - last) / 1000));
        last = now;
      },
    });
    const timed = perEpoch.slice(1).sort((a, b) => a - b);
    const median = timed[Math.floor(timed.length / 2)];
    console.log(`  ${name}  batch ${batchSize}  ${median.toFixed(0)} images/s (fit)`);
    model.dispose();
  }
}
