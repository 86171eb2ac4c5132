import { Generator, Tensor } from "../mod.ts";
import { CrossEntropyLoss, NLLLoss } from "../src/nn/loss.ts";
import { assertClose, assertThrows, testSeed } from "./assert.ts";
import { read64, upload } from "./gpu.ts";
import { refCrossEntropy, RefLogSoftmax, refNllLoss } from "./reference/nn.ts";

function randomLabels(rng: Generator, n: number, k: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(k));
}

Deno.test("CrossEntropyLoss and NLLLoss match the reference, with a running sum on the GPU", async () => {
  const rng = new Generator(testSeed("losses"));
  for (const [n, k] of [[3, 10], [33, 7], [1, 1000]]) {
    const data = Float64Array.from({ length: n * k }, () => rng.uniformRange(-4, 4));
    const labels = randomLabels(rng, n, k);
    const x = upload(data, [n, k]);
    const l = Tensor.from(labels, [n], { dtype: "i32" });
    const ce = new CrossEntropyLoss({ sum: true });
    const ref = refCrossEntropy({ data, shape: [n, k] }, labels);
    const loss = ce.forward(x, l);
    assertClose(await read64(loss), [ref.loss], { atol: 1e-5, rtol: 1e-5, message: "CE loss" });
    assertClose(await read64(ce.backward()), ref.grad, {
      atol: 1e-6,
      rtol: 1e-4,
      message: "CE grad",
    });
    ce.forward(x, l);
    assertClose(await read64(ce.lossSum!), [2 * ref.loss], {
      atol: 1e-5,
      rtol: 1e-5,
      message: "sum",
    });
    ce.resetSum();
    assertClose(await read64(ce.lossSum!), [0], { atol: 0, rtol: 0 });

    // The article feeds log_softmax outputs into CrossEntropyLoss: same loss, softmax − onehot.
    const logProbs = new RefLogSoftmax().forward({ data, shape: [n, k] });
    const lp = upload(logProbs.data, [n, k]);
    const twice = refCrossEntropy(logProbs, labels);
    assertClose(await read64(ce.forward(lp, l)), [twice.loss], { atol: 1e-5, rtol: 1e-5 });
    assertClose(await read64(ce.backward()), twice.grad, { atol: 1e-6, rtol: 1e-4 });

    const nll = new NLLLoss();
    const refNll = refNllLoss(logProbs, labels);
    assertClose(await read64(nll.forward(lp, l)), [refNll.loss], { atol: 1e-5, rtol: 1e-5 });
    assertClose(await read64(nll.backward()), refNll.grad, { atol: 1e-7, rtol: 1e-5 });
  }
});

Deno.test("losses reject bad inputs, naming the argument", () => {
  const ce = new CrossEntropyLoss();
  assertThrows(() => ce.backward(), "call forward first");
  assertThrows(() => ce.resetSum(), "without sum");
  const labels = Tensor.from([1, 2], [2], { dtype: "i32" });
  assertThrows(() => ce.forward(Tensor.zeros([3, 4]), labels), "CrossEntropyLoss.forward: labels");
  assertThrows(
    () => ce.forward(Tensor.zeros([2, 4, 1]), labels),
    "CrossEntropyLoss.forward: scores",
  );
  assertThrows(
    () =>
      new NLLLoss().forward(Tensor.zeros([2, 4]), Tensor.zeros([2]) as unknown as Tensor<"i32">),
    "labels has dtype f32",
  );
});
