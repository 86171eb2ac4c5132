/**
 * BatchNorm1d on `[N, C]` and `[N, C, L]` (the batch-norm op viewing them as `[N, C, L, 1]`):
 * training and eval forward, running statistics, and tape gradients against the float64
 * reference (tests/reference/batch_norm.ts on that view) and finite differences; PyTorch's names
 * and printing; shapes it does not take are errors naming them.
 */

import { BatchNorm1d, BatchNorm2d, BatchNormBase, F, Generator, Tensor } from "../mod.ts";
import { assert, assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { assertThrowsBeforeGpuWork, read64 } from "./gpu.ts";
import { dot, f32, numericGrad, size } from "./numeric.ts";
import {
  batchNormBackwardRef,
  batchNormEvalForwardRef,
  batchNormTrainForwardRef,
} from "./reference/batch_norm.ts";

const FORWARD = { atol: 1e-5, rtol: 1e-4 };
const BACKWARD = { atol: 1e-4, rtol: 1e-3 };

Deno.test("BatchNorm1d: [N, C] and [N, C, L] in training and eval vs reference, tape gradients", async () => {
  const rng = new Generator(testSeed("batch norm 1d"));
  for (const shape of [[7, 5], [3, 4, 6], [2, 3, 1], [33, 1]]) {
    const [n, c, l = 1] = shape;
    const view = [n, c, l, 1];
    const msg = `[${shape}]`;
    const bn = new BatchNorm1d(c, { momentum: 0.3 });
    const gamma = f32(randomArray(rng, c, 0.5, 1.5));
    const beta = f32(randomArray(rng, c));
    bn.weight.data.write(Float32Array.from(gamma));
    bn.bias.data.write(Float32Array.from(beta));
    const x = f32(randomArray(rng, size(shape), -2, 3));
    const xT = Tensor.from(x, shape, { requiresGrad: true });
    const y = bn.forward(xT);
    assertEquals(y.shape, shape);
    const forward = () =>
      batchNormTrainForwardRef(
        x,
        view,
        gamma,
        beta,
        new Float64Array(c),
        new Float64Array(c).fill(1),
        0.3,
      );
    const ref = forward();
    assertClose(await read64(y), ref.y, { ...FORWARD, message: `y ${msg}` });
    assertClose(await read64(bn.runningMean), ref.runningMean, FORWARD);
    assertClose(await read64(bn.runningVar), ref.runningVar, FORWARD);

    const dy = f32(randomArray(rng, size(shape)));
    y.backward({ gradient: Tensor.from(dy, shape) });
    const back = batchNormBackwardRef(dy, x, view, gamma, ref.saveMean, ref.saveInvStd);
    assertClose(await read64(xT.grad!), back.dx, { ...BACKWARD, message: `dx ${msg}` });
    assertClose(await read64(bn.weight.grad), back.dGamma, { ...BACKWARD, message: `dγ ${msg}` });
    assertClose(await read64(bn.bias.grad), back.dBeta, { ...BACKWARD, message: `dβ ${msg}` });
    if (x.length <= 24) {
      const fd = numericGrad(x, () => dot(dy, forward().y));
      assertClose(await read64(xT.grad!), fd, { ...BACKWARD, message: `f.d. ${msg}` });
    }

    bn.eval();
    const z = bn.forward(xT);
    const evalRef = batchNormEvalForwardRef(x, view, gamma, beta, ref.runningMean, ref.runningVar);
    assertClose(await read64(z), evalRef, { ...FORWARD, message: `eval ${msg}` });
  }
});

Deno.test("BatchNorm1d: PyTorch's state-dict names and printing; bad shapes name themselves", async () => {
  const bn = new BatchNorm1d(4);
  assert(bn instanceof BatchNormBase && new BatchNorm2d(4) instanceof BatchNormBase);
  assertEquals(
    bn.toString(),
    "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
  );
  bn.forward(Tensor.from(randomArray(new Generator(1), 8), [2, 4]));
  const state = await bn.stateDict();
  assertEquals([...state.keys()], [
    "weight",
    "bias",
    "running_mean",
    "running_var",
    "num_batches_tracked",
  ]);
  assertEquals([...state.get("num_batches_tracked")!.data], [1]);
  assertEquals(bn.weight.data.label, "BatchNorm1d.weight");
  const [image, wrongC, single, vector] = [
    Tensor.zeros([2, 4, 3, 3]),
    Tensor.zeros([2, 5]),
    Tensor.zeros([1, 4]),
    Tensor.zeros([4]),
  ];
  const [rm, rv, w, b] = [
    Tensor.zeros([4]),
    Tensor.full([4], 1),
    Tensor.full([4], 1),
    Tensor.zeros([4]),
  ];
  for (
    const [fn, message] of [
      [() => bn.forward(image), "BatchNorm1d.forward: x has shape [2, 4, 3, 3], expected [N, 4]"],
      [() => bn.forward(wrongC), "BatchNorm1d.forward: x has shape [2, 5], expected [N, 4] or"],
      [() => bn.forward(single), "batchNorm: x has shape [1, 4]: training needs more than one"],
      [() => new BatchNorm1d(0), "BatchNorm1d: numFeatures must be ≥ 1, got 0"],
      [() => F.batchNorm(vector, rm, rv, w, b), "batchNorm: x has shape [4], expected [N, C],"],
    ] as [() => unknown, string][]
  ) assertThrowsBeforeGpuWork(fn, message);
});
