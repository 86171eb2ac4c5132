import { Generator, Tensor } from "../mod.ts";
import {
  basicCnn,
  basicNet,
  convBnNet,
  deepBnNet,
  resnet,
  veryBasicNet,
} from "../src/models/article.ts";
import { createModel, modelNames, registerModel } from "../src/models/registry.ts";
import { CrossEntropyLoss } from "../src/nn/loss.ts";
import type { BatchNorm2d } from "../src/nn/batch_norm2d.ts";
import { assert, assertClose, assertEquals, assertThrows, testSeed } from "./assert.ts";
import { read64, upload } from "./gpu.ts";
import { type Arr, refCrossEntropy, refModel, smoothNumericGrad } from "./reference/nn.ts";
import { ARTICLE_MODELS } from "../examples/article.ts";

const NAMES = ["very-basic-net", "basic-net", "basic-cnn", "conv-bn-net", "deep-bn-net", "resnet"];

Deno.test("the six factories have the article's exact parameter counts", () => {
  assertEquals(modelNames().slice(0, 6), NAMES);
  const counts = NAMES.map((name) => createModel(name).numParameters());
  assertEquals(counts, [30730, 123330, 62958, 39650, 462570, 1965066]);
  assertEquals(
    [veryBasicNet(), basicNet(), basicCnn(), convBnNet(), deepBnNet(), resnet()].map((m) =>
      m.numParameters()
    ),
    counts,
  );
  // The opt-in dropout adds no parameters.
  assertEquals(resnet(undefined, undefined, { dropout: true }).numParameters(), 1965066);
});

Deno.test("registry: unknown names list the known ones; registration is open", () => {
  assertThrows(() => createModel("resnet50"), "known: very-basic-net, basic-net");
  registerModel("tiny-conv-bn-net", (options) => convBnNet([4, 8], 3, options), "test model");
  assertEquals(
    createModel("tiny-conv-bn-net").numParameters(),
    3 * 4 * 25 + 4 + 4 * 8 * 9 + 16 + 27,
  );
  assertThrows(() => registerModel("tiny-conv-bn-net", () => resnet()), "already registered");
  assertThrows(() => registerModel("Bad Name", () => resnet()), "lower-case");
});

Deno.test("state dict names follow the article's PyTorch modules", async () => {
  const names = [...(await resnet().stateDict()).keys()];
  assertEquals(names.slice(0, 9), [
    "conv1.weight",
    "conv1.bias",
    "layers.0.conv.weight",
    "layers.0.bn.weight",
    "layers.0.bn.bias",
    "layers.0.bn.running_mean",
    "layers.0.bn.running_var",
    "layers.0.bn.num_batches_tracked",
    "layers.1.conv.weight",
  ]);
  assert(names.includes("layers2.3.conv.weight") && names.includes("layers3.0.bn.running_var"));
  assertEquals(names.slice(-2), ["out.weight", "out.bias"]);
  assertEquals(names.length, 2 + 12 * 6 + 2);
  assert(!names.some((n) => n.includes("dropout")), "Dropout2d has no state");
  assertEquals(
    [...(await convBnNet().stateDict()).keys()].filter((n) => n.endsWith("conv.weight")),
    ["layer.0.conv.weight", "layer.1.conv.weight", "layer.2.conv.weight"],
  );
  assertEquals(
    [...(await basicCnn().stateDict()).keys()],
    ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias"]
      .concat(["fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]),
  );
  assertEquals([...(await veryBasicNet().stateDict()).keys()], ["fc.weight", "fc.bias"]);
  assertEquals((await basicNet().stateDict()).get("fc1.weight")!.shape, [40, 3072]);
});

/** The `print(model)` blocks of the article, found by their first line. */
function articlePrint(text: string, first: string): string[] {
  const lines = text.split("\n").map((l) => l.trim());
  const start = lines.indexOf(first);
  assert(start >= 0, `the article prints ${first}`);
  const out: string[] = [];
  let depth = 0;
  for (const line of lines.slice(start)) {
    out.push(line);
    if (line.endsWith("(")) depth++;
    if (line === ")") depth--;
    if (depth === 0) break;
  }
  return out;
}

Deno.test("toString matches the article's print(model) for the BatchNorm models", async () => {
  const article = await Deno.readTextFile(
    new URL("../../shared/article/part1.ja.txt", import.meta.url),
  );
  // PyTorch ≥ 1.0 prints Dropout2d with `inplace=False`; the article's 2018 PyTorch did not.
  const modern = (lines: string[]) =>
    lines.map((l) => l.replace("Dropout2d(p=0.2)", "Dropout2d(p=0.2, inplace=False)"));
  for (
    const [first, model] of [["ConvBnNet(", convBnNet()], ["DeepBnNet(", deepBnNet()], [
      "Resnet(",
      resnet(),
    ]] as const
  ) {
    const printed = model.toString().split("\n");
    assertEquals(printed.map((l) => l.trim()), modern(articlePrint(article, first)), first);
  }
  // Indentation, exactly as PyTorch nests it.
  assertEquals(
    convBnNet([10, 20], 10).toString(),
    `ConvBnNet(
  (conv1): Conv2d(3, 10, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
  (layer): ModuleList(
    (0): BnLayer(
      (dropout): Dropout2d(p=0.2, inplace=False)
      (conv): Conv2d(10, 20, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)
      (bn): BatchNorm2d(20, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    )
  )
  (out): Linear(in_features=20, out_features=10, bias=True)
)`,
  );
  assertEquals(
    basicCnn().toString(),
    `BasicCNN(
  (conv1): Conv2d(3, 8, kernel_size=(5, 5), stride=(1, 1))
  (conv2): Conv2d(8, 16, kernel_size=(5, 5), stride=(1, 1))
  (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  (fc1): Linear(in_features=400, out_features=120, bias=True)
  (fc2): Linear(in_features=120, out_features=84, bias=True)
  (fc3): Linear(in_features=84, out_features=10, bias=True)
)`,
  );
});

/** Largest absolute value. */
function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

for (const name of NAMES) {
  Deno.test(`${name}: whole-model gradients match a float64 reference checked by finite differences`, async () => {
    const seed = testSeed(name);
    const rng = new Generator(seed);
    const model = createModel(name, { seed });
    const state = await model.stateDict();
    const ref = refModel(name, state);
    const n = 2;
    const shape = [n, 3, 32, 32];
    // Float32 and float64 can disagree about a ReLU or max-pool decision whose input lies within
    // rounding error of the switch; such inputs are redrawn, since gradients are compared where
    // they are defined by both.
    let x = new Float64Array(0);
    let refOut: Arr = { data: x, shape };
    for (let draw = 1; draw <= 10; draw++) {
      x = Float64Array.from({ length: n * 3 * 32 * 32 }, () => rng.uniform());
      refOut = ref.forward({ data: x, shape });
      if (ref.margin() >= 2e-6) break;
      assert(draw < 10, "an input away from every kink");
    }
    const labels = Int32Array.from({ length: n }, () => rng.int(10));
    const refLoss = refCrossEntropy(refOut, labels);
    ref.backward({ data: refLoss.grad, shape: refOut.shape });

    // GPU: one training step's forward and backward, as the article runs it.
    const lossFn = new CrossEntropyLoss();
    const out = model.forward(upload(x, shape));
    const loss = lossFn.forward(out, Tensor.from(labels, [n], { dtype: "i32" }));
    loss.backward();

    assertClose(await read64(out), refOut.data, { atol: 1e-4, rtol: 1e-3, message: "output" });
    assertClose(await read64(loss), [refLoss.loss], { atol: 1e-4, rtol: 1e-4, message: "loss" });
    const refParams = new Map(ref.params());
    assertEquals(model.namedParameters().map(([p]) => p).sort(), [...refParams.keys()].sort());
    for (const [pname, p] of model.namedParameters()) {
      const expected = refParams.get(pname)!.grad;
      if (Deno.env.get("DEBUG_ERR")) {
        const got = await read64(p.grad);
        let worst = 0;
        for (let i = 0; i < got.length; i++) {
          worst = Math.max(worst, Math.abs(got[i] - expected[i]));
        }
        console.log(pname, (worst / maxAbs(expected)).toExponential(2));
      }
      assertClose(await read64(p.grad), expected, {
        atol: 1e-3 * maxAbs(expected) + 1e-7,
        rtol: 1e-3,
        message: `${name} ${pname}.grad`,
      });
    }
    // The reference itself: its backprop against central differences of its loss, at random
    // entries of random parameter tensors. An entry where the loss has a kink within ±eps (a
    // ReLU or max-pool switch) is skipped for another; a wrong gradient is not a kink.
    const params = ref.params();
    const f = () => refCrossEntropy(ref.forward({ data: x, shape }), labels).loss;
    const f0 = f();
    let checked = 0;
    for (let attempt = 0; attempt < 30 && checked < 10; attempt++) {
      const [pname, p] = params[rng.int(params.length)];
      const j = rng.int(p.data.length);
      const numeric = smoothNumericGrad(f, f0, p.data, j);
      if (numeric === null) continue;
      assertClose([p.grad[j]], [numeric], {
        atol: 1e-7,
        rtol: 1e-3,
        message: `${name} reference ${pname}[${j}] vs finite difference`,
      });
      checked++;
    }
    assertEquals(checked, 10, "entries checked by finite differences");
  });
}

Deno.test("BatchNorm models: train and eval differ, eval uses the running statistics", async () => {
  const seed = testSeed("train vs eval");
  const rng = new Generator(seed);
  const model = convBnNet([10, 20, 40, 80], 10, { seed });
  const ref = refModel("conv-bn-net", await model.stateDict());
  const shape = [4, 3, 32, 32];
  const x = Float64Array.from({ length: 4 * 3 * 32 * 32 }, () => rng.uniform());
  const xT = upload(x, shape);
  // Three training steps' forwards move the running statistics, on both sides.
  for (let i = 0; i < 3; i++) {
    model.forward(xT);
    ref.forward({ data: x, shape });
  }
  const train = await read64(model.forward(xT));
  ref.forward({ data: x, shape });
  model.eval();
  ref.setTraining(false);
  const evalOut = await read64(model.forward(xT));
  assert(evalOut.some((v, i) => Math.abs(v - train[i]) > 1e-3), "eval output differs from train");
  assertClose(evalOut, ref.forward({ data: x, shape }).data, {
    atol: 1e-4,
    rtol: 1e-3,
    message: "eval forward = reference with its own running statistics",
  });
  const bn = model.layer.at(0).bn as BatchNorm2d;
  assertEquals(await bn.numBatchesTracked.read(), new Float32Array([4]));
  const before = (await model.stateDict()).get("layer.0.bn.running_mean")!.data;
  const again = await read64(model.forward(xT));
  assertEquals(again, evalOut, "eval is deterministic");
  assertEquals((await model.stateDict()).get("layer.0.bn.running_mean")!.data, before, "kept");
});

Deno.test("dropout: true applies each BnLayer's Dropout2d in training only", async () => {
  const seed = testSeed("dropout option");
  const plain = resnet([8, 16], 10, { seed });
  const dropped = resnet([8, 16], 10, { seed, dropout: true });
  const data = Float64Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => (i % 7) / 7);
  const x = upload(data, [2, 3, 16, 16]);
  plain.eval();
  dropped.eval();
  assertClose(await read64(dropped.forward(x)), await read64(plain.forward(x)), {
    atol: 0,
    rtol: 0,
    message: "eval ignores dropout",
  });
  plain.train();
  dropped.train();
  const a = await read64(plain.forward(x));
  const out = dropped.forward(x);
  const b = await read64(out);
  assert(a.some((v, i) => Math.abs(v - b[i]) > 1e-4), "training outputs differ");
  out.backward({ gradient: Tensor.full([2, 10], 0.1) }); // runs through the dropout backward
  for (const p of dropped.parameters()) {
    assert((await p.grad.read()).every(Number.isFinite), "finite gradients");
  }
});

Deno.test("the article's models written by hand as in examples/article.ts equal the factories", async () => {
  const rng = new Generator(testSeed("article transliteration"));
  const n = 3;
  const x = Float64Array.from({ length: n * 3 * 32 * 32 }, () => rng.uniform());
  const labels = Int32Array.from({ length: n }, () => rng.int(10));
  for (const name of NAMES) {
    const factory = createModel(name, { seed: 1 });
    const written = ARTICLE_MODELS[name]();
    written.loadStateDict(await factory.stateDict());
    assertEquals(written.toString(), factory.toString(), `${name} prints as the factory`);
    const grads = [];
    for (const model of [factory, written]) {
      model.zeroGrad();
      const out = model.forward(upload(x, [n, 3, 32, 32]));
      const loss = new CrossEntropyLoss().forward(out, Tensor.from(labels, [n], { dtype: "i32" }));
      loss.backward();
      grads.push({
        out: await out.read(),
        grads: await Promise.all(model.parameters().map((p) => p.grad.read())),
      });
    }
    const [f, w] = grads;
    assertEquals(w.out, f.out, `${name}: identical logits`);
    assertEquals(w.grads.length, f.grads.length);
    w.grads.forEach((g, i) => assertEquals(g, f.grads[i], `${name}: gradient ${i} bit-identical`));
  }
});
