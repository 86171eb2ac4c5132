/**
 * Labelled image datasets: the {@linkcode Dataset} interface a `DataLoader` batches (PyTorch's
 * map-style dataset: a length and an item per index), and {@linkcode ImageDataset}, every image
 * as packed u8 RGB in one array in memory. Web APIs only, so the browser loaders
 * (src/data/cifar_web.ts) build them too; `imageFolder` (image_folder.ts) and the CIFAR loaders
 * return an ImageDataset.
 *
 * @module
 */

import type { PackedImages } from "./cache.ts";

/**
 * One labelled image of a {@linkcode Dataset}.
 *
 * @example
 * ```ts
 * import type { DatasetItem } from "@hajime/nn";
 * const item: DatasetItem = { image: new Uint8Array(2 * 2 * 3), label: 1 };
 * console.log(item.label);
 * ```
 */
export interface DatasetItem {
  /** Pixels, packed u8 [H, W, 3] (HWC) at the dataset's height and width. */
  image: Uint8Array;
  /** The class index, an integer ≥ 0. */
  label: number;
}

/**
 * What a `DataLoader` batches, PyTorch's map-style `Dataset`: `length` items, each fetched by
 * `get(index)` (synchronously or as a promise, e.g. decoded on demand), every image of one size.
 * `ImageDataset` is one (and the loader copies its packed images directly).
 *
 * @example
 * ```ts
 * import { DataLoader, type Dataset, type DatasetItem, initGpu } from "@hajime/nn";
 * await initGpu();
 * // Solid-colour 8×8 images: class 0 dark, class 1 bright.
 * class Squares implements Dataset {
 *   readonly length = 6;
 *   readonly height = 8;
 *   readonly width = 8;
 *   get(index: number): DatasetItem {
 *     const label = index % 2;
 *     return { image: new Uint8Array(8 * 8 * 3).fill(label * 255), label };
 *   }
 * }
 * for await (const { images, labels } of new DataLoader(new Squares(), { batchSize: 4 })) {
 *   console.log(images.shape, await labels.read()); // [4, 3, 8, 8] [0, 1, 0, 1], then 2 more
 * }
 * ```
 */
export interface Dataset {
  /** Number of items. */
  readonly length: number;
  /** Height of every image. */
  readonly height: number;
  /** Width of every image. */
  readonly width: number;
  /** Item `index`, for 0 ≤ index < length. */
  get(index: number): DatasetItem | Promise<DatasetItem>;
}

/**
 * What an {@linkcode ImageDataset} is made from.
 *
 * @example
 * ```ts
 * import { ImageDataset, type ImageDatasetInit } from "@hajime/nn";
 * const init: ImageDatasetInit = {
 *   images: new Uint8Array(12), labels: new Int32Array([0]), classes: ["a"], height: 2, width: 2,
 * };
 * const data = new ImageDataset(init);
 * console.log(data.length); // 1
 * ```
 */
export interface ImageDatasetInit {
  /** Pixels, packed u8 [N, H, W, 3] (HWC, as decoded). */
  images: Uint8Array;
  /** Class index per image, [N], each in [0, classes.length). */
  labels: Int32Array;
  /** Class names. */
  classes: readonly string[];
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** Source file per image, relative to `root` (image folders). */
  files?: readonly string[];
  /** Where the images came from (a folder, or a binary batch folder). */
  root?: string;
}

/**
 * A labelled image dataset in memory: every image as packed u8 RGB in one array, labels as int32,
 * class names. `imageFolder`, `cifar10` and `cifar100` return one; `DataLoader` batches it onto
 * the GPU.
 *
 * @example
 * ```ts
 * import { ImageDataset } from "@hajime/nn";
 * const data = new ImageDataset({
 *   images: new Uint8Array(2 * 32 * 32 * 3), labels: new Int32Array([0, 1]),
 *   classes: ["cat", "dog"], height: 32, width: 32,
 * });
 * console.log(data.length, data.classes[data.labels[1]]); // 2 dog
 * ```
 */
export class ImageDataset implements PackedImages, Dataset {
  /** Pixels, packed u8 [N, H, W, 3]. */
  readonly images: Uint8Array;
  /** Class index per image, [N]. */
  readonly labels: Int32Array;
  /** Class names; label i names `classes[i]`. */
  readonly classes: readonly string[];
  /** Image height. */
  readonly height: number;
  /** Image width. */
  readonly width: number;
  /** Channels per pixel: always 3 (RGB). */
  readonly channels: 3 = 3;
  /** Source file per image relative to `root`; empty for binary formats. */
  readonly files: readonly string[];
  /** Where the images came from; empty when made in memory. */
  readonly root: string;

  /** Checks that the sizes agree and every label names a class. */
  constructor(init: ImageDatasetInit) {
    const { images, labels, classes, height, width } = init;
    const n = labels.length;
    if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
      throw new Error(
        `ImageDataset: height and width must be integers ≥ 1, got ${height}×${width}`,
      );
    }
    if (images.length !== n * height * width * 3) {
      throw new Error(
        `ImageDataset: images has ${images.length} bytes, expected ${n}·${height}·${width}·3 = ` +
          `${n * height * width * 3} for ${n} labels`,
      );
    }
    for (let i = 0; i < n; i++) {
      if (labels[i] < 0 || labels[i] >= classes.length) {
        throw new Error(
          `ImageDataset: labels[${i}] = ${labels[i]} is out of range [0, ${classes.length})`,
        );
      }
    }
    if (init.files && init.files.length !== n) {
      throw new Error(`ImageDataset: ${init.files.length} files for ${n} labels`);
    }
    this.images = images;
    this.labels = labels;
    this.classes = Object.freeze([...classes]);
    this.height = height;
    this.width = width;
    this.files = Object.freeze([...(init.files ?? [])]);
    this.root = init.root ?? "";
  }

  /** Number of images. */
  get length(): number {
    return this.labels.length;
  }

  /**
   * Image `i` as a view [H, W, 3] into `images` (no copy).
   *
   * @example
   * ```ts
   * import { ImageDataset } from "@hajime/nn";
   * const data = new ImageDataset({
   *   images: new Uint8Array(12), labels: new Int32Array([0]), classes: ["a"], height: 2, width: 2,
   * });
   * console.log(data.image(0).subarray(0, 3)); // the top-left pixel: R, G, B
   * ```
   */
  image(i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`ImageDataset.image: index ${i} is out of range [0, ${this.length})`);
    }
    const stride = this.height * this.width * 3;
    return this.images.subarray(i * stride, (i + 1) * stride);
  }

  /**
   * Item `i` as a {@linkcode Dataset} gives it: the image view (no copy) and its label.
   *
   * @example
   * ```ts
   * import { ImageDataset } from "@hajime/nn";
   * const data = new ImageDataset({
   *   images: new Uint8Array(12), labels: new Int32Array([0]), classes: ["a"], height: 2, width: 2,
   * });
   * const { image, label } = data.get(0);
   * console.log(image.length, label); // 12 0
   * ```
   */
  get(i: number): DatasetItem {
    return { image: this.image(i), label: this.labels[i] };
  }

  /**
   * The index of a class name (torchvision's `class_to_idx[name]`); throws for an unknown name.
   *
   * @example
   * ```ts
   * import { ImageDataset } from "@hajime/nn";
   * const data = new ImageDataset({
   *   images: new Uint8Array(0), labels: new Int32Array(0), classes: ["cat", "dog"], height: 1,
   *   width: 1,
   * });
   * data.classIndex("dog"); // 1
   * ```
   */
  classIndex(name: string): number {
    const index = this.classes.indexOf(name);
    if (index < 0) {
      throw new Error(`ImageDataset: no class "${name}" (classes: ${this.classes.join(", ")})`);
    }
    return index;
  }

  /**
   * A new dataset of the images at `indices` (copied), e.g. a validation split.
   *
   * @example
   * ```ts
   * import { Generator, ImageDataset } from "@hajime/nn";
   * const data = new ImageDataset({
   *   images: new Uint8Array(10 * 12), labels: new Int32Array(10), classes: ["a"], height: 2,
   *   width: 2,
   * });
   * const order = new Generator(0).permutation(data.length);
   * const validation = data.subset(order.subarray(0, 2));
   * console.log(validation.length); // 2
   * ```
   */
  subset(indices: ArrayLike<number>): ImageDataset {
    const stride = this.height * this.width * 3;
    const images = new Uint8Array(indices.length * stride);
    const labels = new Int32Array(indices.length);
    const files: string[] = [];
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      images.set(this.image(i), k * stride);
      labels[k] = this.labels[i];
      if (this.files.length > 0) files.push(this.files[i]);
    }
    return new ImageDataset({
      images,
      labels,
      classes: this.classes,
      height: this.height,
      width: this.width,
      files: this.files.length > 0 ? files : undefined,
      root: this.root,
    });
  }
}
