/**
 * Downloads a `.tar.gz` archive with a progress bar, checks its MD5 while it streams, unpacks it
 * (gzip through `DecompressionStream`, tar with our own reader) into a temporary folder beside the
 * target, and moves the result into place with one rename: an interrupted or corrupt download
 * leaves nothing half-written behind.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { Progress } from "./progress.ts";
import { extractTar } from "./tar.ts";

/**
 * What to fetch and where to put it.
 *
 * @example
 * ```ts
 * import { downloadAndExtract, type DownloadOptions } from "@hajime/nn";
 * const options: DownloadOptions = {
 *   url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
 *   md5: "03b5dce01913d631647c71ecec9e9cb8",
 *   root: "data",
 *   folder: "cifar-100-binary",
 * };
 * await downloadAndExtract(options);
 * ```
 */
export interface DownloadOptions {
  /** The archive's address (`.tar.gz`). */
  url: string;
  /** The archive's MD5, lower-case hex; a mismatch rejects the download. */
  md5: string;
  /** The archive's size in bytes, used for the progress bar when the server does not say. */
  size?: number;
  /** The folder to put the result in (created if missing). */
  root: string;
  /** The folder inside the archive that is wanted; it ends up as `root/folder`. */
  folder: string;
  /** Show a progress bar (default true). */
  progress?: boolean;
  /** Names the caller in errors and on the progress bar, e.g. `"cifar10"`. */
  label?: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Downloads and unpacks `url` so that `root/folder` exists; returns that path. Does nothing when
 * it exists already. Errors say whether the machine looks offline, the server refused, or the
 * archive was corrupt or cut short; nothing is left behind in any of those cases.
 *
 * @example
 * ```ts
 * import { downloadAndExtract } from "@hajime/nn";
 * const folder = await downloadAndExtract({
 *   url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
 *   md5: "c32a1d4ab5d03f1284b67883e8d87530",
 *   root: "data",
 *   folder: "cifar-10-batches-bin",
 * });
 * console.log(folder); // data/cifar-10-batches-bin
 * ```
 */
export async function downloadAndExtract(options: DownloadOptions): Promise<string> {
  const { url, md5, root, folder } = options;
  const label = options.label ?? "download";
  const target = join(root, folder);
  if (await exists(target)) return target;
  await Deno.mkdir(root, { recursive: true });

  let response: Response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(
      `${label}: could not reach ${url} (offline?): ${(error as Error).message}. ` +
        `Download the archive elsewhere and unpack it so that ${target} exists, or point at a ` +
        `local folder of images with imageFolder(...)`,
    );
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    throw new Error(`${label}: ${url} answered HTTP ${response.status} ${response.statusText}`);
  }
  const total = Number(response.headers.get("content-length")) || options.size || 0;
  const hash = createHash("md5");
  const bar = options.progress === false
    ? null
    : new Progress({ label: `${label}: downloading`, total, unit: "bytes" });
  let received = 0;
  let bodyError: unknown = null;
  const body = response.body.getReader();
  // Counts and hashes every byte, and remembers a network failure so that it is reported as an
  // interrupted download rather than as a gzip error.
  const counted = new ReadableStream<Uint8Array<ArrayBuffer>>({
    async pull(controller) {
      let result: ReadableStreamReadResult<Uint8Array<ArrayBuffer>>;
      try {
        result = await body.read();
      } catch (error) {
        bodyError = error;
        controller.error(error);
        return;
      }
      if (result.done) {
        controller.close();
        return;
      }
      hash.update(result.value);
      received += result.value.length;
      bar?.add(result.value.length);
      controller.enqueue(result.value);
    },
    cancel: (reason) => body.cancel(reason),
  });

  const temp = await Deno.makeTempDir({ dir: root, prefix: ".hajime-download-" });
  try {
    try {
      await extractTar(counted.pipeThrough(new DecompressionStream("gzip")), temp, url);
    } catch (error) {
      if (bodyError) {
        throw new Error(
          `${label}: the download of ${url} was interrupted after ${received} of ${total} ` +
            `bytes (${(bodyError as Error).message}); nothing was kept, run again to retry`,
        );
      }
      throw new Error(
        `${label}: ${url} is not a valid .tar.gz (corrupt download?): ` +
          `${(error as Error).message}; nothing was kept`,
      );
    }
    bar?.finish();
    const digest = hash.digest("hex");
    if (digest !== md5.toLowerCase()) {
      throw new Error(
        `${label}: ${url} has MD5 ${digest}, expected ${md5} (corrupt or tampered download; ` +
          `${received} bytes); nothing was kept`,
      );
    }
    if (!(await exists(join(temp, folder)))) {
      throw new Error(`${label}: ${url} does not contain the folder "${folder}"`);
    }
    try {
      await Deno.rename(join(temp, folder), target);
    } catch (error) {
      // Another process may have finished the same download first.
      if (!(await exists(target))) throw error;
    }
    return target;
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
}
