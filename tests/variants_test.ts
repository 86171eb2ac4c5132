/**
 * Every variant of the tuned kernel families (conv2d's three directions, matmul) against the
 * float64 references and bit for bit against each other, on whatever adapter runs it: the
 * autotuner may pick any of them there. Runs under Deno (lavapipe, SwiftShader) and on Dawn in
 * the browser (tests/browser/kernels_page.ts), so it uses no file system.
 *
 * Tolerances are those of tests/conv2d_test.ts and tests/matmul_test.ts (f32 sums of products of
 * values in [-1, 1]).
 *
 * @module
 */

import { Generator, gpuInfo, Tensor } from "../mod.ts";
import { allVariants, Autotuner, kernelFamily } from "../src/gpu/autotune.ts";
import { conv2dBackward, conv2dForward } from "../src/kernels/conv2d.ts";
import { matmul } from "../src/kernels/matmul.ts";
import { assert, assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { read64, upload, withTuner } from "./gpu.ts";
import { conv2dBackwardRef, conv2dForwardRef, type Conv2dShape } from "./reference/conv2d.ts";
import { matmulRef } from "./reference/matmul.ts";

const CONV_FAMILIES = ["conv2d.forward", "conv2d.backwardData", "conv2d.backwardWeight"];
const CONV_TOL = { atol: 2e-4, rtol: 1e-4 };

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

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
    // More than the tiled gather's 64 channels of output and 16 reduced per step, strided.
    { n: 2, c: 20, h: 5, w: 6, o: 70, kh: 3, kw: 3, stride: 2, padding: 1 },
    // 10 and 11 channels: the 12-channel tiles.
    { n: 2, c: 10, h: 9, w: 8, o: 11, kh: 3, kw: 3, stride: 1, padding: 1 },
    // A stem (few input channels, stride 1), rows longer than the row tile's 16 positions.
    { n: 2, c: 3, h: 6, w: 37, o: 21, kh: 5, kw: 4, stride: 1, padding: 2 },
  ];
  const lists = CONV_FAMILIES.map((family) => kernelFamily(family).variants());
  const llvmpipe = /llvmpipe/i.test(gpuInfo().description);
  // The workgroup-tiled variants are built everywhere (these runs force them), offered on
  // hardware only.
  const tiled = "tiled64x64/wg64";
  const every = CONV_FAMILIES.map((family) => allVariants(family));
  for (const [i, list] of lists.entries()) {
    const expected = gpuInfo().isSoftware ? [...list, tiled] : list;
    assertEquals([...every[i]].sort(), [...expected].sort(), CONV_FAMILIES[i]);
    assertEquals(list.includes(tiled), !gpuInfo().isSoftware, `${list}`);
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
  // The narrow tiles (gather 16x8 and 16x12, weight gradient 3x3x2x8 and 3x3x2x12) are offered
  // where their blocks leave fewer of the GEMM's output channels (O; C for the input gradient)
  // unused: 8 against 16, 12 against 8 (10 or 11 channels); neither for 16 → 32 channels. Every
  // one of them is offered for some shape above, so each runs below.
  const unused = (q: number, width: number) => Math.ceil(q / width) * width - q;
  const offers = (q: number, width: number) =>
    width === 8 ? unused(q, 8) < unused(q, 16) : unused(q, 12) < unused(q, 8);
  const keys = [...shapes, { n: 2, c: 16, h: 8, w: 8, o: 32, kh: 3, kw: 3, stride: 1, padding: 1 }]
    .map((s) => ({ s, key: [s.n, s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride, s.padding].join() }));
  const narrow = [[0, "16x"], [1, "16x"], [2, "3x3x2x"]] as const;
  const ran = new Set<string>();
  for (const { s, key } of keys) {
    for (const [i, prefix] of narrow) {
      const q = i === 1 ? s.c : s.o;
      for (const width of [8, 12]) {
        const tile = `${prefix}${width}/`;
        const offered = kernelFamily(CONV_FAMILIES[i]).variants(key).some((v) =>
          v.startsWith(tile)
        );
        assertEquals(offered, llvmpipe && offers(q, width), `${CONV_FAMILIES[i]} ${tile} ${key}`);
        if (offered && key !== keys.at(-1)!.key) ran.add(`${i} ${tile}`);
      }
    }
  }
  assertEquals(ran.size, llvmpipe ? 6 : 0, `narrow tiles offered for some shape run: ${[...ran]}`);
  // Each variant of each direction in turn, the other two on their defaults (listed first).
  const runs = CONV_FAMILIES.flatMap((family, i) =>
    every[i].map((variant) => ({ family, variant }))
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
  // Every variant, the workgroup-tiled one too where it is not offered (software adapters).
  const variants = allVariants("matmul");
  assertEquals(variants, ["16x4", "8x8", "32x1", "tiled64x64"]);
  const offered = gpuInfo().isSoftware ? variants.slice(0, 3) : variants;
  assertEquals(kernelFamily("matmul").variants(), offered, gpuInfo().description);
  const tuner = new Autotuner({ enabled: true, cacheFile: null });
  await withTuner(tuner, async () => {
    // [M, N, K]: scalar loads (nothing a multiple of 4; one pipeline serves every transposition),
    // then vec4 loads past a 16×4 workgroup in the layouts Linear uses (nn, nt, tn), then past
    // the tiled variant's 64 × 64 blocks and 16-k blocks with tails everywhere, then exact blocks.
    const all = [[false, false], [false, true], [true, false], [true, true]];
    const cases: [number[], boolean[][]][] = [
      [[37, 45, 29], all],
      [[36, 268, 20], all.slice(0, 3)],
      [[67, 130, 50], all],
      [[64, 128, 48], all],
    ];
    for (const [[M, N, K], layouts] of cases) {
      const tol = { atol: 4e-6 * Math.sqrt(K) + 1e-6, rtol: 1e-6 };
      for (const [layout, [transA, transB]] of layouts.entries()) {
        // Accumulate and overwrite (c holds c0 before either) take turns.
        const accumulate = layout % 2 === 0;
        const a = Float64Array.from(Float32Array.from(randomArray(rng, M * K)));
        const b = Float64Array.from(Float32Array.from(randomArray(rng, K * N)));
        const c0 = Float64Array.from(Float32Array.from(randomArray(rng, M * N)));
        const expected = matmulRef(a, b, M, N, K, { transA, transB })
          .map((v, i) => accumulate ? v + c0[i] : v);
        const aT = upload(a, transA ? [K, M] : [M, K]);
        const bT = upload(b, transB ? [N, K] : [K, N]);
        let first: Float64Array | null = null;
        for (const variant of variants) {
          tuner.force("matmul", variant);
          const c = upload(c0, [M, N]);
          matmul(aT, bT, c, { transA, transB, accumulate });
          const got = await read64(c);
          const message = `${variant} ${M}×${N}×${K} transA ${transA} transB ${transB} ` +
            `accumulate ${accumulate}`;
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
