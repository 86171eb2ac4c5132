/**
 * Per-adapter kernel variant selection. A hot kernel family (matmul, conv forward, ...) offers a
 * few named variants that compute identical results at different speeds on different adapters
 * (llvmpipe runs a workgroup on one CPU thread, a real GPU spreads it over SIMD units). The first
 * time a (family, shape key) is tuned, each variant is timed briefly and the fastest is kept; the
 * choices are saved in a JSON file keyed by the adapter's description and hajime's version, so
 * later runs start with them.
 *
 * Kernels record synchronously, timing needs `await`: kernels ask {@link Autotuner.choice}, which
 * answers at once (the tuned or cached variant, else the family's default, so correctness never
 * depends on tuning) and remembers untuned keys; a caller with time to spare, e.g. a trainer after
 * recording its first step, awaits {@link Autotuner.tunePending} to time them.
 *
 * Environment (read through src/platform.ts, so the same holds in a browser): `HAJIME_AUTOTUNE=0`
 * turns tuning off (defaults only, the cache is neither read nor written); `HAJIME_AUTOTUNE=retune`
 * ignores this adapter's cached choices and times every shape again, replacing them in the file
 * (choices timed while other work loaded the machine can be poor, and are otherwise kept);
 * `HAJIME_KERNEL_CACHE`
 * names the cache file (default: the platform's location for `kernel-choices.json`: in Deno, in
 * `defaultCacheDir()`: `$HAJIME_CACHE_DIR`, `$XDG_CACHE_HOME/hajime` or `~/.cache/hajime`; in a
 * browser, the `localStorage` key `hajime/kernel-choices.json`). Without read/write permission
 * for the file (or env permission to find it) choices stay in memory.
 *
 * Cache file: `{"format": 1, "entries": [{"adapter", "version", "choices": {family: {key:
 * variant}}}]}`; an entry is used only when both its adapter and version match.
 *
 * @module
 */

import meta from "../../deno.json" with { type: "json" };
import { gpuInfo } from "./device.ts";
import { sync } from "./step.ts";
import { platform } from "../platform.ts";

/** hajime's version (deno.json's `version`): part of every cache key. */
export const HAJIME_VERSION: string = meta.version;

/** The work of every variant of a family for one shape key, on inputs made for the timing. */
export interface TuneCase {
  /** Records one call of a variant, by variant name (every name the family lists for the key). */
  readonly variants: Readonly<Record<string, () => void>>;
  /** Frees what the case allocated (called after the timing has synced). */
  dispose(): void;
}

/** A hot kernel family with interchangeable variants. */
export interface KernelFamily {
  /** `"matmul"`, `"conv2d.forward"`, ...: the name in the cache file. */
  readonly name: string;
  /**
   * The variant names on the current adapter; with a shape key, those offered for that shape
   * (the ones tuning times). Every variant runs every shape: one not offered for a shape runs the
   * default there.
   */
  variants(key?: string): readonly string[];
  /**
   * Every variant this adapter can build, offered or not (default: `variants()`): a superset of
   * {@link variants} in which those tuning would not time here (hardware tiles on a software
   * adapter) can still be forced, so tests check every variant on every adapter.
   */
  allVariants?(): readonly string[];
  /** The variant used for an untuned key (with tuning off, always). */
  defaultVariant(key: string): string;
  /** Allocates inputs of the shape `key` describes and returns each variant's recorder. */
  prepare(key: string): TuneCase;
}

const families = new Map<string, KernelFamily>();

/**
 * Every variant `family` can build on this adapter, offered or not: what
 * {@link Autotuner.force} accepts.
 *
 * @example
 * ```ts
 * import { initGpu } from "@hajime/nn";
 * import { allVariants } from "@hajime/nn/gpu";
 * await initGpu();
 * console.log(allVariants("matmul")); // ["16x4", "8x8", "32x1", "tiled64x64"]
 * ```
 */
export function allVariants(family: string): readonly string[] {
  const fam = kernelFamily(family);
  return fam.allVariants?.() ?? fam.variants();
}

/**
 * Makes a family known to the autotuner; kernel files register theirs when imported.
 *
 * @example
 * ```ts
 * import { registerKernelFamily } from "@hajime/nn/gpu";
 * registerKernelFamily({
 *   name: "example.noop",
 *   variants: () => ["a", "b"],
 *   defaultVariant: () => "a",
 *   prepare: () => ({ variants: { a: () => {}, b: () => {} }, dispose: () => {} }),
 * });
 * ```
 */
export function registerKernelFamily(family: KernelFamily): void {
  if (families.has(family.name)) {
    throw new Error(`Autotune: kernel family "${family.name}" is already registered`);
  }
  families.set(family.name, family);
}

/**
 * A registered family, by name; throws for an unknown one.
 *
 * @example
 * ```ts
 * import { initGpu } from "@hajime/nn";
 * import { kernelFamily } from "@hajime/nn/gpu";
 * await initGpu();
 * console.log(kernelFamily("matmul").variants()); // on llvmpipe ["16x4", "8x8", "32x1"]
 * ```
 */
export function kernelFamily(name: string): KernelFamily {
  const family = families.get(name);
  if (!family) throw new Error(`Autotune: unknown kernel family "${name}"`);
  return family;
}

/** Options of {@link Autotuner}; each defaults from the environment. */
export interface AutotunerOptions {
  /** The cache file, or null to keep choices in memory. Default: see the module docs. */
  cacheFile?: string | null;
  /** Time variants (default: unless `HAJIME_AUTOTUNE=0`); false means defaults only. */
  enabled?: boolean;
  /** Ignore the cached choices and time every shape again (default: `HAJIME_AUTOTUNE=retune`). */
  retune?: boolean;
  /** Milliseconds, monotonic; injectable so tests can count timings. Default `performance.now`. */
  clock?: () => number;
  /** The adapter part of the cache key. Default: `gpuInfo().description`. */
  adapter?: string;
  /** The version part of the cache key. Default: {@link HAJIME_VERSION}. */
  version?: string;
  /** Timed rounds per key (the variants interleaved, the best round kept). Default 3. */
  rounds?: number;
  /** Calls recorded per variant per round, then one `sync()`. Default 2. */
  calls?: number;
  /** No new round starts once a key's timing has taken this many milliseconds. Default 400. */
  budgetMs?: number;
  /** The default variant stays unless another is faster by this fraction. Default 0.05. */
  margin?: number;
}

/** What tuning decided for one key. */
export interface TuneResult {
  /** The family's name. */
  family: string;
  /** The shape key. */
  key: string;
  /** The variant chosen. */
  variant: string;
  /** Best milliseconds per call of each variant timed (empty when nothing was timed). */
  msPerCall: Record<string, number>;
}

interface CacheEntry {
  adapter: string;
  version: string;
  choices: Record<string, Record<string, string>>;
}

const CACHE_FORMAT = 1;
const CACHE_NAME = "kernel-choices.json";

function defaultCacheFile(): string | null {
  return platform().env("HAJIME_KERNEL_CACHE") || platform().cacheLocation(CACHE_NAME);
}

/** The entries of a cache file's text; throws on anything but the expected structure. */
function parseEntries(text: string): CacheEntry[] {
  const data = JSON.parse(text);
  if (data?.format !== CACHE_FORMAT || !Array.isArray(data.entries)) {
    throw new Error(`not a format-${CACHE_FORMAT} kernel-choice file`);
  }
  for (const entry of data.entries) {
    const ok = typeof entry?.adapter === "string" && typeof entry.version === "string" &&
      typeof entry.choices === "object" && entry.choices !== null &&
      Object.values(entry.choices).every((keys) =>
        typeof keys === "object" && keys !== null &&
        Object.values(keys).every((v) => typeof v === "string")
      );
    if (!ok) throw new Error("malformed entry");
  }
  return data.entries;
}

/**
 * Chooses, times and remembers kernel variants. One instance is current at a time
 * ({@link autotuner}); kernels ask it for their variant on every call.
 *
 * @example
 * ```ts
 * import { initGpu } from "@hajime/nn";
 * import { Autotuner, setAutotuner } from "@hajime/nn/gpu";
 * await initGpu();
 * const tuner = new Autotuner({ cacheFile: "/tmp/hajime-kernels.json" });
 * setAutotuner(tuner);
 * // ... record a first training step, then time the shapes it met:
 * for (const r of await tuner.tunePending()) console.log(r.family, r.key, r.variant);
 * ```
 */
export class Autotuner {
  /** Whether variants are timed; when false every family runs its default. */
  readonly enabled: boolean;
  /** Whether cached choices are ignored, so every shape met is timed again. */
  readonly retune: boolean;
  /** The cache file, or null when choices stay in memory. */
  readonly cacheFile: string | null;
  #clock: () => number;
  #adapter: string | undefined;
  #version: string;
  #rounds: number;
  #calls: number;
  #budgetMs: number;
  #margin: number;
  #choices = new Map<string, Map<string, string>>();
  #forced = new Map<string, string>();
  #pending = new Map<string, [string, string]>();
  #loaded = false;
  #warned = false;

  /** Options default from the environment (see the module docs); nothing is read until used. */
  constructor(opts: AutotunerOptions = {}) {
    const mode = platform().env("HAJIME_AUTOTUNE");
    this.enabled = opts.enabled ?? mode !== "0";
    this.retune = this.enabled && (opts.retune ?? mode === "retune");
    this.cacheFile = opts.cacheFile !== undefined ? opts.cacheFile : defaultCacheFile();
    this.#clock = opts.clock ?? (() => performance.now());
    this.#adapter = opts.adapter;
    this.#version = opts.version ?? HAJIME_VERSION;
    this.#rounds = opts.rounds ?? 3;
    this.#calls = opts.calls ?? 2;
    this.#budgetMs = opts.budgetMs ?? 400;
    this.#margin = opts.margin ?? 0.05;
    for (const [name, value] of [["rounds", this.#rounds], ["calls", this.#calls]] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(`Autotuner: ${name} must be an integer ≥ 1, got ${value}`);
      }
    }
    for (const [name, value] of [["budgetMs", this.#budgetMs], ["margin", this.#margin]] as const) {
      if (!(value >= 0)) throw new Error(`Autotuner: ${name} must be ≥ 0, got ${value}`);
    }
  }

  /** The adapter this tuner's choices are for. */
  get adapter(): string {
    return this.#adapter ??= gpuInfo().description;
  }

  /** The hajime version this tuner's choices are for. */
  get version(): string {
    return this.#version;
  }

  /**
   * The variant to record for `key` now: a forced one, else the tuned or cached one, else the
   * family's default (and the key is remembered for {@link tunePending}). Never waits.
   */
  choice(family: string, key: string): string {
    const fam = kernelFamily(family);
    const forced = this.#forced.get(family);
    if (forced !== undefined) return forced;
    if (!this.enabled) return fam.defaultVariant(key);
    this.#load();
    const chosen = this.#choices.get(family)?.get(key);
    if (chosen !== undefined && fam.variants(key).includes(chosen)) return chosen;
    this.#pending.set(`${family}\n${key}`, [family, key]);
    return fam.defaultVariant(key);
  }

  /**
   * Pins `variant` for every key of `family` (tests, benchmarks comparing variants), or with null
   * lifts the pin: any of {@link allVariants}, offered here or not. Pins are never saved.
   */
  force(family: string, variant: string | null): void {
    if (variant === null) {
      kernelFamily(family);
      this.#forced.delete(family);
      return;
    }
    const names = allVariants(family);
    if (!names.includes(variant)) {
      throw new Error(
        `Autotuner.force: "${family}" has no variant "${variant}" (it has ${names.join(", ")})`,
      );
    }
    this.#forced.set(family, variant);
  }

  /** The keys {@link choice} met without a choice, as `[family, key]`, not yet tuned. */
  pending(): [string, string][] {
    return [...this.#pending.values()];
  }

  /** Every known choice: family → key → variant (loaded from the cache or tuned). */
  choices(): Record<string, Record<string, string>> {
    this.#load();
    const out: Record<string, Record<string, string>> = {};
    for (const [family, keys] of this.#choices) out[family] = Object.fromEntries(keys);
    return out;
  }

  /**
   * Times every variant of `family` for `key` unless a choice exists, keeps the fastest and saves
   * the cache file. Flushes the open frame (it awaits `sync()`).
   */
  async tune(family: string, key: string): Promise<TuneResult> {
    const result = await this.#tuneOne(family, key);
    if (Object.keys(result.msPerCall).length > 0) await this.#save();
    return result;
  }

  /**
   * Tunes every key {@link choice} met without a choice, then saves the cache file once. Call it
   * after recording a first step (or a benchmark's warm-up); later calls of those shapes record
   * the chosen variants. Returns a result per key tuned.
   */
  async tunePending(): Promise<TuneResult[]> {
    const results: TuneResult[] = [];
    for (const [id, [family, key]] of [...this.#pending]) {
      this.#pending.delete(id);
      results.push(await this.#tuneOne(family, key));
    }
    if (results.some((r) => Object.keys(r.msPerCall).length > 0)) await this.#save();
    return results;
  }

  async #tuneOne(family: string, key: string): Promise<TuneResult> {
    const fam = kernelFamily(family);
    this.#pending.delete(`${family}\n${key}`);
    const names = fam.variants(key);
    const fallback = fam.defaultVariant(key);
    if (!this.enabled) return { family, key, variant: fallback, msPerCall: {} };
    this.#load();
    const known = this.#choices.get(family)?.get(key);
    if (known !== undefined && names.includes(known)) {
      return { family, key, variant: known, msPerCall: {} };
    }
    const best: Record<string, number> = {};
    if (names.length > 1) {
      const tuneCase = fam.prepare(key);
      try {
        // Warm-up: builds every variant's pipelines and drains the queue before timing.
        for (const name of names) tuneCase.variants[name]();
        await sync();
        const start = this.#clock();
        for (let round = 0; round < this.#rounds; round++) {
          // Rotate the order so a change in machine load does not favour one variant.
          for (let i = 0; i < names.length; i++) {
            const name = names[(i + round) % names.length];
            const t0 = this.#clock();
            for (let c = 0; c < this.#calls; c++) tuneCase.variants[name]();
            await sync();
            const ms = (this.#clock() - t0) / this.#calls;
            best[name] = Math.min(best[name] ?? Infinity, ms);
          }
          if (this.#clock() - start > this.#budgetMs) break;
        }
      } finally {
        tuneCase.dispose();
      }
    }
    let variant = fallback;
    if (names.length > 1) {
      const fastest = names.reduce((a, b) => best[b] < best[a] ? b : a);
      if (best[fastest] * (1 + this.#margin) < best[fallback]) variant = fastest;
    }
    this.#remember(family, key, variant);
    return { family, key, variant, msPerCall: best };
  }

  #remember(family: string, key: string, variant: string): void {
    let keys = this.#choices.get(family);
    if (!keys) this.#choices.set(family, keys = new Map());
    keys.set(key, variant);
  }

  #warn(reason: string): void {
    if (this.#warned) return;
    this.#warned = true;
    console.warn(`hajime: ignoring the kernel-choice cache ${this.cacheFile}: ${reason}`);
  }

  /** The file's entries; [] when missing, unreadable or corrupt (warned about once). */
  #readEntries(): CacheEntry[] {
    const path = this.cacheFile;
    if (!path) return [];
    let text: string | null;
    try {
      text = platform().readText(path);
    } catch (error) {
      this.#warn(String(error));
      return [];
    }
    if (text === null) return [];
    try {
      return parseEntries(text);
    } catch (error) {
      this.#warn(error instanceof Error ? error.message : String(error));
      return [];
    }
  }

  #mine(entry: CacheEntry): boolean {
    return entry.adapter === this.adapter && entry.version === this.#version;
  }

  /** Loads this adapter and version's choices once (unless retuning); tuned choices made since win. */
  #load(): void {
    if (this.#loaded) return;
    this.#loaded = true;
    if (this.retune) return;
    const entry = this.#readEntries().find((e) => this.#mine(e));
    if (!entry) return;
    for (const [family, keys] of Object.entries(entry.choices)) {
      for (const [key, variant] of Object.entries(keys)) {
        if (!this.#choices.get(family)?.has(key)) this.#remember(family, key, variant);
      }
    }
  }

  /**
   * Writes the choices as a whole (the platform's `writeText`), merged with what the file holds now
   * (other adapters, versions, processes). A failed write warns and is otherwise ignored.
   */
  async #save(): Promise<void> {
    const path = this.cacheFile;
    if (!path) return;
    const entries = this.#readEntries();
    let entry = entries.find((e) => this.#mine(e));
    if (!entry) {
      entry = { adapter: this.adapter, version: this.#version, choices: {} };
      entries.push(entry);
    }
    for (const [family, keys] of this.#choices) {
      entry.choices[family] = { ...entry.choices[family], ...Object.fromEntries(keys) };
    }
    const text = JSON.stringify({ format: CACHE_FORMAT, entries }, null, 1) + "\n";
    try {
      await platform().writeText(path, text);
    } catch (error) {
      console.warn(`hajime: could not write the kernel-choice cache ${path}: ${error}`);
    }
  }
}

let current: Autotuner | null = null;

/**
 * The autotuner kernels consult, created from the environment on first use.
 *
 * @example
 * ```ts
 * import { initGpu } from "@hajime/nn";
 * import { autotuner } from "@hajime/nn/gpu";
 * await initGpu();
 * // ... record a first training step, then time the shapes it met:
 * await autotuner().tunePending();
 * ```
 */
export function autotuner(): Autotuner {
  return current ??= new Autotuner();
}

/**
 * Makes `tuner` the one kernels consult (another cache file, a test clock); returns the previous.
 *
 * @example
 * ```ts
 * import { Autotuner, setAutotuner } from "@hajime/nn/gpu";
 * const previous = setAutotuner(new Autotuner({ cacheFile: null, enabled: false }));
 * setAutotuner(previous);
 * ```
 */
export function setAutotuner(tuner: Autotuner): Autotuner {
  const previous = autotuner();
  current = tuner;
  return previous;
}
