/**
 * Data pipeline figures on ../shared/cifar10 (60,000 JPEGs in image folders): a cold load (decode
 * everything into a fresh cache), a warm load (from the cache), and a full epoch of shuffled,
 * augmented batch-128 tensors delivered by the DataLoader. Printed once; the `Deno.bench` cases
 * time single batches. Run: `deno bench -A bench/data_bench.ts`.
 *
 * @module
 */

import { DataLoader } from "../src/data/loader.ts";
import { imageFolder } from "../src/data/image_folder.ts";
import {
  Compose,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  ToTensor,
} from "../src/data/transforms.ts";
import { gpuInfo, initGpu } from "../mod.ts";
import { sync } from "../gpu.ts";
import process from "node:process";

const root = new URL("../../shared/cifar10/", import.meta.url).pathname;
/** The 1-minute load average: other processes on the same cores slow every figure here. */
const load = () => Deno.loadavg()[0].toFixed(2);
/** CPU seconds of this process (decoding workers included) since `from`: what load barely moves. */
const cpuSeconds = (from: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(from);
  return ((user + system) / 1e6).toFixed(2);
};
const augment = () =>
  new Compose([
    new RandomCrop(32, { padding: 4 }),
    new RandomHorizontalFlip(),
    new ToTensor(),
    new Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
  ]);

let present = false;
try {
  present = Deno.statSync(`${root}train`).isDirectory;
} catch {
  console.log(`data_bench: ${root} is missing; skipped`);
}

if (present) {
  await initGpu();
  console.log(
    `data_bench: ${gpuInfo().description}, ${navigator.hardwareConcurrency} cores, ` +
      `load average ${load()}`,
  );
  const cache = await Deno.makeTempDir({ prefix: "hajime-bench-cache-" });
  try {
    let cpu0 = process.cpuUsage();
    let t0 = performance.now();
    const coldTrain = await imageFolder(`${root}train`, { cache, progress: false });
    const coldTest = await imageFolder(`${root}test`, { cache, progress: false });
    const cold = (performance.now() - t0) / 1000;
    console.log(
      `cold load: ${coldTrain.length + coldTest.length} JPEGs decoded and cached in ` +
        `${cold.toFixed(2)} s (${
          Math.round((coldTrain.length + coldTest.length) / cold)
        } images/s, ${cpuSeconds(cpu0)} CPU-s)`,
    );
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    const train = await imageFolder(`${root}train`, { cache });
    const test = await imageFolder(`${root}test`, { cache });
    const warm = (performance.now() - t0) / 1000;
    console.log(
      `warm load: ${train.length + test.length} images from the cache in ${warm.toFixed(2)} s ` +
        `(${cpuSeconds(cpu0)} CPU-s)`,
    );

    // One epoch to warm up (pipelines, buffers), then one timed, for each pipeline.
    const epoch = async (name: string, transform: Compose) => {
      const loader = new DataLoader(train, { batchSize: 128, shuffle: true, seed: 0, transform });
      for await (const _ of loader) { /* warm-up */ }
      await sync();
      const t0 = performance.now();
      let images = 0;
      for await (const batch of loader) images += batch.labels.shape[0];
      await sync();
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `epoch (${name}): ${images} shuffled images in ${loader.length} batches of 128 in ` +
          `${seconds.toFixed(2)} s: ${Math.round(images / seconds)} images/s ` +
          `(load average ${load()})`,
      );
      loader.dispose();
    };
    await epoch("RandomCrop(32, 4) + RandomHorizontalFlip + ToTensor + Normalize", augment());
    await epoch("ToTensor only", new Compose([new ToTensor()]));

    const small = new DataLoader(train.subset(Array.from({ length: 1280 }, (_, i) => i)), {
      batchSize: 128,
      shuffle: true,
      transform: augment(),
    });
    Deno.bench("DataLoader: 10 shuffled, augmented batches of 128", async () => {
      for await (const _ of small) { /* delivered */ }
      await sync();
    });
  } finally {
    await Deno.remove(cache, { recursive: true });
  }
}
