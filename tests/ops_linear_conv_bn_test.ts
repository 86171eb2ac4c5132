/**
 * The linear, conv2d and batchNorm ops through the tape: forward and `backward({ gradient })`
 * against the float64 references and finite differences, on fresh random inputs with awkward
 * sizes and poisoned outputs (tests/gpu.ts); gradients nobody needs are not computed; a layer
 * called twice in one step gets the sum of both gradients.
 */

import { Generator, Tensor } from "../mod.ts";
import { Conv2d } from "../src/nn/conv2d.ts";
import { Linear } from "../src/nn/linear.ts";
import { Module } from "../src/nn/module.ts";
import { batchNorm } from "../src/ops/batch_norm.ts";
import { conv2d } from "../src/ops/conv2d.ts";
import { add } from "../src/ops/elementwise.ts";
import { linear } from "../src/ops/linear.ts";
import {
  assert,
  assertClose,
  assertEquals,
  assertThrows,
  randomArray,
  testSeed,
} from "./assert.ts";
import { dispatchedKernels, read64 } from "./gpu.ts";
import { dot, f32, numericGrad, size } from "./numeric.ts";
import {
  batchNormBackwardRef,
  batchNormEvalBackwardRef,
  batchNormEvalForwardRef,
  batchNormTrainForwardRef,
} from "./reference/batch_norm.ts";
import {
  conv2dBackwardRef,
  conv2dForwardRef,
  type Conv2dShape,
  outputSize,
} from "./reference/conv2d.ts";
import { linearBackwardRef, linearForwardRef } from "./reference/matmul.ts";

const FORWARD = { atol: 1e-5, rtol: 1e-4 };
const BACKWARD = { atol: 1e-4, rtol: 1e-3 };

/** f32-rounded random values and the tensor holding them (a leaf that requires grad if asked). */
function input(
  rng: Generator,
  shape: number[],
  { lo = -1, hi = 1, grad = true } = {},
): [Float64Array, Tensor] {
  const data = f32(randomArray(rng, size(shape), lo, hi));
  return [data, Tensor.from(data, shape, { requiresGrad: grad, label: "Test.input" })];
}

/** The gradient `backward` left in a leaf, as float64. */
function gradOf(t: Tensor): Promise<Float64Array> {
  assert(t.grad, `${t.label} has a gradient`);
  return read64(t.grad);
}

Deno.test("linear: forward, tape gradients vs reference and finite differences", async () => {
  const rng = new Generator(testSeed("linear op"));
  const cases: [number, number, number, boolean][] = [
    [3, 37, 5, true],
    [7, 9, 13, false],
    [1, 3, 70, true],
  ];
  for (const [n, k, m, withBias] of cases) {
    const [x, xT] = input(rng, [n, k]);
    const [w, wT] = input(rng, [m, k]);
    const [b, bT] = input(rng, [m]);
    const label = `[${n}, ${k}] · [${m}, ${k}]ᵀ bias ${withBias}`;
    const y = linear(xT, wT, withBias ? bT : null);
    const forward = () => linearForwardRef(x, w, withBias ? b : null, n, k, m);
    assertClose(await read64(y), forward(), { ...FORWARD, message: `y ${label}` });
    const [dy, dyT] = input(rng, [n, m], { grad: false });
    y.backward({ gradient: dyT });
    const ref = linearBackwardRef(dy, x, w, n, k, m);
    const loss = () => dot(dy, forward());
    for (
      const [name, t, expected, values] of [["dx", xT, ref.dx, x], [
        "dW",
        wT,
        ref.dWeight,
        w,
      ]] as const
    ) {
      const got = await gradOf(t);
      assertClose(got, expected, { ...BACKWARD, message: `${name} ${label}` });
      assertClose(got, numericGrad(values, loss), {
        ...BACKWARD,
        message: `${name} f.d. ${label}`,
      });
    }
    if (withBias) {
      assertClose(await gradOf(bT), ref.dBias, { ...BACKWARD, message: `db ${label}` });
      assertClose(await gradOf(bT), numericGrad(b, loss), { ...BACKWARD, message: `db f.d.` });
    } else {
      assertEquals(bT.grad, null, "an unused bias gets no gradient");
    }
  }
});

Deno.test("linear: a weight or an input that needs no gradient gets none, the other is right", async () => {
  const rng = new Generator(testSeed("linear frozen"));
  const [n, k, m] = [5, 11, 3];
  const [x, xT] = input(rng, [n, k]);
  const [w, frozenW] = input(rng, [m, k], { grad: false });
  const [dy, dyT] = input(rng, [n, m], { grad: false });
  const ref = linearBackwardRef(dy, x, w, n, k, m);
  linear(xT, frozenW).backward({ gradient: dyT });
  assertClose(await gradOf(xT), ref.dx, { ...BACKWARD, message: "dx with a frozen weight" });
  assertEquals(frozenW.grad, null, "a frozen weight gets no gradient");

  const image = Tensor.from(x, [n, k]);
  const wT = Tensor.from(w, [m, k], { requiresGrad: true });
  const [, bT] = input(rng, [m]);
  linear(image, wT, bT).backward({ gradient: dyT });
  assertEquals(image.grad, null, "an input that needs no gradient gets none");
  assertClose(await gradOf(wT), ref.dWeight, { ...BACKWARD, message: "dW" });
  assertClose(await gradOf(bT), ref.dBias, { ...BACKWARD, message: "db" });
});

/** [x shape, out channels, kernel, stride, padding, bias]: nothing a multiple of a tile. */
const CONV_CASES: [number[], number, number, number, number, boolean][] = [
  [[3, 5, 9, 7], 6, 3, 2, 1, false],
  [[2, 3, 11, 13], 7, 5, 1, 2, true],
  [[2, 4, 8, 9], 5, 4, 3, 0, true],
  [[1, 17, 6, 10], 3, 1, 1, 0, true],
];

function convShape([n, c, h, w]: number[], o: number, k: number, stride: number, padding: number) {
  return { n, c, h, w, o, kh: k, kw: k, stride, padding };
}

Deno.test("conv2d: forward and tape gradients vs reference", async () => {
  const rng = new Generator(testSeed("conv2d op"));
  for (const [xShape, o, k, stride, padding, withBias] of CONV_CASES) {
    const s = convShape(xShape, o, k, stride, padding);
    const [x, xT] = input(rng, xShape);
    const [w, wT] = input(rng, [o, s.c, k, k]);
    const [b, bT] = input(rng, [o]);
    const label = `x [${xShape}] k ${k} stride ${stride} padding ${padding} bias ${withBias}`;
    const y = conv2d(xT, wT, withBias ? bT : null, { stride, padding });
    assertEquals(y.shape, [s.n, o, ...outputSize(s)], `y shape ${label}`);
    assertClose(await read64(y), conv2dForwardRef(s, x, w, withBias ? b : null), {
      ...FORWARD,
      message: `y ${label}`,
    });
    const [dy, dyT] = input(rng, [...y.shape], { grad: false });
    y.backward({ gradient: dyT });
    const ref = conv2dBackwardRef(s, dy, x, w);
    assertClose(await gradOf(xT), ref.dx, { ...BACKWARD, message: `dx ${label}` });
    assertClose(await gradOf(wT), ref.dWeight, { ...BACKWARD, message: `dW ${label}` });
    if (withBias) assertClose(await gradOf(bT), ref.dBias, { ...BACKWARD, message: `db ${label}` });
    else assertEquals(bT.grad, null, "an unused bias gets no gradient");
  }
});

Deno.test("conv2d: tape gradients match finite differences", async () => {
  const rng = new Generator(testSeed("conv2d op finite differences"));
  const s = convShape([2, 2, 5, 6], 3, 3, 2, 1);
  const [x, xT] = input(rng, [2, 2, 5, 6]);
  const [w, wT] = input(rng, [3, 2, 3, 3]);
  const [b, bT] = input(rng, [3]);
  const y = conv2d(xT, wT, bT, { stride: 2, padding: 1 });
  const [dy, dyT] = input(rng, [...y.shape], { grad: false });
  y.backward({ gradient: dyT });
  const loss = () => dot(dy, conv2dForwardRef(s, x, w, b));
  for (const [name, t, values] of [["dx", xT, x], ["dW", wT, w], ["db", bT, b]] as const) {
    assertClose(await gradOf(t), numericGrad(values, loss), { ...BACKWARD, message: name });
  }
});

Deno.test("conv2d: the first layer on images records no input-gradient kernels", async () => {
  const rng = new Generator(testSeed("conv2d first layer"));
  const xShape = [2, 3, 7, 6];
  const s = convShape(xShape, 4, 3, 1, 1);
  const [x, images] = input(rng, xShape, { grad: false });
  const layer = new Conv2d(3, 4, 3, { padding: 1, generator: rng });
  const w = await read64(layer.weight.data);
  const [dy, dyT] = input(rng, [2, 4, 7, 6], { grad: false });
  const ref = conv2dBackwardRef(s, dy, x, w);
  const run = (x: Tensor) => {
    layer.zeroGrad();
    const y = layer.forward(x);
    return dispatchedKernels(() => y.backward({ gradient: dyT }));
  };
  // Kernel labels carry their tile (`Conv2d.gather16x16`): match the family.
  const has = (labels: string[], family: string) => labels.some((l) => l.startsWith(family));
  const first = run(images);
  assert(has(first, "Conv2d.weightGrad"), `the weight gradient runs: ${first}`);
  assert(!has(first, "Conv2d.gather"), `no input-gradient kernel: ${first}`);
  assertEquals(images.grad, null, "images get no gradient");
  assertClose(await read64(layer.weight.grad), ref.dWeight, { ...BACKWARD, message: "dW" });
  const xT = Tensor.from(x, xShape, { requiresGrad: true });
  const inner = run(xT);
  assert(has(inner, "Conv2d.gather"), `an input that needs a gradient gets one: ${inner}`);
  assertClose(await gradOf(xT), ref.dx, { ...BACKWARD, message: "dx" });
  assertClose(await read64(layer.weight.grad), ref.dWeight, { ...BACKWARD, message: "dW again" });
});

Deno.test("a layer called twice in one step gets the sum of both gradients", async () => {
  const rng = new Generator(testSeed("shared layers"));
  class Twice extends Module {
    conv: Conv2d = this.register("conv", new Conv2d(3, 3, 3, { padding: 1, generator: rng }));
    forward(x: Tensor): Tensor {
      return this.conv.forward(this.conv.forward(x));
    }
  }
  const model = new Twice();
  const xShape = [2, 3, 5, 4];
  const s: Conv2dShape = convShape(xShape, 3, 3, 1, 1);
  const [x, xT] = input(rng, xShape);
  const w = await read64(model.conv.weight.data);
  const b = await read64(model.conv.bias!.data);
  const y = model.forward(xT);
  const [dy, dyT] = input(rng, xShape, { grad: false });
  y.backward({ gradient: dyT });
  const y1 = conv2dForwardRef(s, x, w, b);
  const outer = conv2dBackwardRef(s, dy, y1, w);
  const inner = conv2dBackwardRef(s, outer.dx, x, w);
  const sum = (p: Float64Array, q: Float64Array) => p.map((v, i) => v + q[i]);
  assertClose(await read64(model.conv.weight.grad), sum(outer.dWeight, inner.dWeight), {
    ...BACKWARD,
    message: "dW of both calls",
  });
  assertClose(await read64(model.conv.bias!.grad), sum(outer.dBias, inner.dBias), {
    ...BACKWARD,
    message: "db of both calls",
  });
  assertClose(await gradOf(xT), inner.dx, { ...BACKWARD, message: "dx through both" });
  const loss = () => dot(dy, conv2dForwardRef(s, conv2dForwardRef(s, x, w, b), w, b));
  assertClose(await read64(model.conv.weight.grad), numericGrad(w, loss), {
    ...BACKWARD,
    message: "dW vs finite differences",
  });

  // One Linear on two branches whose outputs are added: dW = dyᵀ·a + dyᵀ·b.
  const fc = new Linear(6, 4, { generator: rng });
  const [a, aT] = input(rng, [3, 6], { grad: false });
  const [c, cT] = input(rng, [3, 6], { grad: false });
  const [dz, dzT] = input(rng, [3, 4], { grad: false });
  add(fc.forward(aT), fc.forward(cT)).backward({ gradient: dzT });
  const fw = await read64(fc.weight.data);
  const [ga, gc] = [a, c].map((v) => linearBackwardRef(dz, v, fw, 3, 6, 4));
  assertClose(await read64(fc.weight.grad), sum(ga.dWeight, gc.dWeight), {
    ...BACKWARD,
    message: "Linear dW of both branches",
  });
  assertClose(await read64(fc.bias!.grad), sum(ga.dBias, gc.dBias), {
    ...BACKWARD,
    message: "Linear db of both branches",
  });
});

Deno.test("batchNorm (training): batch statistics, running statistics, tape gradients", async () => {
  const rng = new Generator(testSeed("batchNorm op train"));
  for (const shape of [[3, 5, 7, 3], [2, 17, 5, 5], [5, 3, 1, 2]]) {
    const c = shape[1];
    const label = `x [${shape}]`;
    const [x, xT] = input(rng, shape, { lo: -2, hi: 3 });
    const [gamma, gammaT] = input(rng, [c], { lo: 0.5, hi: 1.5 });
    const [beta, betaT] = input(rng, [c]);
    const [rm, rmT] = input(rng, [c], { grad: false });
    const [rv, rvT] = input(rng, [c], { lo: 0.5, hi: 2, grad: false });
    const momentum = 0.3;
    const y = batchNorm(xT, rmT, rvT, gammaT, betaT, { training: true, momentum });
    const forward = () => batchNormTrainForwardRef(x, shape, gamma, beta, rm, rv, momentum, 1e-5);
    const ref = forward();
    assertClose(await read64(y), ref.y, { ...FORWARD, message: `y ${label}` });
    assertClose(await read64(rmT), ref.runningMean, { ...FORWARD, message: `mean ${label}` });
    assertClose(await read64(rvT), ref.runningVar, { ...FORWARD, message: `var ${label}` });

    const [dy, dyT] = input(rng, shape, { grad: false });
    y.backward({ gradient: dyT });
    const back = batchNormBackwardRef(dy, x, shape, gamma, ref.saveMean, ref.saveInvStd);
    const loss = () => dot(dy, forward().y);
    const grads = [["dx", xT, back.dx, x], ["dγ", gammaT, back.dGamma, gamma], [
      "dβ",
      betaT,
      back.dBeta,
      beta,
    ]] as const;
    for (const [name, t, expected, values] of grads) {
      const got = await gradOf(t);
      assertClose(got, expected, { ...BACKWARD, message: `${name} ${label}` });
      assertClose(got, numericGrad(values, loss), {
        ...BACKWARD,
        message: `${name} f.d. ${label}`,
      });
    }
    assertEquals(rmT.grad, null, "running statistics get no gradient");
  }
});

Deno.test("batchNorm (eval): running statistics, constant in the backward even if updated later", async () => {
  const rng = new Generator(testSeed("batchNorm op eval"));
  for (const shape of [[3, 5, 7, 3], [1, 6, 2, 1]]) {
    const c = shape[1];
    const label = `x [${shape}]`;
    const [x, xT] = input(rng, shape, { lo: -2, hi: 3 });
    const [gamma, gammaT] = input(rng, [c], { lo: 0.5, hi: 1.5 });
    const [beta, betaT] = input(rng, [c]);
    const [rm, rmT] = input(rng, [c], { grad: false });
    const [rv, rvT] = input(rng, [c], { lo: 0.5, hi: 2, grad: false });
    const eps = 1e-3;
    const y = batchNorm(xT, rmT, rvT, gammaT, betaT, { eps });
    const forward = () => batchNormEvalForwardRef(x, shape, gamma, beta, rm, rv, eps);
    assertClose(await read64(y), forward(), { ...FORWARD, message: `y ${label}` });
    assertEquals([...await read64(rmT)], [...rm], "eval leaves the running mean");
    // A training call updates the running statistics before the eval output's backward.
    const [, other] = input(rng, [2, c, 3, 3], { grad: false });
    batchNorm(other, rmT, rvT, gammaT, betaT, { training: true });
    assert((await read64(rmT)).some((v, i) => v !== rm[i]), "the training call moved them");

    const [dy, dyT] = input(rng, shape, { grad: false });
    y.backward({ gradient: dyT });
    const back = batchNormEvalBackwardRef(dy, x, shape, gamma, rm, rv, eps);
    const loss = () => dot(dy, forward());
    const grads = [["dx", xT, back.dx, x], ["dγ", gammaT, back.dGamma, gamma], [
      "dβ",
      betaT,
      back.dBeta,
      beta,
    ]] as const;
    for (const [name, t, expected, values] of grads) {
      const got = await gradOf(t);
      assertClose(got, expected, { ...BACKWARD, message: `${name} ${label}` });
      assertClose(got, numericGrad(values, loss), {
        ...BACKWARD,
        message: `${name} f.d. ${label}`,
      });
    }
  }
});

Deno.test("linear, conv2d and batchNorm reject bad arguments, naming the op and argument", () => {
  const x = Tensor.zeros([2, 4]);
  assertThrows(() => linear(x, Tensor.zeros([3, 5])), "linear: weight has shape [3, 5]");
  assertThrows(() => linear(x, Tensor.zeros([3, 4]), Tensor.zeros([4])), "linear: bias has shape");
  assertThrows(() => linear(Tensor.zeros([2, 4, 1]), Tensor.zeros([3, 4])), "linear: x has shape");
  const image = Tensor.zeros([1, 3, 4, 4]);
  assertThrows(() => conv2d(image, Tensor.zeros([2, 2, 3, 3])), "conv2d: weight has shape");
  assertThrows(() => conv2d(image, Tensor.zeros([2, 3, 5, 5])), "larger than the padded input");
  assertThrows(
    () => conv2d(image, Tensor.zeros([2, 3, 3, 3]), Tensor.zeros([3])),
    "conv2d: bias has shape [3], expected [2]",
  );
  assertThrows(() => conv2d(image, Tensor.zeros([2, 3, 3, 3]), null, { stride: 0 }), "stride");
  const c3 = () => Tensor.zeros([3]);
  assertThrows(
    () => batchNorm(image, c3(), Tensor.zeros([4]), c3(), c3()),
    "batchNorm: runningVar has shape [4], expected [3]",
  );
  const rank5 = Tensor.zeros([2, 3, 1, 1, 1]);
  assertThrows(
    () => batchNorm(rank5, c3(), c3(), c3(), c3()),
    "batchNorm: x has shape [2, 3, 1, 1, 1]",
  );
  assertThrows(
    () => batchNorm(Tensor.zeros([1, 3, 1, 1]), c3(), c3(), c3(), c3(), { training: true }),
    "more than one value per channel",
  );
});
