import { assertClose } from "./assert.ts";
import { Generator } from "../mod.ts";
import {
  type Arr,
  numericGrad,
  RefBatchNorm2d,
  RefConv2d,
  refCrossEntropy,
  RefFlatten,
  RefGlobalPool,
  type RefLayer,
  RefLinear,
  RefLogSoftmax,
  RefMaxPool2d,
  refNllLoss,
  RefParam,
  RefReLU,
  RefResidual,
  RefSequential,
} from "./reference/nn.ts";

function random(rng: Generator, shape: number[]): Arr {
  const n = shape.reduce((a, b) => a * b, 1);
  return { data: Float64Array.from({ length: n }, () => rng.uniformRange(-1, 1)), shape };
}

function randomParam(rng: Generator, shape: number[]): RefParam {
  return new RefParam(random(rng, shape).data, shape);
}

/**
 * Checks a layer's backward (input and parameter gradients) against central differences of
 * L = Σ r·forward(x) for a fixed random r, at every input element and every parameter entry.
 */
function check(name: string, layer: RefLayer, x: Arr, rng: Generator): void {
  const y = layer.forward(x);
  const r = random(rng, y.shape);
  const loss = () => layer.forward(x).data.reduce((s, v, i) => s + v * r.data[i], 0);
  layer.forward(x);
  for (const [, p] of layer.params()) p.grad.fill(0);
  const dx = layer.backward(r).data;
  const numDx = x.data.map((_, i) => numericGrad(loss, x.data, i));
  assertClose(dx, numDx, { atol: 1e-7, rtol: 1e-5, message: `${name} dx` });
  for (const [pname, p] of layer.params()) {
    const num = p.data.map((_, i) => numericGrad(loss, p.data, i));
    assertClose(p.grad, num, { atol: 1e-7, rtol: 1e-5, message: `${name} ${pname}` });
  }
}

Deno.test("reference layers: backward matches finite differences", () => {
  const rng = new Generator(1);
  check(
    "linear",
    new RefLinear("fc", randomParam(rng, [3, 5]), randomParam(rng, [3])),
    random(rng, [2, 5]),
    rng,
  );
  check(
    "conv",
    new RefConv2d("c", randomParam(rng, [3, 2, 3, 3]), randomParam(rng, [3]), 2, 1),
    random(rng, [2, 2, 5, 6]),
    rng,
  );
  const bn = () =>
    new RefBatchNorm2d("bn", {
      weight: randomParam(rng, [3]),
      bias: randomParam(rng, [3]),
      runningMean: random(rng, [3]).data,
      runningVar: [0.5, 1, 2],
    });
  check("bn train", bn(), random(rng, [2, 3, 2, 3]), rng);
  const bnEval = bn();
  bnEval.setTraining(false);
  check("bn eval", bnEval, random(rng, [2, 3, 2, 3]), rng);
  check("relu", new RefReLU(), random(rng, [4, 7]), rng);
  check("maxpool", new RefMaxPool2d(2, 2), random(rng, [2, 2, 5, 4]), rng);
  check("maxpool overlapping", new RefMaxPool2d(3, 2), random(rng, [1, 2, 7, 5]), rng);
  check("avgpool", new RefGlobalPool("avg"), random(rng, [2, 3, 3, 2]), rng);
  check("maxpool1", new RefGlobalPool("max"), random(rng, [2, 3, 3, 2]), rng);
  check("logsoftmax", new RefLogSoftmax(), random(rng, [3, 5]), rng);
  check(
    "sequential + residual + flatten",
    new RefSequential([
      new RefResidual(new RefConv2d("c", randomParam(rng, [2, 2, 3, 3]), null, 1, 1)),
      new RefFlatten(),
      new RefLinear("fc", randomParam(rng, [3, 18]), null),
    ]),
    random(rng, [2, 2, 3, 3]),
    rng,
  );
});

Deno.test("reference losses: gradients match finite differences, CE on log-probs is unchanged", () => {
  const rng = new Generator(2);
  const x = random(rng, [4, 6]);
  const labels = [0, 5, 2, 2];
  const ce = refCrossEntropy(x, labels);
  const num = x.data.map((_, i) => numericGrad(() => refCrossEntropy(x, labels).loss, x.data, i));
  assertClose(ce.grad, num, { atol: 1e-8, rtol: 1e-6, message: "cross entropy" });
  const logProbs = new RefLogSoftmax().forward(x);
  const nll = refNllLoss(logProbs, labels);
  assertClose([nll.loss], [ce.loss], { atol: 1e-12, rtol: 1e-12, message: "nll of log_softmax" });
  const twice = refCrossEntropy(logProbs, labels);
  assertClose([twice.loss], [ce.loss], { atol: 1e-12, rtol: 1e-12, message: "CE of log-probs" });
  const numNll = logProbs.data.map((_, i) =>
    numericGrad(() => refNllLoss(logProbs, labels).loss, logProbs.data, i)
  );
  assertClose(nll.grad, numNll, { atol: 1e-8, rtol: 1e-6, message: "nll" });
});
