/**
 * DataLoader and GPU transforms: batches equal the float64 references of the image kernels applied
 * with the same random draws, seeded shuffling reproduces epochs, dropLast and length, reused
 * output tensors with flat memory, and bad options.
 *
 * @module
 */

import "./gpu.ts";
import {
  cutout,
  drawCropFlipParams,
  drawCutoutParams,
  imagesToTensor,
  randomCropFlip,
} from "../src/kernels/image.ts";
import { ImageDataset } from "../src/data/image_folder.ts";
import { DataLoader } from "../src/data/loader.ts";
import {
  Compose,
  Cutout,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  ToTensor,
  type Transform,
} from "../src/data/transforms.ts";
import { bufferPool } from "../gpu.ts";
import { Generator, Tensor } from "../mod.ts";
import {
  assert,
  assertClose,
  assertEquals,
  assertRejects,
  assertThrows,
  testSeed,
} from "./assert.ts";
import { randomPixels } from "./fixtures.ts";
import * as ref from "./reference/image.ts";

const CIFAR = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

/** n images h×w, image i labelled i (so labels tell which image came). */
function dataset(rng: Generator, n: number, h: number, w: number): ImageDataset {
  return new ImageDataset({
    images: randomPixels(rng, n * h, w),
    labels: Int32Array.from({ length: n }, (_, i) => i),
    classes: Array.from({ length: n }, (_, i) => `c${i}`),
    height: h,
    width: w,
  });
}

function gather(data: ImageDataset, indices: ArrayLike<number>): Uint8Array {
  const stride = data.height * data.width * 3;
  const out = new Uint8Array(indices.length * stride);
  for (let k = 0; k < indices.length; k++) out.set(data.image(indices[k]), k * stride);
  return out;
}

Deno.test("batches hold the images as ToTensor floats, in order, with labels", async () => {
  const data = dataset(new Generator(testSeed("loader order")), 10, 5, 7);
  const loader = new DataLoader(data, { batchSize: 4 });
  assertEquals(loader.length, 3);
  const sizes: number[] = [];
  let start = 0;
  for await (const { images, labels } of loader) {
    const n = labels.shape[0];
    sizes.push(n);
    assertEquals(images.shape, [n, 3, 5, 7]);
    const indices = Array.from({ length: n }, (_, k) => start + k);
    assertEquals(await labels.read(), Int32Array.from(indices));
    const expected = ref.imagesToTensor(gather(data, indices), [n, 5, 7, 3], [0, 0, 0], [1, 1, 1]);
    assertClose(await images.read(), expected, { atol: 1e-6, rtol: 0 });
    start += n;
  }
  assertEquals(sizes, [4, 4, 2]);
  const dropped = new DataLoader(data, { batchSize: 4, dropLast: true });
  assertEquals(dropped.length, 2);
  let count = 0;
  for await (const batch of dropped) count += batch.labels.shape[0];
  assertEquals(count, 8);
  loader.dispose();
  dropped.dispose();
});

Deno.test("shuffling: the same seed gives the same epochs, each epoch a new order", async () => {
  const data = dataset(new Generator(1), 23, 2, 2);
  const epochs = async (seed: number) => {
    const loader = new DataLoader(data, { batchSize: 5, shuffle: true, seed });
    const out: number[][] = [];
    for (let e = 0; e < 3; e++) {
      const order: number[] = [];
      for await (const { labels } of loader) order.push(...await labels.read());
      out.push(order);
    }
    loader.dispose();
    return out;
  };
  const seed = testSeed("loader shuffle");
  const a = await epochs(seed);
  const b = await epochs(seed);
  assertEquals(a, b);
  assert(a[0].join() !== a[1].join() && a[1].join() !== a[2].join(), "epochs differ");
  for (const order of a) {
    assertEquals(
      [...order].sort((x, y) => x - y),
      Array.from({ length: 23 }, (_, i) => i),
    );
  }
  // The order is the generator's permutation, so a run can be replayed from a saved state.
  assertEquals(a[0], [...new Generator(seed).permutation(23)]);
});

Deno.test("augmented batches equal the references with the same draws", async () => {
  const seed = testSeed("loader transforms");
  const data = dataset(new Generator(seed), 13, 9, 9);
  const transform = new Compose([
    new RandomCrop(9, { padding: 2 }),
    new RandomHorizontalFlip(),
    new ToTensor(),
    new Normalize(CIFAR.mean, CIFAR.std),
    new Cutout(4),
  ]);
  const loader = new DataLoader(data, { batchSize: 6, shuffle: true, seed, transform });
  const rng = new Generator(seed); // replays the loader's draws
  for (let epoch = 0; epoch < 2; epoch++) {
    const order = rng.permutation(13);
    let start = 0;
    for await (const { images, labels } of loader) {
      const n = labels.shape[0];
      const indices = order.subarray(start, start + n);
      start += n;
      const crops = drawCropFlipParams(rng, n, 2);
      const centers = drawCutoutParams(rng, n, 9, 9);
      const shape = [n, 3, 9, 9];
      let x = ref.imagesToTensor(gather(data, indices), [n, 9, 9, 3], CIFAR.mean, CIFAR.std);
      x = ref.randomCropFlip(x, shape, crops, 2);
      x = ref.cutout(x, shape, centers, 4);
      assertEquals(await labels.read(), indices);
      assertClose(await images.read(), x, { atol: 1e-5, rtol: 1e-5 });
    }
  }
  loader.dispose();
});

Deno.test("a leading crop/flip fused with ToTensor + Normalize gives the separate kernels' batch", async () => {
  const seed = testSeed("compose fused");
  const [n, h, w] = [5, 12, 8]; // width 8: the four-columns-per-thread kernel
  const pixels = randomPixels(new Generator(seed), n * h, w);
  const images = Tensor.from(pixels, [n, h, w, 3], { dtype: "u8" });
  const normalize = new Normalize(CIFAR.mean, CIFAR.std);
  const crop = (padding: number) => new RandomCrop([h, w], { padding });
  // Each pipeline with its kernel steps: a crop and/or flip (flip false: a crop alone, which
  // never flips) or a cutout; the crop/flip kernel draws its params in step order.
  type Step = { padding: number; flip: boolean } | { cutout: number };
  const pipelines: [Transform[], Step[]][] = [
    // One fused pass.
    [[crop(3), new RandomHorizontalFlip(), new ToTensor(), normalize], [{
      padding: 3,
      flip: true,
    }]],
    // A fused crop, then cutout, then a flip on its own.
    [[crop(2), new Cutout(3), new RandomHorizontalFlip(), normalize], [
      { padding: 2, flip: false },
      { cutout: 3 },
      { padding: 0, flip: true },
    ]],
    // Cutout first: nothing to fuse.
    [[new Cutout(3), new RandomHorizontalFlip(), crop(1), normalize], [
      { cutout: 3 },
      { padding: 1, flip: true },
    ]],
  ];
  for (const [transforms, steps] of pipelines) {
    const compose = new Compose(transforms);
    const actual = await compose.apply(images, new Generator(seed)).read();
    // The same draws through the unfused kernels.
    const rng = new Generator(seed);
    let x = Tensor.empty([n, 3, h, w]);
    imagesToTensor(images, x, CIFAR);
    for (const step of steps) {
      if ("cutout" in step) {
        const centers = Tensor.from(drawCutoutParams(rng, n, h, w), [n, 2], { dtype: "i32" });
        cutout(x, centers, { size: step.cutout });
        continue;
      }
      const params = drawCropFlipParams(rng, n, step.padding);
      if (!step.flip) { for (let i = 0; i < n; i++) params[i * 3 + 2] = 0; }
      const y = Tensor.empty([n, 3, h, w]);
      const crops = Tensor.from(params, [n, 3], { dtype: "i32" });
      randomCropFlip(x, y, crops, { padding: step.padding });
      x = y;
    }
    assertEquals(actual, await x.read(), compose.toString());
    compose.dispose();
  }
  images.dispose();
});

Deno.test("flip probability 0 and 1, a crop alone, and Compose's print", async () => {
  const rng = new Generator(testSeed("compose flips"));
  const pixels = randomPixels(rng, 2 * 3, 4);
  const images = Tensor.from(pixels, [2, 3, 4, 3], { dtype: "u8" });
  const plain = ref.imagesToTensor(pixels, [2, 3, 4, 3], [0, 0, 0], [1, 1, 1]);
  const shape = [2, 3, 3, 4];
  const never = new Compose([new RandomHorizontalFlip(0)]);
  assertClose(await never.apply(images, rng).read(), plain, { atol: 1e-6 });
  const always = new Compose([new RandomHorizontalFlip(1)]);
  const mirrored = ref.randomCropFlip(plain, shape, [0, 0, 1, 0, 0, 1], 0);
  assertClose(await always.apply(images, rng).read(), mirrored, { atol: 1e-6 });
  const cropOnly = new Compose([new RandomCrop([3, 4], { padding: 1 })]);
  const draw = new Generator(9);
  const crops = drawCropFlipParams(new Generator(9), 2, 1);
  crops[2] = crops[5] = 0;
  assertClose(
    await cropOnly.apply(images, draw).read(),
    ref.randomCropFlip(plain, shape, crops, 1),
    { atol: 1e-6 },
  );
  assertEquals(
    new Compose([new RandomCrop(32, { padding: 4 }), new ToTensor(), new Normalize([0.5], [0.25])])
      .toString(),
    "Compose(\n    RandomCrop(size=(32, 32), padding=4)\n    ToTensor()\n    Normalize(mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])\n)",
  );
  for (const c of [never, always, cropOnly]) c.dispose();
  images.dispose();
});

Deno.test("output tensors are reused across batches and epochs: memory stays flat", async () => {
  const data = dataset(new Generator(3), 50, 8, 8);
  const transform = new Compose([
    new RandomCrop(8, { padding: 1 }),
    new RandomHorizontalFlip(),
    new Cutout(2),
  ]);
  const loader = new DataLoader(data, { batchSize: 8, shuffle: true, transform });
  const seen = new Set<Tensor<"f32"> | Tensor<"i32">>();
  const live: number[] = [];
  for (let epoch = 0; epoch < 3; epoch++) {
    for await (const { images, labels } of loader) {
      seen.add(images);
      seen.add(labels);
    }
    const probe = Tensor.zeros([1]);
    await probe.read(); // let finished uploads return their staging buffers
    probe.dispose();
    live.push(bufferPool.stats().live);
  }
  // Full batches and the last one (2 images): one images and one labels tensor each.
  assertEquals(seen.size, 4);
  assertEquals(live[1], live[0]);
  assertEquals(live[2], live[0]);
  loader.dispose();
});

Deno.test("bad options and mismatched transforms are errors naming the argument", async () => {
  const data = dataset(new Generator(4), 5, 4, 4);
  assertThrows(() => new DataLoader(data, { batchSize: 0 }), "batchSize is 0");
  assertThrows(() => new DataLoader(data, { batchSize: 6, dropLast: true }), "leaves no batch");
  assertThrows(() => new Normalize([0.5, 0.5], [1, 1]), "Normalize: mean has 2 values");
  assertThrows(() => new Normalize([0.5], [0]), "Normalize: std is [0]");
  assertThrows(() => new RandomCrop(32, { padding: -1 }), "RandomCrop: padding is -1");
  assertThrows(() => new RandomHorizontalFlip(2), "RandomHorizontalFlip: p is 2");
  assertThrows(() => new Cutout(0), "Cutout: size is 0");
  assertThrows(() => new Compose([new ToTensor(), new ToTensor()]), "more than one ToTensor");
  const loader = new DataLoader(data, {
    batchSize: 2,
    transform: [new RandomCrop(32, { padding: 4 })],
  });
  await assertRejects(async () => {
    for await (const _ of loader) { /* the first batch fails */ }
  }, "images are 4×4");
  const twice = new DataLoader(data, { batchSize: 2 });
  await assertRejects(async () => {
    for await (const _ of twice) {
      for await (const _inner of twice) { /* a second epoch at once */ }
    }
  }, "an epoch is already running");
  loader.dispose();
  twice.dispose();
});
