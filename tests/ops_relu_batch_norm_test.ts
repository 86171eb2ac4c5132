/**
 * The ReLU fused into a training batch norm (conv → ReLU → BatchNorm, the article's BnLayer): the
 * kernels with `reluInput` against the float64 references on relu(x), and the fused op path bit
 * for bit against the unfused one (the ReLU written out first), forward and every gradient,
 * also when the ReLU's output is used again after the batch norm.
 */

import { Generator, Tensor } from "../mod.ts";
import { batchNormBackward, batchNormTrainForward } from "../src/kernels/batch_norm.ts";
import { batchNorm } from "../src/ops/batch_norm.ts";
import { conv2d } from "../src/ops/conv2d.ts";
import { add, relu } from "../src/ops/elementwise.ts";
import { assert, assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { dispatchedKernels, read64, upload } from "./gpu.ts";
import { f32, size } from "./numeric.ts";
import { batchNormBackwardRef, batchNormTrainForwardRef } from "./reference/batch_norm.ts";

Deno.test("batch norm kernels with reluInput match the references on relu(x), dx masked", async () => {
  const rng = new Generator(testSeed("batch norm reluInput"));
  // A plane of 63 elements (scalar passes), of 4 and of 256 (vec4 units).
  for (const shape of [[3, 5, 7, 9], [3, 5, 2, 2], [2, 3, 16, 16]]) {
    const c = shape[1];
    const x = f32(randomArray(rng, size(shape), -1.5, 1));
    const xRelu = x.map((v) => Math.max(v, 0));
    const gamma = f32(randomArray(rng, c, 0.5, 1.5));
    const beta = f32(randomArray(rng, c));
    const dy = f32(randomArray(rng, size(shape)));
    const ones = new Float64Array(c).fill(1);
    const zeros = new Float64Array(c);
    const ref = batchNormTrainForwardRef(xRelu, shape, gamma, beta, zeros, ones, 0.1, 1e-5);
    const [gx, gGamma] = [upload(x, shape), upload(gamma, [c])];
    const y = Tensor.empty(shape);
    const saveMean = Tensor.empty([c]);
    const saveInvStd = Tensor.empty([c]);
    const runningMean = Tensor.zeros([c]);
    const runningVar = Tensor.full([c], 1);
    batchNormTrainForward(
      gx,
      gGamma,
      upload(beta, [c]),
      runningMean,
      runningVar,
      y,
      saveMean,
      saveInvStd,
      { reluInput: true },
    );
    const msg = `shape [${shape}]`;
    const tol = { atol: 1e-4, rtol: 1e-4 };
    assertClose(await read64(saveMean), ref.saveMean, { ...tol, message: `mean ${msg}` });
    assertClose(await read64(runningVar), ref.runningVar, { ...tol, message: `var ${msg}` });
    assertClose(await read64(y), ref.y, { ...tol, message: `y ${msg}` });

    const dx = Tensor.empty(shape);
    const dGamma = Tensor.zeros([c]);
    const dBeta = Tensor.zeros([c]);
    const gdy = upload(dy, shape);
    batchNormBackward(gdy, gx, gGamma, saveMean, saveInvStd, dx, dGamma, dBeta, {
      reluInput: true,
    });
    const back = batchNormBackwardRef(dy, xRelu, shape, gamma, ref.saveMean, ref.saveInvStd);
    const masked = back.dx.map((v, i) => xRelu[i] > 0 ? v : 0);
    assertClose(await read64(dx), masked, { atol: 1e-4, rtol: 1e-3, message: `dx ${msg}` });
    assertClose(await read64(dGamma), back.dGamma, { atol: 1e-3, rtol: 1e-4, message: msg });
    assertClose(await read64(dBeta), back.dBeta, { atol: 1e-3, rtol: 1e-4, message: msg });
  }
});

/** Inputs of a conv → ReLU → BatchNorm block, fresh leaves each call, from the same values. */
function block(values: Record<string, Float64Array>, shapes: Record<string, number[]>) {
  const leaf = (name: string) =>
    Tensor.from(values[name], shapes[name], { label: `Test.${name}`, requiresGrad: true });
  return {
    x: leaf("x"),
    weight: leaf("weight"),
    gamma: leaf("gamma"),
    beta: leaf("beta"),
    runningMean: Tensor.zeros(shapes.gamma),
    runningVar: Tensor.full(shapes.gamma, 1),
  };
}

type Block = ReturnType<typeof block>;

/** Runs `forward` and a backward from `dy`; the dispatched kernels, y, and every gradient. */
async function run(b: Block, forward: (b: Block) => Tensor, dy: Float64Array) {
  let y: Tensor | null = null;
  const forwardKernels = dispatchedKernels(() => y = forward(b));
  const out = y!;
  const seed = Tensor.from(dy, out.shape);
  const backwardKernels = dispatchedKernels(() => out.backward({ gradient: seed }));
  const read = (t: Tensor) => t.read();
  return {
    forwardKernels,
    backwardKernels,
    values: {
      y: await out.read(),
      x: await read(b.x.grad!),
      weight: await read(b.weight.grad!),
      gamma: await read(b.gamma.grad!),
      beta: await read(b.beta.grad!),
      runningVar: await read(b.runningVar),
    },
  };
}

Deno.test("conv → relu → batchNorm: the fused path equals the unfused one bit for bit", async () => {
  const rng = new Generator(testSeed("relu batch norm fused"));
  for (const [n, c, h, w, o] of [[2, 3, 9, 7, 5], [3, 4, 4, 6, 6]]) {
    const shapes = { x: [n, c, h, w], weight: [o, c, 3, 3], gamma: [o], beta: [o] };
    const values = {
      x: f32(randomArray(rng, size(shapes.x))),
      weight: f32(randomArray(rng, size(shapes.weight))),
      gamma: f32(randomArray(rng, o, 0.5, 1.5)),
      beta: f32(randomArray(rng, o)),
    };
    const dy = f32(randomArray(rng, n * o * h * w));
    const bn = (b: Block, input: Tensor) =>
      batchNorm(input, b.runningMean, b.runningVar, b.gamma, b.beta, { training: true });
    const features = (b: Block) => relu(conv2d(b.x, b.weight, null, { padding: 1 }));
    // The unfused path: a view of the ReLU's output makes it written before the batch norm.
    const written = (b: Block) => {
      const a = features(b);
      return a.reshape(a.shape);
    };
    const cases: [string, (b: Block) => Tensor, (b: Block) => Tensor][] = [
      ["bn(relu(conv))", (b) => bn(b, features(b)), (b) => bn(b, written(b))],
      // The ReLU's output used again after the batch norm: written then, its node recorded then.
      ["bn(a) + a", (b) => {
        const a = features(b);
        return add(bn(b, a), a);
      }, (b) => {
        const a = written(b);
        return add(bn(b, a), a);
      }],
    ];
    for (const [name, fusedForward, unfusedForward] of cases) {
      const fused = await run(block(values, shapes), fusedForward, dy);
      const unfused = await run(block(values, shapes), unfusedForward, dy);
      const msg = `${name} [${shapes.x}]`;
      for (const key of Object.keys(fused.values) as (keyof typeof fused.values)[]) {
        assertEquals(fused.values[key], unfused.values[key], `${key} of ${msg}`);
      }
      assert(unfused.forwardKernels.includes("Elementwise.relu"), msg);
      assert(unfused.backwardKernels.includes("Elementwise.reluBackward"), msg);
      if (name === "bn(relu(conv))") {
        assert(
          !fused.forwardKernels.includes("Elementwise.relu"),
          `${msg}: ${fused.forwardKernels}`,
        );
        assert(!fused.backwardKernels.includes("Elementwise.reluBackward"), msg);
      }
    }
  }
});
