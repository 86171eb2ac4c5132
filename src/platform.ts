/**
 * What the engine asks of its host, so that it runs in Deno and in a browser alike: environment
 * variables and a small text store (the autotuner's kernel-choice cache). The engine (gpu/,
 * tensor, kernels/, nn/, optim/, models/) calls no `Deno.*` API; it asks {@link platform}.
 *
 * The Deno entry point (`mod.ts`) installs `denoPlatform` (src/platform_deno.ts: env variables,
 * files under the cache folder); the browser entry point (`web.ts`) installs {@link webPlatform}
 * (no env variables, `localStorage`). Until one is installed, the engine runs on an in-memory
 * platform: nothing read, nothing kept.
 *
 * @module
 */

/** The host services the engine uses. */
export interface Platform {
  /** `"deno"`, `"web"`, ...: for messages. */
  readonly name: string;
  /** An environment variable, or undefined when unset or not readable (never a prompt). */
  env(name: string): string | undefined;
  /**
   * Where a cache entry called `name` lives by default (a file path, a storage key), or null when
   * there is nowhere to keep it.
   */
  cacheLocation(name: string): string | null;
  /**
   * The text stored at `location`; null when there is none or it may not be read. Throws when it
   * exists but cannot be read.
   */
  readText(location: string): string | null;
  /**
   * Replaces the text at `location` as a whole (a reader never sees half of it); does nothing
   * where writing is not permitted; rejects when the write fails.
   */
  writeText(location: string, text: string): Promise<void>;
}

/** Options of {@link webPlatform}. */
export interface WebPlatformOptions {
  /**
   * Where texts are kept: default `globalThis.localStorage` where the page may use it, else a
   * memory store; null keeps them in memory.
   */
  storage?: Pick<Storage, "getItem" | "setItem"> | null;
  /** The environment the engine sees (e.g. `{ HAJIME_AUTOTUNE: "0" }`); default none. */
  env?: Readonly<Record<string, string>>;
  /** The prefix of storage keys; default `"hajime/"`. */
  prefix?: string;
}

/** A Storage-like map in memory. */
function memoryStorage(): Pick<Storage, "getItem" | "setItem"> {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
  };
}

/** `localStorage`, or null where it is missing or refused (opaque origins, workers). */
function localStorageIfAllowed(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/**
 * A platform from web APIs only: env variables from `options.env`, texts in `localStorage` (or
 * memory), keyed `hajime/<name>`.
 *
 * @example
 * ```ts
 * import { setPlatform, webPlatform } from "@hajime/nn/gpu";
 * setPlatform(webPlatform({ storage: null, env: { HAJIME_AUTOTUNE: "0" } }));
 * ```
 */
export function webPlatform(options: WebPlatformOptions = {}): Platform {
  const storage = (options.storage === undefined ? localStorageIfAllowed() : options.storage) ??
    memoryStorage();
  const env = { ...options.env };
  const prefix = options.prefix ?? "hajime/";
  return {
    name: "web",
    env: (name) => Object.hasOwn(env, name) ? env[name] : undefined,
    cacheLocation: (name) => prefix + name,
    readText: (location) => storage.getItem(location),
    writeText: (location, text) => {
      try {
        storage.setItem(location, text);
        return Promise.resolve();
      } catch (error) {
        return Promise.reject(error); // e.g. the storage quota is full
      }
    },
  };
}

let current: Platform | null = null;

/**
 * The platform the engine uses: the one installed last, else an in-memory one.
 *
 * @example
 * ```ts
 * import { platform } from "@hajime/nn/gpu";
 * console.log(platform().name); // "deno" after importing @hajime/nn in Deno
 * ```
 */
export function platform(): Platform {
  return current ??= webPlatform({ storage: null });
}

/**
 * Installs `next` as the platform the engine uses; returns the previous one.
 *
 * @example
 * ```ts
 * import { setPlatform, webPlatform } from "@hajime/nn/gpu";
 * const previous = setPlatform(webPlatform({ storage: null }));
 * setPlatform(previous);
 * ```
 */
export function setPlatform(next: Platform): Platform {
  const previous = platform();
  current = next;
  return previous;
}
