/**
 * The ReLU of a conv fused into its consumer, a training batch norm (the article's BnLayer) or a
 * max pool (BasicCNN): the kernels with `reluInput` against the float64 references on relu(x),
 * and the fused op path bit for bit against the unfused one (the ReLU written out first), forward
 * and every gradient, also when the ReLU's output is used again afterwards.
 */

import { Generator, Tensor } from "../mod.ts";
import { batchNormBackward, batchNormTrainForward } from "../src/kernels/batch_norm.ts";
import { maxPool2dBackward, maxPool2dForward } from "../src/kernels/pool.ts";
import { batchNorm } from "../src/ops/batch_norm.ts";
import { conv2d } from "../src/ops/conv2d.ts";
import { add, relu } from "../src/ops/elementwise.ts";
import { maxPool2d } from "../src/ops/pool.ts";
import { assert, assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { dispatchedKernels, read64, upload } from "./gpu.ts";
import { f32, size } from "./numeric.ts";
import { batchNormBackwardRef, batchNormTrainForwardRef } from "./reference/batch_norm.ts";
import { maxPool2dBackwardRef, maxPool2dRef } from "./reference/pool.ts";

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

Deno.test("max pool kernels with reluInput match the references on relu(x)", async () => {
  const rng = new Generator(testSeed("max pool reluInput"));
  // Windows of 2 and 3 (overlapping), planes wholly negative in places.
  for (const [shape, kernel, stride] of [[[2, 3, 7, 6], 2, 2], [[3, 2, 9, 5], 3, 2]] as const) {
    const x = f32(randomArray(rng, size(shape), -1.5, 0.5));
    // The first window of the first plane wholly < 0, so some output is a ReLU's zero.
    for (let r = 0; r < kernel; r++) {
      for (let col = 0; col < kernel; col++) x[r * shape[3] + col] = -0.25 - 0.1 * col;
    }
    const xRelu = x.map((v) => Math.max(v, 0));
    const ref = maxPool2dRef(xRelu, shape, kernel, stride);
    const y = Tensor.empty(ref.outShape);
    const argmax = Tensor.empty(ref.outShape, { dtype: "i32" });
    const gx = upload(x, shape);
    maxPool2dForward(gx, y, argmax, { kernel, stride, reluInput: true });
    const msg = `[${shape}] ${kernel}/${stride}`;
    assertEquals(await y.read(), Float32Array.from(ref.y), `y ${msg}`);
    const dy = f32(randomArray(rng, ref.y.length));
    const dx = Tensor.empty(shape);
    maxPool2dBackward(upload(dy, ref.outShape), argmax, dx);
    const outPlane = ref.outShape[2] * ref.outShape[3];
    const back = maxPool2dBackwardRef(dy, ref.argmax, outPlane, shape);
    const masked = back.map((v, i) => xRelu[i] > 0 ? v : 0);
    assertClose(await read64(dx), masked, { atol: 1e-6, rtol: 1e-6, message: `dx ${msg}` });
    assert(ref.y.some((v) => v === 0), `${msg}: no window is wholly ≤ 0`);
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
  const seed = Tensor.from(dy.subarray(0, out.size), out.shape);
  const backwardKernels = dispatchedKernels(() => out.backward({ gradient: seed }));
  const read = (t: Tensor | null) => t ? t.read() : null; // no gradient: not in the block
  return {
    forwardKernels,
    backwardKernels,
    values: {
      y: await out.read(),
      x: await read(b.x.grad),
      weight: await read(b.weight.grad),
      gamma: await read(b.gamma.grad),
      beta: await read(b.beta.grad),
      runningVar: await read(b.runningVar),
    },
  };
}

Deno.test("conv → relu → batchNorm / maxPool2d: fused paths equal unfused ones bit for bit", async () => {
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
    const pool = (a: Tensor) => maxPool2d(a, 2);
    const cases: [string, (b: Block) => Tensor, (b: Block) => Tensor][] = [
      ["bn(relu(conv))", (b) => bn(b, features(b)), (b) => bn(b, written(b))],
      ["pool(relu(conv))", (b) => pool(features(b)), (b) => pool(written(b))],
      // Two consumers that both fuse: each records its node on the conv's output.
      ["pool(a) + pool(a)", (b) => {
        const a = features(b);
        return add(pool(a), pool(a));
      }, (b) => {
        const a = written(b);
        return add(pool(a), pool(a));
      }],
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
      if (name !== "bn(a) + a") {
        assert(
          !fused.forwardKernels.includes("Elementwise.relu"),
          `${msg}: ${fused.forwardKernels}`,
        );
        assert(!fused.backwardKernels.includes("Elementwise.reluBackward"), msg);
      }
    }
  }
});

Deno.test("a deferred ReLU read directly, or backward from it, is written first", async () => {
  const rng = new Generator(testSeed("relu deferred root"));
  const shapes = { x: [2, 3, 6, 5], weight: [4, 3, 3, 3], gamma: [4], beta: [4] };
  const values = {
    x: f32(randomArray(rng, size(shapes.x))),
    weight: f32(randomArray(rng, size(shapes.weight))),
    gamma: f32(randomArray(rng, 4)),
    beta: f32(randomArray(rng, 4)),
  };
  const dy = f32(randomArray(rng, 2 * 4 * 6 * 5));
  const features = (b: Block) => relu(conv2d(b.x, b.weight, null, { padding: 1 }));
  const deferred = await run(block(values, shapes), features, dy);
  const written = await run(block(values, shapes), (b) => {
    const a = features(b);
    return a.reshape(a.shape);
  }, dy);
  assertEquals(deferred.values.y, written.values.y, "y");
  assert(deferred.values.y.some((v) => v === 0) && deferred.values.y.every((v) => v >= 0));
  assertEquals(deferred.values.x, written.values.x, "dx");
  assertEquals(deferred.values.weight, written.values.weight, "dW");
  // Backward from the ReLU's output writes it (and records its node) as it starts.
  assert(!deferred.forwardKernels.includes("Elementwise.relu"), `${deferred.forwardKernels}`);
  assert(deferred.backwardKernels.includes("Elementwise.relu"), `${deferred.backwardKernels}`);
  // A read writes it too.
  assertEquals(await features(block(values, shapes)).read(), written.values.y, "read");
});
