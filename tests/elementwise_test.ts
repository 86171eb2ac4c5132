import { Generator, Tensor } from "../mod.ts";
import {
  add,
  addInto,
  dropout,
  dropout2d,
  dropout2dBackward,
  dropoutBackward,
  mul,
  relu,
  reluBackward,
  scale,
  shakeMix,
  shakeMixBackward,
} from "../src/kernels/elementwise.ts";
import {
  assert,
  assertClose,
  assertEquals,
  assertThrows,
  randomArray,
  testSeed,
} from "./assert.ts";
import { dot, f32, numericGrad, size } from "./numeric.ts";
import { read64, upload } from "./gpu.ts";
import {
  addRef,
  dropoutMaskRef,
  mulPlaneRef,
  mulRef,
  pcgHash,
  reluBackwardRef,
  reluRef,
  scaleRef,
  shakeMixBackwardRef,
  shakeMixRef,
} from "./reference/elementwise.ts";

const FD_TOL = { atol: 1e-7, rtol: 1e-6 };
// Exact operations on f32 inputs (max, select, one product): the GPU result is the f32 rounding
// of the float64 reference, so the tolerance is half an ulp of f32.
const TIGHT = { atol: 1e-30, rtol: 2 ** -24 };
// Sums of two f32 products: a couple of roundings.
const MIX = { atol: 1e-7, rtol: 1e-6 };

// Awkward shapes: no multiple of the workgroup size, single elements, odd planes, planes
// smaller and larger than a workgroup, and several workgroups of 2048 elements.
const SHAPES = [[3, 5, 7, 9], [2, 3, 11, 13], [1, 1, 1, 1], [5, 2, 1, 3], [6, 7, 17, 19]];

Deno.test("reference elementwise backwards match finite differences", () => {
  const rng = new Generator(testSeed("reference elementwise"));
  const shape = [3, 2, 2, 3];
  const n = size(shape);
  const inner = n / shape[0];
  // Away from the kink at 0, so the finite difference is the derivative.
  const x = randomArray(rng, n).map((v) => (v < 0 ? v - 0.1 : v + 0.1));
  const w = randomArray(rng, n);
  assertClose(reluBackwardRef(w, reluRef(x)), numericGrad(x, () => dot(w, reluRef(x))), FD_TOL);

  const mask = dropoutMaskRef(n, 0.3, 99);
  assertClose(mulRef(w, mask), numericGrad(x, () => dot(w, mulRef(x, mask))), FD_TOL);
  const mask2 = dropoutMaskRef(shape[0] * shape[1], 0.5, 5);
  const plane = shape[2] * shape[3];
  assertClose(
    mulPlaneRef(w, mask2, plane),
    numericGrad(x, () => dot(w, mulPlaneRef(x, mask2, plane))),
    FD_TOL,
  );
  assertClose(scaleRef(w, -1.5), numericGrad(x, () => dot(w, scaleRef(x, -1.5))), FD_TOL);
  const b = randomArray(rng, n);
  assertClose(w, numericGrad(b, () => dot(w, addRef(x, b))), FD_TOL);

  // With β = α the Shake-Shake backward is the true gradient of the mix.
  const alpha = randomArray(rng, shape[0], 0, 1);
  const { da, db } = shakeMixBackwardRef(w, alpha, inner);
  const mixLoss = () => dot(w, shakeMixRef(x, b, alpha, inner));
  assertClose(da, numericGrad(x, mixLoss), FD_TOL);
  assertClose(db, numericGrad(b, mixLoss), FD_TOL);
});

Deno.test("reference PCG hash matches the C definition", () => {
  // pcg_hash(0) and pcg_hash(1) of Jarzynski & Olano's C code, computed independently.
  assertEquals([pcgHash(0), pcgHash(1)], [129708002, 2831084092]);
});

Deno.test("relu, add, addInto, mul, scale vs reference", async () => {
  const rng = new Generator(testSeed("elementwise gpu"));
  for (const shape of SHAPES) {
    const n = size(shape);
    const x = f32(randomArray(rng, n));
    const b = f32(randomArray(rng, n));
    const dy = f32(randomArray(rng, n));
    const gx = upload(x, shape);
    const gb = upload(b, shape);
    const y = Tensor.empty(shape);
    relu(gx, y);
    const yRef = reluRef(x);
    assertClose(await read64(y), yRef, { ...TIGHT, message: `relu [${shape}]` });
    const dx = Tensor.empty(shape);
    reluBackward(upload(dy, shape), y, dx);
    assertClose(await read64(dx), reluBackwardRef(dy, yRef), TIGHT);
    const sum = Tensor.empty(shape);
    add(gx, gb, sum);
    assertClose(await read64(sum), addRef(x, b), { ...TIGHT, message: `add [${shape}]` });
    addInto(sum, gb);
    assertClose(await read64(sum), addRef(addRef(x, b), b), MIX);
    const product = Tensor.empty(shape);
    mul(gx, gb, product);
    assertClose(await read64(product), mulRef(x, b), { ...TIGHT, message: `mul [${shape}]` });
    const scaled = Tensor.empty(shape);
    scale(gx, scaled, -0.37);
    assertClose(await read64(scaled), scaleRef(x, Math.fround(-0.37)), TIGHT);
  }
});

Deno.test("relu on a large tensor: thousands of workgroups and a ragged tail", async () => {
  const n = 2048 * 5000 + 77; // 2048 elements per workgroup
  const x = Tensor.from(Float32Array.from({ length: n }, (_, i) => (i % 3) - 1), [n]);
  const y = Tensor.empty([n]);
  relu(x, y);
  const out = await y.read();
  const ok = out.every((v, i) => v === (i % 3 === 2 ? 1 : 0));
  assert(ok, "relu of the pattern -1, 0, 1");
  x.dispose();
  y.dispose();
});

Deno.test("dropout and dropout2d: masks bit for bit, outputs and backward vs reference", async () => {
  const rng = new Generator(testSeed("dropout gpu"));
  for (const shape of SHAPES) {
    for (const p of [0, 0.2, 0.5, 0.9]) {
      const n = size(shape);
      const seed = rng.nextU32();
      const x = f32(randomArray(rng, n));
      const dy = f32(randomArray(rng, n));
      const gx = upload(x, shape);
      const gdy = upload(dy, shape);
      const msg = `[${shape}] p ${p} seed ${seed}`;

      const y = Tensor.empty(shape);
      const mask = Tensor.empty(shape);
      dropout(gx, y, mask, { p, seed });
      const maskRef = dropoutMaskRef(n, p, seed);
      assertEquals(await mask.read(), Float32Array.from(maskRef), `mask ${msg}`);
      assertClose(await read64(y), mulRef(x, maskRef), { ...TIGHT, message: `y ${msg}` });
      const dx = Tensor.empty(shape);
      dropoutBackward(gdy, mask, dx);
      assertClose(await read64(dx), mulRef(dy, maskRef), { ...TIGHT, message: `dx ${msg}` });

      const [nb, c, h, w] = shape;
      const mask2 = Tensor.empty([nb, c]);
      dropout2d(gx, y, mask2, { p, seed });
      const mask2Ref = dropoutMaskRef(nb * c, p, seed);
      assertEquals(await mask2.read(), Float32Array.from(mask2Ref), `mask2d ${msg}`);
      assertClose(await read64(y), mulPlaneRef(x, mask2Ref, h * w), TIGHT);
      dropout2dBackward(gdy, mask2, dx);
      assertClose(await read64(dx), mulPlaneRef(dy, mask2Ref, h * w), TIGHT);
      for (const t of [gx, gdy, y, mask, dx, mask2]) t.dispose();
    }
  }
});

Deno.test("dropout keeps about 1 − p, and seeds give different masks", async () => {
  for (const p of [0.1, 0.5, 0.8]) {
    const shape = [64, 64, 3, 5]; // 61440 elements, 4096 planes
    const x = Tensor.full(shape, 1);
    const y = Tensor.empty(shape);
    const mask = Tensor.empty(shape);
    dropout(x, y, mask, { p, seed: 17 });
    const kept = (await mask.read()).filter((v) => v > 0);
    const fraction = kept.length / size(shape);
    assert(Math.abs(fraction - (1 - p)) < 0.01, `dropout p ${p}: kept ${fraction}`);
    assert(kept.every((v) => v === Math.fround(1 / (1 - p))), "kept elements are 1/(1 − p)");
    const mask2 = Tensor.empty([64, 64]);
    dropout2d(x, y, mask2, { p, seed: 17 });
    const fraction2 = (await mask2.read()).filter((v) => v > 0).length / 4096;
    assert(Math.abs(fraction2 - (1 - p)) < 0.03, `dropout2d p ${p}: kept ${fraction2}`);
    const planes = await y.read();
    for (let plane = 0; plane < 4096; plane++) {
      const first = planes[plane * 15];
      assert(
        planes.subarray(plane * 15, plane * 15 + 15).every((v) => v === first),
        "whole planes",
      );
    }
    const other = Tensor.empty(shape);
    dropout(x, y, other, { p, seed: 18 });
    const a = await mask.read();
    const b = await other.read();
    const same = a.filter((v, i) => v === b[i]).length / a.length;
    // Independent masks agree on p² + (1 − p)² of the elements.
    assert(Math.abs(same - (p * p + (1 - p) ** 2)) < 0.02, `p ${p}: masks agree on ${same}`);
    for (const t of [x, y, mask, mask2, other]) t.dispose();
  }
});

Deno.test("shakeMix and shakeMixBackward vs reference", async () => {
  const rng = new Generator(testSeed("shake gpu"));
  for (const shape of [...SHAPES, [7, 3], [4]]) {
    const n = size(shape);
    const inner = n / shape[0];
    const a = f32(randomArray(rng, n));
    const b = f32(randomArray(rng, n));
    const dy = f32(randomArray(rng, n));
    const alpha = f32(randomArray(rng, shape[0], 0, 1));
    const beta = f32(randomArray(rng, shape[0], 0, 1));
    const y = Tensor.empty(shape);
    shakeMix(upload(a, shape), upload(b, shape), upload(alpha, [shape[0]]), y);
    assertClose(await read64(y), shakeMixRef(a, b, alpha, inner), {
      ...MIX,
      message: `mix [${shape}]`,
    });
    const da = Tensor.empty(shape);
    const db = Tensor.empty(shape);
    shakeMixBackward(upload(dy, shape), upload(beta, [shape[0]]), da, db);
    const ref = shakeMixBackwardRef(dy, beta, inner);
    assertClose(await read64(da), ref.da, { ...MIX, message: `da [${shape}]` });
    assertClose(await read64(db), ref.db, { ...MIX, message: `db [${shape}]` });
  }
});

Deno.test("elementwise: bad inputs name the argument", () => {
  const x = Tensor.zeros([2, 3, 4, 5]);
  const like = () => Tensor.empty([2, 3, 4, 5]);
  const odd = Tensor.zeros([2, 3, 4, 6]);
  assertThrows(() => relu(x, odd), "relu: y has shape [2, 3, 4, 6]");
  assertThrows(() => relu(x, x), "relu: y shares its buffer with x");
  assertThrows(() => reluBackward(x, odd, like()), "reluBackward: y has shape");
  assertThrows(() => add(x, x, x.reshape([120])), "add: y has shape [120]");
  assertThrows(() => add(x, like(), x), "add: y shares its buffer with a");
  assertThrows(() => addInto(odd, x), "addInto: x has shape [2, 3, 4, 5]");
  assertThrows(() => mul(x, odd, like()), "mul: b has shape [2, 3, 4, 6]");
  assertThrows(() => mul(x, like(), x), "mul: y shares its buffer with a");
  assertThrows(() => scale(x, like(), NaN), "scale: factor");
  assertThrows(() => dropout(x, like(), like(), { p: 1, seed: 0 }), "dropout: p must be in [0, 1)");
  assertThrows(() => dropout(x, like(), like(), { p: -0.1, seed: 0 }), "p must be in [0, 1)");
  assertThrows(() => dropout(x, like(), like(), { p: 0.5, seed: 1.5 }), "dropout: seed");
  assertThrows(() => dropout(x, like(), like(), { p: 0.5, seed: 2 ** 32 }), "seed");
  assertThrows(() => dropout(x, like(), odd, { p: 0.5, seed: 1 }), "dropout: mask has shape");
  const y = like();
  assertThrows(() => dropout(x, y, y, { p: 0.5, seed: 1 }), "shares its buffer");
  assertThrows(
    () => dropout2d(x, like(), Tensor.empty([2, 4]), { p: 0.5, seed: 1 }),
    "dropout2d: mask has shape [2, 4], expected [2, 3]",
  );
  assertThrows(
    () =>
      dropout2d(Tensor.zeros([6, 20]), Tensor.empty([6, 20]), Tensor.empty([6]), { p: 0, seed: 1 }),
    "dropout2d: x has shape [6, 20]",
  );
  assertThrows(
    () => dropout2dBackward(x, Tensor.empty([3, 2]), like()),
    "dropout2dBackward: mask has shape [3, 2]",
  );
  assertThrows(() => dropoutBackward(x, odd, like()), "dropoutBackward: mask has shape");
  assertThrows(
    () => shakeMix(x, like(), Tensor.zeros([3]), like()),
    "shakeMix: alpha has shape [3], expected [2]",
  );
  assertThrows(() => shakeMix(x, odd, Tensor.zeros([2]), like()), "shakeMix: b has shape");
  assertThrows(
    () => shakeMixBackward(x, Tensor.zeros([2, 1]), like(), like()),
    "shakeMixBackward: beta has shape [2, 1]",
  );
  const d = like();
  assertThrows(() => shakeMixBackward(x, Tensor.zeros([2]), d, d), "shares its buffer");
  assertThrows(
    () => relu(Tensor.zeros([3], { dtype: "i32" }) as unknown as Tensor, Tensor.empty([3])),
    "relu: x has dtype i32",
  );
});
