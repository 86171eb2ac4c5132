/**
 * Optimizer kernels against the float64 torch.optim references over several steps, for every
 * option combination and awkward sizes.
 *
 * @module
 */

import {
  adamStep,
  type AdamStepOptions,
  sgdStep,
  type SgdStepOptions,
} from "../src/kernels/optim.ts";
import { Generator, Tensor } from "../mod.ts";
import { assertClose, assertEquals, assertThrows, randomArray, testSeed } from "./assert.ts";
import { dispatchedKernels, read64, upload } from "./gpu.ts";
import * as ref from "./reference/optim.ts";

const SIZES = [1, 1023, 4097];
const STEPS = 6;

function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

type SgdCase = Omit<SgdStepOptions, "lr" | "firstStep">;
const SGD_CASES: SgdCase[] = [];
for (const weightDecay of [0, 0.01]) {
  SGD_CASES.push(
    { momentum: 0, dampening: 0, nesterov: false, weightDecay },
    { momentum: 0, dampening: 0.5, nesterov: false, weightDecay }, // dampening unused
    { momentum: 0.9, dampening: 0, nesterov: false, weightDecay },
    { momentum: 0.9, dampening: 0.3, nesterov: false, weightDecay },
    { momentum: 0.8, dampening: 0, nesterov: true, weightDecay },
  );
}

type AdamCase = Omit<AdamStepOptions, "lr" | "step">;
const ADAM_CASES: AdamCase[] = [];
for (const decoupled of [false, true]) {
  for (const weightDecay of [0, 0.05]) {
    ADAM_CASES.push(
      { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay, decoupled },
      // beta1 0.3: torch's lerp takes its other branch (weight ≥ 0.5); a larger eps matters.
      { beta1: 0.3, beta2: 0.9, eps: 1e-3, weightDecay, decoupled },
    );
  }
}

Deno.test("sgdStep matches torch.optim.SGD over several steps", async () => {
  const rng = new Generator(testSeed("sgdStep"));
  for (const n of SIZES) {
    for (const c of SGD_CASES) {
      const name = `n ${n} ${JSON.stringify(c)}`;
      const p64 = f32(randomArray(rng, n));
      const buf64 = new Float64Array(n);
      const param = upload(p64, [n]);
      const buf = Tensor.empty([n]); // poisoned: the first step must overwrite it
      for (let step = 1; step <= STEPS; step++) {
        const g64 = f32(randomArray(rng, n));
        const opts = { ...c, lr: 0.1 / step, firstStep: step === 1 };
        ref.sgdStep(p64, g64, buf64, opts);
        sgdStep(param, upload(g64, [n]), c.momentum > 0 ? buf : null, opts);
      }
      assertClose(await read64(param), p64, { atol: 1e-6, rtol: 1e-5, message: name });
      if (c.momentum > 0) {
        assertClose(await read64(buf), buf64, { atol: 1e-6, rtol: 1e-5, message: `buf ${name}` });
      }
    }
  }
});

Deno.test("sgdStep ignores a momentum buffer when momentum is 0", async () => {
  const param = upload([1, 2], [2]);
  const buf = upload([5, 6], [2]);
  const opts = { lr: 0.5, momentum: 0, dampening: 0.5, nesterov: false, weightDecay: 0 };
  sgdStep(param, upload([1, 1], [2]), buf, { ...opts, firstStep: true });
  assertEquals(await param.read(), new Float32Array([0.5, 1.5]));
  assertEquals(await buf.read(), new Float32Array([5, 6]));
});

Deno.test("adamStep matches torch.optim.Adam and AdamW over several steps", async () => {
  const rng = new Generator(testSeed("adamStep"));
  // 12 and 1028 (257 vec4 units, one past a workgroup) take the vec4 kernel.
  for (const n of [...SIZES, 12, 1028]) {
    for (const c of ADAM_CASES) {
      const name = `n ${n} ${JSON.stringify(c)}`;
      const p64 = f32(randomArray(rng, n));
      const m64 = new Float64Array(n);
      const v64 = new Float64Array(n);
      const param = upload(p64, [n]);
      const m = Tensor.zeros([n]);
      const v = Tensor.zeros([n]);
      for (let step = 1; step <= STEPS; step++) {
        const g64 = f32(randomArray(rng, n));
        const opts = { ...c, lr: 0.01 * (1 + step / 10), step };
        ref.adamStep(p64, g64, m64, v64, opts);
        const gradT = upload(g64, [n]);
        const kernels = dispatchedKernels(() => adamStep(param, gradT, m, v, opts));
        assertEquals(kernels, [n % 4 === 0 ? "Optim.adam4" : "Optim.adam"]);
      }
      assertClose(await read64(param), p64, { atol: 1e-6, rtol: 1e-5, message: name });
      assertClose(await read64(m), m64, { atol: 1e-7, rtol: 1e-5, message: `expAvg ${name}` });
      assertClose(await read64(v), v64, { atol: 1e-7, rtol: 1e-5, message: `expAvgSq ${name}` });
    }
  }
});

Deno.test("optimizer steps reject bad inputs naming the argument", () => {
  const p = Tensor.zeros([4]);
  const g = Tensor.zeros([4]);
  const b = Tensor.zeros([4]);
  const sgd = {
    lr: 0.1,
    momentum: 0.9,
    dampening: 0,
    nesterov: false,
    weightDecay: 0,
    firstStep: true,
  };
  assertThrows(() => sgdStep(p, Tensor.zeros([5]), b, sgd), "Optim.sgdStep: grad has shape [5]");
  assertThrows(() => sgdStep(p, g, null, sgd), "momentumBuffer is null");
  assertThrows(() => sgdStep(p, g, Tensor.zeros([2, 2]), sgd), "momentumBuffer has shape [2, 2]");
  assertThrows(() => sgdStep(p, p, b, sgd), "grad shares its buffer with param");
  assertThrows(() => sgdStep(p, g, g, sgd), "momentumBuffer shares its buffer with grad");
  assertThrows(() => sgdStep(p, g, b, { ...sgd, lr: -1 }), "lr is -1");
  assertThrows(() => sgdStep(p, g, b, { ...sgd, momentum: -0.5 }), "momentum is -0.5");
  assertThrows(() => sgdStep(p, g, b, { ...sgd, weightDecay: NaN }), "weightDecay is NaN");
  assertThrows(
    () => sgdStep(p, g, b, { ...sgd, nesterov: true, dampening: 0.1 }),
    "nesterov needs momentum > 0 and dampening 0",
  );
  assertThrows(
    () => sgdStep(p, g, null, { ...sgd, momentum: 0, nesterov: true }),
    "nesterov needs momentum > 0",
  );
  const adam = {
    lr: 0.003,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    step: 1,
    decoupled: false,
  };
  const v = Tensor.zeros([4]);
  assertThrows(() => adamStep(p, g, b, Tensor.zeros([3]), adam), "expAvgSq has shape [3]");
  assertThrows(() => adamStep(p, g, b, b, adam), "expAvgSq shares its buffer with expAvg");
  assertThrows(() => adamStep(p, g, b, v, { ...adam, step: 0 }), "step is 0");
  assertThrows(() => adamStep(p, g, b, v, { ...adam, step: 1.5 }), "step is 1.5");
  assertThrows(() => adamStep(p, g, b, v, { ...adam, beta1: 1 }), "beta1 is 1");
  assertThrows(() => adamStep(p, g, b, v, { ...adam, beta2: -0.1 }), "beta2 is -0.1");
  assertThrows(() => adamStep(p, g, b, v, { ...adam, eps: -1 }), "eps is -1");
  assertThrows(
    () => adamStep(Tensor.zeros([4], { dtype: "i32" }) as unknown as Tensor, g, b, v, adam),
    "param has dtype i32",
  );
});
