/**
 * The loss modules (`CrossEntropyLoss`, `NLLLoss`) through the tape: `forward(scores, labels)`
 * returns a recorded loss, `loss.backward()` leaves the reference gradient in the scores' leaf,
 * and bad inputs name the argument or the label value.
 */

import { Generator, Tensor } from "../mod.ts";
import { CrossEntropyLoss, NLLLoss } from "../src/nn/loss.ts";
import { assert, assertClose, assertEquals, assertThrows, testSeed } from "./assert.ts";
import { read64 } from "./gpu.ts";
import { refCrossEntropy, RefLogSoftmax, refNllLoss } from "./reference/nn.ts";

function randomLabels(rng: Generator, n: number, k: number): Int32Array {
  return Int32Array.from({ length: n }, () => rng.int(k));
}

/** The gradient `backward` left in a leaf, as float64. */
function gradOf(t: Tensor): Promise<Float64Array> {
  assert(t.grad, `${t.label} has a gradient`);
  return read64(t.grad);
}

Deno.test("CrossEntropyLoss and NLLLoss: loss and loss.backward() match the reference", async () => {
  const rng = new Generator(testSeed("losses"));
  const ce = new CrossEntropyLoss();
  const nll = new NLLLoss();
  for (const [n, k] of [[3, 10], [33, 7], [1, 1000]]) {
    const data = Float64Array.from({ length: n * k }, () => rng.uniformRange(-4, 4));
    const labels = randomLabels(rng, n, k);
    const l = Tensor.from(labels, [n], { dtype: "i32" });
    const x = Tensor.from(data, [n, k], { requiresGrad: true });
    const ref = refCrossEntropy({ data, shape: [n, k] }, labels);
    const loss = ce.forward(x, l);
    assertClose([await loss.item()], [ref.loss], { atol: 1e-5, rtol: 1e-5, message: "CE loss" });
    loss.backward();
    assertClose(await gradOf(x), ref.grad, { atol: 1e-6, rtol: 1e-4, message: "CE grad" });

    // The article feeds log_softmax outputs into CrossEntropyLoss: same loss, softmax − onehot.
    const logProbs = new RefLogSoftmax().forward({ data, shape: [n, k] });
    const lp = Tensor.from(logProbs.data, [n, k], { requiresGrad: true });
    const twice = refCrossEntropy(logProbs, labels);
    const again = ce.forward(lp, l);
    assertClose([await again.item()], [twice.loss], { atol: 1e-5, rtol: 1e-5 });
    again.backward();
    assertClose(await gradOf(lp), twice.grad, { atol: 1e-6, rtol: 1e-4 });

    lp.grad!.fill(0);
    const refNll = refNllLoss(logProbs, labels);
    const nllLoss = nll.forward(lp, l);
    assertClose([await nllLoss.item()], [refNll.loss], { atol: 1e-5, rtol: 1e-5 });
    nllLoss.backward();
    assertClose(await gradOf(lp), refNll.grad, { atol: 1e-7, rtol: 1e-5 });
  }
  assertEquals([ce.toString(), nll.toString()], ["CrossEntropyLoss()", "NLLLoss()"]);
});

Deno.test("losses reject bad inputs, naming the argument or the label", () => {
  const ce = new CrossEntropyLoss();
  const labels = Tensor.from([1, 2], [2], { dtype: "i32" });
  assertThrows(() => ce.forward(Tensor.zeros([3, 4]), labels), "crossEntropy: labels has shape");
  assertThrows(() => ce.forward(Tensor.zeros([2, 4, 1]), labels), "crossEntropy: logits");
  assertThrows(
    () =>
      new NLLLoss().forward(Tensor.zeros([2, 4]), Tensor.zeros([2]) as unknown as Tensor<"i32">),
    "labels has dtype f32",
  );
  assertThrows(
    () => ce.forward(Tensor.zeros([2, 2]), labels),
    "crossEntropy: label 2 is outside [0, 2) (labels must be class indices)",
  );
});
