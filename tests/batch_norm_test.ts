import { Generator, Tensor } from "../mod.ts";
import {
  batchNormBackward,
  batchNormEvalBackward,
  batchNormEvalForward,
  batchNormTrainForward,
} from "../src/kernels/batch_norm.ts";
import { assert, assertClose, assertThrows, randomArray, testSeed } from "./assert.ts";
import { dot, f32, numericGrad, size } from "./numeric.ts";
import { dispatchedKernels, read64, upload } from "./gpu.ts";
import {
  batchNormBackwardRef,
  batchNormEvalBackwardRef,
  batchNormEvalForwardRef,
  batchNormTrainForwardRef,
} from "./reference/batch_norm.ts";

Deno.test("reference batch-norm backward matches finite differences", () => {
  const rng = new Generator(testSeed("reference batch norm"));
  for (const shape of [[2, 3, 3, 2], [1, 2, 5, 1], [4, 1, 1, 1]]) {
    const c = shape[1];
    const x = randomArray(rng, size(shape), -2, 3);
    const gamma = randomArray(rng, c, 0.5, 1.5);
    const beta = randomArray(rng, c);
    const w = randomArray(rng, size(shape));
    const zeros = new Float64Array(c);
    const ones = new Float64Array(c).fill(1);
    const loss = () =>
      dot(w, batchNormTrainForwardRef(x, shape, gamma, beta, zeros, ones, 0.1, 1e-5).y);
    const fwd = batchNormTrainForwardRef(x, shape, gamma, beta, zeros, ones, 0.1, 1e-5);
    const ref = batchNormBackwardRef(w, x, shape, gamma, fwd.saveMean, fwd.saveInvStd);
    const tol = { atol: 1e-6, rtol: 1e-5 };
    assertClose(ref.dx, numericGrad(x, loss), { ...tol, message: `dx ${shape}` });
    assertClose(ref.dGamma, numericGrad(gamma, loss), { ...tol, message: `dGamma ${shape}` });
    assertClose(ref.dBeta, numericGrad(beta, loss), { ...tol, message: `dBeta ${shape}` });
  }
});

Deno.test("reference eval batch-norm backward matches finite differences", () => {
  const rng = new Generator(testSeed("reference eval batch norm"));
  for (const shape of [[2, 3, 3, 2], [1, 2, 5, 1]]) {
    const c = shape[1];
    const x = randomArray(rng, size(shape), -2, 3);
    const gamma = randomArray(rng, c, 0.5, 1.5);
    const beta = randomArray(rng, c);
    const rm = randomArray(rng, c);
    const rv = randomArray(rng, c, 0.5, 2);
    const w = randomArray(rng, size(shape));
    const loss = () => dot(w, batchNormEvalForwardRef(x, shape, gamma, beta, rm, rv, 1e-5));
    const ref = batchNormEvalBackwardRef(w, x, shape, gamma, rm, rv, 1e-5);
    const tol = { atol: 1e-6, rtol: 1e-5 };
    assertClose(ref.dx, numericGrad(x, loss), { ...tol, message: `dx ${shape}` });
    assertClose(ref.dGamma, numericGrad(gamma, loss), { ...tol, message: `dGamma ${shape}` });
    assertClose(ref.dBeta, numericGrad(beta, loss), { ...tol, message: `dBeta ${shape}` });
  }
});

Deno.test("batch norm: eval backward vs reference; a null gradient is skipped, the others kept", async () => {
  const rng = new Generator(testSeed("batch norm eval backward"));
  for (const shape of [[3, 5, 7, 9], [5, 3, 33, 29], [1, 2, 1, 3]]) {
    const c = shape[1];
    const eps = 1e-3;
    const [x, dy] = [0, 1].map(() => f32(randomArray(rng, size(shape), -2, 2)));
    const [gamma, rm, rv, dGamma0, dBeta0] = [[0.5, 1.5], [-1, 1], [0.5, 2], [-1, 1], [-1, 1]]
      .map(([lo, hi]) => f32(randomArray(rng, c, lo, hi)));
    const args = [upload(dy, shape), upload(x, shape), upload(gamma, [c])] as const;
    const stats = [upload(rm, [c]), upload(rv, [c])] as const;
    const ref = batchNormEvalBackwardRef(dy, x, shape, gamma, rm, rv, eps);
    const msg = `shape [${shape}]`;
    const tol = { atol: 1e-4, rtol: 1e-4 };
    const dx = Tensor.empty(shape);
    const dGamma = upload(dGamma0, [c]);
    const dBeta = upload(dBeta0, [c]);
    batchNormEvalBackward(...args, ...stats, dx, dGamma, dBeta, { eps });
    assertClose(await read64(dx), ref.dx, { ...tol, message: `eval dx ${msg}` });
    assertClose(await read64(dGamma), ref.dGamma.map((v, i) => v + dGamma0[i]), {
      atol: 1e-3,
      rtol: 1e-4,
      message: `eval dGamma (accumulated) ${msg}`,
    });
    assertClose(await read64(dBeta), ref.dBeta.map((v, i) => v + dBeta0[i]), {
      atol: 1e-3,
      rtol: 1e-4,
      message: `eval dBeta (accumulated) ${msg}`,
    });

    // Only dx (a frozen γ and β), then only a parameter gradient (no dx kernel).
    const dxOnly = Tensor.empty(shape);
    batchNormEvalBackward(...args, ...stats, dxOnly, null, null, { eps });
    assertClose(await read64(dxOnly), ref.dx, { ...tol, message: `dx alone ${msg}` });
    const dBetaOnly = Tensor.zeros([c]);
    const kernels = dispatchedKernels(() =>
      batchNormEvalBackward(...args, ...stats, null, null, dBetaOnly, { eps })
    );
    assert(
      kernels.includes("BatchNorm.backwardFinalize") && !kernels.includes("BatchNorm.backwardDx"),
      `the parameter gradients' kernels and no dx kernel: ${kernels}`,
    );
    assertClose(await read64(dBetaOnly), ref.dBeta, { atol: 1e-3, rtol: 1e-4, message: msg });

    // The training backward with nulls gives what it gives with every gradient.
    const saveMean = upload(rm, [c]);
    const saveInvStd = upload(rv.map((v) => 1 / Math.sqrt(v + eps)), [c]);
    const train = batchNormBackwardRef(dy, x, shape, gamma, rm, await read64(saveInvStd));
    const trainDx = Tensor.empty(shape);
    batchNormBackward(...args, saveMean, saveInvStd, trainDx, null, null);
    assertClose(await read64(trainDx), train.dx, { ...tol, message: `train dx alone ${msg}` });
    const trainDGamma = Tensor.zeros([c]);
    batchNormBackward(...args, saveMean, saveInvStd, null, trainDGamma, null);
    assertClose(await read64(trainDGamma), train.dGamma, {
      atol: 1e-3,
      rtol: 1e-4,
      message: `train dGamma alone ${msg}`,
    });
  }
});

// Awkward shapes: nothing a multiple of the workgroup size; [5, 3, 33, 29] spans two chunks per
// channel (4785 values), [2, 2, 70, 70] three; offset inputs test the two-pass statistics.
const SHAPES: { shape: number[]; offset: number; spread: number }[] = [
  { shape: [3, 5, 7, 9], offset: 0, spread: 1 },
  { shape: [2, 3, 11, 13], offset: 0.5, spread: 2 },
  { shape: [5, 3, 33, 29], offset: 0, spread: 1 },
  { shape: [2, 2, 70, 70], offset: 100, spread: 1 },
  { shape: [1, 2, 1, 3], offset: -3, spread: 0.1 },
  { shape: [4, 1, 1, 1], offset: 0, spread: 1 },
  { shape: [3, 4, 16, 16], offset: 1, spread: 1 }, // a plane of exactly WORKGROUP elements
  // Planes of a multiple of 4 run on vec4 units: one unit per plane, units crossing channels
  // every step, and two chunks per channel with a ragged last one (4320 units).
  { shape: [3, 5, 2, 2], offset: 0, spread: 1 },
  { shape: [7, 3, 6, 2], offset: -2, spread: 1 },
  { shape: [9, 2, 48, 40], offset: 50, spread: 1 },
];
/** The shapes whose passes run on vec4 units (H·W a multiple of 4). */
const VEC4 = new Set(["2,2,70,70", "3,4,16,16", "3,5,2,2", "7,3,6,2", "9,2,48,40"]);

Deno.test("batch norm: train forward ×2, running stats, eval forward, backward vs reference", async () => {
  const rng = new Generator(testSeed("batch norm gpu"));
  for (const { shape, offset, spread } of SHAPES) {
    const c = shape[1];
    const momentum = 0.1 + 0.3 * rng.uniform();
    const eps = 1e-5;
    const xs = [0, 1].map(() =>
      f32(randomArray(rng, size(shape), offset - spread, offset + spread))
    );
    const gamma = f32(randomArray(rng, c, 0.5, 1.5));
    const beta = f32(randomArray(rng, c));
    const rm0 = f32(randomArray(rng, c));
    const rv0 = f32(randomArray(rng, c, 0.5, 2));
    const gx = xs.map((x) => upload(x, shape));
    const gGamma = upload(gamma, [c]);
    const gBeta = upload(beta, [c]);
    const gRm = upload(rm0, [c]);
    const gRv = upload(rv0, [c]);
    const y = Tensor.empty(shape);
    const saveMean = Tensor.empty([c]);
    const saveInvStd = Tensor.empty([c]);
    const msg = `shape [${shape}]`;

    const kernels: string[] = [];
    let rm = rm0;
    let rv = rv0;
    let ref = batchNormTrainForwardRef(xs[0], shape, gamma, beta, rm, rv, momentum, eps);
    for (let step = 0; step < 2; step++) {
      ref = batchNormTrainForwardRef(xs[step], shape, gamma, beta, rm, rv, momentum, eps);
      rm = ref.runningMean;
      rv = ref.runningVar;
      kernels.push(
        ...dispatchedKernels(() =>
          batchNormTrainForward(gx[step], gGamma, gBeta, gRm, gRv, y, saveMean, saveInvStd, {
            momentum,
            eps,
          })
        ),
      );
    }
    const statTol = { atol: 1e-5, rtol: 1e-5 };
    assertClose(await read64(saveMean), ref.saveMean, { ...statTol, message: `mean ${msg}` });
    assertClose(await read64(saveInvStd), ref.saveInvStd, {
      atol: 1e-5,
      rtol: 1e-4,
      message: `invStd ${msg}`,
    });
    assertClose(await read64(gRm), rm, { ...statTol, message: `runningMean ${msg}` });
    assertClose(await read64(gRv), rv, { atol: 1e-5, rtol: 1e-4, message: `runningVar ${msg}` });
    assertClose(await read64(y), ref.y, { atol: 1e-4, rtol: 1e-4, message: `y ${msg}` });

    // Eval forward uses the running statistics, not the batch's.
    const yEval = Tensor.empty(shape);
    batchNormEvalForward(gx[0], gGamma, gBeta, gRm, gRv, yEval, { eps });
    const evalRef = batchNormEvalForwardRef(
      xs[0],
      shape,
      gamma,
      beta,
      await read64(gRm),
      await read64(gRv),
      eps,
    );
    assertClose(await read64(yEval), evalRef, { atol: 1e-4, rtol: 1e-4, message: `eval ${msg}` });

    // Backward of the second forward; dGamma and dBeta start non-zero to check accumulation.
    const dy = f32(randomArray(rng, size(shape)));
    const dGamma0 = f32(randomArray(rng, c));
    const dBeta0 = f32(randomArray(rng, c));
    const dx = Tensor.empty(shape);
    const gdGamma = upload(dGamma0, [c]);
    const gdBeta = upload(dBeta0, [c]);
    kernels.push(
      ...dispatchedKernels(() =>
        batchNormBackward(
          upload(dy, shape),
          gx[1],
          gGamma,
          saveMean,
          saveInvStd,
          dx,
          gdGamma,
          gdBeta,
        )
      ),
    );
    const suffix = VEC4.has(`${shape}`) ? "4" : "";
    for (const pass of ["stats", "normalize", "backwardReduce", "backwardDx"]) {
      assert(kernels.includes(`BatchNorm.${pass}${suffix}`), `${msg}: ${kernels.join(", ")}`);
    }
    const back = batchNormBackwardRef(
      dy,
      xs[1],
      shape,
      gamma,
      await read64(saveMean),
      await read64(saveInvStd),
    );
    assertClose(await read64(dx), back.dx, { atol: 1e-4, rtol: 1e-3, message: `dx ${msg}` });
    const sumTol = { atol: 1e-3, rtol: 1e-4 };
    assertClose(await read64(gdGamma), back.dGamma.map((v, i) => v + dGamma0[i]), {
      ...sumTol,
      message: `dGamma ${msg}`,
    });
    assertClose(await read64(gdBeta), back.dBeta.map((v, i) => v + dBeta0[i]), {
      ...sumTol,
      message: `dBeta ${msg}`,
    });
    for (const t of [...gx, gGamma, gBeta, gRm, gRv, y, saveMean, saveInvStd, yEval, dx]) {
      t.dispose();
    }
  }
});

Deno.test("batch norm: a constant channel normalises to β without NaN", async () => {
  const shape = [3, 2, 4, 5];
  const x = Tensor.full(shape, 7.25);
  const y = Tensor.empty(shape);
  const saveMean = Tensor.empty([2]);
  const saveInvStd = Tensor.empty([2]);
  batchNormTrainForward(
    x,
    Tensor.full([2], 2),
    Tensor.from([0.5, -1], [2]),
    Tensor.zeros([2]),
    Tensor.full([2], 1),
    y,
    saveMean,
    saveInvStd,
  );
  const out = await y.read();
  assert(out.every((v, i) => v === (Math.floor(i / 20) % 2 === 0 ? 0.5 : -1)), `${out}`);
  assertClose(await read64(saveMean), [7.25, 7.25], { atol: 0, rtol: 0 });
});

Deno.test("batch norm: bad inputs name the argument", () => {
  const x = Tensor.zeros([2, 3, 4, 5]);
  const c3 = () => Tensor.zeros([3]);
  const y = Tensor.empty([2, 3, 4, 5]);
  interface Args {
    x: Tensor;
    gamma: Tensor;
    beta: Tensor;
    rm: Tensor;
    rv: Tensor;
    y: Tensor;
    sm: Tensor;
    si: Tensor;
    opts: { momentum: number; eps: number };
  }
  const train = (over: Partial<Args>) => () => {
    const a: Args = {
      x,
      gamma: c3(),
      beta: c3(),
      rm: c3(),
      rv: c3(),
      y,
      sm: c3(),
      si: c3(),
      opts: { momentum: 0.1, eps: 1e-5 },
      ...over,
    };
    batchNormTrainForward(a.x, a.gamma, a.beta, a.rm, a.rv, a.y, a.sm, a.si, a.opts);
  };
  assertThrows(train({ gamma: Tensor.zeros([4]) }), "batchNormTrainForward: gamma has shape [4]");
  assertThrows(train({ rv: Tensor.zeros([3, 1]) }), "runningVar has shape [3, 1]");
  assertThrows(train({ y: Tensor.zeros([2, 3, 4, 6]) }), "y has shape [2, 3, 4, 6]");
  assertThrows(train({ x: Tensor.zeros([2, 3, 4]) }), "x has shape [2, 3, 4]");
  assertThrows(
    train({ sm: Tensor.zeros([3], { dtype: "i32" }) as unknown as Tensor }),
    "saveMean has dtype i32",
  );
  assertThrows(train({ opts: { momentum: 1.5, eps: 1e-5 } }), "momentum");
  assertThrows(train({ opts: { momentum: 0.1, eps: 0 } }), "eps");
  assertThrows(train({ y: x }), "y shares its buffer with x");
  assertThrows(
    train({ x: Tensor.zeros([1, 3, 1, 1]), y: Tensor.empty([1, 3, 1, 1]) }),
    "more than one value per channel",
  );
  assertThrows(
    () => batchNormEvalForward(x, c3(), c3(), c3(), Tensor.zeros([2]), y),
    "batchNormEvalForward: runningVar has shape [2]",
  );
  assertThrows(
    () => batchNormEvalForward(x, c3(), c3(), c3(), c3(), y, { eps: -1 }),
    "eps",
  );
  assertThrows(
    () => batchNormBackward(x, x, c3(), c3(), c3(), Tensor.empty([2, 3, 5, 4]), c3(), c3()),
    "batchNormBackward: dx has shape [2, 3, 5, 4]",
  );
  assertThrows(
    () => batchNormBackward(Tensor.zeros([2, 3, 4, 1]), x, c3(), c3(), c3(), y, c3(), c3()),
    "dy has shape [2, 3, 4, 1]",
  );
  const dGamma = c3();
  assertThrows(
    () => batchNormBackward(x, x, c3(), c3(), c3(), y, dGamma, dGamma),
    "shares its buffer",
  );
});
