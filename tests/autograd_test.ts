/**
 * The tape (src/autograd.ts): sums of gradients for tensors used twice, leaf accumulation until
 * zeroGrad, noGrad, freed graphs, non-scalar roots, op-made tensor lifetimes, and modules called
 * several times per step, as a user writes them.
 */

import {
  Adam,
  CrossEntropyLoss,
  F,
  fit,
  Generator,
  Linear,
  MaxPool2d,
  Module,
  noGrad,
  Tensor,
  veryBasicNet,
} from "../mod.ts";
import { bufferPool } from "../gpu.ts";
import { BnLayer, resnet } from "../src/models/article.ts";
import {
  assert,
  assertClose,
  assertEquals,
  assertRejects,
  assertThrows,
  testSeed,
} from "./assert.ts";
import { read64, upload } from "./gpu.ts";
import { numericGrad } from "./numeric.ts";

function random(rng: Generator, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.uniform() * 2 - 1);
}

Deno.test("a tensor used twice receives the sum of its gradients", async () => {
  const rng = new Generator(testSeed("used twice"));
  const data = random(rng, 37);
  const x = Tensor.from(data, [37], { requiresGrad: true });
  const y = x.relu();
  y.add(y).add(x).sum().backward(); // d/dx = 2·[x > 0] + 1
  assertEquals(
    Array.from(await read64(x.grad!)),
    Array.from(data, (v) => (v > 0 ? 2 : 0) + 1),
  );
});

Deno.test("leaf gradients accumulate across backward calls until zeroGrad", async () => {
  const layer = new Linear(3, 2);
  const x = Tensor.from([1, 2, 3, -1, 0, 1], [2, 3]);
  for (let i = 0; i < 2; i++) layer.forward(x).sum().backward();
  // d(sum)/d bias = batch size per call.
  assertEquals(Array.from(await layer.bias!.grad.read()), [4, 4]);
  layer.zeroGrad();
  layer.forward(x).sum().backward();
  assertEquals(Array.from(await layer.bias!.grad.read()), [2, 2]);
});

Deno.test("noGrad records nothing; its result is returned, awaited when async", async () => {
  const w = Tensor.from([1, -2], [2], { requiresGrad: true });
  const y = noGrad(() => w.relu());
  assertEquals([y.requiresGrad, y.gradFn], [false, null]);
  assertThrows(() => y.sum().backward(), "does not require a gradient");
  const z = await noGrad(async () => {
    await Promise.resolve();
    return w.relu();
  });
  assertEquals(z.requiresGrad, false);
  assert(w.relu().requiresGrad, "grad mode is back on after noGrad");
});

Deno.test("backward through a freed graph, or from a non-scalar, is a clear error", () => {
  const x = Tensor.from([1, 2, 3], [3], { requiresGrad: true });
  const loss = x.relu().sum();
  loss.backward();
  assertThrows(() => loss.backward(), "already freed by an earlier backward()");
  const kept = x.relu().sum();
  kept.backward({ retainGraph: true });
  kept.backward(); // the graph was retained once
  assertThrows(() => x.relu().backward(), "needs a one-element tensor");
  assertThrows(
    () => x.relu().backward({ gradient: Tensor.zeros([2]) }),
    "gradient is f32 [2], expected f32 [3]",
  );
});

Deno.test("view and reshape pass gradients through; −1 is inferred; bad shapes name both", async () => {
  const rng = new Generator(testSeed("view"));
  const data = random(rng, 2 * 3 * 4);
  const x = Tensor.from(data, [2, 3, 4], { requiresGrad: true });
  const flat = x.view(x.shape[0], -1);
  assertEquals(flat.shape, [2, 12]);
  const weight = Tensor.from(random(rng, 5 * 12), [5, 12]);
  F.linear(flat, weight, null).sum().backward();
  const w = await weight.read();
  const expected = Array.from({ length: 24 }, (_, i) => {
    let s = 0;
    for (let o = 0; o < 5; o++) s += w[o * 12 + (i % 12)];
    return s;
  });
  assertClose(await read64(x.grad!), expected, { atol: 1e-5, rtol: 1e-5 });
  assertThrows(() => x.view(5, -1), "cannot reshape [2, 3, 4] (24 elements) to [5, -1]");
  assertThrows(() => x.view(-1, -1), "cannot reshape");
});

Deno.test("tape gradients through linear and relu match finite differences", async () => {
  const rng = new Generator(testSeed("finite differences"));
  const [n, k, m] = [3, 5, 4];
  const x = random(rng, n * k);
  const w = random(rng, m * k);
  const c = random(rng, n * m);
  const loss64 = () => {
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < m; o++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += x[i * k + j] * w[o * k + j];
        total += Math.max(s, 0) * c[i * m + o];
      }
    }
    return total;
  };
  const wT = Tensor.from(w, [m, k], { requiresGrad: true });
  const y = F.relu(F.linear(upload(x, [n, k]), wT, null));
  y.backward({ gradient: upload(c, [n, m]) });
  assertClose(await read64(wT.grad!), numericGrad(w, loss64), { atol: 1e-4, rtol: 1e-3 });
});

/** BasicCNN's shape: one pool object applied twice, as the article writes it. */
class TwicePooled extends Module {
  lin: Linear = this.register("lin", new Linear(4, 4));
  pool: MaxPool2d = this.register("pool", new MaxPool2d(2, 2));

  forward(x: Tensor): Tensor {
    x = this.pool.forward(F.relu(x));
    x = this.pool.forward(x); // [N, 1, 8, 8] → [N, 1, 4, 4] → [N, 1, 2, 2]
    return this.lin.forward(x.view(x.shape[0], -1));
  }
}

Deno.test("one layer object called twice in a step gets both calls' gradients", async () => {
  const rng = new Generator(testSeed("called twice"));
  const model = new TwicePooled();
  const data = random(rng, 2 * 1 * 8 * 8);
  const x = Tensor.from(data, [2, 1, 8, 8], { requiresGrad: true });
  model.forward(x).sum().backward();
  const got = await read64(x.grad!);
  // The same network with two separate pool objects, as the reference.
  const twin = new TwicePooled();
  twin.loadStateDict(await model.stateDict());
  const pool2 = new MaxPool2d(2, 2);
  const x2 = Tensor.from(data, [2, 1, 8, 8], { requiresGrad: true });
  const h = pool2.forward(twin.pool.forward(F.relu(x2)));
  twin.lin.forward(h.view(2, -1)).sum().backward();
  assertEquals(Array.from(got), Array.from(await read64(x2.grad!)));
  assert(got.some((v) => v !== 0), "some gradient reaches x");
  // And a Linear used twice: d/dW of sum(W(W x)) is not twice either call's.
  const lin = new Linear(3, 3, { bias: false });
  const v = Tensor.from([1, 2, 3], [1, 3]);
  lin.forward(lin.forward(v)).sum().backward();
  const W = await lin.weight.data.read();
  const Wx = [0, 1, 2].map((o) => W[o * 3] + 2 * W[o * 3 + 1] + 3 * W[o * 3 + 2]);
  const colSum = [0, 1, 2].map((j) => W[j] + W[3 + j] + W[6 + j]);
  // y = W·(W·v): dy/dW[o, j] = (Wv)[j] (outer call) + colSum[o]·v[j] (inner call).
  const expected = [0, 1, 2].flatMap((o) => [0, 1, 2].map((j) => Wx[j] + colSum[o] * (j + 1)));
  assertClose(await read64(lin.weight.grad), expected, { atol: 1e-4, rtol: 1e-5 });
});

Deno.test("the article's ResnetLayer, written forward-only, has the right gradients", async () => {
  class ResnetLayer extends BnLayer {
    override forward(x: Tensor): Tensor {
      return x.add(super.forward(x));
    }
  }
  const rng = new Generator(testSeed("user ResnetLayer"));
  const layer = new ResnetLayer(4, 4, { stride: 1 });
  const data = random(rng, 2 * 4 * 5 * 5);
  const x = Tensor.from(data, [2, 4, 5, 5], { requiresGrad: true });
  const c = random(rng, 2 * 4 * 5 * 5);
  layer.forward(x).backward({ gradient: upload(c, [2, 4, 5, 5]) });
  // Residual: dx = c + dBnLayer/dx·c; the BnLayer part alone, from a twin without the add.
  const twin = new BnLayer(4, 4, { stride: 1 });
  twin.loadStateDict(await layer.stateDict());
  const x2 = Tensor.from(data, [2, 4, 5, 5], { requiresGrad: true });
  twin.forward(x2).backward({ gradient: upload(c, [2, 4, 5, 5]) });
  const inner = await read64(x2.grad!);
  assertClose(await read64(x.grad!), inner.map((v, i) => v + c[i]), { atol: 1e-5, rtol: 1e-5 });
  assertEquals(
    Array.from(await read64(layer.conv.weight.grad)),
    Array.from(await read64(twin.conv.weight.grad)),
    "the conv's gradient is the BnLayer's",
  );
});

Deno.test("op-made tensors live until the step after next; keep() holds one", async () => {
  const model = veryBasicNet({ seed: 1 });
  const x = Tensor.zeros([2, 3, 32, 32]);
  await noGrad(async () => {
    const first = model.forward(x); // each model call under noGrad begins a step
    const kept = model.forward(x).keep();
    await first.read(); // the previous step's output is still readable
    model.forward(x);
    await assertRejects(() => first.read(), "keep()");
    model.forward(x);
    model.forward(x);
    assertEquals((await kept.read()).length, 20, "kept survives");
    kept.dispose();
  });
  // In grad mode, top-level calls before a backward belong to one step: the graph stays whole.
  const a = model.forward(x);
  const b = model.forward(x);
  model.forward(x);
  a.add(b).sum().backward();
  model.zeroGrad(); // a new step
  await a.read();
  model.forward(x).sum().backward();
  model.zeroGrad(); // and another: a's step is released
  await assertRejects(() => a.read(), "released");
});

Deno.test("model calls in training mode that no backward uses warn once: use noGrad", () => {
  const model = veryBasicNet({ seed: 1 });
  const x = Tensor.zeros([2, 3, 32, 32]);
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (message: string) => warnings.push(message);
  try {
    for (let step = 0; step < 3; step++) { // a training loop: a backward per call, no warning
      model.zeroGrad();
      model.forward(x).sum().backward();
    }
    assertEquals(warnings, []);
    for (let i = 0; i < 40; i++) model.forward(x); // inference written without noGrad
    assertEquals(warnings.length, 1, warnings.join("\n"));
    assert(warnings[0].includes("16 model calls") && warnings[0].includes("noGrad"), warnings[0]);
  } finally {
    console.warn = warn;
    model.zeroGrad(); // a new step: the graphs go with the one after it
  }
});

Deno.test("a loop written as the article's keeps a constant count of live GPU buffers", async () => {
  const model = resnet([4, 8], 10, { seed: 2 });
  const optimizer = new Adam(model.parameters(), { lr: 0.003 });
  const lossFunc = new CrossEntropyLoss();
  const inputs = Tensor.zeros([2, 3, 8, 8]);
  const labels = Tensor.from([1, 2], [2], { dtype: "i32" });
  const live: number[] = [];
  for (let i = 0; i < 30; i++) {
    optimizer.zeroGrad();
    const outputs = model.forward(inputs);
    const loss = lossFunc.forward(outputs, labels);
    loss.backward();
    optimizer.step();
    await loss.item();
    live.push(bufferPool.stats().live);
  }
  const created = bufferPool.stats().created;
  for (let i = 0; i < 5; i++) {
    optimizer.zeroGrad();
    lossFunc.forward(model.forward(inputs), labels).backward();
    optimizer.step();
  }
  await lossFunc.forward(model.forward(inputs), labels).item();
  assertEquals(new Set(live.slice(5)).size, 1, `live buffers ${live.join(",")}`);
  assertEquals(bufferPool.stats().created, created, "steady-state steps create no buffer");
});

Deno.test("fit refuses an optimizer built for another model", async () => {
  const model = veryBasicNet({ seed: 1 });
  const other = veryBasicNet({ seed: 2 });
  const batches = [{
    images: Tensor.zeros([2, 3, 32, 32]),
    labels: Tensor.zeros([2], { dtype: "i32" }),
  }];
  await assertRejects(
    () => fit(model, batches, { optimizer: new Adam(other, { lr: 0.003 }), log: null }),
    'parameters (first "fc.weight") are not parameters of the model',
  );
});

Deno.test("labels outside [0, classes) are an error naming the value", () => {
  const scores = Tensor.zeros([2, 10], { requiresGrad: true });
  assertThrows(
    () => new CrossEntropyLoss().forward(scores, Tensor.from([3, 10], [2], { dtype: "i32" })),
    "label 10",
  );
  assertThrows(() => F.nllLoss(scores, Tensor.from([-1, 0], [2], { dtype: "i32" })), "label -1");
});

Deno.test("disposing a model's output leaves the model usable (issue 11, item 8)", async () => {
  const model = veryBasicNet({ seed: 3 });
  const x = Tensor.zeros([2, 3, 32, 32]);
  const first = model.forward(x);
  const before = await first.read();
  first.dispose();
  await assertRejects(() => first.read(), "was disposed");
  assertEquals(await model.forward(x).read(), before, "a new output, the same values");
});
