/**
 * Image batch kernels: decode-layout u8 batches to normalised f32 NCHW tensors (torchvision's
 * `ToTensor` + `Normalize`), optionally fused with the random crop with zero padding and
 * horizontal flip (`RandomCrop` + `RandomHorizontalFlip`) in {@link augmentImages}; the crop and
 * flip alone on f32 tensors; and Cutout. The random choices are drawn on the CPU from the one
 * {@link Generator} by {@link drawCropFlipParams} and {@link drawCutoutParams}, uploaded as small
 * i32 tensors, and applied on the GPU, so a seed reproduces a run exactly.
 *
 * @module
 */

import { grid, wgslKernels } from "../gpu/kernel.ts";
import type { Generator } from "../random.ts";
import { checkShape, type Tensor } from "../tensor.ts";
import code from "../../shaders/image.wgsl" with { type: "text" };

const WORKGROUP = 256;
/** The augment kernels' workgroup: AUG_LANES threads along each of AUG_ROWS output rows. */
const AUG_LANES = 8;
const AUG_ROWS = 8;
/** Channels whose mean and std fit in the params struct. */
const MAX_CHANNELS = 4;
/** Largest padding: far beyond any image, small enough for the shader's i32 arithmetic. */
const MAX_PADDING = 2 ** 24;

const PARAMS = {
  n: "u32",
  c: "u32",
  h: "u32",
  w: "u32",
  padding: "u32",
  size: "u32",
  crop: "u32",
  mean0: "f32",
  mean1: "f32",
  mean2: "f32",
  mean3: "f32",
  std0: "f32",
  std1: "f32",
  std2: "f32",
  std3: "f32",
} as const;

const kernel = wgslKernels("Image", code, { params: PARAMS });
const AUGMENT = { constants: { AUG_LANES, AUG_ROWS } };
const augmentKernel = kernel("augmentImages", 2, 1, AUGMENT);
const augmentRgb4Kernel = kernel("augmentImagesRgb4", 2, 1, AUGMENT);
const randomCropFlipKernel = kernel("randomCropFlip", 2, 1, { constants: { WORKGROUP } });
const cutoutKernel = kernel("cutout", 1, 1, { constants: { WORKGROUP } });

/** Params with every field zero, completed by each wrapper. */
function baseParams(n: number, c: number, h: number, w: number): Record<string, number> {
  const params: Record<string, number> = Object.fromEntries(
    Object.keys(PARAMS).map((key) => [key, 0]),
  );
  return { ...params, n, c, h, w };
}

function checkInteger(
  owner: string,
  name: string,
  value: number,
  min: number,
  max = Infinity,
): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new Error(`${owner}: ${name} is ${value}, expected an integer ${range}`);
  }
}

/** Options of {@link imagesToTensor}: torchvision's `Normalize` per channel. */
export interface NormalizeOptions {
  /** Per-channel mean subtracted after scaling to [0, 1] (all 0 for plain `ToTensor`). */
  mean: readonly number[];
  /** Per-channel standard deviation divided by (all 1 for plain `ToTensor`). */
  std: readonly number[];
}

/** Checks images u8 [N, H, W, C] (1 ≤ C ≤ 4), y [N, C, H, W] and mean/std of C finite values. */
function checkNormalize(
  owner: string,
  images: Tensor<"u8">, // images: [N, H, W, C]
  y: Tensor, // y: [N, C, H, W]
  { mean, std }: NormalizeOptions,
): void {
  checkShape(owner, "images", images, [null, null, null, null], "u8");
  const [n, h, w, c] = images.shape;
  if (c < 1 || c > MAX_CHANNELS) {
    throw new Error(
      `${owner}: images has ${c} channels (shape [${images.shape.join(", ")}]), ` +
        `expected 1 to ${MAX_CHANNELS}`,
    );
  }
  checkShape(owner, "y", y, [n, c, h, w]);
  if (mean.length !== c || mean.some((m) => !Number.isFinite(m))) {
    throw new Error(`${owner}: mean is [${mean.join(", ")}], expected ${c} finite numbers`);
  }
  if (std.length !== c || std.some((s) => !Number.isFinite(s) || s === 0)) {
    throw new Error(`${owner}: std is [${std.join(", ")}], expected ${c} finite non-zero numbers`);
  }
}

/** Records the augment kernel (arguments already checked); without crop params, no crop or flip. */
function dispatchAugment(
  images: Tensor<"u8">, // images: [N, H, W, C]
  y: Tensor, // y: [N, C, H, W]
  cropParams: Tensor<"i32"> | null, // cropParams: [N, 3]
  { mean, std }: NormalizeOptions,
  padding: number,
): void {
  if (y.size === 0) return;
  const [n, h, w, c] = images.shape;
  const params = baseParams(n, c, h, w);
  params.padding = padding;
  params.crop = cropParams ? 1 : 0;
  for (let i = 0; i < c; i++) {
    params[`mean${i}`] = mean[i];
    params[`std${i}`] = std[i];
  }
  // Four output columns per thread and vec4 stores when the rows split into whole quads.
  const augment = c === 3 && w % 4 === 0 ? augmentRgb4Kernel : augmentKernel;
  // Without crop params the shader never reads its crop binding: the images stand in.
  augment.dispatch(params, [images, cropParams ?? images, y], grid(n * Math.ceil(h / AUG_ROWS)));
}

/**
 * Records `y[n, c, i, j] = (images[n, i, j, c] / 255 − mean[c]) / std[c]`: a batch of decoded
 * images (packed u8, height × width × channels as decoders give them) to a normalised f32 NCHW
 * tensor. At most 4 channels. The same kernel as {@link augmentImages} without a crop, so the
 * two agree bit for bit.
 *
 * @example
 * ```ts
 * import { initGpu, Tensor } from "@hajime/nn";
 * import { imagesToTensor } from "@hajime/nn/gpu";
 * await initGpu();
 * const images = Tensor.from(new Uint8Array(2 * 32 * 32 * 3), [2, 32, 32, 3], { dtype: "u8" });
 * const x = Tensor.empty([2, 3, 32, 32]);
 * imagesToTensor(images, x, { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] });
 * ```
 */
export function imagesToTensor(
  images: Tensor<"u8">, // images: [N, H, W, C]
  y: Tensor, // y: [N, C, H, W]
  opts: NormalizeOptions,
): void {
  checkNormalize("Image.imagesToTensor", images, y, opts);
  dispatchAugment(images, y, null, opts, 0);
}

/**
 * Options of {@link augmentImages}: `Normalize`'s mean and std, and the crop's padding.
 *
 * @example
 * ```ts
 * import type { AugmentOptions } from "@hajime/nn/gpu";
 * const cifar: AugmentOptions = {
 *   mean: [0.4914, 0.4822, 0.4465],
 *   std: [0.247, 0.2435, 0.2616],
 *   padding: 4,
 * };
 * console.log(cifar.padding); // 4
 * ```
 */
export interface AugmentOptions extends NormalizeOptions {
  /** Zeros added on every side before cropping back to the input size (4 for CIFAR). */
  padding: number;
}

/**
 * Records ToTensor + Normalize, then a zero-padded random crop and an optional horizontal flip,
 * in one pass: exactly {@link imagesToTensor} followed by {@link randomCropFlip}, bit for bit,
 * without the intermediate tensor. The padding is zero after normalisation (the mean colour),
 * as when the two kernels run in turn. `cropParams` holds `(offsetY, offsetX, flip)` per image
 * as {@link drawCropFlipParams} draws them; `null` means no crop or flip (then it is
 * {@link imagesToTensor}). At most 4 channels; 3 channels with a width divisible by 4 (CIFAR)
 * take a faster path.
 *
 * @example
 * ```ts
 * import { Generator, initGpu, Tensor } from "@hajime/nn";
 * import { augmentImages, drawCropFlipParams } from "@hajime/nn/gpu";
 * await initGpu();
 * const images = Tensor.zeros([8, 32, 32, 3], { dtype: "u8" });
 * const crops = Tensor.from(drawCropFlipParams(new Generator(0), 8, 4), [8, 3], { dtype: "i32" });
 * const x = Tensor.empty([8, 3, 32, 32]);
 * augmentImages(images, x, crops, {
 *   mean: [0.4914, 0.4822, 0.4465],
 *   std: [0.247, 0.2435, 0.2616],
 *   padding: 4,
 * });
 * ```
 */
export function augmentImages(
  images: Tensor<"u8">, // images: [N, H, W, C]
  y: Tensor, // y: [N, C, H, W]
  cropParams: Tensor<"i32"> | null, // cropParams: [N, 3] (offsetY, offsetX, flip)
  opts: AugmentOptions,
): void {
  const owner = "Image.augmentImages";
  checkNormalize(owner, images, y, opts);
  if (cropParams) checkShape(owner, "cropParams", cropParams, [images.shape[0], 3], "i32");
  checkInteger(owner, "padding", opts.padding, 0, MAX_PADDING);
  dispatchAugment(images, y, cropParams, opts, opts.padding);
}

/** Options of {@link randomCropFlip}. */
export interface CropOptions {
  /** Zeros added on every side before cropping back to the input size (4 for CIFAR). */
  padding: number;
}

/**
 * Records a zero-padded random crop followed by an optional horizontal flip, per image:
 * `y[n, c, i, j] = xpad[n, c, i + offsetY, j' + offsetX]` with `j' = W − 1 − j` when flipped,
 * where `xpad` is `x` with `padding` zeros on each side (torchvision's `RandomCrop(H, padding)`
 * then `RandomHorizontalFlip`). `cropParams` holds `(offsetY, offsetX, flip)` per image, with
 * offsets in [0, 2·padding] and flip 0 or 1, as {@link drawCropFlipParams} draws them; other
 * offsets only read more zeros.
 *
 * @example
 * ```ts
 * import { Generator, initGpu, Tensor } from "@hajime/nn";
 * import { drawCropFlipParams, randomCropFlip } from "@hajime/nn/gpu";
 * await initGpu();
 * const rng = new Generator(0);
 * const x = Tensor.zeros([8, 3, 32, 32]);
 * const y = Tensor.empty([8, 3, 32, 32]);
 * const crops = Tensor.from(drawCropFlipParams(rng, 8, 4), [8, 3], { dtype: "i32" });
 * randomCropFlip(x, y, crops, { padding: 4 });
 * ```
 */
export function randomCropFlip(
  x: Tensor, // x: [N, C, H, W]
  y: Tensor, // y: [N, C, H, W]
  cropParams: Tensor<"i32">, // cropParams: [N, 3] (offsetY, offsetX, flip)
  opts: CropOptions,
): void {
  const owner = "Image.randomCropFlip";
  checkShape(owner, "x", x, [null, null, null, null]);
  const [n, c, h, w] = x.shape;
  checkShape(owner, "y", y, [n, c, h, w]);
  checkShape(owner, "cropParams", cropParams, [n, 3], "i32");
  checkInteger(owner, "padding", opts.padding, 0);
  if (x.buffer === y.buffer) throw new Error(`${owner}: y shares its buffer with x`);
  const count = y.size;
  if (count === 0) return;
  randomCropFlipKernel.dispatch(
    { ...baseParams(n, c, h, w), padding: opts.padding },
    [x, cropParams, y],
    grid(Math.ceil(count / WORKGROUP)),
  );
}

/** Options of {@link cutout}. */
export interface CutoutOptions {
  /** Side of the zeroed square (16 for CIFAR-10 in the Cutout paper). */
  size: number;
}

/**
 * Records Cutout in place: per image, zero rows and columns
 * `[center − ⌊size/2⌋, center − ⌊size/2⌋ + size)` around `(centerY, centerX)` in every channel,
 * clipped at the borders. For even sizes this is exactly the Cutout paper's code; for odd sizes
 * the square keeps its full side (the paper's code drops one row and column). `centers` holds
 * `(centerY, centerX)` per image, as {@link drawCutoutParams} draws them.
 *
 * @example
 * ```ts
 * import { Generator, initGpu, Tensor } from "@hajime/nn";
 * import { cutout, drawCutoutParams } from "@hajime/nn/gpu";
 * await initGpu();
 * const rng = new Generator(0);
 * const x = Tensor.full([8, 3, 32, 32], 1);
 * const centers = Tensor.from(drawCutoutParams(rng, 8, 32, 32), [8, 2], { dtype: "i32" });
 * cutout(x, centers, { size: 16 });
 * ```
 */
export function cutout(
  x: Tensor, // x: [N, C, H, W]
  centers: Tensor<"i32">, // centers: [N, 2] (centerY, centerX)
  opts: CutoutOptions,
): void {
  const owner = "Image.cutout";
  checkShape(owner, "x", x, [null, null, null, null]);
  const [n, c, h, w] = x.shape;
  checkShape(owner, "centers", centers, [n, 2], "i32");
  checkInteger(owner, "size", opts.size, 0);
  const count = n * c * opts.size * opts.size;
  if (count === 0) return;
  cutoutKernel.dispatch(
    { ...baseParams(n, c, h, w), size: opts.size },
    [centers, x],
    grid(Math.ceil(count / WORKGROUP)),
  );
}

/**
 * Draws `(offsetY, offsetX, flip)` for `n` images, as torchvision's `RandomCrop` (offsets
 * uniform in [0, 2·padding]) then `RandomHorizontalFlip` (flip with probability 0.5): the
 * contents of {@link randomCropFlip}'s `cropParams`, `[n, 3]` row-major.
 *
 * @example
 * ```ts
 * import { Generator } from "@hajime/nn";
 * import { drawCropFlipParams } from "@hajime/nn/gpu";
 * const crops: Int32Array = drawCropFlipParams(new Generator(1), 128, 4);
 * console.log(crops.length); // 384: (dy, dx, flip) per image
 * ```
 */
export function drawCropFlipParams(rng: Generator, n: number, padding: number): Int32Array {
  checkInteger("Image.drawCropFlipParams", "n", n, 0);
  checkInteger("Image.drawCropFlipParams", "padding", padding, 0);
  const out = new Int32Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = rng.int(2 * padding + 1);
    out[i * 3 + 1] = rng.int(2 * padding + 1);
    out[i * 3 + 2] = rng.uniform() < 0.5 ? 1 : 0;
  }
  return out;
}

/**
 * Draws Cutout centres `(centerY, centerX)` for `n` images, uniform over the whole image as in
 * the Cutout paper (the square may hang over the border): {@link cutout}'s `centers`, `[n, 2]`.
 *
 * @example
 * ```ts
 * import { Generator } from "@hajime/nn";
 * import { drawCutoutParams } from "@hajime/nn/gpu";
 * const centers: Int32Array = drawCutoutParams(new Generator(1), 128, 32, 32);
 * console.log(centers.length); // 256: (y, x) per image
 * ```
 */
export function drawCutoutParams(
  rng: Generator,
  n: number,
  height: number,
  width: number,
): Int32Array {
  checkInteger("Image.drawCutoutParams", "n", n, 0);
  checkInteger("Image.drawCutoutParams", "height", height, 1);
  checkInteger("Image.drawCutoutParams", "width", width, 1);
  const out = new Int32Array(n * 2);
  for (let i = 0; i < n; i++) {
    out[i * 2] = rng.int(height);
    out[i * 2 + 1] = rng.int(width);
  }
  return out;
}
