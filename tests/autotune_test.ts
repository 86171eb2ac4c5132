/**
 * The kernel-choice autotuner: cold and warm starts of the on-disk cache; a corrupt file; the
 * adapter and version in the key; HAJIME_AUTOTUNE=0. That every variant gives the reference's
 * results is tests/variants_test.ts.
 *
 * @module
 */

import { join } from "node:path";
import { gpuInfo, Tensor } from "../mod.ts";
import {
  Autotuner,
  HAJIME_VERSION,
  kernelFamily,
  registerKernelFamily,
} from "../src/gpu/autotune.ts";
import { conv2dBackward, conv2dForward } from "../src/kernels/conv2d.ts";
import { matmul } from "../src/kernels/matmul.ts";
import meta from "../deno.json" with { type: "json" };
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { withTuner } from "./gpu.ts";

const CONV_FAMILIES = ["conv2d.forward", "conv2d.backwardData", "conv2d.backwardWeight"];

/** A family with no GPU work whose variants advance a fake clock: "slow" 10 ms, "fast" 1 ms. */
let fakeNow = 0;
const fakeClock = () => fakeNow;
registerKernelFamily({
  name: "test.fake",
  variants: () => ["slow", "fast", "even"],
  defaultVariant: () => "slow",
  prepare: (key) => ({
    variants: {
      slow: () => fakeNow += 10,
      fast: () => fakeNow += key === "tie" ? 10 : 1,
      even: () => fakeNow += 10,
    },
    dispose: () => {},
  }),
});

/** Runs `fn` with console.warn captured; returns the warnings. */
async function captureWarnings(fn: () => Promise<void> | void): Promise<string[]> {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(" "));
  try {
    await fn();
  } finally {
    console.warn = original;
  }
  return warnings;
}

/** Every test's cache files live under one temporary folder, removed when the process ends. */
const tempRoot = Deno.makeTempDirSync({ prefix: "hajime-autotune-" });
globalThis.addEventListener("unload", () => Deno.removeSync(tempRoot, { recursive: true }));

function tempCacheFile(): string {
  // A folder that does not exist yet: the first save creates it.
  return join(Deno.makeTempDirSync({ dir: tempRoot }), "cache", "kernels.json");
}

function writeCache(path: string, entries: unknown[]): void {
  Deno.mkdirSync(join(path, ".."), { recursive: true });
  Deno.writeTextFileSync(path, JSON.stringify({ format: 1, entries }));
}

function readCache(path: string): {
  format: number;
  entries: { adapter: string; version: string; choices: Record<string, Record<string, string>> }[];
} {
  return JSON.parse(Deno.readTextFileSync(path));
}

Deno.test("the version in cache keys is deno.json's", () => {
  assertEquals(HAJIME_VERSION, meta.version);
});

/** Records a conv2d step and a matmul of small shapes: 4 (family, key) pairs. */
function recordSmallStep(): void {
  const x = Tensor.zeros([2, 3, 9, 9]);
  const weight = Tensor.zeros([5, 3, 3, 3]);
  const y = Tensor.empty([2, 5, 5, 5]);
  const dx = Tensor.empty([2, 3, 9, 9]);
  const dWeight = Tensor.zeros([5, 3, 3, 3]);
  conv2dForward(x, weight, null, y, { stride: 2, padding: 1 });
  conv2dBackward(y, x, weight, dx, dWeight, null, { stride: 2, padding: 1 });
  const a = Tensor.zeros([24, 40]);
  const c = Tensor.empty([24, 24]);
  matmul(a, a, c, { transB: true });
  for (const t of [x, weight, y, dx, dWeight, a, c]) t.dispose();
}

Deno.test("a cold start tunes and writes the cache; a warm start reuses it untimed", async () => {
  const cacheFile = tempCacheFile();
  let coldTicks = 0;
  const clock = () => (coldTicks++, performance.now());
  const cold = new Autotuner({ enabled: true, cacheFile, clock, rounds: 1, calls: 1 });
  assertEquals(cold.enabled, true);
  const results = await withTuner(cold, async () => {
    recordSmallStep();
    assertEquals(
      cold.pending().map(([family]) => family).sort(),
      [...CONV_FAMILIES, "matmul"].sort(),
    );
    return await cold.tunePending();
  });
  assert(coldTicks > 0, "the cold start timed the variants");
  assertEquals(results.length, 4);
  for (const r of results) {
    const offered = kernelFamily(r.family).variants(r.key);
    assertEquals(Object.keys(r.msPerCall).sort(), [...offered].sort());
    assert(kernelFamily(r.family).variants().includes(r.variant), `${r.family} chose ${r.variant}`);
  }
  assertEquals(cold.pending(), []);
  const file = readCache(cacheFile);
  assertEquals(file.format, 1);
  assertEquals(file.entries.length, 1);
  assertEquals(file.entries[0].adapter, gpuInfo().description);
  assertEquals(file.entries[0].version, meta.version);
  assertEquals(file.entries[0].choices, cold.choices());

  let warmTicks = 0;
  const warm = new Autotuner({
    enabled: true,
    cacheFile,
    clock: () => (warmTicks++, performance.now()),
  });
  await withTuner(warm, async () => {
    recordSmallStep();
    assertEquals(warm.pending(), [], "every shape of the step has a cached choice");
    assertEquals(await warm.tunePending(), []);
  });
  assertEquals(warmTicks, 0, "the warm start timed nothing");
  assertEquals(warm.choices(), cold.choices());
  for (const r of results) assertEquals(warm.choice(r.family, r.key), r.variant);
});

Deno.test("tuning keeps the fastest variant, the default unless another is clearly faster", async () => {
  const tuner = new Autotuner({ enabled: true, cacheFile: null, clock: fakeClock });
  const fast = await tuner.tune("test.fake", "k");
  assertEquals(fast.variant, "fast");
  assertEquals(fast.msPerCall, { slow: 10, fast: 1, even: 10 });
  assertEquals((await tuner.tune("test.fake", "tie")).variant, "slow");
  assertEquals(tuner.choice("test.fake", "k"), "fast");
  assertEquals(tuner.pending(), []);
  assertEquals(tuner.choice("test.fake", "new"), "slow", "the default before tuning");
  assertEquals(tuner.pending(), [["test.fake", "new"]]);
  tuner.force("test.fake", "even");
  assertEquals(tuner.choice("test.fake", "k"), "even");
  tuner.force("test.fake", null);
  assertEquals(tuner.choice("test.fake", "k"), "fast");
  assertThrows(() => tuner.force("test.fake", "turbo"), 'no variant "turbo"');
  assertThrows(() => tuner.choice("test.nothing", "k"), 'unknown kernel family "test.nothing"');
  assertThrows(() => new Autotuner({ rounds: 0 }), "rounds must be an integer ≥ 1");
});

Deno.test("a corrupt cache file is ignored with one warning and rewritten", async () => {
  for (const text of ["{ not json", '{"format": 1, "entries": [{"adapter": 3}]}', "[]"]) {
    const cacheFile = tempCacheFile();
    Deno.mkdirSync(join(cacheFile, ".."), { recursive: true });
    Deno.writeTextFileSync(cacheFile, text);
    const tuner = new Autotuner({ enabled: true, cacheFile, clock: fakeClock });
    const warnings = await captureWarnings(async () => {
      assertEquals(tuner.choice("test.fake", "k"), "slow");
      assertEquals(tuner.choice("test.fake", "k"), "slow");
      await tuner.tunePending();
    });
    assertEquals(warnings.length, 1, `warnings for ${text}: ${warnings}`);
    assert(warnings[0].includes(cacheFile), `the warning names the file: ${warnings[0]}`);
    const file = readCache(cacheFile);
    assertEquals(file.entries.map((e) => e.choices), [{ "test.fake": { k: "fast" } }]);
  }
});

Deno.test("a cache entry of another adapter or version is not used, and is kept", async () => {
  const cacheFile = tempCacheFile();
  const adapter = gpuInfo().description;
  const choices = { "test.fake": { k: "fast" } };
  const others = [
    { adapter: "Some Other GPU", version: HAJIME_VERSION, choices },
    { adapter, version: "0.0.0-older", choices },
  ];
  writeCache(cacheFile, others);
  const tuner = new Autotuner({ enabled: true, cacheFile, clock: fakeClock });
  assertEquals(tuner.choice("test.fake", "k"), "slow");
  assertEquals(tuner.pending(), [["test.fake", "k"]]);
  await tuner.tunePending();
  const file = readCache(cacheFile);
  assertEquals(file.entries.slice(0, 2), others);
  assertEquals(file.entries[2], { adapter, version: HAJIME_VERSION, choices });

  // The same file as seen from the other adapter, and with this adapter's entry pinned to "even".
  let ticks = 0;
  const clock = () => ticks++;
  assertEquals(
    new Autotuner({ enabled: true, cacheFile, clock, adapter: "Some Other GPU" }).choice(
      "test.fake",
      "k",
    ),
    "fast",
  );
  writeCache(cacheFile, [...others, {
    adapter,
    version: HAJIME_VERSION,
    choices: { "test.fake": { k: "even" } },
  }]);
  const warm = new Autotuner({ enabled: true, cacheFile, clock });
  assertEquals(warm.choice("test.fake", "k"), "even");
  assertEquals(await warm.tunePending(), []);
  assertEquals(ticks, 0);
});

Deno.test("HAJIME_AUTOTUNE=0 runs defaults only, =retune times cached keys again; HAJIME_KERNEL_CACHE names the file", async () => {
  const cacheFile = tempCacheFile();
  writeCache(cacheFile, [{
    adapter: gpuInfo().description,
    version: HAJIME_VERSION,
    choices: { "test.fake": { k: "fast" } },
  }]);
  const previous = Deno.env.get("HAJIME_AUTOTUNE");
  Deno.env.set("HAJIME_AUTOTUNE", "0");
  Deno.env.set("HAJIME_KERNEL_CACHE", cacheFile);
  try {
    let ticks = 0;
    const tuner = new Autotuner({ clock: () => ticks++ });
    assertEquals(tuner.enabled, false);
    assertEquals(tuner.cacheFile, cacheFile);
    assertEquals(tuner.choice("test.fake", "k"), "slow");
    assertEquals(tuner.pending(), []);
    assertEquals((await tuner.tune("test.fake", "other")).variant, "slow");
    assertEquals(ticks, 0);
    Deno.env.delete("HAJIME_AUTOTUNE");
    assertEquals(new Autotuner().choice("test.fake", "k"), "fast");
    // retune: the cached choice is ignored, the key timed again, and the file's entry replaced.
    Deno.env.set("HAJIME_AUTOTUNE", "retune");
    writeCache(cacheFile, [{
      adapter: gpuInfo().description,
      version: HAJIME_VERSION,
      choices: { "test.fake": { k: "even" } }, // timed under load, say
    }]);
    const retune = new Autotuner({ clock: fakeClock });
    assertEquals([retune.enabled, retune.retune], [true, true]);
    assertEquals(retune.choice("test.fake", "k"), "slow", "the default until timed again");
    assertEquals(retune.pending(), [["test.fake", "k"]]);
    assertEquals((await retune.tunePending()).map((r) => r.variant), ["fast"]);
    assertEquals(readCache(cacheFile).entries[0].choices, { "test.fake": { k: "fast" } });
  } finally {
    if (previous === undefined) Deno.env.delete("HAJIME_AUTOTUNE");
    else Deno.env.set("HAJIME_AUTOTUNE", previous);
    Deno.env.delete("HAJIME_KERNEL_CACHE");
  }
});
