/**
 * Image decoding, used on the main thread and as a worker: JPEG (libjpeg-turbo, as PIL; see
 * jpeg.ts) and PNG (fast-png) files become RGB u8 [H, W, 3]; grey, grey+alpha, RGBA, palette and
 * 16-bit images are turned into 8-bit RGB (alpha dropped, as PIL's `convert("RGB")`). Loaded as a
 * worker, it says "ready" once loaded, then decodes chunks of files sent by `imageFolder` and
 * sends back their packed pixels.
 *
 * @module
 */

import * as png from "fast-png";
import { decodeJpeg, jpegDecoderReady } from "./jpeg.ts";

/**
 * A decoded image: RGB bytes [height, width, 3].
 *
 * @example
 * ```ts
 * import { type DecodedImage, decodeImage, imageDecodersReady } from "@hajime/nn";
 * const path = "photo.png";
 * await imageDecodersReady();
 * const image: DecodedImage = decodeImage(await Deno.readFile(path), path);
 * console.log(image.width, image.height, image.data.length); // 32 32 3072
 * ```
 */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGB bytes, row-major [height, width, 3]. */
  data: Uint8Array;
}

/**
 * A chunk of files for a worker: decode them into one packed [n, height, width, 3] array.
 *
 * @example
 * ```ts
 * import { decodeChunk, type DecodeRequest } from "./decode_worker.ts";
 * const request: DecodeRequest = { id: 0, paths: ["a.png"], height: 32, width: 32 };
 * const result = decodeChunk(request);
 * console.log(result.errors); // a.png's error: it does not exist here
 * ```
 */
export interface DecodeRequest {
  /** Echoed in the result. */
  id: number;
  /** Absolute file paths. */
  paths: string[];
  /** Every image must be this tall... */
  height: number;
  /** ...and this wide. */
  width: number;
}

/**
 * A decoded chunk: pixels of failed files are left zero and their error is given.
 *
 * @example
 * ```ts
 * import { decodeChunk, type DecodeResult } from "./decode_worker.ts";
 * const result: DecodeResult = decodeChunk({ id: 0, paths: ["a.png"], height: 32, width: 32 });
 * console.log(result.pixels.length, result.errors);
 * ```
 */
export interface DecodeResult {
  /** The request's id. */
  id: number;
  /** Packed pixels [paths.length, height, width, 3]. */
  pixels: Uint8Array;
  /** Null where a file decoded, else the reason it did not (the message names the file). */
  errors: (string | null)[];
  /** Height and width of each file as decoded, [paths.length, 2]; 0 where it did not decode. */
  sizes: Int32Array;
}

function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** The position of the last `FF xx` marker in `bytes`, or -1. */
function lastMarker(bytes: Uint8Array, marker: number): number {
  for (let i = bytes.length - 2; i >= 0; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === marker) return i;
  }
  return -1;
}

function decodeCompleteJpeg(bytes: Uint8Array): DecodedImage {
  // The commonest damage, named more plainly than libjpeg-turbo's rejection: a JPEG must end its
  // last scan with an end-of-image marker (a thumbnail's EOI comes before the main scan's SOS).
  if (lastMarker(bytes, 0xd9) < lastMarker(bytes, 0xda)) {
    throw new Error("truncated JPEG (no end-of-image marker after the last scan)");
  }
  return decodeJpeg(bytes);
}

function decodePng(bytes: Uint8Array): DecodedImage {
  // A PNG ends with its IEND chunk: without it, the file was cut short.
  const end = bytes.length - 8;
  if (
    end < 0 || bytes[end] !== 0x49 || bytes[end + 1] !== 0x45 || bytes[end + 2] !== 0x4e ||
    bytes[end + 3] !== 0x44
  ) {
    throw new Error("truncated PNG (no IEND chunk at the end)");
  }
  const image = png.decode(bytes, { checkCrc: true });
  const { width, height } = image;
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  if (image.palette) {
    const colors = png.convertIndexedToRgb(image);
    const step = image.palette[0].length; // 3, or 4 with a tRNS chunk
    for (let i = 0; i < n; i++) rgb.set(colors.subarray(i * step, i * step + 3), i * 3);
    return { width, height, data: rgb };
  }
  const channels = image.channels;
  const depth = image.depth;
  const samples = image.data;
  const rowBytes = Math.ceil((width * channels * depth) / 8);
  const max = (1 << depth) - 1;
  const sample = (y: number, x: number, c: number): number => {
    if (depth === 8) return samples[(y * width + x) * channels + c];
    if (depth === 16) return samples[(y * width + x) * channels + c] >> 8;
    // 1, 2 or 4 bits (grey only): packed most significant first, rows start on a byte.
    const bit = (x * channels + c) * depth;
    const byte = samples[y * rowBytes + (bit >> 3)];
    return Math.round(((byte >> (8 - depth - (bit & 7))) & max) * 255 / max);
  };
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 3) {
      if (channels >= 3) {
        rgb[i] = sample(y, x, 0);
        rgb[i + 1] = sample(y, x, 1);
        rgb[i + 2] = sample(y, x, 2);
      } else {
        rgb[i] = rgb[i + 1] = rgb[i + 2] = sample(y, x, 0);
      }
    }
  }
  return { width, height, data: rgb };
}

/**
 * Resolves once the image decoders are loaded (libjpeg-turbo's WASM, on first use): await it
 * before calling `decodeImage` yourself (`imageFolder` does it for you).
 *
 * @example
 * ```ts
 * import { imageDecodersReady } from "@hajime/nn";
 * await imageDecodersReady();
 * ```
 */
export function imageDecodersReady(): Promise<void> {
  return jpegDecoderReady();
}

/**
 * Decodes a JPEG or PNG file's bytes (the format is told by its signature, not its name) into
 * RGB. Errors name `path` and say what is wrong.
 *
 * @example
 * ```ts
 * import { decodeImage, imageDecodersReady } from "@hajime/nn";
 * const path = "data/cifar/train/cat/0000.jpg";
 * await imageDecodersReady();
 * const { width, height, data } = decodeImage(await Deno.readFile(path), path);
 * console.log(width, height, data.length); // 32 32 3072
 * ```
 */
export function decodeImage(bytes: Uint8Array, path: string): DecodedImage {
  try {
    if (isJpeg(bytes)) return decodeCompleteJpeg(bytes);
    if (png.hasPngSignature(bytes)) return decodePng(bytes);
  } catch (error) {
    throw new Error(`${path}: cannot decode: ${(error as Error).message}`);
  }
  throw new Error(`${path}: not a JPEG or PNG file (${bytes.length} bytes)`);
}

/**
 * Reads and decodes a chunk of files into one packed array; a file that cannot be read or
 * decoded, or has another size, is reported in `errors` and left zero. Await
 * {@linkcode jpegDecoderReady} between chunks (the worker does).
 *
 * @example
 * ```ts
 * import { decodeChunk } from "./decode_worker.ts";
 * const result = decodeChunk({ id: 0, paths: ["a.png", "b.png"], height: 32, width: 32 });
 * console.log(result.errors.filter((e) => e !== null));
 * ```
 */
export function decodeChunk(request: DecodeRequest): DecodeResult {
  const { id, paths, height, width } = request;
  const stride = height * width * 3;
  const pixels = new Uint8Array(paths.length * stride);
  const errors: (string | null)[] = [];
  const sizes = new Int32Array(paths.length * 2);
  for (let i = 0; i < paths.length; i++) {
    try {
      let bytes: Uint8Array;
      try {
        bytes = Deno.readFileSync(paths[i]);
      } catch (error) {
        throw new Error(`${paths[i]}: cannot read: ${(error as Error).message}`);
      }
      const image = decodeImage(bytes, paths[i]);
      sizes.set([image.height, image.width], 2 * i);
      if (image.width !== width || image.height !== height) {
        throw new Error(
          `${paths[i]}: image is ${image.width}×${image.height}, expected ${width}×${height}`,
        );
      }
      pixels.set(image.data, i * stride);
      errors.push(null);
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  return { id, pixels, errors, sizes };
}

// As a worker: say "ready" (messages sent while jpeg.ts was still loading would have been lost),
// then answer each request with its decoded chunk, handing the pixels over without a copy.
const scope = globalThis as unknown as {
  WorkerGlobalScope?: new () => unknown;
  onmessage: ((event: MessageEvent<DecodeRequest>) => void) | null;
  postMessage(message: DecodeResult | "ready", transfer?: Transferable[]): void;
};
if (scope.WorkerGlobalScope && globalThis instanceof scope.WorkerGlobalScope) {
  scope.onmessage = async (event) => {
    await jpegDecoderReady();
    const result = decodeChunk(event.data);
    scope.postMessage(result, [
      result.pixels.buffer as ArrayBuffer,
      result.sizes.buffer as ArrayBuffer,
    ]);
  };
  scope.postMessage("ready");
}
