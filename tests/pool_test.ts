import { Generator, Tensor } from "../mod.ts";
import {
  adaptiveAvgPool1Backward,
  adaptiveAvgPool1Forward,
  adaptiveMaxPool1Backward,
  adaptiveMaxPool1Forward,
  concatChannels,
  maxPool2dBackward,
  maxPool2dForward,
  shiftSubsample,
  shiftSubsampleBackward,
  splitChannels,
} from "../src/kernels/pool.ts";
import { assertClose, assertEquals, assertThrows, randomArray, testSeed } from "./assert.ts";
import { dot, f32, numericGrad, size } from "./numeric.ts";
import { read64, upload } from "./gpu.ts";
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

/** Values without ties: a random permutation of 0.01·i plus a little noise (< 0.001). */
function distinct(rng: Generator, n: number): Float64Array {
  const order = rng.permutation(n);
  return Float64Array.from(order, (k) => 0.01 * k - 0.005 * n + 0.001 * rng.uniform());
}

const FD_TOL = { atol: 1e-7, rtol: 1e-6 };
// Selections and copies are exact; means of f32 values round a little.
const EXACT = { atol: 0, rtol: 0 };
// Means of up to 561 f32 values in [-1, 1], summed in order: a few ulps of the largest term each.
const MEAN = { atol: 2e-6, rtol: 1e-6 };

Deno.test("reference pooling backwards match finite differences", () => {
  const rng = new Generator(testSeed("reference pool"));
  const shape = [2, 3, 7, 6];
  const x = distinct(rng, size(shape));
  for (const [kernel, stride] of [[2, 2], [3, 2], [2, 3], [3, 1]]) {
    const { y, argmax, outShape } = maxPool2dRef(x, shape, kernel, stride);
    const w = randomArray(rng, y.length);
    const dx = maxPool2dBackwardRef(w, argmax, outShape[2] * outShape[3], shape);
    const loss = () => dot(w, maxPool2dRef(x, shape, kernel, stride).y);
    assertClose(dx, numericGrad(x, loss), { ...FD_TOL, message: `maxPool ${kernel}/${stride}` });
  }
  const w1 = randomArray(rng, shape[0] * shape[1]);
  assertClose(
    adaptiveAvgPool1BackwardRef(w1, shape),
    numericGrad(x, () => dot(w1, adaptiveAvgPool1Ref(x, shape))),
    FD_TOL,
  );
  const { argmax } = adaptiveMaxPool1Ref(x, shape);
  assertClose(
    adaptiveMaxPool1BackwardRef(w1, argmax, shape),
    numericGrad(x, () => dot(w1, adaptiveMaxPool1Ref(x, shape).y)),
    FD_TOL,
  );
  for (const [stride, shift] of [[2, 0], [2, 1], [3, 2], [1, -1]]) {
    const { y } = shiftSubsampleRef(x, shape, stride, shift);
    const w = randomArray(rng, y.length);
    assertClose(
      shiftSubsampleBackwardRef(w, shape, stride, shift),
      numericGrad(x, () => dot(w, shiftSubsampleRef(x, shape, stride, shift).y)),
      { ...FD_TOL, message: `shift ${stride}/${shift}` },
    );
  }
  const b = randomArray(rng, 2 * 2 * 42);
  const w2 = randomArray(rng, 2 * 5 * 42);
  const { da, db } = splitChannelsRef(w2, 2, 3, 2, 42);
  const catLoss = () => dot(w2, concatChannelsRef(x, b, 2, 3, 2, 42));
  assertClose(da, numericGrad(x, catLoss), FD_TOL);
  assertClose(db, numericGrad(b, catLoss), FD_TOL);
});

// Awkward shapes with odd planes; [1, 1, 1, 1] only fits a 1×1 window.
const SHAPES = [[3, 5, 7, 9], [2, 3, 11, 13], [1, 1, 1, 1], [2, 2, 33, 17]];

Deno.test("maxPool2d forward and backward vs reference", async () => {
  const rng = new Generator(testSeed("maxPool gpu"));
  for (const shape of SHAPES) {
    for (const [kernel, stride] of [[2, 2], [3, 2], [2, 3], [3, 1], [1, 1]]) {
      if (kernel > shape[2] || kernel > shape[3]) continue;
      const msg = `[${shape}] kernel ${kernel} stride ${stride}`;
      // Distinct values, and once a constant input to check ties pick the first maximum.
      for (const x of [f32(distinct(rng, size(shape))), new Float64Array(size(shape)).fill(2)]) {
        const ref = maxPool2dRef(x, shape, kernel, stride);
        const y = Tensor.empty(ref.outShape);
        const argmax = Tensor.empty(ref.outShape, { dtype: "i32" });
        maxPool2dForward(upload(x, shape), y, argmax, { kernel, stride });
        assertClose(await read64(y), ref.y, { ...EXACT, message: `y ${msg}` });
        assertEquals(await argmax.read(), ref.argmax, `argmax ${msg}`);
        const dy = f32(randomArray(rng, ref.y.length));
        const dx = Tensor.empty(shape);
        maxPool2dBackward(upload(dy, ref.outShape), argmax, dx);
        const outPlane = ref.outShape[2] * ref.outShape[3];
        // Overlapping windows sum several dy into one element: a few roundings.
        assertClose(await read64(dx), maxPool2dBackwardRef(dy, ref.argmax, outPlane, shape), {
          atol: 1e-6,
          rtol: 1e-6,
          message: `dx ${msg}`,
        });
      }
    }
  }
});

Deno.test("adaptive avg / max pool to 1×1 vs reference", async () => {
  const rng = new Generator(testSeed("adaptive pool gpu"));
  for (const shape of SHAPES) {
    const [n, c] = shape;
    const dy = f32(randomArray(rng, n * c));
    const gdy = upload(dy, [n, c]);
    const y = Tensor.empty([n, c]);
    const xAvg = f32(randomArray(rng, size(shape)));
    adaptiveAvgPool1Forward(upload(xAvg, shape), y);
    assertClose(await read64(y), adaptiveAvgPool1Ref(xAvg, shape), {
      ...MEAN,
      message: `avg [${shape}]`,
    });
    const dx = Tensor.empty(shape);
    adaptiveAvgPool1Backward(gdy, dx);
    assertClose(await read64(dx), adaptiveAvgPool1BackwardRef(dy, shape), MEAN);

    const x = f32(distinct(rng, size(shape)));
    const ref = adaptiveMaxPool1Ref(x, shape);
    const argmax = Tensor.empty([n, c], { dtype: "i32" });
    adaptiveMaxPool1Forward(upload(x, shape), y, argmax);
    assertClose(await read64(y), ref.y, { ...EXACT, message: `max [${shape}]` });
    assertEquals(await argmax.read(), ref.argmax, `argmax [${shape}]`);
    adaptiveMaxPool1Backward(gdy, argmax, dx);
    assertClose(await read64(dx), adaptiveMaxPool1BackwardRef(dy, ref.argmax, shape), EXACT);
  }
  // Ties: the first maximum of the plane wins, as in PyTorch.
  const argmax = Tensor.empty([1, 2], { dtype: "i32" });
  adaptiveMaxPool1Forward(
    Tensor.from([1, 3, 3, 0, 5, 5, 5, 5], [1, 2, 2, 2]),
    Tensor.empty([1, 2]),
    argmax,
  );
  assertEquals(await argmax.read(), new Int32Array([1, 0]));
});

Deno.test("shiftSubsample forward and backward vs reference", async () => {
  const rng = new Generator(testSeed("shift gpu"));
  for (const shape of SHAPES) {
    for (const [stride, shift] of [[2, 0], [2, 1], [3, 2], [1, 0], [2, -1], [1, 5]]) {
      const msg = `[${shape}] stride ${stride} shift ${shift}`;
      const x = f32(randomArray(rng, size(shape)));
      const ref = shiftSubsampleRef(x, shape, stride, shift);
      const y = Tensor.empty(ref.outShape);
      shiftSubsample(upload(x, shape), y, { stride, shift });
      assertClose(await read64(y), ref.y, { ...EXACT, message: `y ${msg}` });
      const dy = f32(randomArray(rng, ref.y.length));
      const dx = Tensor.empty(shape);
      shiftSubsampleBackward(upload(dy, ref.outShape), dx, { stride, shift });
      assertClose(await read64(dx), shiftSubsampleBackwardRef(dy, shape, stride, shift), {
        ...EXACT,
        message: `dx ${msg}`,
      });
    }
  }
});

Deno.test("concatChannels and splitChannels vs reference", async () => {
  const rng = new Generator(testSeed("concat gpu"));
  for (
    const [n, ca, cb, h, w] of [[3, 5, 2, 7, 9], [2, 3, 3, 11, 13], [1, 1, 1, 1, 1], [
      2,
      1,
      4,
      3,
      5,
    ]]
  ) {
    const plane = h * w;
    const a = f32(randomArray(rng, n * ca * plane));
    const b = f32(randomArray(rng, n * cb * plane));
    const y = Tensor.empty([n, ca + cb, h, w]);
    concatChannels(upload(a, [n, ca, h, w]), upload(b, [n, cb, h, w]), y);
    const msg = `[${n}, ${ca}+${cb}, ${h}, ${w}]`;
    assertClose(await read64(y), concatChannelsRef(a, b, n, ca, cb, plane), {
      ...EXACT,
      message: `concat ${msg}`,
    });
    const dy = f32(randomArray(rng, n * (ca + cb) * plane));
    const da = Tensor.empty([n, ca, h, w]);
    const db = Tensor.empty([n, cb, h, w]);
    splitChannels(upload(dy, [n, ca + cb, h, w]), da, db);
    const ref = splitChannelsRef(dy, n, ca, cb, plane);
    assertClose(await read64(da), ref.da, { ...EXACT, message: `da ${msg}` });
    assertClose(await read64(db), ref.db, { ...EXACT, message: `db ${msg}` });
  }
});

Deno.test("pool: bad inputs name the argument", () => {
  const x = Tensor.zeros([2, 3, 7, 9]);
  const i32 = (shape: number[]) => Tensor.empty(shape, { dtype: "i32" });
  const y = Tensor.empty([2, 3, 3, 4]);
  assertThrows(
    () =>
      maxPool2dForward(x, Tensor.empty([2, 3, 4, 4]), i32([2, 3, 4, 4]), { kernel: 2, stride: 2 }),
    "maxPool2dForward: y has shape [2, 3, 4, 4], expected [2, 3, 3, 4]",
  );
  assertThrows(
    () => maxPool2dForward(x, y, i32([2, 3, 3, 5]), { kernel: 2, stride: 2 }),
    "argmax has shape [2, 3, 3, 5]",
  );
  assertThrows(
    () =>
      maxPool2dForward(x, y, Tensor.empty([2, 3, 3, 4]) as unknown as Tensor<"i32">, {
        kernel: 2,
        stride: 2,
      }),
    "argmax has dtype f32, expected i32",
  );
  assertThrows(() => maxPool2dForward(x, y, i32([2, 3, 3, 4]), { kernel: 0, stride: 2 }), "kernel");
  assertThrows(
    () => maxPool2dForward(x, y, i32([2, 3, 3, 4]), { kernel: 2, stride: 1.5 }),
    "stride",
  );
  assertThrows(
    () => maxPool2dForward(x, y, i32([2, 3, 3, 4]), { kernel: 8, stride: 2 }),
    "kernel 8 is larger",
  );
  assertThrows(
    () => maxPool2dForward(Tensor.zeros([3, 7, 9]), y, i32([2, 3, 3, 4]), { kernel: 2, stride: 2 }),
    "maxPool2dForward: x has shape [3, 7, 9]",
  );
  assertThrows(
    () => maxPool2dBackward(y, i32([2, 3, 3, 4]), Tensor.empty([2, 4, 7, 9])),
    "maxPool2dBackward: dx has shape [2, 4, 7, 9]",
  );
  assertThrows(
    () => adaptiveAvgPool1Forward(x, Tensor.empty([2, 4])),
    "adaptiveAvgPool1Forward: y has shape [2, 4], expected [2, 3]",
  );
  assertThrows(
    () => adaptiveAvgPool1Backward(Tensor.zeros([3, 3]), Tensor.empty([2, 3, 7, 9])),
    "adaptiveAvgPool1Backward: dx has shape [2, 3, 7, 9], expected [3, 3, *, *]",
  );
  assertThrows(
    () => adaptiveMaxPool1Forward(x, Tensor.empty([2, 3]), i32([2])),
    "adaptiveMaxPool1Forward: argmax has shape [2]",
  );
  assertThrows(
    () => adaptiveMaxPool1Backward(Tensor.zeros([2, 3]), i32([2, 3]), Tensor.empty([2, 3, 7])),
    "adaptiveMaxPool1Backward: dx has shape [2, 3, 7]",
  );
  assertThrows(
    () => shiftSubsample(x, Tensor.empty([2, 3, 3, 4]), { stride: 2, shift: 1 }),
    "shiftSubsample: y has shape [2, 3, 3, 4], expected [2, 3, 4, 5]",
  );
  assertThrows(
    () => shiftSubsample(x, Tensor.empty([2, 3, 4, 5]), { stride: 0, shift: 1 }),
    "stride",
  );
  assertThrows(
    () => shiftSubsample(x, Tensor.empty([2, 3, 4, 5]), { stride: 2, shift: 0.5 }),
    "shift",
  );
  assertThrows(
    () =>
      shiftSubsampleBackward(Tensor.zeros([2, 3, 4, 4]), Tensor.empty([2, 3, 7, 9]), {
        stride: 2,
        shift: 0,
      }),
    "shiftSubsampleBackward: dy has shape [2, 3, 4, 4], expected [2, 3, 4, 5]",
  );
  assertThrows(
    () => concatChannels(x, Tensor.zeros([2, 1, 7, 8]), Tensor.empty([2, 4, 7, 9])),
    "concatChannels: b has shape [2, 1, 7, 8]",
  );
  assertThrows(
    () => concatChannels(x, Tensor.zeros([2, 1, 7, 9]), Tensor.empty([2, 5, 7, 9])),
    "concatChannels: y has shape [2, 5, 7, 9], expected [2, 4, 7, 9]",
  );
  assertThrows(
    () => splitChannels(x, Tensor.empty([2, 1, 7, 9]), Tensor.empty([2, 1, 7, 9])),
    "splitChannels: db has shape [2, 1, 7, 9], expected [2, 2, 7, 9]",
  );
  assertThrows(
    () => concatChannels(x, Tensor.zeros([2, 0, 7, 9]), x),
    "y shares its buffer with a",
  );
  const half = Tensor.empty([2, 2, 7, 9]);
  assertThrows(
    () => splitChannels(Tensor.zeros([2, 4, 7, 9]), half, half),
    "splitChannels: da shares its buffer with db",
  );
});
