/**
 * Image transforms that run on the GPU, composed like torchvision's `transforms.Compose`:
 * `ToTensor`, `Normalize(mean, std)`, `RandomCrop(32, {padding: 4})`, `RandomHorizontalFlip()`,
 * `Cutout(size)`, and any {@linkcode BatchTransform} a user writes. A batch of decoded u8 images
 * [N, H, W, 3] becomes an f32 tensor [N, 3, H, W].
 *
 * `ToTensor` and `Normalize` always run first, fused into one kernel; the random transforms then
 * run in the listed order on the normalised tensor (a crop next to a flip is one kernel). So the
 * crop's padding is zero after normalisation (the mean colour), as in fb.resnet.torch and the
 * Shake-Shake reference code, where torchvision's PIL crop before `Normalize` pads with black.
 * When the first random step is a crop and/or flip (the usual CIFAR recipe), it runs in the same
 * kernel as `ToTensor` + `Normalize` ({@linkcode augmentImages}): one pass over the batch, with
 * exactly the same result.
 * Random choices are drawn on the CPU from the caller's {@linkcode Generator}: a seed reproduces
 * every batch exactly. User transforms run in the listed order among the random ones, on the f32
 * tensor.
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
} from "../kernels/image.ts";
import type { Generator } from "../random.ts";
import { checkShape, Tensor } from "../tensor.ts";

/**
 * CIFAR-10's per-channel mean of the training images (RGB, pixels in [0, 1]), as the Shake-Shake
 * recipe normalizes with.
 *
 * @example
 * ```ts
 * import { CIFAR10_MEAN, CIFAR10_STD, Normalize } from "@hajime/nn";
 * const normalize = new Normalize(CIFAR10_MEAN, CIFAR10_STD);
 * console.log(normalize.toString()); // Normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.247, …])
 * ```
 */
export const CIFAR10_MEAN: readonly number[] = [0.4914, 0.4822, 0.4465];

/**
 * CIFAR-10's per-channel standard deviation (RGB, pixels in [0, 1]).
 *
 * @example
 * ```ts
 * import { CIFAR10_MEAN, CIFAR10_STD, Normalize } from "@hajime/nn";
 * const normalize = new Normalize(CIFAR10_MEAN, CIFAR10_STD);
 * console.log(normalize.toString()); // Normalize(mean=[0.4914, 0.4822, 0.4465], std=[0.247, …])
 * ```
 */
export const CIFAR10_STD: readonly number[] = [0.2470, 0.2435, 0.2616];

/**
 * torchvision's `ToTensor`: pixels / 255, HWC bytes to CHW floats.
 *
 * @example
 * ```ts
 * import { Compose, ToTensor } from "@hajime/nn";
 * const transform = new Compose([new ToTensor()]);
 * console.log(transform.transforms.length); // 1
 * ```
 */
export class ToTensor {
  /** `ToTensor()`. */
  toString(): string {
    return "ToTensor()";
  }
}

/**
 * torchvision's `Normalize`: `(x − mean[c]) / std[c]` per channel (one value applies to all).
 *
 * @example
 * ```ts
 * import { Normalize } from "@hajime/nn";
 * const cifar = new Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);
 * console.log(cifar.mean, cifar.std);
 * ```
 */
export class Normalize {
  /** Per-channel means (3 values). */
  readonly mean: readonly number[];
  /** Per-channel standard deviations (3 values). */
  readonly std: readonly number[];

  /** Checks 1 or 3 finite values each, std non-zero. */
  constructor(mean: readonly number[], std: readonly number[]) {
    const widen = (values: readonly number[], name: string) => {
      if (values.length !== 1 && values.length !== 3) {
        throw new Error(`Normalize: ${name} has ${values.length} values, expected 1 or 3`);
      }
      if (values.some((v) => !Number.isFinite(v) || (name === "std" && v === 0))) {
        throw new Error(
          `Normalize: ${name} is [${values.join(", ")}], expected finite values` +
            (name === "std" ? ", none zero" : ""),
        );
      }
      return Object.freeze(values.length === 1 ? [values[0], values[0], values[0]] : [...values]);
    };
    this.mean = widen(mean, "mean");
    this.std = widen(std, "std");
  }

  /** `Normalize(mean=[…], std=[…])`. */
  toString(): string {
    return `Normalize(mean=[${this.mean.join(", ")}], std=[${this.std.join(", ")}])`;
  }
}

/**
 * torchvision's `RandomCrop(size, padding)`: pad every side with `padding` zeros, then crop a
 * random `size` window. The crop keeps the image size, so `size` must equal it (32 for CIFAR).
 *
 * @example
 * ```ts
 * import { RandomCrop } from "@hajime/nn";
 * const crop = new RandomCrop(32, { padding: 4 });
 * console.log(crop.toString()); // RandomCrop(size=(32, 32), padding=4)
 * ```
 */
export class RandomCrop {
  /** Output `[height, width]`; must be the input size. */
  readonly size: readonly [number, number];
  /** Zeros added on every side. */
  readonly padding: number;

  /** `size` is a side or `[height, width]`; `padding` defaults to 0. */
  constructor(size: number | readonly [number, number], options: { padding?: number } = {}) {
    const [h, w] = typeof size === "number" ? [size, size] : size;
    const padding = options.padding ?? 0;
    if (![h, w].every((d) => Number.isInteger(d) && d >= 1)) {
      throw new Error(`RandomCrop: size is ${size}, expected integers ≥ 1`);
    }
    if (!Number.isInteger(padding) || padding < 0) {
      throw new Error(`RandomCrop: padding is ${padding}, expected an integer ≥ 0`);
    }
    this.size = [h, w];
    this.padding = padding;
  }

  /** `RandomCrop(size=(32, 32), padding=4)`. */
  toString(): string {
    return `RandomCrop(size=(${this.size.join(", ")}), padding=${this.padding})`;
  }
}

/**
 * torchvision's `RandomHorizontalFlip(p)`: mirror each image left-right with probability `p`.
 *
 * @example
 * ```ts
 * import { RandomHorizontalFlip } from "@hajime/nn";
 * const flip = new RandomHorizontalFlip();
 * console.log(flip.toString()); // RandomHorizontalFlip(p=0.5)
 * ```
 */
export class RandomHorizontalFlip {
  /** Flip probability. */
  readonly p: number;

  /** `p` in [0, 1], default 0.5. */
  constructor(p = 0.5) {
    if (!(p >= 0 && p <= 1)) throw new Error(`RandomHorizontalFlip: p is ${p}, expected [0, 1]`);
    this.p = p;
  }

  /** `RandomHorizontalFlip(p=0.5)`. */
  toString(): string {
    return `RandomHorizontalFlip(p=${this.p})`;
  }
}

/**
 * Cutout (DeVries & Taylor, 2017): zero a `size`×`size` square at a uniformly drawn centre of each
 * image, clipped at the borders.
 *
 * @example
 * ```ts
 * import { Cutout } from "@hajime/nn";
 * const cut = new Cutout(16);
 * console.log(cut.toString()); // Cutout(size=16)
 * ```
 */
export class Cutout {
  /** Side of the square. */
  readonly size: number;

  /** `size` is an integer ≥ 1. */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new Error(`Cutout: size is ${size}, expected an integer ≥ 1`);
    }
    this.size = size;
  }

  /** `Cutout(size=16)`. */
  toString(): string {
    return `Cutout(size=${this.size})`;
  }
}

/**
 * A transform a user writes for {@linkcode Compose}: `apply` records GPU work on a batch, f32
 * `[N, C, H, W]` (after `ToTensor` and `Normalize`), and returns the result, f32 `[N, *, *, *]`
 * with the same N. It may update `x` in place and return it, return a tensor it owns (reused
 * from batch to batch), or return the output of ops (`F.*`, alive through the step the batch is
 * used in). Random choices should come from `rng`, the loader's generator, so a seed reproduces
 * them. `toString` names it in `Compose`'s print.
 *
 * @example
 * ```ts
 * import {
 *   type BatchTransform, Compose, F, Generator, initGpu, Tensor, ToTensor,
 * } from "@hajime/nn";
 * await initGpu();
 * class Brightness implements BatchTransform {
 *   constructor(readonly factor: number) {}
 *   apply(x: Tensor): Tensor {
 *     return F.scale(x, this.factor);
 *   }
 *   toString(): string {
 *     return `Brightness(${this.factor})`;
 *   }
 * }
 * const transform = new Compose([new ToTensor(), new Brightness(0.5)]);
 * const images = Tensor.full([2, 4, 4, 3], 255, { dtype: "u8" });
 * console.log(await transform.apply(images, new Generator(0)).read()); // every value 0.5
 * ```
 */
export interface BatchTransform {
  /** x: f32 [N, C, H, W] → f32 [N, *, *, *]: records the transform of one batch. */
  apply(x: Tensor, rng: Generator): Tensor;
  /** The transform as `Compose` prints it, e.g. `Brightness(0.5)`. */
  toString(): string;
}

/**
 * Any transform {@linkcode Compose} accepts.
 *
 * @example
 * ```ts
 * import { RandomHorizontalFlip, ToTensor, type Transform } from "@hajime/nn";
 * const list: Transform[] = [new ToTensor(), new RandomHorizontalFlip()];
 * console.log(list.length);
 * ```
 */
export type Transform =
  | ToTensor
  | Normalize
  | RandomCrop
  | RandomHorizontalFlip
  | Cutout
  | BatchTransform;

/** A call of the plan: a crop and/or flip kernel, a cutout kernel, or a user transform. */
type Step =
  | { kind: "cropFlip"; crop: RandomCrop | null; flip: RandomHorizontalFlip | null }
  | { kind: "cutout"; cutout: Cutout }
  | { kind: "user"; transform: BatchTransform };

/** True for a transform hajime does not know: a user's, with an `apply`. */
function isBatchTransform(t: Transform): t is BatchTransform {
  return typeof (t as BatchTransform).apply === "function";
}

/** The tensors one batch size needs; kept and reused for every batch of that size. */
interface Buffers {
  ping: Tensor;
  /** The other side of a crop/flip step after the first step; null when there is none. */
  pong: Tensor | null;
  /** One parameter tensor per step: [N, 3] crop/flip or [N, 2] cutout centres (null: user's). */
  params: (Tensor<"i32"> | null)[];
}

/**
 * A pipeline of transforms applied to u8 image batches on the GPU, as torchvision's
 * `transforms.Compose`. Its output tensor is owned by the pipeline and reused by the next call
 * with the same batch shape, so memory stays flat.
 *
 * @example
 * ```ts
 * import {
 *   Compose, Cutout, Generator, initGpu, Normalize, RandomCrop, RandomHorizontalFlip, Tensor,
 *   ToTensor,
 * } from "@hajime/nn";
 * await initGpu();
 * const train = new Compose([
 *   new RandomCrop(32, { padding: 4 }), new RandomHorizontalFlip(), new ToTensor(),
 *   new Normalize([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]), new Cutout(16),
 * ]);
 * const images = Tensor.zeros([8, 32, 32, 3], { dtype: "u8" });
 * const x = train.apply(images, new Generator(0));
 * console.log(x.dtype, x.shape); // f32 [8, 3, 32, 32]
 * ```
 */
export class Compose {
  /** The transforms, in the order given. */
  readonly transforms: readonly Transform[];
  readonly #mean: readonly number[];
  readonly #std: readonly number[];
  readonly #steps: Step[] = [];
  readonly #buffers = new Map<string, Buffers>();

  /** Checks the list: at most one `ToTensor` and one `Normalize`; `ToTensor` is implied. */
  constructor(transforms: readonly Transform[]) {
    this.transforms = Object.freeze([...transforms]);
    const normalize = transforms.filter((t) => t instanceof Normalize);
    if (normalize.length > 1) throw new Error("Compose: more than one Normalize");
    if (transforms.filter((t) => t instanceof ToTensor).length > 1) {
      throw new Error("Compose: more than one ToTensor");
    }
    this.#mean = normalize[0]?.mean ?? [0, 0, 0];
    this.#std = normalize[0]?.std ?? [1, 1, 1];
    for (const t of transforms) {
      const last = this.#steps.at(-1);
      if (t instanceof RandomCrop || t instanceof RandomHorizontalFlip) {
        const isCrop = t instanceof RandomCrop;
        // A crop next to a flip is one kernel: flip-then-crop and crop-then-flip give the same
        // distribution of outputs (symmetric padding, uniform offsets).
        if (last?.kind === "cropFlip" && (isCrop ? !last.crop : !last.flip)) {
          if (isCrop) last.crop = t;
          else last.flip = t;
        } else {
          this.#steps.push({ kind: "cropFlip", crop: isCrop ? t : null, flip: isCrop ? null : t });
        }
      } else if (t instanceof Cutout) {
        this.#steps.push({ kind: "cutout", cutout: t });
      } else if (t instanceof Compose) {
        throw new Error(
          "Compose: a Compose inside a Compose is not supported (list its transforms)",
        );
      } else if (isBatchTransform(t)) {
        this.#steps.push({ kind: "user", transform: t });
      } else if (!(t instanceof ToTensor) && !(t instanceof Normalize)) {
        throw new Error(
          `Compose: ${String(t)} is not a transform hajime runs on the GPU (a BatchTransform ` +
            "has an apply(x, rng) method)",
        );
      }
    }
  }

  /**
   * Records the pipeline for a batch: `images` u8 [N, H, W, 3] to f32 [N, 3, H, W], drawing the
   * random choices from `rng`. The result is valid until the next call with the same N, H, W.
   */
  apply(
    images: Tensor<"u8">, // images: [N, H, W, 3]
    rng: Generator,
  ): Tensor {
    checkShape("Compose.apply", "images", images, [null, null, null, 3], "u8");
    const [n, h, w] = images.shape;
    for (const step of this.#steps) {
      if (
        step.kind === "cropFlip" && step.crop &&
        (step.crop.size[0] !== h || step.crop.size[1] !== w)
      ) {
        throw new Error(
          `Compose.apply: ${step.crop} must keep the image size: images are ${h}×${w} ` +
            `(shape [${images.shape.join(", ")}])`,
        );
      }
    }
    const buffers = this.#buffersFor(n, h, w);
    // Draw and upload every step's parameters before recording any kernel: in a fresh frame (as
    // the DataLoader calls it) the uploads then go straight to the queue, with no staging copy.
    this.#steps.forEach((step, k) => {
      if (step.kind === "user") return;
      if (step.kind === "cutout") {
        buffers.params[k]!.write(drawCutoutParams(rng, n, h, w));
        return;
      }
      const params = drawCropFlipParams(rng, n, step.crop?.padding ?? 0);
      const p = step.flip?.p ?? 0;
      if (p !== 0.5) {
        for (let i = 0; i < n; i++) params[i * 3 + 2] = p > 0 && rng.uniform() < p ? 1 : 0;
      }
      buffers.params[k]!.write(params);
    });
    let x = buffers.ping;
    const normalize = { mean: this.#mean, std: this.#std };
    const first = this.#steps[0];
    // A leading crop/flip joins ToTensor + Normalize in one pass; later ones need pong.
    if (first?.kind === "cropFlip") {
      augmentImages(images, x, buffers.params[0]!, {
        ...normalize,
        padding: first.crop?.padding ?? 0,
      });
    } else {
      imagesToTensor(images, x, normalize);
    }
    this.#steps.forEach((step, k) => {
      if (step.kind === "cutout") {
        cutout(x, buffers.params[k]!, { size: step.cutout.size });
      } else if (step.kind === "user") {
        x = this.#applyUser(step.transform, x, rng, n);
      } else if (k > 0) {
        // Into whichever of the two owned tensors x is not (a user transform's output is neither).
        const into = x === buffers.ping ? buffers.pong! : buffers.ping;
        randomCropFlip(x, into, buffers.params[k]!, { padding: step.crop?.padding ?? 0 });
        x = into;
      }
    });
    return x;
  }

  /** Runs a user transform and checks what it returns. */
  #applyUser(transform: BatchTransform, x: Tensor, rng: Generator, n: number): Tensor {
    const out = transform.apply(x, rng);
    if (!(out instanceof Tensor)) {
      throw new Error(`Compose.apply: ${transform}.apply returned ${out}, expected a Tensor`);
    }
    checkShape("Compose.apply", `the output of ${transform}`, out, [n, null, null, null]);
    return out;
  }

  #buffersFor(n: number, h: number, w: number): Buffers {
    const key = `${n}x${h}x${w}`;
    let buffers = this.#buffers.get(key);
    if (!buffers) {
      buffers = {
        ping: Tensor.empty([n, 3, h, w], { label: "Compose.output" }),
        pong: this.#steps.some((step, k) => k > 0 && step.kind === "cropFlip")
          ? Tensor.empty([n, 3, h, w], { label: "Compose.output" })
          : null,
        params: this.#steps.map((step) =>
          step.kind === "user"
            ? null
            : step.kind === "cutout"
            ? Tensor.empty([n, 2], { dtype: "i32", label: "Compose.cutoutParams" })
            : Tensor.empty([n, 3], { dtype: "i32", label: "Compose.cropFlipParams" })
        ),
      };
      this.#buffers.set(key, buffers);
    }
    return buffers;
  }

  /**
   * Frees the GPU tensors the pipeline keeps; it can still be used (they are made again).
   *
   * @example
   * ```ts
   * import { Compose, ToTensor } from "@hajime/nn";
   * const transform = new Compose([new ToTensor()]);
   * transform.dispose();
   * ```
   */
  dispose(): void {
    for (const b of this.#buffers.values()) {
      for (const t of [b.ping, b.pong, ...b.params]) t?.dispose();
    }
    this.#buffers.clear();
  }

  /** torchvision's multi-line `Compose(...)` print. */
  toString(): string {
    return `Compose(\n${this.transforms.map((t) => `    ${t}`).join("\n")}\n)`;
  }
}
