import { Generator, Tensor } from "../mod.ts";
import { LogSoftmax, ReLU } from "../src/nn/activation.ts";
import { BatchNorm2d } from "../src/nn/batch_norm2d.ts";
import { Flatten, ModuleList, Residual, Sequential } from "../src/nn/containers.ts";
import { Conv2d } from "../src/nn/conv2d.ts";
import { Dropout, Dropout2d } from "../src/nn/dropout.ts";
import { Linear } from "../src/nn/linear.ts";
import type { Module, StateDict } from "../src/nn/module.ts";
import { AdaptiveAvgPool2d, AdaptiveMaxPool2d, MaxPool2d } from "../src/nn/pooling.ts";
import { assert, assertClose, assertEquals, assertThrows, testSeed } from "./assert.ts";
import { read64, upload } from "./gpu.ts";
import { f32, size } from "./numeric.ts";
import { dropoutMaskRef } from "./reference/elementwise.ts";
import {
  type Arr,
  RefBatchNorm2d,
  RefConv2d,
  RefFlatten,
  RefGlobalPool,
  type RefLayer,
  RefLinear,
  RefLogSoftmax,
  RefMaxPool2d,
  RefParam,
  RefReLU,
  RefResidual,
  RefSequential,
} from "./reference/nn.ts";

interface Tolerance {
  atol: number;
  rtol: number;
}

const FORWARD: Tolerance = { atol: 1e-5, rtol: 1e-4 };
const BACKWARD: Tolerance = { atol: 1e-4, rtol: 1e-3 };

function random(rng: Generator, shape: number[], lo = -1, hi = 1): Arr {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Float64Array.from({ length: n }, () => rng.uniformRange(lo, hi)), shape };
}

function refParam(state: StateDict, name: string): RefParam {
  const e = state.get(name)!;
  return new RefParam(e.data, e.shape);
}

/**
 * Runs `gpu`'s forward on a random input that requires grad and back-propagates a random output
 * gradient through the tape twice (`retainGraph` on the first), so the input's and every
 * parameter's gradient must accumulate; compares output and gradients with `ref` by name.
 */
async function compareLayer(
  name: string,
  gpu: Module,
  ref: RefLayer,
  xShape: number[],
  rng: Generator,
  backward: Tolerance = BACKWARD,
): Promise<void> {
  const x = random(rng, xShape);
  const xT = Tensor.from(x.data, xShape, { requiresGrad: true, label: "Test.input" });
  const y = gpu.forward(xT);
  const yRef = ref.forward(x);
  assertEquals(y.shape, yRef.shape, `${name} output shape`);
  assertClose(await read64(y), yRef.data, { ...FORWARD, message: `${name} forward` });
  const dy = random(rng, yRef.shape);
  const dyT = upload(dy.data, dy.shape);
  for (let pass = 1; pass <= 2; pass++) {
    y.backward({ gradient: dyT, retainGraph: pass === 1 });
    const dxRef = ref.backward(dy);
    assertEquals(xT.grad?.shape, xShape, `${name} dx shape`);
    assertClose(await read64(xT.grad!), dxRef.data.map((v) => pass * v), {
      ...backward,
      message: `${name} dx (accumulated ${pass}×)`,
    });
  }
  const refParams = new Map(ref.params());
  assertEquals(gpu.namedParameters().map(([n]) => n), [...refParams.keys()], `${name} params`);
  for (const [pname, p] of gpu.namedParameters()) {
    assertClose(await read64(p.grad), refParams.get(pname)!.grad, {
      ...backward,
      message: `${name} ${pname}.grad (accumulated twice)`,
    });
  }
  xT.dispose();
  dyT.dispose();
}

Deno.test("Linear forward and backward match the reference", async () => {
  const rng = new Generator(testSeed("Linear"));
  for (
    const [n, k, m, bias] of [[3, 37, 5, true], [7, 100, 13, false], [1, 3, 70, true]] as const
  ) {
    const layer = new Linear(k, m, { bias, generator: rng });
    const state = await layer.stateDict();
    const ref = new RefLinear("", refParam(state, "weight"), bias ? refParam(state, "bias") : null);
    await compareLayer(`Linear(${k}, ${m}) n=${n}`, layer, ref, [n, k], rng);
  }
});

Deno.test("Conv2d forward and backward match the reference", async () => {
  const rng = new Generator(testSeed("Conv2d"));
  const cases: [number[], number, number, number, number, boolean][] = [
    // [x shape, out channels, kernel, stride, padding, bias]
    [[3, 5, 9, 7], 6, 3, 2, 1, false],
    [[2, 3, 11, 13], 7, 5, 1, 2, true],
    [[1, 7, 6, 10], 3, 1, 1, 0, true],
    [[2, 4, 8, 9], 5, 4, 3, 0, true],
  ];
  for (const [shape, o, k, stride, padding, bias] of cases) {
    const layer = new Conv2d(shape[1], o, k, { stride, padding, bias, generator: rng });
    const state = await layer.stateDict();
    const ref = new RefConv2d(
      "",
      refParam(state, "weight"),
      bias ? refParam(state, "bias") : null,
      stride,
      padding,
    );
    await compareLayer(`Conv2d ${layer.extraRepr()} x=[${shape}]`, layer, ref, shape, rng);
  }
});

Deno.test("BatchNorm2d: training uses batch statistics and updates running ones; eval uses them", async () => {
  const rng = new Generator(testSeed("BatchNorm2d"));
  for (const shape of [[3, 5, 7, 3], [2, 17, 5, 5], [5, 3, 1, 1]]) {
    const c = shape[1];
    const layer = new BatchNorm2d(c, { momentum: 0.3 });
    // Non-trivial γ, β and running statistics, loaded through the state dict.
    const state = await layer.stateDict();
    state.get("weight")!.data.set(random(rng, [c], 0.5, 1.5).data);
    state.get("bias")!.data.set(random(rng, [c]).data);
    state.get("running_mean")!.data.set(random(rng, [c]).data);
    state.get("running_var")!.data.set(random(rng, [c], 0.5, 2).data);
    layer.loadStateDict(state);
    const ref = new RefBatchNorm2d(
      "",
      {
        weight: refParam(state, "weight"),
        bias: refParam(state, "bias"),
        runningMean: state.get("running_mean")!.data,
        runningVar: state.get("running_var")!.data,
      },
      1e-5,
      0.3,
    );
    await compareLayer(`BatchNorm2d x=[${shape}]`, layer, ref, shape, rng);
    assertClose(await read64(layer.runningMean), ref.runningMean, { ...FORWARD, message: "mean" });
    assertClose(await read64(layer.runningVar), ref.runningVar, { ...FORWARD, message: "var" });
    assertEquals(await layer.numBatchesTracked.read(), new Float32Array([1]));

    // Eval: the running statistics normalise, are constants in the backward, and stay.
    layer.eval();
    ref.setTraining(false);
    await compareLayer(`BatchNorm2d eval x=[${shape}]`, layer, ref, shape, rng);
    assertEquals(
      await layer.numBatchesTracked.read(),
      new Float32Array([1]),
      "eval counts nothing",
    );
    assertClose(await read64(layer.runningMean), ref.runningMean, { ...FORWARD, message: "kept" });
  }
});

Deno.test("ReLU, LogSoftmax, Flatten and the pools match the reference", async () => {
  const rng = new Generator(testSeed("activations and pools"));
  const cases: [string, () => Module, () => RefLayer, number[][]][] = [
    ["ReLU", () => new ReLU(), () => new RefReLU(), [[3, 5, 7], [1000], [2, 3, 5, 7]]],
    ["LogSoftmax", () => new LogSoftmax(), () => new RefLogSoftmax(), [[3, 10], [7, 1], [2, 1001]]],
    ["Flatten", () => new Flatten(), () => new RefFlatten(), [[3, 2, 5, 7], [4, 9]]],
    ["MaxPool2d(2)", () => new MaxPool2d(2), () => new RefMaxPool2d(2), [[2, 3, 9, 7], [
      1,
      5,
      28,
      28,
    ], [3, 1, 2, 5]]],
    ["MaxPool2d(3, 2)", () => new MaxPool2d(3, 2), () => new RefMaxPool2d(3, 2), [[2, 3, 9, 8]]],
    [
      "AdaptiveAvgPool2d",
      () => new AdaptiveAvgPool2d(1),
      () => new RefGlobalPool("avg"),
      [[3, 5, 7, 3], [2, 80, 4, 4], [1, 3, 1, 1]],
    ],
    [
      "AdaptiveMaxPool2d",
      () => new AdaptiveMaxPool2d(1),
      () => new RefGlobalPool("max"),
      [[3, 5, 7, 3], [2, 160, 2, 2], [1, 3, 1, 1]],
    ],
  ];
  for (const [name, gpu, ref, shapes] of cases) {
    for (const shape of shapes) await compareLayer(`${name} [${shape}]`, gpu(), ref(), shape, rng);
  }
});

Deno.test("Sequential and Residual chain forward; the tape derives their backward", async () => {
  const rng = new Generator(testSeed("containers"));
  const conv = new Conv2d(3, 3, 3, { padding: 1, generator: rng });
  const fc = new Linear(3 * 5 * 6, 4, { generator: rng });
  const model = new Sequential(new Residual(new Sequential(conv, new ReLU())), new Flatten(), fc);
  const state = await model.stateDict();
  assertEquals([...state.keys()], ["0.fn.0.weight", "0.fn.0.bias", "2.weight", "2.bias"]);
  const ref = new RefSequential([
    new RefResidual(
      new RefSequential([
        new RefConv2d(
          "0.fn.0",
          refParam(state, "0.fn.0.weight"),
          refParam(state, "0.fn.0.bias"),
          1,
          1,
        ),
        new RefReLU(),
      ]),
    ),
    new RefFlatten(),
    new RefLinear("2", refParam(state, "2.weight"), refParam(state, "2.bias")),
  ]);
  await compareLayer("Sequential", model, ref, [2, 3, 5, 6], rng);
  assertEquals(model.length, 3);
  assert(model.at(-1) === fc);
});

Deno.test("ModuleList names, iterates and refuses to be called", () => {
  const list = new ModuleList<Module>([new ReLU(), new Flatten()]);
  list.append(new LogSoftmax());
  assertEquals(list.children().map(([n]) => n), ["0", "1", "2"]);
  assertEquals([...list].map((m) => m.typeName()), ["ReLU", "Flatten", "LogSoftmax"]);
  assertThrows(() => list.forward(Tensor.zeros([1])), "not callable");
  assertThrows(() => list.at(3), "out of range");
});

Deno.test("Dropout and Dropout2d: GPU mask from the layer's generator, identity in eval", async () => {
  const seed = testSeed("Dropout");
  /** x through `layer` and dy back through the tape: the output and the input's gradient. */
  const run = async (layer: Module, x: Arr, dy: Arr): Promise<[Float64Array, Float64Array]> => {
    const xT = Tensor.from(x.data, x.shape, { requiresGrad: true });
    const y = layer.forward(xT);
    const out = await read64(y);
    y.backward({ gradient: upload(dy.data, dy.shape) });
    return [out, await read64(xT.grad!)];
  };
  for (const [shape, p] of [[[3, 7, 5], 0.3], [[1000], 0.5], [[2, 3], 0]] as const) {
    const layer = new Dropout(p, { seed });
    const mask = dropoutMaskRef(size(shape), p, new Generator(seed).nextU32());
    const rng = new Generator(seed + 1);
    const x = random(rng, [...shape]);
    const dy = random(rng, [...shape]);
    const [y, dx] = await run(layer, x, dy);
    assertClose(y, x.data.map((v, i) => v * mask[i]), { atol: 0, rtol: 1e-6 });
    assertClose(dx, dy.data.map((v, i) => v * mask[i]), { atol: 0, rtol: 1e-6 });
    layer.eval();
    const [yEval, dxEval] = await run(layer, x, dy);
    assertClose(yEval, f32(x.data), { atol: 0, rtol: 0, message: "eval forward is the identity" });
    assertClose(dxEval, f32(dy.data), { atol: 0, rtol: 0, message: "eval backward: the identity" });
  }
  const layer = new Dropout2d(0.25, { seed });
  const mask = dropoutMaskRef(15, 0.25, new Generator(seed).nextU32());
  const shape = [3, 5, 4, 3];
  const x = random(new Generator(seed + 2), shape);
  const [y, dx] = await run(layer, x, x);
  const masked = x.data.map((v, i) => v * mask[Math.floor(i / 12)]);
  assertClose(y, masked, { atol: 0, rtol: 1e-6 });
  assertClose(dx, masked, { atol: 0, rtol: 1e-6 });
  // A second forward draws a new seed: a different mask.
  const [again] = await run(layer, x, x);
  assert(again.some((v, i) => v !== masked[i]), "fresh mask per step");
});

Deno.test("layers reject bad shapes and options, naming the argument", () => {
  assertThrows(
    () => new Linear(4, 3).forward(Tensor.zeros([2, 5])),
    "Linear.forward: x has shape [2, 5]",
  );
  assertThrows(() => new Linear(0, 3), "inFeatures");
  const conv = new Conv2d(3, 4, 3);
  assertThrows(
    () => conv.forward(Tensor.zeros([1, 2, 8, 8])),
    "Conv2d.forward: x has shape [1, 2, 8, 8]",
  );
  assertThrows(
    () => conv.forward(Tensor.zeros([1, 3, 2, 2])),
    "conv2d: kernel 3×3 of weight [4, 3, 3, 3] is larger than the padded input 2×2",
  );
  assertThrows(() => new Conv2d(3, 4, 3, { stride: 0 }), "stride");
  assertThrows(
    () => new Residual(new Linear(4, 3)).forward(Tensor.zeros([2, 4])),
    "Residual.forward: fn(x) has shape [2, 3], expected [2, 4]",
  );
  assertThrows(() => new Flatten().forward(Tensor.zeros([])), "Flatten.forward: x must have");
  assertThrows(
    () => new BatchNorm2d(3).forward(Tensor.zeros([2, 4, 1, 1])),
    "BatchNorm2d.forward: x",
  );
  assertThrows(() => new BatchNorm2d(3, { momentum: 2 }), "momentum");
  assertThrows(
    () => new MaxPool2d(2).forward(Tensor.zeros([1, 1, 1, 4])),
    "smaller than the 2×2 window",
  );
  assertThrows(() => new AdaptiveAvgPool2d(0), "outputSize must be an integer ≥ 1 or a pair");
  assertThrows(() => new Dropout(1), "p must be in [0, 1)");
  assertThrows(() => new Dropout2d(-0.1), "p must be in [0, 1)");
  assertThrows(() => new LogSoftmax(0), "dim");
  assertThrows(
    () => new LogSoftmax().forward(Tensor.zeros([2, 3, 4])),
    "logSoftmax: x has shape [2, 3, 4]",
  );
  assertThrows(
    () => new ReLU().forward(Tensor.zeros([2], { dtype: "i32" }) as unknown as Tensor),
    "dtype",
  );
});
