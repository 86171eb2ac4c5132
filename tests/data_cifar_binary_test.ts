/**
 * The official CIFAR-10 / CIFAR-100 binary formats on files the tests write: CHW records become
 * HWC images with the right labels and class names; wrong sizes, labels out of range and missing
 * files are errors naming the file.
 *
 * @module
 */

import { cifar10, cifar100, parseCifarBatch } from "../src/data/cifar_binary.ts";
import { Generator } from "../mod.ts";
import { assertEquals, assertRejects, assertThrows, testSeed } from "./assert.ts";
import { cifarRecords, randomPixels, writeTree } from "./fixtures.ts";

const encoder = new TextEncoder();

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "hajime-cifar-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseCifarBatch turns CHW records into HWC images", () => {
  const rng = new Generator(testSeed("parseCifarBatch"));
  const pixels = [randomPixels(rng, 32, 32), randomPixels(rng, 32, 32)];
  const bytes = cifarRecords([[3], [9]], pixels);
  const { images, labels } = parseCifarBatch(bytes, {
    file: "x.bin",
    labelBytes: 1,
    labelAt: 0,
    classes: 10,
  });
  assertEquals(labels, new Int32Array([3, 9]));
  assertEquals(images.subarray(3072), pixels[1]);
  // Spot check the layout by hand: pixel (row 1, column 2), green, of the first image.
  assertEquals(images[(1 * 32 + 2) * 3 + 1], bytes[1 + 1024 + 1 * 32 + 2]);
});

Deno.test("parseCifarBatch rejects wrong sizes and labels out of range, naming the file", () => {
  const opts = { file: "/d/data_batch_1.bin", labelBytes: 1, labelAt: 0, classes: 10 };
  assertThrows(
    () => parseCifarBatch(new Uint8Array(3073 * 2 - 5), opts),
    "/d/data_batch_1.bin: 6141 bytes is not a whole number of 3073-byte records",
  );
  assertThrows(() => parseCifarBatch(new Uint8Array(0), opts), "/d/data_batch_1.bin: 0 bytes");
  const bytes = cifarRecords([[1], [10]], [new Uint8Array(3072), new Uint8Array(3072)]);
  assertThrows(
    () => parseCifarBatch(bytes, opts),
    "/d/data_batch_1.bin: record 1 has label 10, outside [0, 10)",
  );
});

Deno.test("cifar10 reads a batch folder, or the folder itself", () =>
  withTemp(async (root) => {
    const rng = new Generator(testSeed("cifar10 folder"));
    const files: Record<string, Uint8Array> = {};
    const expected: number[] = [];
    const images: Uint8Array[] = [];
    for (let i = 1; i <= 5; i++) {
      const labels = [rng.int(10), rng.int(10)];
      const pixels = labels.map(() => randomPixels(rng, 32, 32));
      expected.push(...labels);
      images.push(...pixels);
      files[`cifar-10-batches-bin/data_batch_${i}.bin`] = cifarRecords(
        labels.map((l) => [l]),
        pixels,
      );
    }
    files["cifar-10-batches-bin/test_batch.bin"] = cifarRecords([[4]], [randomPixels(rng, 32, 32)]);
    files["cifar-10-batches-bin/batches.meta.txt"] = encoder.encode(
      "airplane\r\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n",
    );
    await writeTree(root, files);
    const train = await cifar10({ root });
    assertEquals(train.labels, Int32Array.from(expected));
    assertEquals([train.length, train.height, train.width, train.classes[0], train.classes[9]], [
      10,
      32,
      32,
      "airplane",
      "truck",
    ]);
    assertEquals(train.image(9), images[9]);
    assertEquals(train.image(2), images[2]);
    const test = await cifar10({ root: `${root}/cifar-10-batches-bin`, train: false });
    assertEquals(test.labels, new Int32Array([4]));
  }));

Deno.test("cifar10 errors name what is missing or broken", () =>
  withTemp(async (root) => {
    await assertRejects(() => cifar10({ root }), "pass download: true");
    await writeTree(root, {
      "cifar-10-batches-bin/data_batch_1.bin": new Uint8Array(3073),
      "cifar-10-batches-bin/batches.meta.txt": encoder.encode("a\nb\n"),
    });
    await assertRejects(() => cifar10({ root }), "data_batch_2.bin is missing");
    await writeTree(root, {
      "cifar-10-batches-bin/test_batch.bin": cifarRecords([[2]], [new Uint8Array(3072)]),
    });
    await assertRejects(
      () => cifar10({ root, train: false }),
      "test_batch.bin: record 0 has label 2, outside [0, 2)",
    );
    await writeTree(root, { "cifar-10-batches-bin/test_batch.bin": new Uint8Array(5000) });
    await assertRejects(
      () => cifar10({ root, train: false }),
      "test_batch.bin: 5000 bytes is not a whole number of 3073-byte records",
    );
  }));

Deno.test("cifar100 reads fine or coarse labels", () =>
  withTemp(async (root) => {
    const rng = new Generator(testSeed("cifar100"));
    const labels = [[3, 77], [19, 5], [0, 99]];
    const pixels = labels.map(() => randomPixels(rng, 32, 32));
    const fine = Array.from({ length: 100 }, (_, i) => `fine${i}`).join("\n");
    const coarse = Array.from({ length: 20 }, (_, i) => `coarse${i}`).join("\n");
    await writeTree(root, {
      "cifar-100-binary/train.bin": cifarRecords(labels, pixels),
      "cifar-100-binary/test.bin": cifarRecords([[1, 2]], [pixels[0]]),
      "cifar-100-binary/fine_label_names.txt": encoder.encode(fine),
      "cifar-100-binary/coarse_label_names.txt": encoder.encode(coarse),
    });
    const train = await cifar100({ root });
    assertEquals(train.labels, new Int32Array([77, 5, 99]));
    assertEquals([train.classes.length, train.classes[77]], [100, "fine77"]);
    assertEquals(train.image(1), pixels[1]);
    const coarseTest = await cifar100({ root, train: false, labels: "coarse" });
    assertEquals(coarseTest.labels, new Int32Array([1]));
    assertEquals(coarseTest.classes.length, 20);
  }));
