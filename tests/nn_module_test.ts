import {
  basicCnn,
  basicNet,
  convBnNet,
  deepBnNet,
  defaultGenerator,
  Generator,
  manualSeed,
  resnet,
  Tensor,
  veryBasicNet,
} from "../mod.ts";
import { bufferPool, flush } from "../gpu.ts";
import { LogSoftmax, ReLU } from "../src/nn/activation.ts";
import { BatchNorm2d } from "../src/nn/batch_norm2d.ts";
import { Flatten, ModuleList, Residual, Sequential } from "../src/nn/containers.ts";
import { Conv2d } from "../src/nn/conv2d.ts";
import { Dropout, Dropout2d } from "../src/nn/dropout.ts";
import { biasInit, fanIn, fanOut, kaimingNormal, kaimingUniform } from "../src/nn/init.ts";
import { Linear } from "../src/nn/linear.ts";
import { CrossEntropyLoss } from "../src/nn/loss.ts";
import { type Module, pythonFloat } from "../src/nn/module.ts";
import { AdaptiveAvgPool2d, AdaptiveMaxPool2d, MaxPool2d } from "../src/nn/pooling.ts";
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { dispatchedKernels } from "./gpu.ts";

function tinyNet(seed: number): Sequential {
  const generator = new Generator(seed);
  return new Sequential(
    new Conv2d(3, 4, 3, { padding: 1, bias: false, generator }),
    new BatchNorm2d(4),
    new ReLU(),
    new AdaptiveAvgPool2d(1),
    new Flatten(),
    new Linear(4, 3, { generator }),
    new LogSoftmax(-1),
  );
}

Deno.test("stateDict has PyTorch's names, order, shapes and layouts", async () => {
  const state = await tinyNet(0).stateDict();
  assertEquals([...state.entries()].map(([n, e]) => [n, e.shape]), [
    ["0.weight", [4, 3, 3, 3]],
    ["1.weight", [4]],
    ["1.bias", [4]],
    ["1.running_mean", [4]],
    ["1.running_var", [4]],
    ["1.num_batches_tracked", []],
    ["5.weight", [3, 4]],
    ["5.bias", [3]],
  ]);
  assertEquals(state.get("1.weight")!.data, new Float32Array([1, 1, 1, 1]));
  assertEquals(state.get("1.running_var")!.data, new Float32Array([1, 1, 1, 1]));
  assertEquals(state.get("1.num_batches_tracked")!.data, new Float32Array([0]));
  const model = tinyNet(0);
  assertEquals(model.namedParameters().map(([n]) => n), [
    "0.weight",
    "1.weight",
    "1.bias",
    "5.weight",
    "5.bias",
  ]);
  assertEquals(model.namedBuffers().map(([n]) => n), [
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
  ]);
  assertEquals(model.numParameters(), 4 * 27 + 4 + 4 + 12 + 3);
});

Deno.test("same seed gives the same model, another seed another", async () => {
  const a = await tinyNet(5).stateDict();
  const b = await tinyNet(5).stateDict();
  const c = await tinyNet(6).stateDict();
  assertEquals(a.get("0.weight")!.data, b.get("0.weight")!.data);
  assertEquals(a.get("5.bias")!.data, b.get("5.bias")!.data);
  assert(a.get("0.weight")!.data.some((v, i) => v !== c.get("0.weight")!.data[i]));
});

Deno.test("loadStateDict round-trips and reports every problem before changing anything", async () => {
  const source = tinyNet(1);
  source.forward(Tensor.full([2, 3, 4, 4], 0.5)); // running stats and counter move
  const state = await source.stateDict();
  assertEquals(state.get("1.num_batches_tracked")!.data, new Float32Array([1]));
  const target = tinyNet(2);
  target.loadStateDict(state);
  const loaded = await target.stateDict();
  for (const [name, entry] of state) assertEquals(loaded.get(name)!.data, entry.data, name);
  // The CPU counter follows the loaded value: the next training forward makes it 2.
  target.forward(Tensor.full([2, 3, 4, 4], 0.5));
  assertEquals(await (target.at(1) as BatchNorm2d).numBatchesTracked.read(), new Float32Array([2]));

  const fresh = tinyNet(3);
  const before = await fresh.stateDict();
  const bad = new Map(state);
  bad.delete("1.running_var");
  bad.set("5.weight", { shape: [4, 3], data: new Float32Array(12) });
  bad.set("0.bias", { shape: [4], data: new Float32Array(4) });
  bad.set("1.bias", { shape: [4], data: new Float32Array(3) });
  const error = assertThrows(() => fresh.loadStateDict(bad), "4 problem(s), nothing loaded");
  for (
    const part of [
      'missing "1.running_var"',
      '"5.weight" has shape [4, 3]',
      'unexpected "0.bias"',
      '"1.bias"',
    ]
  ) {
    assert(error.message.includes(part), `error names ${part}: ${error.message}`);
  }
  const after = await fresh.stateDict();
  for (const [name, entry] of before) assertEquals(after.get(name)!.data, entry.data, name);
});

Deno.test("PyTorch's default initialisation bounds and He-normal scale", async () => {
  const rng = new Generator(0);
  assertEquals([fanIn([16, 3, 5, 5]), fanOut([16, 3, 5, 5]), fanIn([10, 3072])], [75, 400, 3072]);
  const w = kaimingUniform([200, 75], rng);
  const bound = 1 / Math.sqrt(75);
  assert(w.every((v) => Math.abs(v) <= bound), "within ±1/√fan_in");
  const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
  assert(Math.abs(variance / (bound * bound / 3) - 1) < 0.05, `uniform variance ${variance}`);
  const b = biasInit([200, 75], rng);
  assertEquals(b.length, 200);
  assert(b.every((v) => Math.abs(v) <= bound) && b.some((v) => Math.abs(v) > bound * 0.9));
  const n = kaimingNormal([64, 32, 3, 3], rng, "fan_out");
  const std = Math.sqrt(n.reduce((s, v) => s + v * v, 0) / n.length);
  assert(Math.abs(std / Math.sqrt(2 / (64 * 9)) - 1) < 0.03, `He-normal std ${std}`);
  const conv = new Conv2d(3, 16, 5, { seed: 4 });
  const weight = await conv.weight.data.read();
  assert(
    weight.every((v) => Math.abs(v) <= bound) && weight.some((v) => Math.abs(v) > bound * 0.95),
  );
  const bn = new BatchNorm2d(3);
  assertEquals([...await bn.weight.data.read(), ...await bn.bias.data.read()], [1, 1, 1, 0, 0, 0]);
});

Deno.test("toString prints like PyTorch's print(model)", () => {
  assertEquals(pythonFloat(1e-5), "1e-05");
  assertEquals(pythonFloat(0.1), "0.1");
  assertEquals(pythonFloat(0), "0.0");
  assertEquals(pythonFloat(2), "2.0");
  assertEquals(pythonFloat(1.5e-7), "1.5e-07");
  assertEquals(pythonFloat(1e20), "1e+20");
  assertEquals(
    new Conv2d(3, 16, 5, { padding: 2 }).toString(),
    "Conv2d(3, 16, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))",
  );
  assertEquals(new Conv2d(3, 8, 5).toString(), "Conv2d(3, 8, kernel_size=(5, 5), stride=(1, 1))");
  assertEquals(
    new Conv2d(10, 20, 3, { stride: 2, padding: 1, bias: false }).toString(),
    "Conv2d(10, 20, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)",
  );
  assertEquals(
    new BatchNorm2d(16).toString(),
    "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
  );
  assertEquals(
    new Linear(256, 10).toString(),
    "Linear(in_features=256, out_features=10, bias=True)",
  );
  assertEquals(
    new MaxPool2d(2, 2).toString(),
    "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
  );
  assertEquals(new Dropout2d(0.2).toString(), "Dropout2d(p=0.2, inplace=False)");
  assertEquals(new Dropout().toString(), "Dropout(p=0.5, inplace=False)");
  assertEquals(new ReLU().toString(), "ReLU()");
  assertEquals(new LogSoftmax().toString(), "LogSoftmax(dim=1)");
  assertEquals(new Flatten().toString(), "Flatten(start_dim=1, end_dim=-1)");
  assertEquals(new AdaptiveAvgPool2d(1).toString(), "AdaptiveAvgPool2d(output_size=1)");
  assertEquals(new AdaptiveMaxPool2d(1).toString(), "AdaptiveMaxPool2d(output_size=1)");
  assertEquals(new CrossEntropyLoss().toString(), "CrossEntropyLoss()");
  assertEquals(new ModuleList().toString(), "ModuleList()");
  // Nested containers indent by two spaces per level; equal neighbours in a ModuleList collapse.
  const model = new Sequential(
    new Residual(new Sequential(new Linear(4, 4), new ReLU())),
    new ModuleList([new Linear(4, 4), new Linear(4, 4), new Linear(4, 4), new ReLU()]),
  );
  assertEquals(
    model.toString(),
    `Sequential(
  (0): Residual(
    (fn): Sequential(
      (0): Linear(in_features=4, out_features=4, bias=True)
      (1): ReLU()
    )
  )
  (1): ModuleList(
    (0-2): 3 x Linear(in_features=4, out_features=4, bias=True)
    (3): ReLU()
  )
)`,
  );
});

Deno.test("train and eval switch the whole tree; zeroGrad clears every gradient", async () => {
  const model = tinyNet(0);
  assert(model.namedModules().every(([, m]) => m.training));
  assert(model.eval() === model);
  assert(model.namedModules().every(([, m]) => !m.training));
  model.train();
  assert(model.namedModules().every(([, m]) => m.training));
  model.forward(Tensor.full([2, 3, 4, 4], 0.3)).backward({ gradient: Tensor.full([2, 3], 1) });
  const grads = await Promise.all(model.parameters().map((p) => p.grad.read()));
  assert(grads.some((g) => g.some((v) => v !== 0)), "backward wrote gradients");
  model.zeroGrad();
  for (const p of model.parameters()) assert((await p.grad.read()).every((v) => v === 0));
});

Deno.test("a training step through the tape creates no buffer once warm, and leaks none", () => {
  const model = new Sequential(tinyNet(0), new Dropout(0.1, { seed: 1 }));
  const lossFn = new CrossEntropyLoss();
  const x = Tensor.full([5, 3, 6, 6], 0.25);
  const labels = Tensor.from([0, 1, 2, 1, 0], [5], { dtype: "i32" });
  const step = () => {
    model.zeroGrad();
    lossFn.forward(model.forward(x), labels).backward();
    flush();
  };
  // Op-made tensors live two top-level calls (model and loss): warm up past that.
  for (let i = 0; i < 3; i++) step();
  const stats = bufferPool.stats();
  for (let i = 0; i < 3; i++) step();
  assertEquals(bufferPool.stats().created, stats.created, "no new buffers");
  assertEquals(bufferPool.stats().live, stats.live, "no leaked buffers");
  const live = bufferPool.stats().live;
  model.dispose();
  assert(bufferPool.stats().live < live, "dispose releases the parameters and buffers");
});

Deno.test("only the first layer, on images, skips its input gradient", async () => {
  const make = () =>
    new Sequential(
      new Conv2d(3, 4, 3, { padding: 1, seed: 5 }),
      new Conv2d(4, 2, 3, { padding: 1, seed: 6 }),
    );
  const data = Array.from({ length: 2 * 3 * 5 * 5 }, (_, i) => Math.cos(i));
  const dy = Tensor.from(Array.from({ length: 2 * 2 * 5 * 5 }, (_, i) => Math.sin(i)), [
    2,
    2,
    5,
    5,
  ]);
  const gathers = (model: Module, x: Tensor) => {
    const y = model.forward(x);
    return dispatchedKernels(() => y.backward({ gradient: dy }))
      .filter((label) => label.startsWith("Conv2d.gather")).length;
  };
  const onImages = make();
  const onGradInput = make();
  const images = Tensor.from(data, [2, 3, 5, 5]);
  assertEquals(gathers(onImages, images), 1, "the second conv's dx only");
  assertEquals(gathers(onGradInput, Tensor.from(data, [2, 3, 5, 5], { requiresGrad: true })), 2);
  assertEquals(images.grad, null);
  const grads = async (model: Module) =>
    await Promise.all(model.parameters().map((p) => p.grad.read()));
  assertEquals(await grads(onImages), await grads(onGradInput), "the same parameter gradients");
});

Deno.test("manualSeed seeds the default generator that layers without a seed draw from", async () => {
  const values = async (layer: Linear | Conv2d) => [
    ...await layer.weight.data.read(),
    ...await layer.bias!.data.read(),
  ];
  const [a, b] = [await values(new Linear(4, 4)), await values(new Linear(4, 4))];
  assert(a.some((v, i) => v !== b[i]), "two new Linear(4, 4) differ");
  assert(manualSeed(7) === defaultGenerator(), "manualSeed returns the default generator");
  const first = [await values(new Linear(4, 4)), await values(new Conv2d(2, 3, 3))];
  manualSeed(7);
  const again = [await values(new Linear(4, 4)), await values(new Conv2d(2, 3, 3))];
  assertEquals(again, first, "the same manualSeed gives the same layers");
  assertEquals(await values(new Linear(4, 4, { seed: 7 })), first[0], "as { seed: 7 } does");
  manualSeed(7);
  assertEquals(
    await veryBasicNet().stateDict(),
    await veryBasicNet({ seed: 7 }).stateDict(),
    "a factory without a seed draws from the default generator",
  );
  assertThrows(() => manualSeed(1.5), "manualSeed: seed must be an integer, got 1.5");
});

Deno.test("an explicit seed or generator initialises exactly as before manualSeed existed", async () => {
  manualSeed(99);
  const linear = new Linear(4, 4, { seed: 3 });
  // Values from the code before the default generator (commit cfb376e).
  assertEquals([...(await linear.weight.data.read()).slice(0, 4)], [
    0.21914809942245483,
    -0.1168837621808052,
    0.08383359760046005,
    -0.35171401500701904,
  ]);
  assertEquals([...await linear.bias!.data.read()], [
    -0.23931150138378143,
    0.4444529712200165,
    -0.46265172958374023,
    -0.23478999733924866,
  ]);
  const conv = new Conv2d(3, 2, 3, { seed: 11 });
  assertEquals([...(await conv.weight.data.read()).slice(0, 3)], [
    -0.1922665387392044,
    -0.054411545395851135,
    -0.06220823526382446,
  ]);
  assertEquals([...await conv.bias!.data.read()], [0.1915821135044098, 0.12677985429763794]);
  const shared = new Generator(3);
  const [s1, s2] = [
    new Linear(4, 4, { generator: shared }),
    new Linear(4, 4, { generator: shared }),
  ];
  const [w1, w2] = [await s1.weight.data.read(), await s2.weight.data.read()];
  assertEquals(w1, await linear.weight.data.read(), "a generator as fresh as the seed's");
  assert(w2.some((v, i) => v !== w1[i]), "a shared generator moves on");
  // The factories with seed 5: their first and last parameters as before, so results reproduce.
  const factories: [string, () => Module, number[], number[]][] = [
    ["veryBasicNet", () => veryBasicNet({ seed: 5 }), [0.01234606746584177, 0.004484973847866058], [
      -0.01700785383582115,
      0.004845729097723961,
    ]],
    ["basicNet", () => basicNet({ seed: 5 }), [0.01234606746584177, 0.004484973847866058], [
      0.0992281511425972,
      -0.0921485498547554,
    ]],
    ["basicCnn", () => basicCnn({ seed: 5 }), [0.07901483029127121, 0.028703831136226654], [
      -0.07669533789157867,
      0.06077682226896286,
    ]],
    ["convBnNet", () => convBnNet(undefined, undefined, { seed: 5 }), [
      0.07901483029127121,
      0.028703831136226654,
    ], [-0.01659892499446869, 0.013707597739994526]],
    ["deepBnNet", () => deepBnNet(undefined, undefined, { seed: 5 }), [
      0.07901483029127121,
      0.028703831136226654,
    ], [0.03651724383234978, 0.07328017801046371]],
    ["resnet", () => resnet(undefined, undefined, { seed: 5 }), [
      0.07901483029127121,
      0.028703831136226654,
    ], [-0.05366230383515358, -0.034339915961027145]],
  ];
  for (const [name, make, first, last] of factories) {
    const params = make().parameters();
    assertEquals([...(await params[0].data.read()).slice(0, 2)], first, `${name} first`);
    assertEquals([...(await params.at(-1)!.data.read()).slice(-2)], last, `${name} last`);
  }
});
