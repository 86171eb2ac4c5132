/**
 * User-defined transforms in `Compose` (in the listed order among the built-in random steps,
 * in place or returning a tensor of their own, drawing from the loader's generator) and a
 * `DataLoader` over any `Dataset` object (sync or async `get`): batches equal the references and
 * the ImageDataset fast path's batches; bad items are errors naming the index.
 *
 * @module
 */

import "./gpu.ts";
import { drawCropFlipParams, drawCutoutParams } from "../src/kernels/image.ts";
import { ImageDataset } from "../src/data/image_folder.ts";
import { DataLoader } from "../src/data/loader.ts";
import {
  type BatchTransform,
  Compose,
  Cutout,
  Normalize,
  RandomCrop,
  RandomHorizontalFlip,
  ToTensor,
} from "../src/data/transforms.ts";
import { type Dataset, type DatasetItem, F, Generator, Tensor } from "../mod.ts";
import { assertClose, assertEquals, assertRejects, assertThrows, testSeed } from "./assert.ts";
import { randomPixels } from "./fixtures.ts";
import * as ref from "./reference/image.ts";

const CIFAR = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

/** Scales the batch by a factor drawn from the loader's generator, through an op. */
class RandomBrightness implements BatchTransform {
  apply(x: Tensor, rng: Generator): Tensor {
    return F.scale(x, 0.5 + rng.uniform());
  }
  toString(): string {
    return "RandomBrightness()";
  }
}

/** Negates the batch into a tensor it owns and reuses. */
class Negate implements BatchTransform {
  #out: Tensor | null = null;
  apply(x: Tensor): Tensor {
    if (this.#out?.shape.join() !== x.shape.join()) this.#out = Tensor.empty(x.shape);
    this.#out!.copyFrom(F.scale(x, -1));
    return this.#out!;
  }
  toString(): string {
    return "Negate()";
  }
}

/** n images h×w, image i labelled i % 7. */
function images(rng: Generator, n: number, h: number, w: number): ImageDataset {
  return new ImageDataset({
    images: randomPixels(rng, n * h, w),
    labels: Int32Array.from({ length: n }, (_, i) => i % 7),
    classes: Array.from({ length: 7 }, (_, i) => `c${i}`),
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

Deno.test("user transforms run in the listed order, in place or into their own tensors", async () => {
  const seed = testSeed("user transforms");
  const data = images(new Generator(seed), 11, 8, 8);
  const transform = new Compose([
    new RandomCrop(8, { padding: 2 }),
    new RandomHorizontalFlip(),
    new ToTensor(),
    new Normalize(CIFAR.mean, CIFAR.std),
    new RandomBrightness(),
    new RandomCrop(8, { padding: 1 }),
    new Negate(),
    new Cutout(3),
    new RandomHorizontalFlip(),
  ]);
  assertEquals(
    transform.toString().split("\n").map((line) => line.trim()).slice(5, 8),
    ["RandomBrightness()", "RandomCrop(size=(8, 8), padding=1)", "Negate()"],
  );
  const loader = new DataLoader(data, { batchSize: 4, shuffle: true, seed, transform });
  const rng = new Generator(seed); // replays the loader's draws
  for (let epoch = 0; epoch < 2; epoch++) {
    const order = rng.permutation(11);
    let start = 0;
    for await (const { images, labels } of loader) {
      const n = labels.shape[0];
      const indices = order.subarray(start, start + n);
      start += n;
      // The built-in steps draw first, in order; user transforms draw as they run.
      const first = drawCropFlipParams(rng, n, 2);
      const second = drawCropFlipParams(rng, n, 1);
      for (let i = 0; i < n; i++) second[i * 3 + 2] = 0; // a crop alone does not flip
      const centres = drawCutoutParams(rng, n, 8, 8);
      const flips = drawCropFlipParams(rng, n, 0);
      const factor = Math.fround(0.5 + rng.uniform());
      const shape = [n, 3, 8, 8];
      let x = ref.imagesToTensor(gather(data, indices), [n, 8, 8, 3], CIFAR.mean, CIFAR.std);
      x = ref.randomCropFlip(x, shape, first, 2);
      x = x.map((v) => v * factor);
      x = ref.randomCropFlip(x, shape, second, 1);
      x = x.map((v) => -v);
      x = ref.cutout(x, shape, centres, 3);
      x = ref.randomCropFlip(x, shape, flips, 0);
      assertClose(await images.read(), x, { atol: 1e-5, rtol: 1e-5, message: `epoch ${epoch}` });
    }
  }
  loader.dispose();
});

Deno.test("a DataLoader over any Dataset: the same batches as the ImageDataset fast path", async () => {
  const seed = testSeed("dataset interface");
  const data = images(new Generator(seed), 10, 6, 5);
  const asyncData: Dataset = {
    length: data.length,
    height: 6,
    width: 5,
    get: (i) => Promise.resolve({ image: data.image(i).slice(), label: data.labels[i] }),
  };
  const transform = () => [new RandomCrop([6, 5], { padding: 1 }), new RandomHorizontalFlip()];
  const options = { batchSize: 4, shuffle: true, seed };
  const fast = new DataLoader(data, { ...options, transform: transform() });
  const generic = new DataLoader(asyncData, { ...options, transform: transform() });
  for (let epoch = 0; epoch < 2; epoch++) {
    const expected: [Float32Array, Int32Array][] = [];
    for await (const b of fast) expected.push([await b.images.read(), await b.labels.read()]);
    let k = 0;
    for await (const { images, labels } of generic) {
      assertEquals(await labels.read(), expected[k][1], `epoch ${epoch} batch ${k}`);
      assertEquals(await images.read(), expected[k][0], `epoch ${epoch} batch ${k}`);
      k++;
    }
    assertEquals(k, 3);
  }
  fast.dispose();
  generic.dispose();
});

Deno.test("a Dataset's bad items and properties are errors naming them", async () => {
  const good = (i: number): DatasetItem => ({ image: new Uint8Array(2 * 3 * 3), label: i });
  const make = (get: (i: number) => DatasetItem): Dataset => ({
    length: 3,
    height: 2,
    width: 3,
    get,
  });
  const cases: [Dataset, string][] = [
    [
      make((i) => i === 2 ? { image: new Uint8Array(5), label: 0 } : good(i)),
      "dataset.get(2) gave an image of 5 bytes, expected a Uint8Array of 2·3·3 = 18",
    ],
    [
      make((i) => ({ ...good(i), label: -1 })),
      "dataset.get(0) gave label -1, expected a class index",
    ],
    [make((i) => ({ ...good(i), label: 1.5 })), "gave label 1.5"],
    [
      make(() => ({ image: [1, 2] as unknown as Uint8Array, label: 0 })),
      "gave an image of 2 bytes",
    ],
  ];
  for (const [dataset, message] of cases) {
    const loader = new DataLoader(dataset, { batchSize: 3 });
    await assertRejects(async () => {
      for await (const _ of loader) { /* the first batch fails */ }
    }, message);
    loader.dispose();
  }
  const noGet = { length: 3, height: 2, width: 3 } as unknown as Dataset;
  assertThrows(() => new DataLoader(noGet), "DataLoader: the dataset has no get(index) method");
  assertThrows(
    () => new DataLoader({ ...make(good), width: 0 }),
    "DataLoader: the dataset's width is 0, expected an integer",
  );
  assertThrows(() => new DataLoader({ ...make(good), length: 0 }), "the dataset is empty");
  const bad = { apply: () => "not a tensor", toString: () => "Bad()" } as unknown as BatchTransform;
  const loader = new DataLoader(make(good), { transform: [new ToTensor(), bad] });
  await assertRejects(async () => {
    for await (const _ of loader) { /* fails */ }
  }, "Compose.apply: Bad().apply returned not a tensor, expected a Tensor");
  const nested = new Compose([]) as unknown as BatchTransform;
  assertThrows(() => new Compose([nested]), "a Compose inside a Compose");
  assertThrows(
    () => new Compose([{ toString: () => "Blur()" } as unknown as BatchTransform]),
    "Compose: Blur() is not a transform hajime runs on the GPU",
  );
});
