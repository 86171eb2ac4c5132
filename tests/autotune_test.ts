/**
 * The kernel-choice autotuner: every variant of the tuned families (conv2d's three directions,
 * matmul) against the float64 references and bit for bit against each other; cold and warm starts
 * of the on-disk cache; a corrupt file; the adapter and version in the key; HAJIME_AUTOTUNE=0.
 *
 * Tolerances are those of tests/conv2d_test.ts and tests/matmul_test.ts (f32 sums of products of
 * values in [-1, 1]).
 *
 * @module
 */

import { join } from "node:path";
import { Generator, gpuInfo, Tensor } from "../mod.ts";
import {
  Autotuner,
  HAJIME_VERSION,
  kernelFamily,
  registerKernelFamily,
  setAutotuner,
} from "../src/gpu/autotune.ts";
import { conv2dBackward, conv2dForward } from "../src/kernels/conv2d.ts";
import { matmul } from "../src/kernels/matmul.ts";
import meta from "../deno.json" with { type: "json" };
import {
  assert,
  assertClose,
  assertEquals,
  assertThrows,
  randomArray,
  testSeed,
} from "./assert.ts";
import { read64, upload } from "./gpu.ts";
import { conv2dBackwardRef, conv2dForwardRef, type Conv2dShape } from "./reference/conv2d.ts";
import { matmulRef } from "./reference/matmul.ts";

const CONV_FAMILIES = ["conv2d.forward", "conv2d.backwardData", "conv2d.backwardWeight"];
const CONV_TOL = { atol: 2e-4, rtol: 1e-4 };

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

/** Runs `fn` with `tuner` current, restoring the previous one after. */
async function withTuner<T>(tuner: Autotuner, fn: () => Promise<T> | T): Promise<T> {
  const previous = setAutotuner(tuner);
  try {
    return await fn();
  } finally {
    setAutotuner(previous);
  }
}

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

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

Deno.test("the version in cache keys is deno.json's", () => {
  assertEquals(HAJIME_VERSION, meta.version);
});

Deno.test("every conv2d variant matches the reference, bit for bit alike", async () => {
  const rng = new Generator(testSeed("autotune conv2d variants"));
  // Awkward shapes; the second has 450 weight-gradient columns, so its chunking would differ
  // between tiles and workgroup sizes if it followed the variant's.
  const shapes: Conv2dShape[] = [
    { n: 3, c: 5, h: 11, w: 9, o: 7, kh: 3, kw: 3, stride: 2, padding: 1 },
    { n: 2, c: 18, h: 7, w: 10, o: 37, kh: 5, kw: 5, stride: 1, padding: 2 },
    // A kernel wider than the row tiles' 5 taps, not square; a strided 1 × 1 kernel.
    { n: 2, c: 4, h: 9, w: 12, o: 6, kh: 2, kw: 7, stride: 1, padding: 3 },
    { n: 3, c: 6, h: 7, w: 7, o: 17, kh: 1, kw: 1, stride: 2, padding: 0 },
    // A stem (few input channels, stride 1), rows longer than the row tile's 16 positions.
    { n: 2, c: 3, h: 6, w: 37, o: 21, kh: 5, kw: 4, stride: 1, padding: 2 },
  ];
  const lists = CONV_FAMILIES.map((family) => kernelFamily(family).variants());
  const llvmpipe = /llvmpipe/i.test(gpuInfo().description);
  for (const [i, list] of lists.entries()) {
    assert(list.some((v) => v.startsWith("4x16/")), `the hardware tile is among ${list}`);
    // Only llvmpipe builds the 256-accumulator tiles in reasonable time.
    const big = list.some((v) => v.startsWith("16x16/") || v.startsWith("8x32/"));
    assertEquals(big, llvmpipe, `llvmpipe tiles among ${list} on ${gpuInfo().description}`);
    assertEquals(new Set(list).size, list.length, `${CONV_FAMILIES[i]} lists no variant twice`);
  }
  // The stem's row tile is offered for the last shape only (key `n,c,h,w,o,kh,kw,stride,padding`).
  const stem = shapes.at(-1)!;
  const stemKey = [stem.n, stem.c, stem.h, stem.w, stem.o, stem.kh, stem.kw, stem.stride, 2].join();
  const isRowTile = (v: string) => v.startsWith("row16x16/");
  assertEquals(lists[0].filter(isRowTile).length, llvmpipe ? 1 : 0, `${lists[0]}`);
  for (const [i, s] of shapes.entries()) {
    const key = [s.n, s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.padding].join();
    const offered = kernelFamily(CONV_FAMILIES[0]).variants(key);
    assertEquals(offered.some(isRowTile), llvmpipe && key === stemKey, `shape ${i}: ${offered}`);
  }
  // Each variant of each direction in turn, the other two on their defaults (listed first).
  const runs = CONV_FAMILIES.flatMap((family, i) =>
    lists[i].map((variant) => ({ family, variant }))
  );
  const tuner = new Autotuner({ enabled: true, cacheFile: null });
  await withTuner(tuner, async () => {
    for (const s of shapes) {
      const oh = Math.floor((s.h + 2 * s.padding - s.kh) / s.stride) + 1;
      const ow = Math.floor((s.w + 2 * s.padding - s.kw) / s.stride) + 1;
      const d = { x: [s.n, s.c, s.h, s.w], w: [s.o, s.c, s.kh, s.kw], y: [s.n, s.o, oh, ow] };
      const x = randomArray(rng, count(d.x));
      const weight = randomArray(rng, count(d.w));
      const bias = randomArray(rng, s.o);
      const dy = randomArray(rng, count(d.y));
      const dWeight0 = randomArray(rng, count(d.w));
      const y = conv2dForwardRef(s, x, weight, bias);
      const ref = conv2dBackwardRef(s, dy, x, weight);
      const expected = {
        y,
        dx: ref.dx,
        dWeight: ref.dWeight.map((v, i) => v + dWeight0[i]),
        dBias: ref.dBias,
      };
      const [xT, weightT, biasT, dyT] = [
        upload(x, d.x),
        upload(weight, d.w),
        upload(bias, [s.o]),
        upload(dy, d.y),
      ];
      let first: Record<string, Float64Array> | null = null;
      for (const run of runs) {
        CONV_FAMILIES.forEach((family, i) => tuner.force(family, lists[i][0]));
        tuner.force(run.family, run.variant);
        const variant = `${run.family} ${run.variant}`;
        const yT = Tensor.empty(d.y);
        const dxT = Tensor.empty(d.x);
        const dWeightT = upload(dWeight0, d.w);
        const dBiasT = Tensor.zeros([s.o]);
        const opts = { stride: s.stride, padding: s.padding };
        conv2dForward(xT, weightT, biasT, yT, opts);
        conv2dBackward(dyT, xT, weightT, dxT, dWeightT, dBiasT, opts);
        const got: Record<string, Float64Array> = {
          y: await read64(yT),
          dx: await read64(dxT),
          dWeight: await read64(dWeightT),
          dBias: await read64(dBiasT),
        };
        for (const [name, values] of Object.entries(got)) {
          const message = `${name} ${variant} [${d.x}] * [${d.w}]`;
          assertClose(values, expected[name as keyof typeof expected], { ...CONV_TOL, message });
          if (first) assertEquals(values, first[name], `${message} equals the first variant's`);
        }
        first ??= got;
        for (const t of [yT, dxT, dWeightT, dBiasT]) t.dispose();
      }
      for (const t of [xT, weightT, biasT, dyT]) t.dispose();
    }
  });
  assertEquals(tuner.pending(), [], "forced variants leave nothing to tune");
});

Deno.test("every matmul variant matches the reference, bit for bit alike", async () => {
  const rng = new Generator(testSeed("autotune matmul variants"));
  const variants = kernelFamily("matmul").variants();
  assertEquals(variants, ["16x4", "8x8", "32x1"]);
  const tuner = new Autotuner({ enabled: true, cacheFile: null });
  await withTuner(tuner, async () => {
    // [M, N, K]: scalar loads (nothing a multiple of 4; one pipeline serves every transposition),
    // then vec4 loads past a 16×4 workgroup in the layouts Linear uses (nn, nt, tn).
    const all = [[false, false], [false, true], [true, false], [true, true]];
    const cases: [number[], boolean[][]][] = [[[37, 45, 29], all], [
      [36, 268, 20],
      all.slice(0, 3),
    ]];
    for (const [[M, N, K], layouts] of cases) {
      const tol = { atol: 4e-6 * Math.sqrt(K) + 1e-6, rtol: 1e-6 };
      for (const [transA, transB] of layouts) {
        const a = Float64Array.from(Float32Array.from(randomArray(rng, M * K)));
        const b = Float64Array.from(Float32Array.from(randomArray(rng, K * N)));
        const c0 = Float64Array.from(Float32Array.from(randomArray(rng, M * N)));
        const expected = matmulRef(a, b, M, N, K, { transA, transB }).map((v, i) => v + c0[i]);
        const aT = upload(a, transA ? [K, M] : [M, K]);
        const bT = upload(b, transB ? [N, K] : [K, N]);
        let first: Float64Array | null = null;
        for (const variant of variants) {
          tuner.force("matmul", variant);
          const c = upload(c0, [M, N]);
          matmul(aT, bT, c, { transA, transB, accumulate: true });
          const got = await read64(c);
          const message = `${variant} ${M}×${N}×${K} transA ${transA} transB ${transB}`;
          assertClose(got, expected, { ...tol, message });
          if (first) assertEquals(got, first, `${message} equals ${variants[0]}'s`);
          first ??= got;
          c.dispose();
        }
        aT.dispose();
        bT.dispose();
      }
    }
  });
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
