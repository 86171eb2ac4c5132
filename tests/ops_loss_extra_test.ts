/**
 * The losses a PyTorch user expects beyond the article's: MSELoss and BCEWithLogitsLoss (mean
 * reduction; gradients to the input and to the target), and CrossEntropyLoss's label smoothing
 * (PyTorch's formula), through `loss.backward()` against the float64 references
 * (tests/reference/loss.ts) and finite differences, on fresh random inputs.
 */

import {
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  F,
  Generator,
  type Loss,
  MSELoss,
  Tensor,
} from "../mod.ts";
import { crossEntropy as crossEntropyKernel } from "../gpu.ts";
import { assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { assertThrowsBeforeGpuWork, read64 } from "./gpu.ts";
import { f32, numericGrad, size } from "./numeric.ts";
import { bceWithLogitsRef, crossEntropy, mseLossRef } from "./reference/loss.ts";

const LOSS = { atol: 1e-6, rtol: 1e-5 };
const GRAD = { atol: 1e-7, rtol: 1e-5 };
const FD = { atol: 1e-6, rtol: 1e-4 };

Deno.test("MSELoss and BCEWithLogitsLoss: loss, both gradients, finite differences", async () => {
  const rng = new Generator(testSeed("pointwise losses"));
  const kinds: [string, Loss<Tensor>, typeof mseLossRef, number][] = [
    ["mse", new MSELoss(), mseLossRef, 3],
    ["bce", new BCEWithLogitsLoss(), bceWithLogitsRef, 30], // logits far into both tails
  ];
  for (const [name, lossFn, ref, spread] of kinds) {
    for (const shape of [[1], [7, 3], [2, 5, 33], [70_001]]) {
      const msg = `${name} [${shape}]`;
      const x = f32(randomArray(rng, size(shape), -spread, spread));
      const t = f32(randomArray(rng, size(shape), 0, 1));
      const xT = Tensor.from(x, shape, { requiresGrad: true });
      const tT = Tensor.from(t, shape, { requiresGrad: true });
      const loss = lossFn.forward(xT, tT);
      const expected = ref(x, t);
      assertEquals(loss.shape, [1]);
      assertClose([await loss.item()], [expected.loss], { ...LOSS, message: msg });
      // Scaled by 2.5 on the way back: the backward multiplies by its output gradient.
      loss.mul(2.5).backward();
      const scaled = (g: Float64Array) => g.map((v) => 2.5 * v);
      assertClose(await read64(xT.grad!), scaled(expected.dInput), { ...GRAD, message: msg });
      assertClose(await read64(tT.grad!), scaled(expected.dTarget), { ...GRAD, message: msg });
      if (x.length <= 21) {
        const fdX = numericGrad(x, () => 2.5 * ref(x, t).loss);
        const fdT = numericGrad(t, () => 2.5 * ref(x, t).loss);
        assertClose(await read64(xT.grad!), fdX, { ...FD, message: `f.d. input ${msg}` });
        assertClose(await read64(tT.grad!), fdT, { ...FD, message: `f.d. target ${msg}` });
      }
    }
  }
  // A target that needs no gradient gets none computed, and printing is PyTorch's.
  const x = Tensor.from([0.5, -1], [2], { requiresGrad: true });
  F.mseLoss(x, Tensor.from([1, 1], [2])).backward();
  assertClose(await read64(x.grad!), [-0.5, -2], GRAD);
  assertEquals([`${new MSELoss()}`, `${new BCEWithLogitsLoss()}`], [
    "MSELoss()",
    "BCEWithLogitsLoss()",
  ]);
});

Deno.test("CrossEntropyLoss label smoothing: PyTorch's formula, gradients, finite differences", async () => {
  const rng = new Generator(testSeed("label smoothing"));
  for (const [n, k, eps] of [[5, 10, 0.1], [33, 7, 0.25], [1, 1, 0.1], [2, 300, 1], [4, 3, 0]]) {
    const msg = `[${n}, ${k}] ε ${eps}`;
    const x = f32(randomArray(rng, n * k, -4, 4));
    const labels = Int32Array.from({ length: n }, () => rng.int(k));
    const labelsT = Tensor.from(labels, [n], { dtype: "i32" });
    const xT = Tensor.from(x, [n, k], { requiresGrad: true });
    const lossFn = new CrossEntropyLoss({ labelSmoothing: eps });
    const loss = lossFn.forward(xT, labelsT);
    const ref = crossEntropy(x, labels, n, k, eps);
    assertClose([await loss.item()], [ref.loss], { ...LOSS, message: msg });
    loss.backward();
    assertClose(await read64(xT.grad!), ref.dLogits, { ...GRAD, message: msg });
    if (n * k <= 300) {
      const fd = numericGrad(x, () => crossEntropy(x, labels, n, k, eps).loss);
      assertClose(await read64(xT.grad!), fd, { ...FD, message: `f.d. ${msg}` });
    }
  }
  // The formula by hand: logits [0, ln 3] and label 1, ε = 0.1: p = [1/4, 3/4];
  // loss = 0.95·(−ln 3/4) + 0.05·(−ln 1/4).
  const handLoss = F.crossEntropy(
    Tensor.from([0, Math.log(3)], [1, 2]),
    Tensor.from([1], [1], { dtype: "i32" }),
    { labelSmoothing: 0.1 },
  );
  assertClose([await handLoss.item()], [-0.95 * Math.log(0.75) - 0.05 * Math.log(0.25)], LOSS);
  assertEquals(
    `${new CrossEntropyLoss({ labelSmoothing: 0.1 })}`,
    "CrossEntropyLoss(label_smoothing=0.1)",
  );
  assertEquals(`${new CrossEntropyLoss()}`, "CrossEntropyLoss()");
});

Deno.test("loss options and shapes: errors naming the value, before GPU work", () => {
  const scores = Tensor.zeros([2, 3], { requiresGrad: true });
  const labels = Tensor.from([0, 2], [2], { dtype: "i32" });
  const [loss, dLogits] = [Tensor.empty([1]), Tensor.empty([2, 3])];
  const [short, empty] = [Tensor.zeros([2]), Tensor.zeros([0, 3])];
  const ints = Tensor.zeros([2, 3], { dtype: "i32" }) as unknown as Tensor;
  for (
    const [fn, message] of [
      [
        () => new CrossEntropyLoss({ labelSmoothing: 1.5 }),
        "CrossEntropyLoss: labelSmoothing must",
      ],
      [
        () => F.crossEntropy(scores, labels, { labelSmoothing: -0.1 }),
        "crossEntropy: labelSmoothing must be in [0, 1], got -0.1",
      ],
      [
        () => crossEntropyKernel(scores, labels, loss, dLogits, { labelSmoothing: NaN }),
        "Loss.crossEntropy: labelSmoothing must be in [0, 1], got NaN",
      ],
      [() => F.mseLoss(scores, short), "mseLoss: target has shape [2], expected [2, 3]"],
      [() => F.binaryCrossEntropyWithLogits(empty, empty), "has shape [0, 3], no element"],
      [() => new MSELoss().forward(scores, ints), "mseLoss: target has dtype i32, expected f32"],
    ] as [() => unknown, string][]
  ) assertThrowsBeforeGpuWork(fn, message);
});
