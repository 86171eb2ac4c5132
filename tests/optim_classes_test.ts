/**
 * The optimizer classes (SGD, Adam, AdamW) against float64 torch.optim references over several
 * steps, for every option combination, with parameter groups, learning-rate changes between
 * steps, momentum switched on late; their state dicts; one dispatch per parameter, no submit.
 *
 * @module
 */

import { frameStats } from "../gpu.ts";
import { Generator, Tensor } from "../mod.ts";
import { Parameter } from "../src/nn/module.ts";
import { Adam, type AdamOptions, AdamW } from "../src/optim/adam.ts";
import type { Optimizer } from "../src/optim/optimizer.ts";
import { applySchedule, oneCycle } from "../src/optim/schedules.ts";
import { SGD, type SgdOptions } from "../src/optim/sgd.ts";
import {
  assert,
  assertClose,
  assertEquals,
  assertThrows,
  randomArray,
  testSeed,
} from "./assert.ts";
import "./gpu.ts";
import * as ref from "./reference/optim.ts";

const SHAPES = [[7, 5], [13], [3, 4, 5]];
const STEPS = 5;
const TOL = { atol: 2e-6, rtol: 2e-5 };

function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values));
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parameters on the GPU and their float64 mirrors. */
function makeParams(rng: Generator): { params: Parameter[]; mirrors: Float64Array[] } {
  const mirrors = SHAPES.map((shape) => f32(randomArray(rng, size(shape))));
  const params = SHAPES.map((shape, i) =>
    new Parameter(Tensor.from(mirrors[i], shape, { label: "Test.param" }))
  );
  return { params, mirrors };
}

/** Fresh random gradients, written into every parameter's grad; returns them. */
function setGrads(rng: Generator, params: Parameter[]): Float64Array[] {
  return params.map((p) => {
    const g = f32(randomArray(rng, p.data.size));
    p.grad.write(g);
    return g;
  });
}

async function compare(
  params: Parameter[],
  mirrors: Float64Array[],
  message: string,
): Promise<void> {
  for (let i = 0; i < params.length; i++) {
    assertClose(await params[i].data.read(), mirrors[i], {
      ...TOL,
      message: `${message} param ${i}`,
    });
  }
}

const SGD_CASES: Partial<SgdOptions>[] = [];
for (const weightDecay of [0, 0.01]) {
  SGD_CASES.push(
    { weightDecay },
    { momentum: 0.9, weightDecay },
    { momentum: 0.9, dampening: 0.3, weightDecay },
    { momentum: 0.8, nesterov: true, weightDecay },
  );
}

Deno.test("SGD matches torch.optim.SGD for every option combination, with two groups", async () => {
  const rng = new Generator(testSeed("SGD class"));
  for (const options of SGD_CASES) {
    const { params, mirrors } = makeParams(rng);
    // Group 1 takes the case's options with lr 0.05; group 2 overrides lr and momentum.
    const sgd = new SGD([
      { params: [params[0], params[1]] },
      { params: [params[2]], lr: 0.2, momentum: 0.5, nesterov: false, dampening: 0 },
    ], { lr: 0.05, ...options });
    const full = {
      lr: 0.05,
      momentum: 0,
      dampening: 0,
      nesterov: false,
      weightDecay: 0,
      ...options,
    };
    const groupOf = [full, full, {
      ...full,
      lr: 0.2,
      momentum: 0.5,
      nesterov: false,
      dampening: 0,
    }];
    const buffers = mirrors.map((m) => new Float64Array(m.length));
    for (let step = 1; step <= STEPS; step++) {
      const grads = setGrads(rng, params);
      const override = step === 4 ? 0.01 : undefined; // step(lr) for one step only
      if (step === 3) sgd.groups[0].lr = 0.03; // a schedule changing the group's rate
      sgd.step(override);
      for (let i = 0; i < params.length; i++) {
        const o = groupOf[i];
        const lr = override ?? (i < 2 && step >= 3 ? 0.03 : o.lr);
        ref.sgdStep(mirrors[i], grads[i], buffers[i], { ...o, lr, firstStep: step === 1 });
      }
    }
    await compare(params, mirrors, `SGD ${JSON.stringify(options)}`);
    assertEquals(sgd.groups[0].lr, 0.03, "step(lr) does not store the rate");
  }
});

Deno.test("SGD creates its momentum buffer when momentum first becomes non-zero", async () => {
  const rng = new Generator(testSeed("SGD late momentum"));
  const { params, mirrors } = makeParams(rng);
  const sgd = new SGD(params, { lr: 0.1 });
  const buffers = mirrors.map((m) => new Float64Array(m.length));
  for (let step = 1; step <= 4; step++) {
    if (step === 3) sgd.groups[0].momentum = 0.9;
    const grads = setGrads(rng, params);
    sgd.step();
    const momentum = step >= 3 ? 0.9 : 0;
    for (let i = 0; i < params.length; i++) {
      ref.sgdStep(mirrors[i], grads[i], buffers[i], {
        lr: 0.1,
        momentum,
        dampening: 0,
        nesterov: false,
        weightDecay: 0,
        firstStep: step === 3,
      });
    }
  }
  await compare(params, mirrors, "SGD late momentum");
});

const ADAM_CASES: Partial<AdamOptions>[] = [
  {},
  { weightDecay: 0.05 },
  { betas: [0.3, 0.9], eps: 1e-3 },
  { betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 },
];

Deno.test("Adam and AdamW match torch.optim for every option combination", async () => {
  const rng = new Generator(testSeed("Adam class"));
  for (const decoupled of [false, true]) {
    for (const options of ADAM_CASES) {
      const { params, mirrors } = makeParams(rng);
      const Class = decoupled ? AdamW : Adam;
      const opt = new Class([{ params: params.slice(0, 2) }, { params: [params[2]], lr: 0.02 }], {
        lr: 0.01,
        ...options,
      });
      const defaults = { betas: [0.9, 0.999], eps: 1e-8, weightDecay: decoupled ? 0.01 : 0 };
      const o = { ...defaults, ...options };
      const m = mirrors.map((x) => new Float64Array(x.length));
      const v = mirrors.map((x) => new Float64Array(x.length));
      for (let step = 1; step <= STEPS; step++) {
        const grads = setGrads(rng, params);
        if (step === 3) opt.groups[1].lr = 0.005;
        opt.step();
        for (let i = 0; i < params.length; i++) {
          const lr = i < 2 ? 0.01 : step >= 3 ? 0.005 : 0.02;
          ref.adamStep(mirrors[i], grads[i], m[i], v[i], {
            lr,
            beta1: o.betas[0],
            beta2: o.betas[1],
            eps: o.eps,
            weightDecay: o.weightDecay,
            step,
            decoupled,
          });
        }
      }
      await compare(params, mirrors, `${Class.name} ${JSON.stringify(options)}`);
    }
  }
});

Deno.test("defaults are PyTorch's", () => {
  const p = [new Parameter(Tensor.zeros([2]))];
  const adam = new Adam(p);
  assertEquals(
    {
      lr: adam.groups[0].lr,
      betas: adam.groups[0].betas,
      eps: adam.groups[0].eps,
      wd: adam.groups[0].weightDecay,
    },
    { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, wd: 0 },
  );
  assertEquals(new AdamW(p).groups[0].weightDecay, 1e-2);
  const sgd = new SGD(p).groups[0];
  assertEquals(
    [sgd.lr, sgd.momentum, sgd.dampening, sgd.weightDecay, sgd.nesterov],
    [1e-3, 0, 0, 0, false],
  );
});

Deno.test("a step records one dispatch per parameter and submits nothing", () => {
  const rng = new Generator(1);
  for (
    const make of [
      (p: Parameter[]) => new Adam(p),
      (p: Parameter[]) => new SGD(p, { momentum: 0.9 }),
      (p: Parameter[]) => new SGD(p),
    ]
  ) {
    const { params } = makeParams(rng);
    const opt: Optimizer<{ lr: number }> = make(params);
    opt.step(); // the first step also allocates (and zeroes) the state
    const before = { ...frameStats };
    opt.step();
    assertEquals(frameStats.dispatches - before.dispatches, params.length, opt.typeName);
    assertEquals(frameStats.submits - before.submits, 0, opt.typeName);
  }
});

/** Steps `opt` with the given gradients. */
function stepWith(
  opt: Optimizer<{ lr: number }>,
  params: Parameter[],
  grads: Float64Array[],
): void {
  params.forEach((p, i) => p.grad.write(grads[i]));
  opt.step();
}

Deno.test("state dicts carry the optimizer state exactly into a fresh optimizer", async () => {
  const rng = new Generator(testSeed("optimizer state dict"));
  for (
    const make of [
      (p: [string, Parameter][]) => new Adam(p, { lr: 0.01, weightDecay: 0.01 }),
      (p: [string, Parameter][]) => new AdamW(p, { lr: 0.01 }),
      (p: [string, Parameter][]) => new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true }),
    ]
  ) {
    const a = makeParams(rng);
    const namedA = a.params.map((p, i): [string, Parameter] => [`layer${i}.weight`, p]);
    const optA = make(namedA);
    for (let s = 0; s < 3; s++) {
      stepWith(
        optA,
        a.params,
        a.params.map((p) => randomArray(rng, p.data.size)),
      );
    }
    optA.groups[0].lr = 0.007;
    const state = await optA.stateDict();
    const keys = [...state.tensors.keys()];
    if (optA instanceof Adam) {
      assert(keys.includes("layer0.weight.exp_avg") && keys.includes("layer2.weight.exp_avg_sq"));
      assertEquals([...state.tensors.get("layer1.weight.step")!.data], [3]);
      assertEquals(state.tensors.get("layer1.weight.step")!.shape, []);
    } else {
      assert(keys.includes("layer0.weight.momentum_buffer"), keys.join());
    }
    // Fresh parameters with A's current values, a fresh optimizer with A's state.
    const b = await Promise.all(
      a.params.map(async (p) => new Parameter(Tensor.from(await p.data.read(), p.shape))),
    );
    const optB = make(b.map((p, i): [string, Parameter] => [`layer${i}.weight`, p]));
    optB.loadStateDict(state);
    assertEquals(optB.groups[0].lr, 0.007);
    for (let s = 0; s < 2; s++) {
      const grads = a.params.map((p) => f32(randomArray(rng, p.data.size)));
      stepWith(optA, a.params, grads);
      stepWith(optB, b, grads);
    }
    for (let i = 0; i < b.length; i++) {
      assertEquals(
        await b[i].data.read(),
        await a.params[i].data.read(),
        `${optA.typeName} param ${i}`,
      );
    }
  }
});

Deno.test("loading a state dict reports every bad entry by name and changes nothing", async () => {
  const rng = new Generator(2);
  const { params } = makeParams(rng);
  const named = params.map((p, i): [string, Parameter] => [`p${i}`, p]);
  const adam = new Adam(named);
  stepWith(adam, params, params.map((p) => randomArray(rng, p.data.size)));
  const good = await adam.stateDict();
  const bad = { ...good, tensors: new Map(good.tensors) };
  bad.tensors.delete("p0.exp_avg_sq");
  bad.tensors.set("p1.exp_avg", { shape: [2], data: new Float32Array(2) });
  bad.tensors.set("p9.exp_avg", { shape: [1], data: new Float32Array(1) });
  const fresh = new Adam(named);
  const error = assertThrows(() => fresh.loadStateDict(bad), "nothing loaded");
  for (
    const text of [
      'missing "p0.exp_avg_sq"',
      '"p1.exp_avg" has shape [2]',
      'unexpected "p9.exp_avg"',
    ]
  ) {
    assert(error.message.includes(text), `error names ${text}: ${error.message}`);
  }
  assertEquals((await fresh.stateDict()).tensors.size, 0, "nothing loaded");
  assertThrows(() => new SGD(named).loadStateDict(good), "state is of a Adam optimizer");
});

Deno.test("one-cycle momentum reaches Adam's beta1 and SGD's momentum", () => {
  const p = [new Parameter(Tensor.zeros([3]))];
  const adam = new Adam(p, { lr: 0.1 });
  const sgd = new SGD(p, { lr: 0.1, momentum: 0.9 });
  const cycle = oneCycle({ totalSteps: 100 });
  applySchedule(adam, cycle, 29);
  applySchedule(sgd, cycle, 0);
  assertClose([adam.lr, adam.groups[0].betas[0], sgd.lr, sgd.groups[0].momentum], [
    0.1,
    0.85,
    0.004,
    0.95,
  ], {
    atol: 1e-12,
  });
});

Deno.test("bad options and parameter lists are errors that name them", () => {
  const p = new Parameter(Tensor.zeros([2]));
  assertThrows(() => new SGD([p], { nesterov: true }), "nesterov");
  assertThrows(() => new SGD([p], { momentum: 0.9, dampening: 0.1, nesterov: true }), "nesterov");
  assertThrows(() => new SGD([p], { lr: -1 }), "lr");
  assertThrows(() => new Adam([p], { betas: [1, 0.999] }), "betas[0]");
  assertThrows(() => new Adam([p], { eps: -1 }), "eps");
  assertThrows(
    () => new AdamW([{ params: [p], weightDecay: -0.1 }]),
    "weightDecay is -0.1 in group 0",
  );
  assertThrows(() => new Adam([p, p]), "appears twice");
  assertThrows(() => new Adam([]), "empty parameter list");
  assertThrows(() => new Adam([p]).step(-1), "lr");
});
