/**
 * The DataLoader: batches of any {@linkcode Dataset} (a length and an item per index; an
 * in-memory {@linkcode ImageDataset} is copied straight from its packed images) delivered as GPU
 * tensors, shuffled from a seed, with the transforms of a {@linkcode Compose} applied on the GPU.
 *
 * Overlap: the loader never waits for the GPU to finish a step. While the GPU still runs step k,
 * the loader gathers batch k+1 on the CPU, uploads it (ordered after step k by the queue) and
 * records its transforms into the frame that step k+1 then joins, so data and step go out in one
 * submit. Each batch begins by ending the caller's previous step with `endStep()`, the library's
 * one throttle (src/gpu/step.ts): it waits only when many steps are queued.
 *
 * @module
 */

import { endStep } from "../gpu/step.ts";
import { Generator } from "../random.ts";
import { Tensor } from "../tensor.ts";
import { type Dataset, ImageDataset } from "./dataset.ts";
import { Compose, ToTensor, type Transform } from "./transforms.ts";

/**
 * One batch: images f32 [N, 3, H, W] and labels i32 [N] on the GPU. The tensors belong to the
 * loader and are overwritten by the next batch of the same size.
 *
 * @example
 * ```ts
 * import { type Batch, DataLoader, ImageDataset, initGpu } from "@hajime/nn";
 * await initGpu();
 * const data = new ImageDataset({
 *   images: new Uint8Array(4 * 8 * 8 * 3), labels: new Int32Array(4), classes: ["a"], height: 8,
 *   width: 8,
 * });
 * for await (const batch of new DataLoader(data, { batchSize: 2 })) {
 *   const { images, labels }: Batch = batch;
 *   console.log(images.shape, labels.shape); // [2, 3, 8, 8] [2]
 * }
 * ```
 */
export interface Batch {
  /** f32 [N, 3, H, W]. */
  images: Tensor;
  /** i32 [N]: class indices. */
  labels: Tensor<"i32">;
}

/**
 * Options of a {@linkcode DataLoader}.
 *
 * @example
 * ```ts
 * import { DataLoader, type DataLoaderOptions, imageFolder, initGpu } from "@hajime/nn";
 * await initGpu();
 * const options: DataLoaderOptions = { batchSize: 32, shuffle: true, seed: 42 };
 * const loader = new DataLoader(await imageFolder("data/cifar/train"), options);
 * console.log(loader.length); // batches per epoch
 * ```
 */
export interface DataLoaderOptions {
  /** Images per batch (default 1, as PyTorch). */
  batchSize?: number;
  /** A fresh random order every epoch (default false). */
  shuffle?: boolean;
  /** Leave out the last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /** GPU transforms; default `ToTensor` only (the article's recipe). */
  transform?: Compose | readonly Transform[];
  /** Seed of the loader's own generator (shuffling and augmentation); default 0. */
  seed?: number;
  /** A generator to draw from instead of a seeded one (e.g. restored from a checkpoint). */
  generator?: Generator;
}

interface Slot {
  images: Tensor<"u8">;
  labels: Tensor<"i32">;
  hostImages: Uint8Array;
  hostLabels: Int32Array;
}

/**
 * Batches of a dataset as GPU tensors, like PyTorch's `DataLoader`: `for await (const batch of
 * loader)` runs one epoch; each epoch draws a new order when `shuffle` is on. The same seed gives
 * the same epochs (order and augmentation). One epoch at a time per loader.
 *
 * @example
 * ```ts
 * import {
 *   cifar10, Compose, DataLoader, initGpu, Normalize, RandomCrop, RandomHorizontalFlip, ToTensor,
 * } from "@hajime/nn";
 * await initGpu();
 * const train = await cifar10({ root: "data", download: true });
 * const loader = new DataLoader(train, {
 *   batchSize: 128,
 *   shuffle: true,
 *   seed: 1,
 *   transform: new Compose([
 *     new RandomCrop(32, { padding: 4 }), new RandomHorizontalFlip(), new ToTensor(),
 *     new Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]),
 *   ]),
 * });
 * for (let epoch = 0; epoch < 2; epoch++) {
 *   let seen = 0;
 *   for await (const batch of loader) {
 *     seen += batch.labels.shape[0]; // batch.images: [128, 3, 32, 32], augmented, normalized
 *     // model.forward(batch.images) … loss(batch.labels) … backward, step
 *   }
 *   console.log(`epoch ${epoch}: ${seen} images`);
 * }
 * ```
 */
export class DataLoader implements AsyncIterable<Batch> {
  /** The dataset batched. */
  readonly dataset: Dataset;
  /** Images per batch. */
  readonly batchSize: number;
  /** Whether each epoch is shuffled. */
  readonly shuffle: boolean;
  /** Whether a smaller last batch is left out. */
  readonly dropLast: boolean;
  /** The GPU transforms. */
  readonly transform: Compose;
  /** Where shuffling and augmentation draw from; save its state to resume a run exactly. */
  readonly generator: Generator;
  readonly #slots = new Map<number, Slot>();
  #running = false;

  /** Checks the dataset and the options; GPU tensors are made on first use. */
  constructor(dataset: Dataset, options: DataLoaderOptions = {}) {
    const batchSize = options.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new Error(`DataLoader: batchSize is ${batchSize}, expected an integer ≥ 1`);
    }
    for (const key of ["length", "height", "width"] as const) {
      const value = dataset[key];
      if (!Number.isInteger(value) || value < (key === "length" ? 0 : 1)) {
        throw new Error(`DataLoader: the dataset's ${key} is ${value}, expected an integer`);
      }
    }
    if (typeof dataset.get !== "function") {
      throw new Error("DataLoader: the dataset has no get(index) method");
    }
    if (dataset.length === 0) throw new Error("DataLoader: the dataset is empty");
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.dropLast = options.dropLast ?? false;
    const transform = options.transform ?? [new ToTensor()];
    this.transform = transform instanceof Compose ? transform : new Compose(transform);
    this.generator = options.generator ?? new Generator(options.seed ?? 0);
    if (this.length === 0) {
      throw new Error(
        `DataLoader: dropLast with batchSize ${batchSize} leaves no batch of the ` +
          `${dataset.length} images`,
      );
    }
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** One epoch of batches. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Batch> {
    if (this.#running) {
      throw new Error("DataLoader: an epoch is already running (its batches share tensors)");
    }
    this.#running = true;
    try {
      const n = this.dataset.length;
      const order = this.shuffle ? this.generator.permutation(n) : null;
      for (let b = 0; b < this.length; b++) {
        await endStep(); // the caller's previous step
        const start = b * this.batchSize;
        const count = Math.min(this.batchSize, n - start);
        const indices = Int32Array.from(
          { length: count },
          (_, k) => order?.[start + k] ?? start + k,
        );
        yield await this.#prepare(indices);
      }
    } finally {
      this.#running = false;
    }
  }

  /** Gathers the batch of `indices` on the CPU, then uploads and transforms it in one go. */
  async #prepare(indices: Int32Array): Promise<Batch> {
    const slot = this.#slot(indices.length);
    if (this.dataset instanceof ImageDataset) this.#gatherPacked(this.dataset, indices, slot);
    else await this.#gather(indices, slot);
    slot.images.write(slot.hostImages);
    slot.labels.write(slot.hostLabels);
    return { images: this.transform.apply(slot.images, this.generator), labels: slot.labels };
  }

  /** The fast path: copies from an ImageDataset's packed arrays. */
  #gatherPacked(dataset: ImageDataset, indices: Int32Array, slot: Slot): void {
    const { images, labels, height, width } = dataset;
    const stride = height * width * 3;
    indices.forEach((i, k) => {
      slot.hostImages.set(images.subarray(i * stride, (i + 1) * stride), k * stride);
      slot.hostLabels[k] = labels[i];
    });
  }

  /** Fetches every item of the batch (in parallel when `get` is async) and checks each. */
  async #gather(indices: Int32Array, slot: Slot): Promise<void> {
    const { height, width } = this.dataset;
    const stride = height * width * 3;
    const items = await Promise.all(Array.from(indices, (i) => this.dataset.get(i)));
    items.forEach((item, k) => {
      const where = `DataLoader: dataset.get(${indices[k]})`;
      if (!(item?.image instanceof Uint8Array) || item.image.length !== stride) {
        throw new Error(
          `${where} gave an image of ${item?.image?.length} bytes, expected a Uint8Array of ` +
            `${height}·${width}·3 = ${stride} (packed RGB at the dataset's size)`,
        );
      }
      if (!Number.isInteger(item.label) || item.label < 0 || item.label >= 2 ** 31) {
        throw new Error(`${where} gave label ${item.label}, expected a class index (integer ≥ 0)`);
      }
      slot.hostImages.set(item.image, k * stride);
      slot.hostLabels[k] = item.label;
    });
  }

  #slot(count: number): Slot {
    let slot = this.#slots.get(count);
    if (!slot) {
      const { height, width } = this.dataset;
      slot = {
        images: Tensor.empty([count, height, width, 3], {
          dtype: "u8",
          label: "DataLoader.images",
        }),
        labels: Tensor.empty([count], { dtype: "i32", label: "DataLoader.labels" }),
        hostImages: new Uint8Array(count * height * width * 3),
        hostLabels: new Int32Array(count),
      };
      this.#slots.set(count, slot);
    }
    return slot;
  }

  /**
   * Frees the loader's GPU tensors and its transform's; the loader can still be iterated.
   *
   * @example
   * ```ts
   * import { DataLoader, ImageDataset, initGpu } from "@hajime/nn";
   * await initGpu();
   * const data = new ImageDataset({
   *   images: new Uint8Array(12), labels: new Int32Array(1), classes: ["a"], height: 2, width: 2,
   * });
   * const loader = new DataLoader(data);
   * loader.dispose();
   * ```
   */
  dispose(): void {
    for (const slot of this.#slots.values()) {
      slot.images.dispose();
      slot.labels.dispose();
    }
    this.#slots.clear();
    this.transform.dispose();
  }
}
