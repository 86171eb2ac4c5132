/**
 * The pooling, channel, loss and reduction ops through the tape: forward and backward (through
 * `loss.backward()` or `y.backward({ gradient })`) against the float64 references and finite
 * differences, on fresh random inputs with awkward sizes and poisoned outputs (tests/gpu.ts);
 * labels out of range name the value; `predicted.eq(labels).sum()` counts.
 */

import { F, Generator, noGrad, Tensor } from "../mod.ts";
import { AdaptiveAvgPool2d, MaxPool2d } from "../src/nn/pooling.ts";
import { assert, assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { assertThrowsBeforeGpuWork, dispatchedKernels, read64 } from "./gpu.ts";
import { dot, f32, numericGrad, size } from "./numeric.ts";
import {
  countCorrect,
  crossEntropy,
  logSoftmax,
  logSoftmaxBackward,
  nllLoss,
} from "./reference/loss.ts";
import {
  adaptiveAvgPool1BackwardRef,
  adaptiveAvgPool1Ref,
  adaptiveMaxPool1BackwardRef,
  adaptiveMaxPool1Ref,
  concatChannelsRef,
  maxPool2dBackwardRef,
  maxPool2dRef,
  shiftSubsampleBackwardRef,
  shiftSubsampleRef,
  splitChannelsRef,
} from "./reference/pool.ts";
import { broadcastRef, rowArgmaxRef, sumRef } from "./reference/reduce.ts";

// Selections and copies are exact; means and softmaxes round a little.
const EXACT = { atol: 0, rtol: 0 };
const MEAN = { atol: 2e-6, rtol: 1e-6 };
const LOSS = { atol: 1e-5, rtol: 1e-5 };
const GRAD = { atol: 1e-6, rtol: 1e-4 };
const FD = { atol: 1e-6, rtol: 1e-5 };

/** A leaf holding `data` (f32-rounded by the caller), requiring grad unless told. */
function leaf(data: Float64Array, shape: readonly number[], grad = true): Tensor {
  return Tensor.from(data, shape, { requiresGrad: grad, label: "Test.input" });
}

/** Values without ties (so max and argmax have one answer and a derivative). */
function distinct(rng: Generator, n: number): Float64Array {
  const order = rng.permutation(n);
  return f32(Float64Array.from(order, (k) => 0.01 * k - 0.005 * n + 0.001 * rng.uniform()));
}

/** The gradient `backward` left in a leaf, as float64. */
function gradOf(t: Tensor): Promise<Float64Array> {
  assert(t.grad, `${t.label} has a gradient`);
  return read64(t.grad);
}

function labelsFor(rng: Generator, n: number, k: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(k));
}

Deno.test("maxPool2d and the adaptive pools: forward, tape gradients, finite differences", async () => {
  const rng = new Generator(testSeed("pool ops"));
  for (
    const [shape, kernel, stride] of [
      [[2, 3, 7, 6], 2, 2],
      [[1, 2, 9, 11], 3, 2],
      [[3, 1, 5, 5], 2, 3],
      [[1, 1, 1, 1], 1, 1],
    ] as [number[], number, number][]
  ) {
    const msg = `[${shape}] k ${kernel} s ${stride}`;
    const x = distinct(rng, size(shape));
    const xT = leaf(x, shape);
    const y = F.maxPool2d(xT, kernel, stride);
    const ref = maxPool2dRef(x, shape, kernel, stride);
    assertEquals(y.shape, ref.outShape, msg);
    assertClose(await read64(y), ref.y, { ...EXACT, message: `maxPool2d ${msg}` });
    const dy = f32(randomArray(rng, ref.y.length));
    y.backward({ gradient: Tensor.from(dy, y.shape) });
    const plane = ref.outShape[2] * ref.outShape[3];
    // Overlapping windows add f32 gradients where they share a maximum.
    const dxRef = maxPool2dBackwardRef(dy, ref.argmax, plane, shape);
    assertClose(await gradOf(xT), dxRef, { atol: 1e-7, rtol: 1e-6, message: `dx ${msg}` });
    const loss = () => dot(dy, maxPool2dRef(x, shape, kernel, stride).y);
    assertClose(await gradOf(xT), numericGrad(x, loss), { ...FD, message: `f.d. ${msg}` });

    const [n, c] = shape;
    const dyPlane = f32(randomArray(rng, n * c));
    xT.grad!.fill(0);
    const avg = F.adaptiveAvgPool2d(xT, 1);
    assertEquals(avg.shape, [n, c, 1, 1]);
    assertClose(await read64(avg), adaptiveAvgPool1Ref(x, shape), MEAN);
    avg.backward({ gradient: Tensor.from(dyPlane, [n, c, 1, 1]) });
    assertClose(await gradOf(xT), adaptiveAvgPool1BackwardRef(dyPlane, shape), MEAN);
    const avgLoss = () => dot(dyPlane, adaptiveAvgPool1Ref(x, shape));
    assertClose(await gradOf(xT), numericGrad(x, avgLoss), FD);

    xT.grad!.fill(0);
    const max = F.adaptiveMaxPool2d(xT, [1, 1]);
    const maxRef = adaptiveMaxPool1Ref(x, shape);
    assertClose(await read64(max), maxRef.y, EXACT);
    max.backward({ gradient: Tensor.from(dyPlane, [n, c, 1, 1]) });
    assertClose(
      await gradOf(xT),
      adaptiveMaxPool1BackwardRef(dyPlane, maxRef.argmax, shape),
      EXACT,
    );
    const maxLoss = () => dot(dyPlane, adaptiveMaxPool1Ref(x, shape).y);
    assertClose(await gradOf(xT), numericGrad(x, maxLoss), FD);
  }
});

Deno.test("one MaxPool2d applied twice (the article's self.pool) gets both gradients", async () => {
  const rng = new Generator(testSeed("pool twice"));
  const shape = [2, 3, 8, 8];
  const x = distinct(rng, size(shape));
  const xT = leaf(x, shape);
  const pool = new MaxPool2d(2);
  const y = pool.forward(pool.forward(xT)); // [2, 3, 2, 2]
  const dy = f32(randomArray(rng, y.size));
  y.backward({ gradient: Tensor.from(dy, y.shape) });
  const once = maxPool2dRef(x, shape, 2, 2);
  const twice = maxPool2dRef(once.y, once.outShape, 2, 2);
  const dMid = maxPool2dBackwardRef(dy, twice.argmax, 4, once.outShape);
  assertClose(await gradOf(xT), maxPool2dBackwardRef(dMid, once.argmax, 16, shape), EXACT);
  const pooled = new AdaptiveAvgPool2d(1);
  assertEquals(pooled.forward(pooled.forward(xT)).shape, [2, 3, 1, 1]);
});

Deno.test("avgPool2d, shiftSubsample, concatChannels, splitChannels through the tape", async () => {
  const rng = new Generator(testSeed("channel ops"));
  for (const [shape, stride, shift] of [[[2, 3, 7, 6], 2, 1], [[1, 2, 5, 4], 3, 0]] as const) {
    const msg = `[${shape}] stride ${stride} shift ${shift}`;
    const x = f32(randomArray(rng, size(shape)));
    const xT = leaf(x, shape);
    const y = F.shiftSubsample(xT, { stride, shift });
    const ref = shiftSubsampleRef(x, shape, stride, shift);
    assertEquals(y.shape, ref.outShape);
    assertClose(await read64(y), ref.y, { ...EXACT, message: msg });
    const dy = f32(randomArray(rng, ref.y.length));
    y.backward({ gradient: Tensor.from(dy, y.shape) });
    const dxRef = shiftSubsampleBackwardRef(dy, shape, stride, shift);
    assertClose(await gradOf(xT), dxRef, EXACT);
    const loss = () => dot(dy, shiftSubsampleRef(x, shape, stride, shift).y);
    assertClose(await gradOf(xT), numericGrad(x, loss), FD);

    // A 1×1 average pool with a stride is the unshifted subsample.
    xT.grad!.fill(0);
    const avg = F.avgPool2d(xT, 1, stride);
    assertClose(await read64(avg), shiftSubsampleRef(x, shape, stride, 0).y, EXACT);
    avg.backward({ gradient: Tensor.from(dy, avg.shape) });
    assertClose(await gradOf(xT), shiftSubsampleBackwardRef(dy, shape, stride, 0), EXACT);
  }

  const [n, ca, cb, h, w] = [3, 2, 5, 3, 7];
  const a = f32(randomArray(rng, n * ca * h * w));
  const b = f32(randomArray(rng, n * cb * h * w));
  const aT = leaf(a, [n, ca, h, w]);
  const bT = leaf(b, [n, cb, h, w]);
  const joined = F.concatChannels(aT, bT);
  assertEquals(joined.shape, [n, ca + cb, h, w]);
  assertClose(await read64(joined), concatChannelsRef(a, b, n, ca, cb, h * w), EXACT);
  const dy = f32(randomArray(rng, joined.size));
  joined.backward({ gradient: Tensor.from(dy, joined.shape) });
  const parts = splitChannelsRef(dy, n, ca, cb, h * w);
  assertClose(await gradOf(aT), parts.da, EXACT);
  assertClose(await gradOf(bT), parts.db, EXACT);

  // Split, then both parts (or one) used: the gradient is each part's in its channels.
  const xT = leaf(concatChannelsRef(a, b, n, ca, cb, h * w), [n, ca + cb, h, w]);
  const [first, second] = F.splitChannels(xT, ca);
  assertClose(await read64(first), a, EXACT);
  assertClose(await read64(second), b, EXACT);
  F.concatChannels(first, second).backward({ gradient: Tensor.from(dy, joined.shape) });
  assertClose(await gradOf(xT), dy, EXACT);
  xT.grad!.fill(0);
  const [onlyFirst] = F.splitChannels(xT, ca);
  onlyFirst.backward({ gradient: Tensor.from(parts.da, onlyFirst.shape) });
  const zeros = new Float64Array(parts.db.length);
  assertClose(await gradOf(xT), concatChannelsRef(parts.da, zeros, n, ca, cb, h * w), EXACT);
});

Deno.test("logSoftmax, crossEntropy, nllLoss: loss.backward() vs reference and finite differences", async () => {
  const rng = new Generator(testSeed("loss ops"));
  for (const [n, k] of [[3, 10], [33, 7], [1, 1], [2, 300]]) {
    const msg = `[${n}, ${k}]`;
    const x = f32(randomArray(rng, n * k, -4, 4));
    const labels = labelsFor(rng, n, k);
    const labelsT = Tensor.from(labels, [n], { dtype: "i32" });

    const xT = leaf(x, [n, k]);
    const loss = F.crossEntropy(xT, labelsT);
    const ref = crossEntropy(x, labels, n, k);
    assertEquals(loss.shape, [1]);
    assertClose([await loss.item()], [ref.loss], { ...LOSS, message: `CE ${msg}` });
    loss.backward();
    assertClose(await gradOf(xT), ref.dLogits, { ...GRAD, message: `CE grad ${msg}` });
    if (n * k <= 300) {
      const fd = numericGrad(x, () => crossEntropy(x, labels, n, k).loss);
      assertClose(await gradOf(xT), fd, { ...GRAD, message: `CE f.d. ${msg}` });
    }

    // The article's head: log_softmax, then CrossEntropyLoss or NLLLoss.
    xT.grad!.fill(0);
    const logProbs = F.logSoftmax(xT, -1);
    const lpRef = logSoftmax(x, n, k);
    assertClose(await read64(logProbs), lpRef, { ...LOSS, message: `logSoftmax ${msg}` });
    const nll = F.nllLoss(logProbs, labelsT);
    const nllRef = nllLoss(lpRef, labels, n, k);
    assertClose([await nll.item()], [nllRef.loss], LOSS);
    nll.backward();
    const dx = logSoftmaxBackward(nllRef.dLogProbs, lpRef, n, k);
    assertClose(await gradOf(xT), dx, { ...GRAD, message: `NLL through logSoftmax ${msg}` });
    assertClose(await gradOf(xT), ref.dLogits, { ...GRAD, message: `= CE grad ${msg}` });
  }
});

Deno.test("a loss not at the root of backward is scaled by its output gradient; retainGraph works", async () => {
  const rng = new Generator(testSeed("loss scaled"));
  const [n, k] = [5, 4];
  const x = f32(randomArray(rng, n * k, -2, 2));
  const labels = labelsFor(rng, n, k);
  const labelsT = Tensor.from(labels, [n], { dtype: "i32" });
  const ref = crossEntropy(x, labels, n, k);
  const xT = leaf(x, [n, k]);
  F.crossEntropy(xT, labelsT).mul(2.5).backward();
  assertClose(await gradOf(xT), ref.dLogits.map((g) => 2.5 * g), { ...GRAD, message: "2.5·CE" });

  xT.grad!.fill(0);
  const loss = F.crossEntropy(xT, labelsT);
  loss.backward({ retainGraph: true });
  loss.backward();
  assertClose(await gradOf(xT), ref.dLogits.map((g) => 2 * g), { ...GRAD, message: "twice" });

  // From the root with the unit seed, the forward's gradient is handed over: no kernel.
  xT.grad!.fill(0);
  const scores = F.relu(xT);
  const rootLoss = F.crossEntropy(scores, labelsT);
  const kernels = dispatchedKernels(() => rootLoss.backward());
  assert(!kernels.some((label) => label.startsWith("Reduce.")), `no rescale: ${kernels}`);
  assertEquals(kernels.filter((label) => label.startsWith("Loss.")), []);

  // Under noGrad the loss computes no gradient.
  const evalKernels = dispatchedKernels(() => noGrad(() => F.crossEntropy(xT, labelsT)));
  assertEquals(evalKernels.filter((label) => !label.startsWith("Tensor.")), ["Loss.mean"]);
});

Deno.test("labels outside [0, K) are an error naming the value; GPU-made labels are not checked", () => {
  const scores = Tensor.zeros([3, 10], { requiresGrad: true });
  const high = Tensor.from([1, 10, 2], [3], { dtype: "i32" });
  const low = Tensor.from([-1, 0, 9], [3], { dtype: "i32" });
  assertThrowsBeforeGpuWork(
    () => F.crossEntropy(scores, high),
    "crossEntropy: label 10 is outside [0, 10) (labels must be class indices)",
  );
  assertThrowsBeforeGpuWork(() => F.nllLoss(scores, low), "nllLoss: label -1 is outside [0, 10)");
  const gpuMade = scores.argmax(1);
  assertEquals(gpuMade.valueRange, null);
  F.crossEntropy(scores, gpuMade); // unknown range: not checked
  const short = Tensor.from([1, 2], [2], { dtype: "i32" });
  const floats = Tensor.zeros([3]) as unknown as Tensor<"i32">;
  const cube = Tensor.zeros([3, 10, 1]);
  for (
    const [fn, message] of [
      [() => F.crossEntropy(scores, short), "crossEntropy: labels has shape [2], expected [3]"],
      [() => F.nllLoss(scores, floats), "nllLoss: labels has dtype f32, expected i32"],
      [() => F.crossEntropy(cube, high), "crossEntropy: logits has shape [3, 10, 1]"],
      [() => F.logSoftmax(scores, 0), "logSoftmax: dim must be 1 or -1"],
    ] as [() => unknown, string][]
  ) assertThrowsBeforeGpuWork(fn, message);
});

Deno.test("argmax, eq, sum, mean: await predicted.eq(labels).sum().item() counts", async () => {
  const rng = new Generator(testSeed("reduce ops"));
  for (const [n, k] of [[1, 1], [7, 10], [300, 3]]) {
    const logits = Float64Array.from({ length: n * k }, () => rng.int(5)); // ties
    const labels = labelsFor(rng, n, k);
    const outputs = Tensor.from(logits, [n, k]);
    const predicted = outputs.argmax(1);
    assertEquals(Array.from(await predicted.read()), Array.from(rowArgmaxRef(logits, n, k)));
    const correct = predicted.eq(Tensor.from(labels, [n], { dtype: "i32" })).sum();
    assertEquals(correct.dtype, "i32");
    assertEquals(await correct.item(), countCorrect(logits, labels, n, k), `[${n}, ${k}]`);
  }
  for (const shape of [[1], [3, 5, 7], [2, 2049]]) {
    const x = f32(randomArray(rng, size(shape)));
    const xT = leaf(x, shape);
    const bound = { atol: 1e-6 * Math.sqrt(x.length), rtol: 1e-5 };
    assertClose([await xT.sum().item()], [sumRef(x)], bound);
    const [g] = f32([rng.uniformRange(-2, 2)]);
    xT.sum().backward({ gradient: Tensor.from([g], [1]) });
    assertClose(await gradOf(xT), broadcastRef(g, x.length), EXACT);
    xT.grad!.fill(0);
    const m = xT.mean();
    assertClose([await m.item()], [sumRef(x, 1 / x.length)], bound);
    m.backward();
    assertClose(await gradOf(xT), broadcastRef(1, x.length, Math.fround(1 / x.length)), MEAN);
    if (x.length <= 105) {
      assertClose(await gradOf(xT), numericGrad(x, () => sumRef(x, 1 / x.length)), FD);
    }
  }
  const ints = Tensor.from([1, 2], [2], { dtype: "i32" });
  const one = Tensor.from([1], [1], { dtype: "i32" });
  const empty = Tensor.zeros([0, 3]);
  const [vector, matrix] = [Tensor.zeros([4]), Tensor.zeros([2, 3])];
  for (
    const [fn, message] of [
      [
        () => (ints as unknown as Tensor).mean(),
        "mean: x has dtype i32, expected f32 (divide its sum() instead)",
      ],
      [() => empty.mean(), "mean: x has shape [0, 3], no element"],
      [() => ints.eq(one), "eq: b has shape [1], expected [2]"],
      [() => vector.argmax(1), "argmax: x has shape [4], expected [*, *]"],
      [() => matrix.argmax(0), "argmax: dim must be 1 or -1"],
    ] as [() => unknown, string][]
  ) assertThrowsBeforeGpuWork(fn, message);
});
