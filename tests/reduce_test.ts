/**
 * The reduction kernels (src/kernels/reduce.ts) against their float64 references on fresh random
 * inputs with awkward sizes (an empty tensor, one element, ragged tails past a workgroup),
 * poisoned outputs, and bad arguments.
 */

import { Generator, Tensor } from "../mod.ts";
import {
  broadcastScalar,
  equalMask,
  rowArgmax,
  scaleByScalar,
  sumAll,
} from "../src/kernels/reduce.ts";
import { assertClose, assertEquals, assertThrows, randomArray, testSeed } from "./assert.ts";
import { read64, upload } from "./gpu.ts";
import { dot, f32, numericGrad } from "./numeric.ts";
import {
  broadcastRef,
  equalRef,
  rowArgmaxRef,
  scaleByScalarRef,
  sumI32Ref,
  sumRef,
} from "./reference/reduce.ts";

const EXACT = { atol: 1e-30, rtol: 2 ** -24 };

Deno.test("reference sum and broadcast: the broadcast is the sum's gradient", () => {
  const rng = new Generator(testSeed("reference reduce"));
  const x = randomArray(rng, 23);
  for (const factor of [1, 1 / 23]) {
    assertClose(
      broadcastRef(1, x.length, factor),
      numericGrad(x, () => sumRef(x, factor)),
      { atol: 1e-8, rtol: 1e-6 },
    );
  }
  const s = randomArray(rng, 23);
  assertClose(scaleByScalarRef(s, 1), numericGrad(x, () => dot(s, x)), { atol: 1e-8, rtol: 1e-6 });
});

Deno.test("sumAll of f32 and i32 vs reference, empty tensors and sizes past one workgroup", async () => {
  const rng = new Generator(testSeed("sumAll"));
  for (const n of [0, 1, 255, 256, 257, 5000, 70001]) {
    const x = f32(randomArray(rng, n));
    const y = Tensor.empty([1]);
    sumAll(upload(x, [n]), y);
    // f32 adds of n values: error about n·ε·Σ|x|.
    const bound = { atol: 2e-7 * (n + 1) ** 0.5 * 4, rtol: 1e-5 };
    assertClose(await read64(y), [sumRef(x)], { ...bound, message: `sum of ${n}` });
    sumAll(upload(x, [n]), y, 1 / Math.max(n, 1));
    assertClose(await read64(y), [sumRef(x, 1 / Math.max(n, 1))], { ...bound, message: "mean" });

    const ints = Int32Array.from({ length: n }, () => rng.int(2001) - 1000);
    const yi = Tensor.empty([1], { dtype: "i32" });
    sumAll(Tensor.from(ints, [n], { dtype: "i32" }), yi);
    assertEquals(Array.from(await yi.read()), [sumI32Ref(ints)], `i32 sum of ${n}`);
  }
  // i32 sums wrap as i32 does.
  const big = Tensor.from([2 ** 31 - 1, 1], [2], { dtype: "i32" });
  const wrapped = Tensor.empty([1], { dtype: "i32" });
  sumAll(big, wrapped);
  assertEquals(Array.from(await wrapped.read()), [-(2 ** 31)]);
});

Deno.test("rowArgmax, equalMask, broadcastScalar, scaleByScalar vs reference", async () => {
  const rng = new Generator(testSeed("reduce elementwise"));
  for (const [n, k] of [[1, 1], [3, 10], [257, 7], [1000, 3]]) {
    // Few distinct values, so ties happen and the first maximum must win.
    const x = Float64Array.from({ length: n * k }, () => rng.int(4));
    const y = Tensor.empty([n], { dtype: "i32" });
    rowArgmax(upload(x, [n, k]), y);
    assertEquals(Array.from(await y.read()), Array.from(rowArgmaxRef(x, n, k)), `[${n}, ${k}]`);
  }
  for (const n of [1, 3, 256, 2049]) {
    const a = Int32Array.from({ length: n }, () => rng.int(3));
    const b = Int32Array.from({ length: n }, () => rng.int(3));
    const y = Tensor.empty([n], { dtype: "i32" });
    equalMask(Tensor.from(a, [n], { dtype: "i32" }), Tensor.from(b, [n], { dtype: "i32" }), y);
    assertEquals(Array.from(await y.read()), Array.from(equalRef(a, b)), `eq of ${n}`);

    const [s] = f32([rng.uniformRange(-3, 3)]);
    const out = Tensor.empty([n]);
    broadcastScalar(upload([s], [1]), out, 0.25);
    assertClose(await read64(out), broadcastRef(s, n, 0.25), EXACT);
    const x = f32(randomArray(rng, n));
    scaleByScalar(upload(x, [n]), upload([s], [1]), out);
    assertClose(await read64(out), scaleByScalarRef(x, s), EXACT);
  }
});

Deno.test("reduce kernels: bad arguments name the kernel and argument", () => {
  const x = Tensor.zeros([4, 3]);
  const ints = Tensor.zeros([4], { dtype: "i32" });
  const one = Tensor.zeros([1]);
  assertThrows(() => sumAll(x, Tensor.empty([2])), "sumAll: y has shape [2], expected [1]");
  assertThrows(() => sumAll(x, Tensor.empty([1], { dtype: "i32" })), "sumAll: y has dtype i32");
  assertThrows(() => sumAll(x, one, Infinity), "sumAll: factor must be finite");
  assertThrows(
    () => sumAll(ints, Tensor.empty([1], { dtype: "i32" }), 0.5),
    "an i32 sum takes no factor",
  );
  assertThrows(() => sumAll(one, one), "sumAll: y shares its buffer with x");
  assertThrows(() => rowArgmax(x, Tensor.empty([3], { dtype: "i32" })), "rowArgmax: y has shape");
  assertThrows(() => rowArgmax(x, Tensor.empty([4])), "rowArgmax: y has dtype f32");
  assertThrows(
    () => equalMask(ints, Tensor.zeros([5], { dtype: "i32" }), Tensor.empty([4], { dtype: "i32" })),
    "equalMask: b has shape [5], expected [4]",
  );
  assertThrows(() => broadcastScalar(x, one), "broadcastScalar: s has shape [4, 3]");
  assertThrows(() => scaleByScalar(x, one, Tensor.empty([3, 4])), "scaleByScalar: y has shape");
});
