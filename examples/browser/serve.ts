/**
 * `deno task serve`: serves the browser example (this folder, bundled by `deno task bundle`) on
 * 127.0.0.1, with the CIFAR-10 binary batches (`data_batch_1.bin` … `test_batch.bin`) under
 * `/cifar-10-batches-bin/`, where the page looks for them by default.
 *
 * Usage: deno run --allow-net=127.0.0.1 --allow-read examples/browser/serve.ts
 *   [--port 8000] [--data data/cifar-10-batches-bin]
 *
 * The browser tests serve their pages and data with {@linkcode serveStatic} too.
 *
 * @module
 */

import { extname, join, normalize } from "node:path";

/** Options of {@linkcode serveStatic}. */
export interface StaticOptions {
  /** URL path prefix (ending in `/`) → folder served under it. */
  folders?: Readonly<Record<string, string>>;
  /** URL path → bytes or text served from memory (wins over folders). */
  files?: Readonly<Record<string, Uint8Array | string>>;
  /** The port; 0 picks a free one. Default 0. */
  port?: number;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".bin": "application/octet-stream",
};

function typeOf(path: string): string {
  return TYPES[extname(path)] ?? "application/octet-stream";
}

/** The file `path` maps to under `folders`, or null (never outside a folder: no `..`). */
function resolveFile(folders: Readonly<Record<string, string>>, path: string): string | null {
  const prefix = Object.keys(folders).filter((p) => path.startsWith(p))
    .sort((a, b) => b.length - a.length)[0];
  if (prefix === undefined) return null;
  const rest = normalize(decodeURIComponent(path.slice(prefix.length)) || "index.html");
  if (rest.startsWith("..") || rest.startsWith("/")) return null;
  return join(folders[prefix], rest.endsWith("/") ? join(rest, "index.html") : rest);
}

async function respond(options: StaticOptions, request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  const headers = { "content-type": typeOf(path), "cache-control": "no-store" };
  const inMemory = options.files?.[path];
  if (inMemory !== undefined) return new Response(inMemory as BodyInit, { headers });
  const file = resolveFile(options.folders ?? {}, path);
  if (file !== null) {
    try {
      return new Response((await Deno.open(file)).readable, {
        headers: { ...headers, "content-type": typeOf(file) },
      });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory)) {
        return new Response(`cannot read ${path}: ${(error as Error).message}`, { status: 500 });
      }
    }
  }
  return new Response(`${path} not found`, { status: 404 });
}

/**
 * A static HTTP server on 127.0.0.1; `url` is its address (ending in `/`).
 *
 * @example
 * ```ts
 * import { serveStatic } from "./serve.ts";
 * const server = serveStatic({ folders: { "/": "examples/browser" }, files: { "/hi.txt": "hi" } });
 * console.log(await (await fetch(server.url + "hi.txt")).text()); // hi
 * await server.shutdown();
 * ```
 */
export function serveStatic(options: StaticOptions): {
  url: string;
  shutdown: () => Promise<void>;
} {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    (request) => respond(options, request),
  );
  return { url: `http://127.0.0.1:${server.addr.port}/`, shutdown: () => server.shutdown() };
}

function flag(args: string[], name: string, fallback: string): string {
  const at = args.indexOf(name);
  return at >= 0 && at + 1 < args.length ? args[at + 1] : fallback;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Serves the example until Ctrl-C; returns an exit code for a bad flag or a taken port. */
function main(args: string[]): number {
  const here = new URL(".", import.meta.url).pathname;
  const data = flag(args, "--data", "data/cifar-10-batches-bin");
  const port = Number(flag(args, "--port", "8000"));
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(
      `error: --port must be an integer in [0, 65535], got ${flag(args, "--port", "")}`,
    );
    return 2;
  }
  if (!exists(join(here, "main.js"))) {
    console.error("error: examples/browser/main.js is missing: run `deno task bundle` first");
    return 1;
  }
  if (!exists(join(data, "data_batch_1.bin"))) {
    console.warn(
      `note: no ${join(data, "data_batch_1.bin")}: pick the batch files in the page, or pass ` +
        "--data <folder with data_batch_1.bin … test_batch.bin>",
    );
  }
  try {
    const server = serveStatic({ port, folders: { "/": here, "/cifar-10-batches-bin/": data } });
    console.log(`hajime browser example: ${server.url} (Ctrl-C stops)`);
  } catch (error) {
    console.error(`error: cannot serve on 127.0.0.1:${port}: ${(error as Error).message}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  const code = main(Deno.args);
  if (code !== 0) Deno.exit(code);
}
