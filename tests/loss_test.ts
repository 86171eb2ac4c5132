/**
 * Loss kernels against the float64 references, and the references against finite differences.
 *
 * @module
 */

import {
  countCorrect,
  crossEntropy,
  logSoftmax,
  logSoftmaxBackward,
  nllLoss,
} from "../src/kernels/loss.ts";
import { Generator, Tensor } from "../mod.ts";
import {
  assert,
  assertClose,
  assertEquals,
  assertThrows,
  randomArray,
  testSeed,
} from "./assert.ts";
import { read64, upload } from "./gpu.ts";
import * as ref from "./reference/loss.ts";

/** Awkward shapes: a single element, CIFAR-like, wide, and more rows than one workgroup. */
const SHAPES: [number, number][] = [[1, 1], [7, 10], [33, 100], [300, 3]];

function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

function randomLabels(rng: Generator, n: number, k: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(k));
}

function labelTensor(labels: ArrayLike<number>): Tensor<"i32"> {
  return Tensor.from(labels, [labels.length], { dtype: "i32", label: "Test.labels" });
}

/** Central finite differences of a scalar function at x. */
function numericGrad(f: (x: Float64Array) => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps;
    const up = f(x);
    x[i] = keep - eps;
    const down = f(x);
    x[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

Deno.test("reference backwards match finite differences", () => {
  const rng = new Generator(testSeed("loss reference"));
  for (const [n, k] of [[1, 1], [3, 4], [5, 7]]) {
    const x = randomArray(rng, n * k, -3, 3);
    const labels = randomLabels(rng, n, k);
    const dy = randomArray(rng, n * k);
    const tol = { atol: 1e-7, rtol: 1e-6 };

    const y = ref.logSoftmax(x, n, k);
    assertClose(
      ref.logSoftmaxBackward(dy, y, n, k),
      numericGrad((v) => dot(dy, ref.logSoftmax(v, n, k)), x),
      { ...tol, message: `logSoftmaxBackward ${n}x${k}` },
    );
    assertClose(
      ref.crossEntropy(x, labels, n, k).dLogits,
      numericGrad((v) => ref.crossEntropy(v, labels, n, k).loss, x),
      { ...tol, message: `crossEntropy ${n}x${k}` },
    );
    assertClose(
      ref.nllLoss(x, labels, n, k).dLogProbs,
      numericGrad((v) => ref.nllLoss(v, labels, n, k).loss, x),
      { ...tol, message: `nllLoss ${n}x${k}` },
    );
    // The article's composition: CrossEntropyLoss applied to log_softmax outputs.
    const dLogp = ref.crossEntropy(y, labels, n, k).dLogits;
    assertClose(
      ref.logSoftmaxBackward(dLogp, y, n, k),
      numericGrad((v) => ref.crossEntropy(ref.logSoftmax(v, n, k), labels, n, k).loss, x),
      { ...tol, message: `crossEntropy∘logSoftmax ${n}x${k}` },
    );
  }
});

Deno.test("logSoftmax forward and backward match the reference", async () => {
  const rng = new Generator(testSeed("logSoftmax"));
  for (const [n, k] of SHAPES) {
    const x = f32(randomArray(rng, n * k, -8, 8));
    const dy = f32(randomArray(rng, n * k));
    const xt = upload(x, [n, k]);
    const y = Tensor.empty([n, k]);
    const dx = Tensor.empty([n, k]);
    logSoftmax(xt, y);
    const yGpu = await read64(y);
    logSoftmaxBackward(upload(dy, [n, k]), y, dx);
    const name = `${n}x${k}`;
    assertClose(yGpu, ref.logSoftmax(x, n, k), { atol: 1e-5, rtol: 1e-5, message: name });
    assertClose(await read64(dx), ref.logSoftmaxBackward(dy, yGpu, n, k), {
      atol: 1e-5,
      rtol: 1e-4,
      message: `backward ${name}`,
    });
  }
});

Deno.test("logSoftmax is stable for huge logits", async () => {
  const x = [1000, 999, -1000, 0, 0, 88.8];
  const y = Tensor.empty([2, 3]);
  logSoftmax(upload(x, [2, 3]), y);
  assertClose(await read64(y), ref.logSoftmax(x, 2, 3), { atol: 1e-5, rtol: 1e-6 });
});

Deno.test("crossEntropy loss, gradient and lossSum match the reference", async () => {
  const rng = new Generator(testSeed("crossEntropy"));
  for (const [n, k] of SHAPES) {
    const lossSum = Tensor.zeros([1]);
    const loss = Tensor.empty([1]);
    const dLogits = Tensor.empty([n, k]);
    let expectedSum = 0;
    for (let call = 0; call < 4; call++) {
      const x = f32(randomArray(rng, n * k, -6, 6));
      const labels = randomLabels(rng, n, k);
      const expected = ref.crossEntropy(x, labels, n, k);
      expectedSum += expected.loss;
      crossEntropy(upload(x, [n, k]), labelTensor(labels), loss, dLogits, { lossSum });
      const name = `${n}x${k} call ${call}`;
      assertClose(await read64(loss), [expected.loss], { atol: 1e-5, rtol: 1e-5, message: name });
      assertClose(await read64(dLogits), expected.dLogits, {
        atol: 1e-6,
        rtol: 1e-4,
        message: name,
      });
    }
    assertClose(await read64(lossSum), [expectedSum], { atol: 1e-4, rtol: 1e-5 });
    // Without a gradient or an accumulator only the loss is written.
    const x = f32(randomArray(rng, n * k, -6, 6));
    const labels = randomLabels(rng, n, k);
    crossEntropy(upload(x, [n, k]), labelTensor(labels), loss, null);
    assertClose(await read64(loss), [ref.crossEntropy(x, labels, n, k).loss], {
      atol: 1e-5,
      rtol: 1e-5,
    });
  }
});

Deno.test("nllLoss loss, gradient and lossSum match the reference", async () => {
  const rng = new Generator(testSeed("nllLoss"));
  for (const [n, k] of SHAPES) {
    const lossSum = Tensor.full([1], 2.5);
    const loss = Tensor.empty([1]);
    const dLogProbs = Tensor.empty([n, k]);
    let expectedSum = 2.5;
    for (let call = 0; call < 3; call++) {
      const x = f32(ref.logSoftmax(randomArray(rng, n * k, -4, 4), n, k));
      const labels = randomLabels(rng, n, k);
      const expected = ref.nllLoss(x, labels, n, k);
      expectedSum += expected.loss;
      nllLoss(upload(x, [n, k]), labelTensor(labels), loss, dLogProbs, { lossSum });
      const name = `${n}x${k} call ${call}`;
      assertClose(await read64(loss), [expected.loss], { atol: 1e-6, rtol: 1e-5, message: name });
      assertClose(await read64(dLogProbs), expected.dLogProbs, {
        atol: 0,
        rtol: 1e-6,
        message: name,
      });
    }
    assertClose(await read64(lossSum), [expectedSum], { atol: 1e-5, rtol: 1e-5 });
  }
});

Deno.test("crossEntropy on log_softmax outputs composes (the article's models)", async () => {
  const rng = new Generator(testSeed("crossEntropy∘logSoftmax"));
  for (const [n, k] of SHAPES) {
    const x = f32(randomArray(rng, n * k, -5, 5));
    const labels = randomLabels(rng, n, k);
    const logp = Tensor.empty([n, k]);
    const loss = Tensor.empty([1]);
    const dLogp = Tensor.empty([n, k]);
    const dx = Tensor.empty([n, k]);
    logSoftmax(upload(x, [n, k]), logp);
    crossEntropy(logp, labelTensor(labels), loss, dLogp);
    logSoftmaxBackward(dLogp, logp, dx);
    const y = ref.logSoftmax(x, n, k);
    const expected = ref.crossEntropy(y, labels, n, k);
    const name = `${n}x${k}`;
    assertClose(await read64(loss), [expected.loss], { atol: 1e-5, rtol: 1e-5, message: name });
    assertClose(await read64(dx), ref.logSoftmaxBackward(expected.dLogits, y, n, k), {
      atol: 1e-6,
      rtol: 1e-4,
      message: name,
    });
  }
});

Deno.test("countCorrect accumulates argmax hits, first maximum on ties", async () => {
  const rng = new Generator(testSeed("countCorrect"));
  const correct = Tensor.zeros([1], { dtype: "u32" });
  let expected = 0;
  for (const [n, k] of [...SHAPES, [600, 10] as [number, number]]) {
    // Few distinct values, so ties are common.
    const x = Float64Array.from({ length: n * k }, () => rng.int(3));
    const labels = randomLabels(rng, n, k);
    expected += ref.countCorrect(x, labels, n, k);
    countCorrect(upload(x, [n, k]), labelTensor(labels), correct);
  }
  assertEquals(await correct.read(), new Uint32Array([expected]));
  // Ties: the first maximum is the prediction.
  const tied = Tensor.zeros([1], { dtype: "u32" });
  countCorrect(upload([1, 1, 0, 2, 2, 2], [2, 3]), labelTensor([1, 0]), tied);
  assertEquals(await tied.read(), new Uint32Array([1]));
});

Deno.test("labels out of range give NaN loss, not a crash", async () => {
  const x = [0.5, 1, -1, 2, 0, 0];
  const loss = Tensor.empty([1]);
  const lossSum = Tensor.zeros([1]);
  const dLogits = Tensor.empty([2, 3]);
  crossEntropy(upload(x, [2, 3]), labelTensor([1, 3]), loss, dLogits, { lossSum });
  assert(Number.isNaN((await loss.read())[0]), "loss is NaN");
  assert(Number.isNaN((await lossSum.read())[0]), "lossSum is NaN");
  const grad = await dLogits.read();
  assert(grad.slice(0, 3).every(Number.isFinite), "valid row keeps its gradient");
  assert(grad.slice(3).every(Number.isNaN), "invalid row is NaN");
  nllLoss(upload(x, [2, 3]), labelTensor([-1, 0]), loss, null);
  assert(Number.isNaN((await loss.read())[0]), "nll loss is NaN");
  const correct = Tensor.zeros([1], { dtype: "u32" });
  countCorrect(upload(x, [2, 3]), labelTensor([-7, 99]), correct);
  assertEquals(await correct.read(), new Uint32Array([0]));
});

Deno.test("bad inputs are rejected naming the argument", () => {
  const x = Tensor.zeros([4, 3]);
  const labels = labelTensor([0, 1, 2, 0]);
  const loss = Tensor.zeros([1]);
  assertThrows(() => logSoftmax(x, Tensor.zeros([4, 2])), "Loss.logSoftmax: y has shape [4, 2]");
  assertThrows(() => logSoftmax(Tensor.zeros([12]), Tensor.zeros([12])), "x has shape [12]");
  assertThrows(() => logSoftmax(Tensor.zeros([0, 3]), Tensor.zeros([0, 3])), "x has shape [0, 3]");
  assertThrows(() => logSoftmax(x, x), "y shares its buffer with x");
  assertThrows(
    () => logSoftmaxBackward(x, Tensor.zeros([3, 3]), Tensor.zeros([4, 3])),
    "y has shape [3, 3]",
  );
  assertThrows(() => crossEntropy(x, labelTensor([0, 1]), loss, null), "labels has shape [2]");
  assertThrows(
    () => crossEntropy(x, Tensor.zeros([4]) as unknown as Tensor<"i32">, loss, null),
    "labels has dtype f32",
  );
  assertThrows(() => crossEntropy(x, labels, Tensor.zeros([2]), null), "loss has shape [2]");
  assertThrows(
    () => crossEntropy(x, labels, loss, Tensor.zeros([3, 4])),
    "dLogits has shape [3, 4]",
  );
  assertThrows(
    () => crossEntropy(x, labels, loss, null, { lossSum: Tensor.zeros([1, 1]) }),
    "lossSum has shape [1, 1]",
  );
  assertThrows(() => crossEntropy(x, labels, loss, null, { lossSum: loss }), "lossSum shares");
  assertThrows(() => nllLoss(x, labels, loss, Tensor.zeros([4])), "dLogProbs has shape [4]");
  assertThrows(
    () => countCorrect(x, labels, Tensor.zeros([1]) as unknown as Tensor<"u32">),
    "correct has dtype f32",
  );
});
