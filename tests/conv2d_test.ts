import { frameStats } from "../gpu.ts";
import { Generator, Tensor } from "../mod.ts";
import {
  conv2dBackward,
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dOutputSize,
} from "../src/kernels/conv2d.ts";
import { assertClose, assertEquals, assertThrows, randomArray, testSeed } from "./assert.ts";
import { read64, upload } from "./gpu.ts";
import {
  conv2dBackwardRef,
  conv2dForwardRef,
  type Conv2dShape,
  outputSize,
} from "./reference/conv2d.ts";

/** f32 sums of up to a few hundred products of values in [-1, 1]. */
const TOL = { atol: 2e-4, rtol: 1e-4 };

/** The configurations the kernels must cover: [kernel, stride, padding]. */
const CONFIGS: [number, number, number][] = [
  [5, 1, 0],
  [5, 1, 2],
  [3, 1, 1],
  [3, 2, 1],
  [1, 1, 0],
  [1, 2, 0],
];

/**
 * Awkward sizes (no multiple of a tile or workgroup): odd images, more than one 16-channel block,
 * and one output row (h 0 stands for the padded image as tall as the kernel), where the weight
 * gradient's reduction is not split.
 */
const SIZES = [
  { n: 3, c: 5, h: 11, w: 9, o: 7 },
  { n: 2, c: 18, h: 7, w: 10, o: 21 },
  { n: 1, c: 3, h: 0, w: 6, o: 2 },
];

function shapeOf(size: typeof SIZES[number], [k, stride, padding]: number[]): Conv2dShape {
  const h = size.h || Math.max(1, k - 2 * padding);
  return { ...size, h, kh: k, kw: k, stride, padding };
}

function dims(s: Conv2dShape) {
  const [oh, ow] = outputSize(s);
  return {
    x: [s.n, s.c, s.h, s.w],
    weight: [s.o, s.c, s.kh, s.kw],
    y: [s.n, s.o, oh, ow],
  };
}

function count(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

Deno.test("conv2dOutputSize follows PyTorch", () => {
  assertEquals(conv2dOutputSize(32, 5, 1, 2), 32);
  assertEquals(conv2dOutputSize(32, 3, 2, 1), 16);
  assertEquals(conv2dOutputSize(11, 3, 2, 1), 6);
  assertEquals(conv2dOutputSize(9, 1, 2, 0), 5);
  assertEquals(conv2dOutputSize(28, 5, 1, 0), 24);
});

Deno.test("reference backward matches finite differences of the reference forward", () => {
  const rng = new Generator(testSeed("conv2d reference"));
  for (const [k, stride, padding] of [[3, 2, 1], [5, 1, 2], [2, 3, 1]]) {
    const s: Conv2dShape = { n: 2, c: 3, h: 7, w: 6, o: 4, kh: k, kw: k, stride, padding };
    const d = dims(s);
    const x = randomArray(rng, count(d.x));
    const weight = randomArray(rng, count(d.weight));
    const bias = randomArray(rng, s.o);
    const g = randomArray(rng, count(d.y)); // loss = Σ g · y, so dy = g
    const loss = () => conv2dForwardRef(s, x, weight, bias).reduce((a, y, i) => a + y * g[i], 0);
    const numeric = (values: Float64Array) =>
      Float64Array.from(values, (v, i) => {
        const eps = 1e-6;
        values[i] = v + eps;
        const up = loss();
        values[i] = v - eps;
        const down = loss();
        values[i] = v;
        return (up - down) / (2 * eps);
      });
    const { dx, dWeight, dBias } = conv2dBackwardRef(s, g, x, weight);
    const tol = { atol: 1e-6, rtol: 1e-6 };
    assertClose(dx, numeric(x), { ...tol, message: `dx k${k} s${stride} p${padding}` });
    assertClose(dWeight, numeric(weight), { ...tol, message: `dW k${k} s${stride} p${padding}` });
    assertClose(dBias, numeric(bias), { ...tol, message: `dBias k${k} s${stride} p${padding}` });
  }
});

for (const config of CONFIGS) {
  const [k, stride, padding] = config;
  Deno.test(`conv2d ${k}×${k} stride ${stride} padding ${padding} matches the reference`, async () => {
    const rng = new Generator(testSeed(`conv2d ${k} ${stride} ${padding}`));
    for (const size of SIZES) {
      const s = shapeOf(size, config);
      const d = dims(s);
      const opts = { stride, padding };
      const label = `[${d.x}] * [${d.weight}]`;
      const x = randomArray(rng, count(d.x));
      const weight = randomArray(rng, count(d.weight));
      const bias = randomArray(rng, s.o);
      const dy = randomArray(rng, count(d.y));
      const dWeight0 = randomArray(rng, count(d.weight));
      const dBias0 = randomArray(rng, s.o);
      const xT = upload(x, d.x);
      const weightT = upload(weight, d.weight);
      const biasT = upload(bias, [s.o]);
      const dyT = upload(dy, d.y);

      for (const withBias of [true, false]) {
        const y = Tensor.empty(d.y);
        conv2dForward(xT, weightT, withBias ? biasT : null, y, opts);
        const expected = conv2dForwardRef(s, x, weight, withBias ? bias : null);
        assertClose(await read64(y), expected, { ...TOL, message: `y ${label} bias ${withBias}` });
        y.dispose();
      }

      const ref = conv2dBackwardRef(s, dy, x, weight);
      const dx = Tensor.empty(d.x);
      const dWeight = upload(dWeight0, d.weight);
      const dBias = upload(dBias0, [s.o]);
      conv2dBackward(dyT, xT, weightT, dx, dWeight, dBias, opts);
      assertClose(await read64(dx), ref.dx, { ...TOL, message: `dx ${label}` });
      const dWeightExpected = ref.dWeight.map((v, i) => v + dWeight0[i]);
      assertClose(await read64(dWeight), dWeightExpected, { ...TOL, message: `dW ${label}` });
      const dBiasExpected = ref.dBias.map((v, i) => v + dBias0[i]);
      assertClose(await read64(dBias), dBiasExpected, { ...TOL, message: `dBias ${label}` });

      // No dx, no bias: only dWeight, accumulated a second time.
      conv2dBackward(dyT, xT, weightT, null, dWeight, null, opts);
      const twice = ref.dWeight.map((v, i) => 2 * v + dWeight0[i]);
      assertClose(await read64(dWeight), twice, { ...TOL, message: `dW twice ${label}` });

      // No dWeight (a frozen weight): dx overwritten, dBias accumulated a second time.
      const dxAgain = Tensor.empty(d.x);
      conv2dBackward(dyT, xT, weightT, dxAgain, null, dBias, opts);
      assertClose(await read64(dxAgain), ref.dx, { ...TOL, message: `dx without dW ${label}` });
      const dBiasTwice = ref.dBias.map((v, i) => 2 * v + dBias0[i]);
      assertClose(await read64(dBias), dBiasTwice, { ...TOL, message: `dBias twice ${label}` });

      for (const t of [xT, weightT, biasT, dyT, dx, dxAgain, dWeight, dBias]) t.dispose();
    }
  });
}

Deno.test("conv2d on a Resnet-like shape: many tiles and a split reduction", async () => {
  const rng = new Generator(testSeed("conv2d resnet-like"));
  const s: Conv2dShape = { n: 3, c: 24, h: 13, w: 15, o: 37, kh: 3, kw: 3, stride: 2, padding: 1 };
  const d = dims(s);
  const x = randomArray(rng, count(d.x));
  const weight = randomArray(rng, count(d.weight));
  const dy = randomArray(rng, count(d.y));
  const [xT, weightT, dyT] = [upload(x, d.x), upload(weight, d.weight), upload(dy, d.y)];
  const y = Tensor.empty(d.y);
  const dx = Tensor.empty(d.x);
  const dWeight = Tensor.zeros(d.weight);
  const opts = { stride: s.stride, padding: s.padding };
  conv2dForward(xT, weightT, null, y, opts);
  conv2dBackwardData(dyT, weightT, dx, opts);
  conv2dBackwardWeight(dyT, xT, dWeight, null, opts);
  const ref = conv2dBackwardRef(s, dy, x, weight);
  assertClose(await read64(y), conv2dForwardRef(s, x, weight, null), { ...TOL, message: "y" });
  assertClose(await read64(dx), ref.dx, { ...TOL, message: "dx" });
  assertClose(await read64(dWeight), ref.dWeight, { ...TOL, message: "dW" });
});

Deno.test("conv2d rejects bad inputs before recording anything", () => {
  const x = Tensor.zeros([2, 3, 8, 8]);
  const weight = Tensor.zeros([4, 3, 3, 3]);
  const y = Tensor.zeros([2, 4, 8, 8]);
  const dy = Tensor.zeros([2, 4, 8, 8]);
  const dx = Tensor.zeros([2, 3, 8, 8]);
  const dWeight = Tensor.zeros([4, 3, 3, 3]);
  const t = (shape: number[]) => Tensor.zeros(shape);
  const [w5, wBig, w33, b3, small, y7, dy4, dx9, dW5, db5, dx5, dW2] = [
    t([4, 5, 3, 3]),
    t([4, 3, 5, 5]),
    t([3, 3, 3, 3]),
    t([3]),
    t([2, 3, 3, 3]),
    t([2, 4, 7, 8]),
    t([2, 4, 4, 4]),
    t([2, 3, 8, 9]),
    t([4, 3, 5, 5]),
    t([5]),
    t([2, 5, 8, 8]),
    t([4, 2, 3, 3]),
  ];
  const opts = { stride: 1, padding: 1 };
  const before = frameStats.dispatches;
  const fwd = "Conv2d.forward: ";
  assertThrows(
    () => conv2dForward(x, w5, null, y, opts),
    fwd + "weight has shape [4, 5, 3, 3], expected [*, 3, *, *]",
  );
  assertThrows(
    () => conv2dForward(x, weight, null, y7, opts),
    fwd + "y has shape [2, 4, 7, 8], expected [2, 4, 8, 8]",
  );
  assertThrows(() => conv2dForward(x.reshape([2, 3, 64]), weight, null, y, opts), "x has shape");
  assertThrows(() => conv2dForward(x, weight, b3, y, opts), "bias has shape [3], expected [4]");
  assertThrows(() => conv2dForward(x, weight, null, y, { stride: 0, padding: 1 }), "stride");
  assertThrows(() => conv2dForward(x, weight, null, y, { stride: 1.5, padding: 1 }), "stride");
  assertThrows(() => conv2dForward(x, weight, null, y, { stride: 1, padding: -1 }), "padding");
  assertThrows(
    () => conv2dForward(small, wBig, null, y, { stride: 1, padding: 0 }),
    "kernel 5×5 of weight [4, 3, 5, 5] is larger than the padded input 3×3 of x [2, 3, 3, 3]",
  );
  assertThrows(() => conv2dForward(x, w33, null, x, opts), "y shares its buffer with x");
  const bwd = "Conv2d.backward: ";
  assertThrows(
    () => conv2dBackward(dy4, x, weight, dx, dWeight, null, opts),
    bwd + "dy has shape [2, 4, 4, 4], expected [2, 4, 8, 8]",
  );
  assertThrows(
    () => conv2dBackward(dy, x, weight, dx9, dWeight, null, opts),
    bwd + "dx has shape [2, 3, 8, 9], expected [2, 3, 8, 8]",
  );
  assertThrows(
    () => conv2dBackward(dy, x, weight, dx, dW5, null, opts),
    bwd + "dWeight has shape [4, 3, 5, 5], expected [4, 3, 3, 3]",
  );
  assertThrows(
    () => conv2dBackward(dy, x, weight, dx, dWeight, db5, opts),
    bwd + "dBias has shape [5], expected [4]",
  );
  assertThrows(
    () => conv2dBackward(dy, x, weight, dx, dWeight, null, { stride: 0, padding: 1 }),
    "stride",
  );
  assertThrows(
    () => conv2dBackward(dy, x, weight, dx, weight, null, opts),
    bwd + "dWeight shares its buffer with weight",
  );
  assertThrows(
    () => conv2dBackwardData(dy, weight, dx5, opts),
    "Conv2d.backwardData: weight has shape [4, 3, 3, 3], expected [*, 5, *, *]",
  );
  assertThrows(
    () => conv2dBackwardWeight(dy, x, dW2, null, opts),
    "Conv2d.backwardWeight: dWeight has shape [4, 2, 3, 3], expected [*, 3, *, *]",
  );
  assertEquals(frameStats.dispatches, before, "no dispatch was recorded");
});
