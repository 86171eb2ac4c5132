/**
 * The elementwise ops through the tape (relu, add, mul, scale, dropout, dropout2d, shakeMix):
 * forward and `backward({ gradient })` against the float64 references and finite differences,
 * on fresh random inputs with awkward sizes and poisoned outputs (tests/gpu.ts); a tensor used
 * twice receives the sum of its gradients; bad arguments name themselves before any GPU work.
 */

import { F, Generator, Tensor } from "../mod.ts";
import { Dropout, Dropout2d } from "../src/nn/dropout.ts";
import { ReLU } from "../src/nn/activation.ts";
import { assert, assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { assertThrowsBeforeGpuWork, read64 } from "./gpu.ts";
import { dot, f32, numericGrad, size } from "./numeric.ts";
import {
  addRef,
  dropoutMaskRef,
  mulPlaneRef,
  mulRef,
  reluBackwardRef,
  reluRef,
  scaleRef,
  shakeMixBackwardRef,
  shakeMixRef,
} from "./reference/elementwise.ts";

const EXACT = { atol: 1e-30, rtol: 2 ** -24 };
const MIX = { atol: 1e-7, rtol: 1e-6 };
const FD = { atol: 1e-6, rtol: 1e-5 };
/** Finite differences cost size² reference evaluations: only on small tensors. */
const FD_MAX = 1000;
// Awkward sizes: one element, a ragged tail past one 2048-element workgroup, odd planes.
const SHAPES = [[1], [3, 5, 7, 9], [2, 2049], [5, 2, 1, 3]];

/** f32-rounded random values and the tensor holding them (a leaf that requires grad if asked). */
function input(
  rng: Generator,
  shape: readonly number[],
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

Deno.test("relu, add, mul, scale: forward and tape gradients vs reference and finite differences", async () => {
  const rng = new Generator(testSeed("elementwise ops"));
  for (const shape of SHAPES) {
    const msg = `[${shape}]`;
    // Away from relu's kink, so the finite difference is the derivative.
    const x = f32(randomArray(rng, size(shape)).map((v) => v < 0 ? v - 0.1 : v + 0.1));
    const xT = Tensor.from(x, shape, { requiresGrad: true });
    const [b, bT] = input(rng, shape);
    const [dy, dyT] = input(rng, shape, { grad: false });

    const r = F.relu(xT);
    assertClose(await read64(r), reluRef(x), { ...EXACT, message: `relu ${msg}` });
    r.backward({ gradient: dyT });
    assertClose(await gradOf(xT), reluBackwardRef(dy, reluRef(x)), EXACT);
    const fd = x.length <= FD_MAX;
    if (fd) assertClose(await gradOf(xT), numericGrad(x, () => dot(dy, reluRef(x))), FD);

    xT.grad!.fill(0);
    const s = xT.add(bT);
    assertClose(await read64(s), addRef(x, b), { ...EXACT, message: `add ${msg}` });
    s.backward({ gradient: dyT });
    assertClose(await gradOf(xT), dy, { ...EXACT, message: `add da ${msg}` });
    assertClose(await gradOf(bT), dy, { ...EXACT, message: `add db ${msg}` });

    for (const t of [xT, bT]) t.grad!.fill(0);
    const p = xT.mul(bT);
    assertClose(await read64(p), mulRef(x, b), { ...EXACT, message: `mul ${msg}` });
    p.backward({ gradient: dyT });
    const mulLoss = () => dot(dy, mulRef(x, b));
    assertClose(await gradOf(xT), mulRef(dy, b), { ...EXACT, message: `mul da ${msg}` });
    assertClose(await gradOf(bT), mulRef(dy, x), { ...EXACT, message: `mul db ${msg}` });
    if (fd) assertClose(await gradOf(xT), numericGrad(x, mulLoss), FD);
    if (fd) assertClose(await gradOf(bT), numericGrad(b, mulLoss), FD);

    xT.grad!.fill(0);
    const factor = Math.fround(-1.7);
    const scaled = xT.mul(factor);
    assertClose(await read64(scaled), scaleRef(x, factor), { ...EXACT, message: `scale ${msg}` });
    scaled.backward({ gradient: dyT });
    assertClose(await gradOf(xT), scaleRef(dy, factor), EXACT);
    if (fd) assertClose(await gradOf(xT), numericGrad(x, () => dot(dy, scaleRef(x, factor))), FD);
  }
});

Deno.test("a tensor used twice gets the sum: x + x, x·x, a shared relu, one ReLU called twice", async () => {
  const rng = new Generator(testSeed("used twice"));
  const shape = [3, 37];
  const [x, xT] = input(rng, shape);
  const [dy, dyT] = input(rng, shape, { grad: false });
  xT.add(xT).backward({ gradient: dyT });
  assertClose(await gradOf(xT), scaleRef(dy, 2), { ...EXACT, message: "x + x" });

  xT.grad!.fill(0);
  xT.mul(xT).backward({ gradient: dyT });
  assertClose(await gradOf(xT), scaleRef(mulRef(dy, x), 2), { ...MIX, message: "x·x" });

  // One relu output feeding two ops, and one ReLU module applied twice.
  xT.grad!.fill(0);
  const [c, cT] = input(rng, shape, { grad: false });
  const shared = F.relu(xT);
  shared.mul(cT).add(shared.mul(3)).backward({ gradient: dyT });
  const mask = reluBackwardRef(new Float64Array(x.length).fill(1), reluRef(x));
  const expected = Float64Array.from(dy, (g, i) => g * (c[i] + 3) * mask[i]);
  assertClose(await gradOf(xT), expected, { ...MIX, message: "shared relu" });

  xT.grad!.fill(0);
  const act = new ReLU();
  act.forward(xT).add(act.forward(xT.mul(-1))).backward({ gradient: dyT });
  // relu(x) + relu(−x) = |x|: the gradient is sign(x)·dy.
  assertClose(await gradOf(xT), Float64Array.from(dy, (g, i) => Math.sign(x[i]) * g), EXACT);
});

Deno.test("dropout and dropout2d: the generator's seed gives the reference mask; eval passes x through", async () => {
  const rng = new Generator(testSeed("dropout ops"));
  for (const shape of [[3, 5, 7, 9], [2, 3, 1, 1], [6, 7, 17, 19]]) {
    for (const p of [0, 0.3, 0.9]) {
      const n = size(shape);
      const msg = `[${shape}] p ${p}`;
      const [x, xT] = input(rng, shape);
      const [dy, dyT] = input(rng, shape, { grad: false });
      const seed = rng.nextU32();
      const y = F.dropout(xT, p, { generator: new Generator(seed) });
      const mask = dropoutMaskRef(n, p, new Generator(seed).nextU32());
      assertClose(await read64(y), mulRef(x, mask), { ...EXACT, message: `dropout ${msg}` });
      y.backward({ gradient: dyT });
      assertClose(await gradOf(xT), mulRef(dy, mask), { ...EXACT, message: `dropout dx ${msg}` });
      if (n <= FD_MAX) {
        assertClose(await gradOf(xT), numericGrad(x, () => dot(dy, mulRef(x, mask))), FD);
      }

      xT.grad!.fill(0);
      const [nb, c, h, w] = shape;
      const y2 = F.dropout2d(xT, p, { generator: new Generator(seed) });
      const planes = dropoutMaskRef(nb * c, p, new Generator(seed).nextU32());
      assertClose(await read64(y2), mulPlaneRef(x, planes, h * w), EXACT);
      y2.backward({ gradient: dyT });
      assertClose(await gradOf(xT), mulPlaneRef(dy, planes, h * w), EXACT);
    }
  }
  const x = Tensor.full([2, 3, 4, 4], 1, { requiresGrad: true });
  assert(F.dropout(x, 0.5, { training: false }) === x, "not training: x itself");
  assert(F.dropout2d(x, 0.5, { training: false }) === x, "not training: x itself");
  const drop = new Dropout(0.5, { seed: 3 });
  const drop2d = new Dropout2d(0.5, { seed: 3 });
  drop.eval();
  drop2d.eval();
  assert(drop.forward(x) === x && drop2d.forward(x) === x, "eval modules return x");
  // A training module draws a fresh mask per call from its generator.
  drop.train();
  const a = await drop.forward(x).read();
  const b = await drop.forward(x).read();
  assert(a.some((v, i) => v !== b[i]), "two calls, two masks");
});

Deno.test("shakeMix: α forward, an independent β backward, sums for a shared branch", async () => {
  const rng = new Generator(testSeed("shakeMix op"));
  for (const shape of [[3, 5, 7, 9], [7, 3], [1, 2049], [4]]) {
    const n = size(shape);
    const inner = n / shape[0];
    const msg = `[${shape}]`;
    const [a, aT] = input(rng, shape);
    const [b, bT] = input(rng, shape);
    const [alpha, alphaT] = input(rng, [shape[0]], { lo: 0, hi: 1, grad: false });
    const [beta, betaT] = input(rng, [shape[0]], { lo: 0, hi: 1, grad: false });
    const [dy, dyT] = input(rng, shape, { grad: false });
    const y = F.shakeMix(aT, bT, alphaT, betaT);
    assertClose(await read64(y), shakeMixRef(a, b, alpha, inner), { ...MIX, message: msg });
    y.backward({ gradient: dyT });
    const ref = shakeMixBackwardRef(dy, beta, inner);
    assertClose(await gradOf(aT), ref.da, { ...MIX, message: `da ${msg}` });
    assertClose(await gradOf(bT), ref.db, { ...MIX, message: `db ${msg}` });

    // With β = α the backward is the true gradient of the mix.
    for (const t of [aT, bT]) t.grad!.fill(0);
    F.shakeMix(aT, bT, alphaT, alphaT).backward({ gradient: dyT });
    const mixLoss = () => dot(dy, shakeMixRef(a, b, alpha, inner));
    if (n <= FD_MAX) {
      assertClose(await gradOf(aT), numericGrad(a, mixLoss), { ...FD, message: `fd da ${msg}` });
      assertClose(await gradOf(bT), numericGrad(b, mixLoss), { ...FD, message: `fd db ${msg}` });
    } else {
      assertClose(await gradOf(aT), shakeMixBackwardRef(dy, alpha, inner).da, MIX);
    }

    // Both branches the same tensor: β·dy + (1 − β)·dy = dy.
    aT.grad!.fill(0);
    F.shakeMix(aT, aT, alphaT, betaT).backward({ gradient: dyT });
    assertClose(await gradOf(aT), dy, { ...MIX, message: `shared ${msg}` });

    // Only one branch needs a gradient: the other's is not kept.
    const [, frozen] = input(rng, shape, { grad: false });
    bT.grad!.fill(0);
    F.shakeMix(frozen, bT, alphaT, betaT).backward({ gradient: dyT });
    assertClose(await gradOf(bT), ref.db, { ...MIX, message: `one branch ${msg}` });
    assertEquals(frozen.grad, null);
  }
});

Deno.test("elementwise ops: bad arguments name the op and argument, before any GPU work", () => {
  const x = Tensor.zeros([2, 3, 4, 5], { requiresGrad: true });
  const odd = Tensor.zeros([2, 3, 4, 6]);
  const ints = Tensor.zeros([3], { dtype: "i32" }) as unknown as Tensor;
  const flat = Tensor.zeros([6, 20]);
  const [two, three] = [Tensor.zeros([2]), Tensor.zeros([3])];
  const cases: [() => unknown, string][] = [
    [() => F.add(x, odd), "add: b has shape [2, 3, 4, 6], expected [2, 3, 4, 5]"],
    [() => x.mul(odd), "mul: b has shape [2, 3, 4, 6]"],
    [() => x.mul(NaN), "scale: factor must be finite, got NaN"],
    [() => F.dropout(x, 1), "dropout: p must be in [0, 1), got 1"],
    [() => F.dropout2d(flat, 0.5), "dropout2d: x has shape [6, 20]"],
    [() => new Dropout2d(-0.5), "Dropout2d: p must be in [0, 1), got -0.5"],
    [() => F.shakeMix(x, x, two, three), "shakeMix: beta has shape [3], expected [2]"],
    [() => F.shakeMix(x, odd, two, two), "shakeMix: b has shape"],
    [() => F.relu(ints), "relu: x has dtype i32"],
  ];
  for (const [fn, message] of cases) assertThrowsBeforeGpuWork(fn, message);
});
