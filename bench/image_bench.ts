/**
 * Image kernels on CIFAR batches (32 as the article's Resnet, 128 as Shake-Shake): u8 HWC to
 * normalised f32 NCHW, padded random crop + flip, the two fused (`augmentImages`, what the
 * DataLoader runs), and Cutout. Prints GB/s of memory touched and images/s.
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
import { Generator, initGpu, Tensor } from "../mod.ts";
import { sync } from "../gpu.ts";

await initGpu();

const ITERATIONS = 20;
/** Dispatches in the printed timing: enough to hide Deno's ~10 ms wait for the GPU's promise. */
const TIMED = 100;
const NORMALIZE = { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] };

for (const n of [32, 128]) {
  const rng = new Generator(0);
  const shape = [n, 3, 32, 32];
  const elements = n * 3 * 32 * 32;
  const images = Tensor.from(
    Uint8Array.from({ length: elements }, () => rng.int(256)),
    [n, 32, 32, 3],
    { dtype: "u8" },
  );
  const x = Tensor.empty(shape);
  const y = Tensor.empty(shape);
  const crops = Tensor.from(drawCropFlipParams(rng, n, 4), [n, 3], { dtype: "i32" });
  const centers = Tensor.from(drawCutoutParams(rng, n, 32, 32), [n, 2], { dtype: "i32" });

  const cases: [string, number, () => void][] = [
    ["imagesToTensor", elements * 5, () => imagesToTensor(images, x, NORMALIZE)],
    ["randomCropFlip", elements * 8, () => randomCropFlip(x, y, crops, { padding: 4 })],
    [
      "augmentImages",
      elements * 5,
      () => augmentImages(images, y, crops, { ...NORMALIZE, padding: 4 }),
    ],
    ["cutout", n * 3 * 16 * 16 * 4, () => cutout(y, centers, { size: 16 })],
  ];
  for (const [name, bytes, run] of cases) {
    run();
    await sync();
    const start = performance.now();
    for (let i = 0; i < TIMED; i++) run();
    await sync();
    const seconds = (performance.now() - start) / 1000 / TIMED;
    console.log(
      `${name} batch ${n}: ${(bytes / seconds / 1e9).toFixed(2)} GB/s, ` +
        `${(seconds * 1000).toFixed(2)} ms (${Math.round(n / seconds)} images/s)`,
    );
    Deno.bench(`${name} batch ${n}`, { group: `image batch ${n}` }, async () => {
      for (let i = 0; i < ITERATIONS; i++) run();
      await sync();
    });
  }
}
