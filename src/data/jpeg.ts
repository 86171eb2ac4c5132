/**
 * JPEG decoding as PIL and torchvision do it: libjpeg-turbo, compiled to WebAssembly
 * (`npm:@cornerstonejs/codec-libjpeg-turbo-8bit`), with libjpeg's defaults: the accurate integer
 * IDCT and "fancy" chroma upsampling, which interpolates subsampled (4:2:0, 4:2:2) colour instead
 * of repeating it. The pixels are those of PIL's `Image.open(path).convert("RGB")`, bit for bit;
 * tests/data_jpeg_test.ts checks it on files PIL wrote and decoded.
 *
 * A JPEG that libjpeg-turbo only warns about while decoding (a scan cut short, corrupt data) is
 * rejected here, where PIL may decode it: such a file is damaged and its pixels partly made up.
 *
 * @module
 */

import createLibjpegTurbo from "@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs";
import type { DecodedImage } from "./decode_worker.ts";

/** The part of the package's Emscripten module and its `JPEGDecoder` that is used here. */
interface LibjpegTurbo {
  JPEGDecoder: new () => {
    /** A view of `size` bytes of WASM memory to copy the file into (valid until the next call). */
    getEncodedBuffer(size: number): Uint8Array;
    /** Decodes to RGB (grey for one-channel files); throws a bare number on failure. */
    decode(): void;
    getFrameInfo(): { width: number; height: number; componentCount: number };
    /** A view of the decoded pixels in WASM memory (valid until the next call). */
    getDecodedBuffer(): Uint8Array;
    /** Frees the decoder's WASM memory. */
    delete(): void;
  };
}

const load = createLibjpegTurbo as () => Promise<LibjpegTurbo>;

/**
 * The build has no C++ exception support: every failed decode leaks a little WASM memory and
 * stack, and after about 4,000 failures the instance breaks. So after a failure a fresh instance
 * is loaded in the background and swapped in once the event loop runs; this many failures before
 * then are refused rather than risk the broken state.
 */
const MAX_FAILURES = 1000;

type Decoder = InstanceType<LibjpegTurbo["JPEGDecoder"]>;

// Loaded on first use (reading the WASM file needs read permission, which `--help` does not).
let decoder: Decoder | null = null;
let failures = 0;
let replacing: Promise<void> | null = null;

/** Loads a fresh instance in the background and swaps it in. */
function reload(): Promise<void> {
  return replacing ??= load().then((module) => {
    decoder?.delete();
    decoder = new module.JPEGDecoder();
    failures = 0;
    replacing = null;
  });
}

function failed(): void {
  failures++;
  reload();
}

/**
 * Resolves once the decoder is loaded and has recovered from earlier failures. Call it before
 * the first decode; loops that decode many files without returning to the event loop await it now
 * and then, so a folder of broken files never exhausts the WASM instance.
 *
 * @example
 * ```ts
 * import { jpegDecoderReady } from "./jpeg.ts";
 * await jpegDecoderReady();
 * ```
 */
export function jpegDecoderReady(): Promise<void> {
  return decoder ? replacing ?? Promise.resolve() : reload();
}

/**
 * Decodes a baseline or progressive JPEG (YCbCr or grey) into RGB bytes [height, width, 3], as
 * PIL does. Throws a plain message (without the file name, which the caller adds) for a file
 * libjpeg-turbo rejects or warns about.
 *
 * @example
 * ```ts
 * import { decodeJpeg, jpegDecoderReady } from "./jpeg.ts";
 * await jpegDecoderReady();
 * const { width, height, data } = decodeJpeg(await Deno.readFile("photo.jpg"));
 * console.log(width, height, data.length); // RGB bytes: 3 per pixel
 * ```
 */
export function decodeJpeg(bytes: Uint8Array): DecodedImage {
  if (!decoder) {
    throw new Error("the JPEG decoder is not loaded yet: await imageDecodersReady() first");
  }
  if (failures >= MAX_FAILURES) {
    throw new Error(
      `${failures} JPEGs failed in a row without a pause: await jpegDecoderReady() before more`,
    );
  }
  try {
    decoder.getEncodedBuffer(bytes.length).set(bytes);
    decoder.decode();
  } catch {
    failed();
    throw new Error(
      "libjpeg-turbo rejects it: corrupt data, or a kind of JPEG it cannot turn into RGB (CMYK)",
    );
  }
  const { width, height, componentCount } = decoder.getFrameInfo();
  const decoded = decoder.getDecodedBuffer();
  if (componentCount === 3) return { width, height, data: decoded.slice() };
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = decoded[i];
  }
  return { width, height, data };
}
