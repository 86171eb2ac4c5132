/**
 * Image kernels against the float64 references (copies bit-exact, normalisation within 1e-6),
 * the fused augment kernel against the two kernels it replaces (bit for bit), and the CPU
 * parameter draws.
 *
 * @module
 */

import {
  augmentImages,
  cutout,
  drawCropFlipParams,
  drawCutoutParams,
  imagesToTensor,
  randomCropFlip,
} from "../src/kernels/image.ts";
import { Generator, Tensor } from "../mod.ts";
import {
  assert,
  assertClose,
  assertEquals,
  assertThrows,
  randomArray,
  testSeed,
} from "./assert.ts";
import { upload } from "./gpu.ts";
import * as ref from "./reference/image.ts";

const CIFAR = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

function i32(values: ArrayLike<number>, shape: number[]): Tensor<"i32"> {
  return Tensor.from(values, shape, { dtype: "i32", label: "Test.params" });
}

Deno.test("imagesToTensor matches ToTensor + Normalize", async () => {
  const rng = new Generator(testSeed("imagesToTensor"));
  const cases: [number[], number[], number[]][] = [
    [[1, 1, 1, 1], [0], [1]],
    [[3, 5, 7, 3], [0, 0, 0], [1, 1, 1]], // 315 bytes: the last word is partly used
    [[5, 32, 32, 3], CIFAR.mean, CIFAR.std],
    [[2, 9, 11, 4], [0.1, 0.2, 0.3, 0.4], [0.5, 2, -1, 0.25]],
    [[2, 6, 5, 1], [0.5], [0.5]],
  ];
  for (const [shape, mean, std] of cases) {
    const [n, h, w, c] = shape;
    const bytes = Uint8Array.from({ length: n * h * w * c }, () => rng.int(256));
    bytes[0] = 0;
    bytes[bytes.length - 1] = 255;
    const y = Tensor.empty([n, c, h, w]);
    imagesToTensor(Tensor.from(bytes, shape, { dtype: "u8" }), y, { mean, std });
    assertClose(await y.read(), ref.imagesToTensor(bytes, shape, mean, std), {
      atol: 1e-6,
      rtol: 1e-6,
      message: `[${shape}]`,
    });
  }
});

Deno.test("randomCropFlip matches the reference bit for bit, borders and flips included", async () => {
  const rng = new Generator(testSeed("randomCropFlip"));
  const cases: [number[], number, number[] | null][] = [
    [[1, 1, 1, 1], 0, [0, 0, 1]],
    [[1, 1, 1, 1], 2, [2, 2, 0]],
    // Every corner of the padded image, flipped and not, and the identity crop.
    [[6, 3, 32, 32], 4, [0, 0, 0, 8, 8, 1, 0, 8, 1, 8, 0, 0, 4, 4, 0, 4, 4, 1]],
    [[9, 3, 32, 32], 4, null],
    [[7, 2, 5, 9], 3, null],
    [[3, 1, 4, 3], 6, null], // padding larger than the image
  ];
  for (const [shape, padding, fixed] of cases) {
    const [n, c, h, w] = shape;
    const x = Float32Array.from(randomArray(rng, n * c * h * w));
    const crops = fixed ?? drawCropFlipParams(rng, n, padding);
    const y = Tensor.empty(shape);
    randomCropFlip(upload(x, shape), y, i32(crops, [n, 3]), { padding });
    const expected = Float32Array.from(ref.randomCropFlip(x, shape, crops, padding));
    assertEquals(await y.read(), expected, `[${shape}] padding ${padding}`);
  }
  // Identity crop without flip copies; offsets out of range read zeros instead of faulting.
  const x = Float32Array.from(randomArray(rng, 2 * 3 * 4));
  const y = Tensor.empty([2, 1, 3, 4]);
  randomCropFlip(upload(x, [2, 1, 3, 4]), y, i32([1, 1, 0, 1000, -7, 1], [2, 3]), { padding: 1 });
  assertEquals(await y.read(), Float32Array.from([...x.slice(0, 12), ...new Array(12).fill(0)]));
});

/** One offset of each image far out, the other in range: the image reads only zeros. */
const FAR_OUT = [1000, 1, 0, 1, -7, 1, -(2 ** 31), 1, 0, 1, 2 ** 31 - 1, 1];

Deno.test("augmentImages equals imagesToTensor then randomCropFlip bit for bit", async () => {
  const rng = new Generator(testSeed("augmentImages"));
  const cases: [number[], number, number[] | null][] = [
    // Four columns per thread (C = 3, W % 4 = 0): image 0's column quads straddle the left border
    // of the batch's first pixel (a span that starts before byte 0, flipped in image 1), then
    // every corner of the padded image, flipped and not, and the identity crop.
    [[7, 32, 32, 3], 4, [4, 1, 0, 5, 3, 1, 0, 0, 1, 0, 8, 0, 8, 0, 1, 8, 8, 0, 4, 4, 0]],
    [[7, 9, 12, 3], 3, null], // 9 rows: a workgroup of 8 rows and a partial one
    [[130, 5, 4, 3], 2, null], // one column quad per row
    [[4, 4, 8, 3], 1, FAR_OUT], // offsets far outside [0, 2·padding] read zeros
    // Any other shape: one pixel per step.
    [[5, 7, 11, 3], 2, null],
    [[3, 5, 6, 1], 6, null], // padding larger than the image
    [[2, 3, 8, 4], 1, null],
    [[4, 3, 5, 2], 1, FAR_OUT],
    [[1, 1, 1, 1], 0, [0, 0, 1]],
  ];
  for (const [shape, padding, fixed] of cases) {
    const [n, h, w, c] = shape;
    const mean = c === 3 ? CIFAR.mean : Array.from({ length: c }, () => rng.uniform());
    const std = c === 3 ? CIFAR.std : Array.from({ length: c }, () => 0.2 + rng.uniform());
    const bytes = Uint8Array.from({ length: n * h * w * c }, () => rng.int(256));
    bytes[0] = 0;
    bytes[bytes.length - 1] = 255;
    const crops = fixed ?? drawCropFlipParams(rng, n, padding);
    const images = Tensor.from(bytes, shape, { dtype: "u8" });
    const cropParams = i32(crops, [n, 3]);
    const y = Tensor.empty([n, c, h, w]);
    augmentImages(images, y, cropParams, { mean, std, padding });
    const x = Tensor.empty([n, c, h, w]);
    const twoPass = Tensor.empty([n, c, h, w]);
    imagesToTensor(images, x, { mean, std });
    randomCropFlip(x, twoPass, cropParams, { padding });
    const actual = await y.read();
    const message = `[${shape}] padding ${padding}`;
    assertEquals(actual, await twoPass.read(), message);
    const expected = ref.augmentImages(bytes, shape, crops, padding, mean, std);
    assertClose(actual, expected, { atol: 1e-6, rtol: 1e-6, message });
    const nchw = [n, c, h, w];
    const composed = ref.randomCropFlip(
      ref.imagesToTensor(bytes, shape, mean, std),
      nchw,
      crops,
      padding,
    );
    assertEquals(expected, composed, `reference ${message}`);
    // Without crop params it is imagesToTensor.
    augmentImages(images, y, null, { mean, std, padding });
    assertEquals(await y.read(), await x.read(), `no crop ${message}`);
    for (const t of [images, cropParams, y, x, twoPass]) t.dispose();
  }
});

Deno.test("cutout zeroes a clipped square in place", async () => {
  const rng = new Generator(testSeed("cutout"));
  const cases: [number[], number, number[] | null][] = [
    // Corners, centre and edges of a CIFAR image with the paper's size 16.
    [[5, 3, 32, 32], 16, [0, 0, 31, 31, 16, 16, 0, 20, 31, 3]],
    [[8, 3, 32, 32], 16, null],
    [[3, 2, 7, 9], 5, null], // odd size keeps a full 5×5 square
    [[2, 1, 3, 3], 8, [1, 1, 0, 2]], // square larger than the image
    [[1, 1, 1, 1], 1, [0, 0]],
  ];
  for (const [shape, size, fixed] of cases) {
    const [n, c, h, w] = shape;
    const x = Float32Array.from(randomArray(rng, n * c * h * w, 0.5, 1));
    const centers = fixed ?? drawCutoutParams(rng, n, h, w);
    const t = upload(x, shape);
    cutout(t, i32(centers, [n, 2]), { size });
    const expected = Float32Array.from(ref.cutout(x, shape, centers, size));
    assertEquals(await t.read(), expected, `[${shape}] size ${size}`);
  }
  // Size 0 and centres far outside leave the image alone.
  const x = Float32Array.from([1, 2, 3, 4]);
  const t = upload(x, [1, 1, 2, 2]);
  cutout(t, i32([0, 0], [1, 2]), { size: 0 });
  cutout(t, i32([-100, 2 ** 31 - 1], [1, 2]), { size: 4 });
  assertEquals(await t.read(), x);
  // A 16-square at the centre of a 32×32 image removes 256 pixels per channel.
  const ones = Tensor.full([1, 3, 32, 32], 1);
  cutout(ones, i32([16, 16], [1, 2]), { size: 16 });
  assertEquals((await ones.read()).reduce((s, v) => s + v, 0), 3 * (1024 - 256));
});

Deno.test("parameter draws cover their ranges and follow the seed", () => {
  const crops = drawCropFlipParams(new Generator(5), 4000, 4);
  assertEquals(crops.length, 12000);
  const seen = new Set<number>();
  let flips = 0;
  for (let i = 0; i < 4000; i++) {
    for (const o of [crops[i * 3], crops[i * 3 + 1]]) {
      assert(o >= 0 && o <= 8, `offset ${o} in [0, 8]`);
      seen.add(o);
    }
    assert(crops[i * 3 + 2] === 0 || crops[i * 3 + 2] === 1, "flip is 0 or 1");
    flips += crops[i * 3 + 2];
  }
  assertEquals(seen.size, 9);
  assert(Math.abs(flips / 4000 - 0.5) < 0.05, `flip rate ${flips / 4000}`);
  assertEquals(drawCropFlipParams(new Generator(5), 4000, 4), crops);
  assertEquals(drawCropFlipParams(new Generator(1), 3, 0).filter((_, i) => i % 3 !== 2), [
    0,
    0,
    0,
    0,
    0,
    0,
  ]);

  const centers = drawCutoutParams(new Generator(6), 3000, 7, 32);
  const ys = new Set<number>();
  const xs = new Set<number>();
  for (let i = 0; i < 3000; i++) {
    ys.add(centers[i * 2]);
    xs.add(centers[i * 2 + 1]);
  }
  assertEquals([Math.min(...ys), Math.max(...ys), ys.size], [0, 6, 7]);
  assertEquals([Math.min(...xs), Math.max(...xs), xs.size], [0, 31, 32]);
  assertEquals(drawCutoutParams(new Generator(6), 3000, 7, 32), centers);
});

Deno.test("image kernels reject bad inputs naming the argument", () => {
  const images = Tensor.zeros([2, 4, 4, 3], { dtype: "u8" });
  const y = Tensor.zeros([2, 3, 4, 4]);
  const norm = { mean: [0, 0, 0], std: [1, 1, 1] };
  assertThrows(
    () => imagesToTensor(Tensor.zeros([2, 4, 4, 3]) as unknown as Tensor<"u8">, y, norm),
    "Image.imagesToTensor: images has dtype f32",
  );
  assertThrows(
    () => imagesToTensor(images, Tensor.zeros([2, 4, 4, 3]), norm),
    "y has shape [2, 4, 4, 3]",
  );
  assertThrows(
    () =>
      imagesToTensor(Tensor.zeros([1, 2, 2, 5], { dtype: "u8" }), Tensor.zeros([1, 5, 2, 2]), norm),
    "images has 5 channels",
  );
  assertThrows(() => imagesToTensor(images, y, { ...norm, mean: [0, 0] }), "mean is [0, 0]");
  assertThrows(() => imagesToTensor(images, y, { ...norm, std: [1, 0, 1] }), "std is [1, 0, 1]");
  const crops = i32([0, 0, 0, 0, 0, 0], [2, 3]);
  const aug = { ...norm, padding: 4 };
  assertThrows(
    () => augmentImages(images, y, i32([0, 0, 0], [1, 3]), aug),
    "Image.augmentImages: cropParams has shape [1, 3]",
  );
  assertThrows(() => augmentImages(images, y, crops, { ...aug, padding: -1 }), "padding is -1");
  assertThrows(() => augmentImages(images, y, crops, { ...aug, padding: 2 ** 25 }), "padding is");
  assertThrows(() => augmentImages(images, y, null, { ...aug, mean: [0] }), "mean is [0]");
  assertThrows(
    () => augmentImages(images, Tensor.zeros([2, 3, 4, 5]), crops, aug),
    "Image.augmentImages: y has shape [2, 3, 4, 5]",
  );
  assertThrows(
    () => augmentImages(Tensor.zeros([2, 4, 4, 3]) as unknown as Tensor<"u8">, y, crops, aug),
    "Image.augmentImages: images has dtype f32",
  );
  assertThrows(
    () => randomCropFlip(y, Tensor.zeros([2, 3, 4, 5]), crops, { padding: 1 }),
    "y has shape",
  );
  assertThrows(() => randomCropFlip(y, y, crops, { padding: 1 }), "y shares its buffer with x");
  assertThrows(
    () => randomCropFlip(y, Tensor.zeros([2, 3, 4, 4]), i32([0, 0], [1, 2]), { padding: 1 }),
    "cropParams has shape [1, 2]",
  );
  assertThrows(
    () => randomCropFlip(y, Tensor.zeros([2, 3, 4, 4]), crops, { padding: -1 }),
    "padding is -1",
  );
  assertThrows(() => cutout(y, i32([0, 0, 0], [1, 3]), { size: 2 }), "centers has shape [1, 3]");
  assertThrows(() => cutout(y, i32([0, 0, 0, 0], [2, 2]), { size: 1.5 }), "size is 1.5");
  assertThrows(
    () => cutout(Tensor.zeros([4, 4]), i32([0, 0], [1, 2]), { size: 1 }),
    "x has shape [4, 4]",
  );
  assertThrows(() => drawCropFlipParams(new Generator(0), 2, 0.5), "padding is 0.5");
  assertThrows(() => drawCutoutParams(new Generator(0), 2, 0, 4), "height is 0");
});
