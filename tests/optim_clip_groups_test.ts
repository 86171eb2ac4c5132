/**
 * Training aids: `clipGradNorm` (torch.nn.utils.clip_grad_norm_ on the GPU: the total norm and
 * the rescaled gradients against the float64 reference, over tensors of awkward sizes that span
 * several 4096-element chunks, with poisoned scratch) and `paramGroupsNoDecay` (which parameters
 * decay, and an SGD step that decays only those).
 */

import {
  BatchNorm1d,
  clipGradNorm,
  Generator,
  Linear,
  Module,
  Parameter,
  paramGroupsNoDecay,
  resnet,
  SGD,
  Tensor,
} from "../mod.ts";
import { assert, assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { assertThrowsBeforeGpuWork, dispatchedKernels, read64 } from "./gpu.ts";
import { clipGradNormRef } from "./reference/reduce.ts";

/** Parameters with fresh random gradients of the given sizes (magnitude `scale`). */
function withGrads(rng: Generator, sizes: number[], scale: number): [Parameter[], Float64Array[]] {
  const grads = sizes.map((n) =>
    Float64Array.from(randomArray(rng, n, -scale, scale), Math.fround)
  );
  const params = grads.map((g) => {
    const p = new Parameter(Tensor.zeros([g.length], { label: "Test.param" }));
    p.grad.write(Float32Array.from(g));
    return p;
  });
  return [params, grads];
}

Deno.test("clipGradNorm: total norm and clipped gradients vs reference, across chunks", async () => {
  const rng = new Generator(testSeed("clip grad norm"));
  const sizes = [1, 4096, 10_001, 37, 8192 + 5];
  for (const [scale, maxNorm] of [[1, 5], [0.001, 5], [3, 0.5], [1, 0]]) {
    const msg = `scale ${scale}, maxNorm ${maxNorm}`;
    const [params, grads] = withGrads(rng, sizes, scale);
    const kernels: string[] = [];
    let norm: Tensor | null = null;
    kernels.push(...dispatchedKernels(() => norm = clipGradNorm(params, maxNorm)));
    const ref = clipGradNormRef(grads, maxNorm);
    assertClose([await norm!.item()], [ref.norm], { atol: 0, rtol: 1e-5, message: msg });
    for (let i = 0; i < params.length; i++) {
      assertClose(await read64(params[i].grad), ref.clipped[i], {
        atol: 1e-9,
        rtol: 1e-5,
        message: `${msg}, gradient ${i}`,
      });
    }
    // One sum-of-squares dispatch and one rescale per tensor, one coefficient: no readback.
    const count = (label: string) => kernels.filter((k) => k === label).length;
    assertEquals(
      [count("Reduce.sumSquaresPartial"), count("Reduce.clipCoefficient")],
      [params.length, 1],
    );
    assertEquals(count("Reduce.scaleByScalarInPlace"), params.length, msg);
    for (const p of params) p.dispose();
  }
});

Deno.test("clipGradNorm on a model after backward; bad maxNorm is an error before GPU work", async () => {
  const model = new Linear(3, 2);
  const x = Tensor.from([1, 2, 3, -1, 0, 4], [2, 3]);
  model.forward(x).sum().mul(100).backward();
  const before = [await read64(model.weight.grad), await read64(model.bias!.grad)];
  const norm = clipGradNorm(model, 1);
  const ref = clipGradNormRef(before, 1);
  assertClose([await norm.item()], [ref.norm], { atol: 0, rtol: 1e-6 });
  assertClose(await read64(model.weight.grad), ref.clipped[0], { atol: 1e-7, rtol: 1e-5 });
  assert(ref.norm > 1, "the gradient was clipped");
  assertThrowsBeforeGpuWork(
    () => clipGradNorm(model, -1),
    "clipGradNorm: maxNorm must be a finite",
  );
  assertThrowsBeforeGpuWork(() => clipGradNorm(model, NaN), "got NaN");
});

Deno.test("paramGroupsNoDecay: conv and linear weights decay, BatchNorm parameters and biases not", async () => {
  const model = resnet();
  const groups = paramGroupsNoDecay(model, 5e-4);
  assertEquals(groups.map((g) => g.weightDecay), [5e-4, 0]);
  const names = groups.map((g) => [...g.params as Iterable<[string, Parameter]>].map(([n]) => n));
  assertEquals(names[0].length + names[1].length, model.namedParameters().length);
  for (const name of names[0]) {
    assert(name.endsWith(".weight") && !name.includes(".bn."), `${name} decays`);
  }
  for (const name of names[1]) {
    assert(name.endsWith(".bias") || name.includes(".bn."), `${name} does not decay`);
  }
  assert(names[0].includes("conv1.weight") && names[0].includes("out.weight"), names[0].join());
  assert(names[1].includes("layers.0.bn.weight") && names[1].includes("out.bias"));

  // An SGD step with zero gradients: decay alone, only where it applies.
  class Tiny extends Module {
    fc = this.register("fc", new Linear(2, 3));
    norm = this.register("norm", new BatchNorm1d(3));
    forward(x: Tensor): Tensor {
      return this.norm.forward(this.fc.forward(x));
    }
  }
  const tiny = new Tiny();
  const [w, b, gamma] = [tiny.fc.weight, tiny.fc.bias!, tiny.norm.weight];
  const start = await Promise.all([w, b, gamma].map((p) => read64(p.data)));
  const sgd = new SGD(paramGroupsNoDecay(tiny, 0.1), { lr: 0.5 });
  sgd.zeroGrad();
  sgd.step();
  const after = await Promise.all([w, b, gamma].map((p) => read64(p.data)));
  assertClose(after[0], start[0].map((v) => v * (1 - 0.5 * 0.1)), { atol: 1e-7, rtol: 1e-6 });
  assertEquals([...after[1]], [...start[1]], "the bias does not decay");
  assertEquals([...after[2]], [...start[2]], "BatchNorm's γ does not decay");
  // No BatchNorm and no bias: one group.
  assertEquals(paramGroupsNoDecay(new Linear(2, 2, { bias: false }), 1e-4).length, 1);
});
