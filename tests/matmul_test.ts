/**
 * The matmul family against the float64 references (every transpose combination, overwrite and
 * accumulate, vec4 and scalar paths, awkward shapes), the references against finite differences,
 * and the errors bad arguments get.
 *
 * Tolerance: inputs are rounded to f32 before the reference sees them, so the only error is the
 * f32 accumulation over K terms of size ≤ 1: |gpu − ref| ≤ 4e-6·√K + 1e-6 + 1e-6·|ref|. Measured
 * worst cases are about 8e-7·√K at K = 129 and 1.4e-6·√K at K = 1024, so the bound has room for
 * unlucky seeds yet catches any wrong element (errors of order 1).
 *
 * @module
 */

import { frameStats } from "../gpu.ts";
import { Generator, Tensor } from "../mod.ts";
import { linearBackward, linearForward, matmul } from "../src/kernels/matmul.ts";
import { assertClose, assertEquals, assertThrows, randomArray, testSeed } from "./assert.ts";
import { f32, numericGrad } from "./numeric.ts";
import { read64, upload } from "./gpu.ts";
import { linearBackwardRef, linearForwardRef, matmulRef } from "./reference/matmul.ts";

function random(rng: Generator, n: number): Float64Array {
  return f32(randomArray(rng, n));
}

function tolerance(K: number): { atol: number; rtol: number } {
  return { atol: 4e-6 * Math.sqrt(K) + 1e-6, rtol: 1e-6 };
}

function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

Deno.test("reference matmul transposes agree with explicit transposition", () => {
  const rng = new Generator(testSeed("reference matmul transposes"));
  const [M, N, K] = [3, 4, 5];
  const a = randomArray(rng, M * K);
  const b = randomArray(rng, K * N);
  const c = matmulRef(a, b, M, N, K);
  const tol = { atol: 1e-12, rtol: 0 };
  assertClose(matmulRef(transpose(a, M, K), b, M, N, K, { transA: true }), c, tol);
  assertClose(matmulRef(a, transpose(b, K, N), M, N, K, { transB: true }), c, tol);
  assertClose(
    matmulRef(transpose(a, M, K), transpose(b, K, N), M, N, K, { transA: true, transB: true }),
    c,
    tol,
  );
  const bias = randomArray(rng, N);
  const y = linearForwardRef(a, transpose(b, K, N), bias, M, K, N);
  assertClose(y, c.map((v, i) => v + bias[i % N]), tol);
});

Deno.test("reference linear backward matches finite differences", () => {
  const rng = new Generator(testSeed("reference linear backward"));
  const [N, K, M] = [3, 4, 5];
  const x = randomArray(rng, N * K);
  const weight = randomArray(rng, M * K);
  const bias = randomArray(rng, M);
  const dy = randomArray(rng, N * M);
  const loss = () => dot(dy, linearForwardRef(x, weight, bias, N, K, M));
  const grads = linearBackwardRef(dy, x, weight, N, K, M);
  const tol = { atol: 1e-8, rtol: 1e-6 };
  assertClose(grads.dx, numericGrad(x, loss), tol);
  assertClose(grads.dWeight, numericGrad(weight, loss), tol);
  assertClose(grads.dBias, numericGrad(bias, loss), tol);
});

// [M, N, K]: scalar-path shapes (K not a multiple of 4), vec4-path shapes whose M and N are not
// multiples of the 8×16 tile, shapes where only some layouts take the vec4 path (odd N: only b
// transposed; M = 10, the Resnet dW shape: only a plain), and K = 0.
const MATMUL_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [33, 65, 17],
  [130, 67, 129],
  [36, 20, 12],
  [132, 68, 64],
  [13, 7, 8],
  [20, 9, 24],
  [10, 256, 32],
  [3, 5, 0],
];

Deno.test("matmul matches the reference for every transpose, overwrite and accumulate", async () => {
  const rng = new Generator(testSeed("matmul"));
  for (const [M, N, K] of MATMUL_SHAPES) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const aData = random(rng, M * K);
        const bData = random(rng, K * N);
        const a = upload(aData, transA ? [K, M] : [M, K]);
        const b = upload(bData, transB ? [N, K] : [K, N]);
        const product = matmulRef(aData, bData, M, N, K, { transA, transB });
        const message = `[${M}, ${N}, ${K}] transA ${transA} transB ${transB}`;

        const c = Tensor.empty([M, N]); // poisoned: every element must be written
        matmul(a, b, c, { transA, transB });
        assertClose(await read64(c), product, { ...tolerance(K), message });

        const cInit = random(rng, M * N);
        const acc = upload(cInit, [M, N]);
        matmul(a, b, acc, { transA, transB, accumulate: true });
        assertClose(await read64(acc), product.map((v, i) => v + cInit[i]), {
          ...tolerance(K),
          message: `${message} accumulate`,
        });
        for (const t of [a, b, c, acc]) t.dispose();
      }
    }
  }
});

// [N (batch), K (in), M (out)]: the Resnet head, a shape on the vec4 path for all three products,
// and awkward ones.
const LINEAR_SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 5, 13],
  [32, 256, 10],
  [33, 17, 65],
  [12, 20, 8],
];

Deno.test("linearForward matches the reference, with and without bias", async () => {
  const rng = new Generator(testSeed("linearForward"));
  for (const [N, K, M] of LINEAR_SHAPES) {
    for (const withBias of [true, false]) {
      const xData = random(rng, N * K);
      const wData = random(rng, M * K);
      const bData = withBias ? random(rng, M) : null;
      const x = upload(xData, [N, K]);
      const weight = upload(wData, [M, K]);
      const bias = bData ? upload(bData, [M]) : null;
      const y = Tensor.empty([N, M]);
      linearForward(x, weight, bias, y);
      assertClose(await read64(y), linearForwardRef(xData, wData, bData, N, K, M), {
        ...tolerance(K),
        message: `[${N}, ${K}, ${M}] bias ${withBias}`,
      });
      for (const t of [x, weight, bias, y]) t?.dispose();
    }
  }
});

Deno.test("linearBackward overwrites dx and accumulates dWeight and dBias", async () => {
  const rng = new Generator(testSeed("linearBackward"));
  for (const [N, K, M] of LINEAR_SHAPES) {
    for (const full of [true, false]) {
      const dyData = random(rng, N * M);
      const xData = random(rng, N * K);
      const wData = random(rng, M * K);
      const dwInit = random(rng, M * K);
      const dbInit = random(rng, M);
      const dy = upload(dyData, [N, M]);
      const x = upload(xData, [N, K]);
      const weight = upload(wData, [M, K]);
      const dx = full ? Tensor.empty([N, K]) : null;
      const dWeight = upload(dwInit, [M, K]);
      const dBias = full ? upload(dbInit, [M]) : null;
      linearBackward(dy, x, weight, dx, dWeight, dBias);
      const ref = linearBackwardRef(dyData, xData, wData, N, K, M);
      const message = `[${N}, ${K}, ${M}]${full ? "" : " without dx and dBias"}`;
      if (dx) assertClose(await read64(dx), ref.dx, { ...tolerance(M), message: `${message} dx` });
      assertClose(await read64(dWeight), ref.dWeight.map((v, i) => v + dwInit[i]), {
        ...tolerance(N),
        message: `${message} dWeight`,
      });
      if (dBias) {
        assertClose(await read64(dBias), ref.dBias.map((v, i) => v + dbInit[i]), {
          ...tolerance(N),
          message: `${message} dBias`,
        });
      }
      // A frozen weight: dx alone (dWeight untouched, not passed).
      const dxAlone = Tensor.empty([N, K]);
      linearBackward(dy, x, weight, dxAlone, null, null);
      assertClose(await read64(dxAlone), ref.dx, {
        ...tolerance(M),
        message: `${message} dx alone`,
      });
      for (const t of [dy, x, weight, dx, dxAlone, dWeight, dBias]) t?.dispose();
    }
  }
});

Deno.test("bad arguments are errors that name them, and record nothing", () => {
  const t = (...shape: number[]) => Tensor.zeros(shape);
  const [a, b, c, v7, b6, bSquare, cT] = [
    t(7, 5),
    t(5, 13),
    t(7, 13),
    t(7),
    t(6, 13),
    t(5, 5),
    t(13, 7),
  ];
  const cInt = Tensor.zeros([7, 13], { dtype: "i32" });
  const [x, w, w24, v3, y24, x42, w22] = [
    t(4, 3),
    t(2, 3),
    t(2, 4),
    t(3),
    t(2, 4),
    t(4, 2),
    t(2, 2),
  ];
  const [dy, dy43, dx34, dw32, v4, dw] = [t(4, 2), t(4, 3), t(3, 4), t(3, 2), t(4), t(2, 3)];
  const before = frameStats.dispatches;

  assertThrows(() => matmul(v7, b, c), "Matmul.matmul: a has shape [7], expected [*, *]");
  assertThrows(() => matmul(a, b6, c), "b has shape [6, 13], expected [5, *]");
  assertThrows(() => matmul(a, b, c, { transB: true }), "b has shape [5, 13], expected [*, 5]");
  assertThrows(() => matmul(a, b, c, { transA: true }), "b has shape [5, 13], expected [7, *]");
  assertThrows(() => matmul(a, b, cT), "c has shape [13, 7], expected [7, 13]");
  assertThrows(() => matmul(a, b, cInt as unknown as Tensor), "c has dtype i32, expected f32");
  assertThrows(() => matmul(a, bSquare, a.reshape([7, 5])), "c shares its buffer with a");
  assertThrows(
    () => matmul(a, b, c, { transA: 1 as unknown as boolean }),
    "option transA is 1, expected a boolean",
  );

  assertThrows(() => linearForward(v3, w, null, y24), "Matmul.linearForward: x has shape [3]");
  assertThrows(() => linearForward(x, w24, null, y24), "weight has shape [2, 4], expected [*, 3]");
  assertThrows(() => linearForward(x, w, v3, dy), "bias has shape [3], expected [2]");
  assertThrows(() => linearForward(x, w, null, y24), "y has shape [2, 4], expected [4, 2]");
  assertThrows(() => linearForward(x42, w22, null, x42.reshape([4, 2])), "y shares its buffer");

  const back = "Matmul.linearBackward: ";
  assertThrows(() => linearBackward(dy43, x, w, null, dw, null), `${back}dy has shape [4, 3]`);
  assertThrows(
    () => linearBackward(dy, x, w, dx34, dw, null),
    "dx has shape [3, 4], expected [4, 3]",
  );
  assertThrows(() => linearBackward(dy, x, w, null, dw32, null), "dWeight has shape [3, 2]");
  assertThrows(() => linearBackward(dy, x, w, null, dw, v4), "dBias has shape [4], expected [2]");
  assertThrows(
    () => linearBackward(dy, x, w, null, w, null),
    "dWeight shares its buffer with weight",
  );
  assertThrows(
    () => linearBackward(dy, x, w, x.reshape([4, 3]), dw, null),
    "dx shares its buffer with x",
  );
  assertEquals(frameStats.dispatches, before, "no dispatch recorded by a failed call");
});
