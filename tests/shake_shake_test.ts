import { Generator, Tensor } from "../mod.ts";
import { noGrad } from "../src/autograd.ts";
import { sgdStep } from "../src/kernels/optim.ts";
import { createModel, modelNames } from "../src/models/registry.ts";
import { ShakeShake26, shakeShake26 } from "../src/models/shake_shake.ts";
import { BatchNorm2d } from "../src/nn/batch_norm2d.ts";
import type { Module } from "../src/nn/module.ts";
import { DownsamplingShortcut, type ShakeMode, ShakeShakeBlock } from "../src/nn/shake_shake.ts";
import * as F from "../src/ops/functional.ts";
import {
  assert,
  assertClose,
  assertEquals,
  assertThrows,
  randomArray,
  testSeed,
} from "./assert.ts";
import { read64, upload } from "./gpu.ts";
import { dot } from "./numeric.ts";
import {
  type Arr,
  numericGrad,
  refCrossEntropy,
  type RefLayer,
  type RefState,
} from "./reference/nn.ts";
import {
  refDownsamplingShortcut,
  refShakeShake26,
  RefShakeShakeBlock,
} from "./reference/shake_shake.ts";

const FORWARD = { atol: 1e-4, rtol: 1e-3 };
const BACKWARD = { atol: 2e-4, rtol: 2e-3 };

function random(rng: Generator, shape: number[], lo = -1, hi = 1): Arr {
  return { data: randomArray(rng, shape.reduce((a, b) => a * b, 1), lo, hi), shape };
}

function uniform(rng: Generator, n: number): Float64Array {
  return Float64Array.from({ length: n }, () => rng.uniform());
}

/** Random BatchNorm γ in [0.5, 1.5) and β in [−0.5, 0.5), so the affine part is exercised. */
function randomizeBatchNorms(module: Module, rng: Generator): void {
  for (const [, m] of module.namedModules()) {
    if (!(m instanceof BatchNorm2d)) continue;
    m.weight.data.write(random(rng, [m.numFeatures], 0.5, 1.5).data);
    m.bias.data.write(random(rng, [m.numFeatures], -0.5, 0.5).data);
  }
}

async function stateOf(module: Module): Promise<RefState> {
  return await module.stateDict();
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Compares every parameter gradient of `gpu` with the sum of the gradients of the same name in
 * `refs` (one reference per call of the GPU module).
 */
async function compareGrads(label: string, gpu: Module, ...refs: RefLayer[]): Promise<void> {
  const refParams = refs.map((ref) => new Map(ref.params()));
  const names = gpu.namedParameters().map(([n]) => n);
  assertEquals(names.toSorted(), [...refParams[0].keys()].toSorted(), `${label} parameter names`);
  for (const [name, p] of gpu.namedParameters()) {
    const expected = new Float64Array(p.grad.size);
    for (const params of refParams) {
      params.get(name)!.grad.forEach((g, i) => expected[i] += g);
    }
    assertClose(await read64(p.grad), expected, { ...BACKWARD, message: `${label} ${name}.grad` });
  }
}

/** Uploads `x` as a leaf that requires a gradient (its `grad` receives dx). */
function leaf(x: Arr): Tensor {
  return Tensor.from(x.data, x.shape, { requiresGrad: true, label: "Test.x" });
}

/** Back-propagates `dy` (uploaded) from `y` and returns the gradient of the leaf `x`. */
async function gradientOf(x: Tensor, y: Tensor, dy: Arr): Promise<Float64Array> {
  const gradient = upload(dy.data, dy.shape);
  y.backward({ gradient });
  gradient.dispose();
  return await read64(x.grad!);
}

/** Frees a leaf made by {@link leaf} and its gradient. */
function disposeLeaf(x: Tensor): void {
  x.grad?.dispose();
  x.dispose();
}

// [x shape, out channels, stride]: identity shortcut, downsampling on odd sizes (the shifted
// flow's zero fill and ⌈H/2⌉ rows), and a width change at stride 1 (stage 1's first block).
const BLOCK_CASES: [number[], number, number][] = [
  [[2, 3, 5, 7], 3, 1],
  [[3, 3, 7, 5], 6, 2],
  [[2, 2, 6, 6], 4, 1],
];

Deno.test("reference: block backward with β = α is the gradient of its forward", () => {
  // CPU only: a random float64 state with the GPU block's names.
  const rng = new Generator(testSeed("shake reference"));
  for (const shift of ["pytorch", "lua"] as const) {
    for (const [shape, out, stride] of BLOCK_CASES) {
      checkBlockGradient(rng, shape, out, stride, shift);
    }
  }
});

/** The reference block's backward (β = α) against central differences of its forward. */
function checkBlockGradient(
  rng: Generator,
  shape: number[],
  out: number,
  stride: number,
  shift: "pytorch" | "lua",
): void {
  const state = cpuBlockState(rng, shape[1], out, stride);
  const ref = new RefShakeShakeBlock(state, "b", stride, shift);
  ref.alpha = uniform(rng, shape[0]);
  ref.beta = ref.alpha;
  const x = random(rng, shape);
  const y0 = ref.forward(x);
  const w = random(rng, y0.shape).data;
  const loss = () => dot(w, ref.forward(x).data);
  ref.forward(x);
  const dx = ref.backward({ data: w, shape: y0.shape }).data;
  for (let i = 0; i < x.data.length; i += 3) {
    const fd = numericGrad(loss, x.data, i);
    assertClose([dx[i]], [fd], {
      atol: 1e-6,
      rtol: 1e-5,
      message: `dx[${i}] [${shape}] ${shift}`,
    });
  }
  for (const [name, p] of ref.params()) {
    for (let i = 0; i < p.data.length; i += 5) {
      const fd = numericGrad(loss, p.data, i);
      // grads accumulated once, by the single backward above
      assertClose([p.grad[i]], [fd], { atol: 1e-6, rtol: 1e-5, message: `${name}[${i}]` });
    }
  }
}

/** A random block state in float64 with the GPU block's names (for the CPU-only test). */
function cpuBlockState(rng: Generator, cin: number, out: number, stride: number): RefState {
  const state = new Map<string, { shape: number[]; data: Float64Array }>();
  const put = (name: string, shape: number[], lo = -0.5, hi = 0.5) =>
    state.set(name, random(rng, shape, lo, hi));
  const bn = (name: string, c: number) => {
    put(`${name}.weight`, [c], 0.5, 1.5);
    put(`${name}.bias`, [c]);
    state.set(`${name}.running_mean`, { shape: [c], data: new Float64Array(c) });
    state.set(`${name}.running_var`, { shape: [c], data: new Float64Array(c).fill(1) });
    state.set(`${name}.num_batches_tracked`, { shape: [], data: new Float64Array(1) });
  };
  for (const p of ["b.residual_path1", "b.residual_path2"]) {
    put(`${p}.conv1.weight`, [out, cin, 3, 3]);
    bn(`${p}.bn1`, out);
    put(`${p}.conv2.weight`, [out, out, 3, 3]);
    bn(`${p}.bn2`, out);
  }
  if (cin !== out || stride !== 1) {
    put("b.shortcut.conv1.weight", [out / 2, cin, 1, 1]);
    put("b.shortcut.conv2.weight", [out / 2, cin, 1, 1]);
    bn("b.shortcut.bn", out);
  }
  return state;
}

Deno.test("block: forward mixes with α, backward uses β (not α), against the reference", async () => {
  const rng = new Generator(testSeed("shake block"));
  for (const [shape, out, stride] of BLOCK_CASES) {
    const label = `block ${shape[1]}→${out} stride ${stride} x=[${shape}]`;
    const block = new ShakeShakeBlock(shape[1], out, { stride, generator: rng });
    randomizeBatchNorms(block, rng);
    const n = shape[0];
    const alpha = uniform(rng, n);
    // β well away from α, so a backward that used α could not pass
    const beta = alpha.map((a) => (a + 0.3 + 0.4 * rng.uniform()) % 1);
    block.fixCoefficients({ alpha, beta });
    const state = await stateOf(block);
    const ref = new RefShakeShakeBlock(state, "", stride);
    ref.alpha = alpha;
    ref.beta = beta;

    const x = random(rng, shape);
    const xT = leaf(x);
    const y = block.forward(xT);
    const yRef = ref.forward(x);
    assertEquals(y.shape, yRef.shape, `${label} shape`);
    assertClose(await read64(y), yRef.data, { ...FORWARD, message: `${label} forward` });
    const dy = random(rng, yRef.shape);
    const dx = await gradientOf(xT, y, dy);
    const dxRef = ref.backward(dy).data;
    assertClose(dx, dxRef, { ...BACKWARD, message: `${label} dx` });
    await compareGrads(label, block, ref);
    assertClose(block.lastAlpha, alpha, { atol: 1e-7, rtol: 0 });
    assertClose(block.lastBeta!, beta, { atol: 1e-7, rtol: 0 });

    // The gradient a plain α·a + (1 − α)·b would give is clearly different.
    const plain = new RefShakeShakeBlock(state, "", stride);
    plain.alpha = alpha;
    plain.beta = alpha;
    plain.forward(x);
    const dxPlain = plain.backward(dy).data;
    const gap = maxAbsDiff(dxRef, dxPlain);
    assert(gap > 0.05, `${label}: β and α gradients should differ (gap ${gap})`);
    assert(maxAbsDiff(dx, dxPlain) > 20 * BACKWARD.atol, `${label}: GPU dx must not follow α`);
    const p1 = block.residualPath1.conv1.weight.grad;
    const plainP1 = new Map(plain.params()).get("residual_path1.conv1.weight")!.grad;
    assert(maxAbsDiff(await read64(p1), plainP1) > 0.01, `${label}: path 1 grads follow β`);
    disposeLeaf(xT);
    block.dispose();
  }
});

Deno.test("block: eval output is the average of the branches plus the shortcut", async () => {
  const rng = new Generator(testSeed("shake eval"));
  for (const [shape, out, stride] of BLOCK_CASES) {
    const label = `eval ${shape[1]}→${out} stride ${stride}`;
    const block = new ShakeShakeBlock(shape[1], out, { stride, generator: rng });
    randomizeBatchNorms(block, rng);
    const x = random(rng, shape);
    const xT = upload(x.data, shape);
    for (let i = 0; i < 3; i++) block.forward(xT); // running statistics move away from 0 and 1
    block.eval();
    block.fixCoefficients({
      alpha: new Array(shape[0]).fill(0.9),
      beta: new Array(shape[0]).fill(0.1),
    });
    const y = await read64(block.forward(xT));
    assertEquals([...block.lastAlpha], new Array(shape[0]).fill(0.5), `${label} α`);
    assertClose(await read64(block.forward(xT)), y, { atol: 0, rtol: 0, message: "deterministic" });

    // The branches and the shortcut, run alone through the GPU modules on relu(x).
    const xr = upload(x.data.map((v) => Math.max(v, 0)), shape);
    const h1 = await read64(block.residualPath1.forward(xr));
    const h2 = await read64(block.residualPath2.forward(xr));
    const skip = block.shortcut ? await read64(block.shortcut.forward(xr)) : x.data;
    const expected = h1.map((v, i) => 0.5 * v + 0.5 * h2[i] + skip[i]);
    assertClose(y, expected, { atol: 1e-5, rtol: 1e-5, message: `${label} = (b1 + b2)/2 + s` });

    // And the reference in eval mode with the same running statistics.
    const ref = new RefShakeShakeBlock(await stateOf(block), "", stride);
    ref.setTraining(false);
    const yRef = ref.forward(x);
    assertClose(y, yRef.data, { ...FORWARD, message: `${label} reference` });

    // A backward in eval mode is the true gradient of the average (β = 0.5, not the fixed β).
    const xLeaf = leaf(x);
    const dy = random(rng, yRef.shape);
    ref.beta = new Float64Array(shape[0]).fill(0.5);
    assertClose(await gradientOf(xLeaf, block.forward(xLeaf), dy), ref.backward(dy).data, {
      ...BACKWARD,
      message: `${label} eval dx`,
    });
    disposeLeaf(xLeaf);
    xT.dispose();
    xr.dispose();
    block.dispose();
  }
});

Deno.test("shortcut: flow 1 samples x[i·s, j·s]; flow 2 x[i·s + 1, j·s + 1] (PyTorch) or x[i·s − 1, j·s − 1] (Lua)", async () => {
  const cases: [number, number, number[], number[], number[]][] = [
    // [size, stride, flow 1, flow 2 pytorch, flow 2 lua] for x = 0, 1, 2, ... in one image
    [4, 2, [0, 2, 8, 10], [5, 7, 13, 15], [0, 0, 0, 5]],
    [
      5,
      2,
      [0, 2, 4, 10, 12, 14, 20, 22, 24],
      [6, 8, 0, 16, 18, 0, 0, 0, 0],
      [0, 0, 0, 0, 6, 8, 0, 16, 18],
    ],
    [3, 1, [0, 1, 2, 3, 4, 5, 6, 7, 8], [4, 5, 0, 7, 8, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1, 0, 3, 4]],
  ];
  for (const [size, stride, flow1, pytorch, lua] of cases) {
    for (
      const [shift, flow2] of [[undefined, pytorch], ["pytorch", pytorch], ["lua", lua]] as const
    ) {
      const shortcut = new DownsamplingShortcut(1, 2, stride, new Generator(0), shift);
      shortcut.conv1.weight.data.write([1]);
      shortcut.conv2.weight.data.write([1]);
      shortcut.eval(); // fresh running statistics: y = x / √(1 + eps)
      const x = Array.from({ length: size * size }, (_, i) => i);
      const y = await read64(shortcut.forward(upload(x, [1, 1, size, size])));
      const expected = [...flow1, ...flow2].map((v) => v / Math.sqrt(1 + 1e-5));
      assertClose(y, expected, {
        atol: 1e-5,
        rtol: 1e-6,
        message: `size ${size} stride ${stride} shift ${shift}`,
      });
      shortcut.dispose();
    }
  }
  assertThrows(
    () => new DownsamplingShortcut(1, 2, 2, new Generator(0), "torch" as "lua"),
    'shift must be "pytorch" or "lua", got "torch"',
  );
  assertThrows(
    () => new ShakeShakeBlock(2, 2, { shift: "toString" as "lua" }),
    'shift must be "pytorch" or "lua"',
  );
});

Deno.test("shortcut: forward and backward match the reference's pad-shift and subsampling", async () => {
  const rng = new Generator(testSeed("shake shortcut"));
  const cases: [number[], number, number][] = [
    [[2, 3, 7, 5], 6, 2],
    [[3, 2, 6, 6], 4, 2],
    [[2, 3, 5, 4], 8, 1],
  ];
  for (
    const [[shape, out, stride], shift] of cases.flatMap((c) =>
      [[c, "pytorch"], [c, "lua"]] as const
    )
  ) {
    const label = `shortcut ${shape[1]}→${out} stride ${stride} x=[${shape}] ${shift}`;
    const shortcut = new DownsamplingShortcut(shape[1], out, stride, rng, shift);
    randomizeBatchNorms(shortcut, rng);
    const ref = refDownsamplingShortcut(await stateOf(shortcut), "", stride, shift);
    const x = random(rng, shape);
    // The reference opens with the block's ReLU; the GPU module takes relu(x).
    const xr = leaf({ data: x.data.map((v) => Math.max(v, 0)), shape });
    const yRef = ref.forward(x);
    const y = shortcut.forward(xr);
    assertEquals(y.shape, yRef.shape, `${label} shape`);
    assertClose(await read64(y), yRef.data, { ...FORWARD, message: `${label} forward` });
    const dy = random(rng, yRef.shape);
    const dx = await gradientOf(xr, y, dy);
    const dxRef = ref.backward(dy).data;
    // The reference's dx went through its ReLU; compare where x > 0 (elsewhere it is 0 there).
    assertClose(
      dx.map((v, i) => (x.data[i] > 0 ? v : 0)),
      dxRef,
      { ...BACKWARD, message: `${label} dx` },
    );
    await compareGrads(label, shortcut, ref);
    disposeLeaf(xr);
    shortcut.dispose();
  }
});

Deno.test("block: modes, levels and the seeded draws", async () => {
  const shape = [4, 2, 3, 3];
  const run = async (mode: ShakeMode, level: "image" | "batch", seed = 3) => {
    const block = new ShakeShakeBlock(2, 2, { mode, level, seed });
    const xT = Tensor.full(shape, 0.5);
    const yT = block.forward(xT);
    const y = await read64(yT);
    const ones = Tensor.full(shape, 1);
    yT.backward({ gradient: ones });
    const result = { alpha: block.lastAlpha, beta: block.lastBeta!, y };
    block.dispose();
    ones.dispose();
    xT.dispose();
    return result;
  };
  const half = new Float32Array(4).fill(0.5);
  const distinct = (a: Float32Array) =>
    new Set(a).size === a.length && a.every((v) => v >= 0 && v < 1);
  const ss = await run("shake-shake", "image");
  assert(distinct(ss.alpha) && distinct(ss.beta), "shake-shake: fresh α and β per image");
  assert(maxAbsDiff(ss.alpha, ss.beta) > 0, "β is drawn independently of α");
  const again = await run("shake-shake", "image");
  assertEquals(again.alpha, ss.alpha, "same seed, same α");
  assertEquals(again.y, ss.y, "same seed, same output");
  const batch = await run("shake-shake", "batch");
  assert(batch.alpha.every((v) => v === batch.alpha[0]), "batch level: one α");
  assert(batch.beta.every((v) => v === batch.beta[0]) && batch.beta[0] !== batch.alpha[0]);
  const even = await run("shake-even", "image");
  assert(distinct(even.alpha));
  assertEquals(even.beta, half, "shake-even: β = 0.5");
  const keep = await run("shake-keep", "image");
  assertEquals(keep.beta, keep.alpha, "shake-keep: β = α");
  const evenShake = await run("even-shake", "image");
  assertEquals(evenShake.alpha, half);
  assert(distinct(evenShake.beta));
  const evenEven = await run("even-even", "image");
  assertEquals([evenEven.alpha, evenEven.beta], [half, half], "even-even");
});

/** `n` draws of `rng.uniform()` as the blocks store them. */
function draws(rng: Generator, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.uniform());
}

Deno.test("block: called twice in one step, each call has its α and β, gradients sum", async () => {
  const rng = new Generator(testSeed("shake twice"));
  const shape = [3, 4, 5, 6];
  const block = new ShakeShakeBlock(4, 4, { generator: rng });
  randomizeBatchNorms(block, rng);
  const x = random(rng, shape);
  const dy = random(rng, shape);
  const state = await stateOf(block);
  // The draws the block will make: α of call 1, α of call 2, then (backward) β of call 2, of 1.
  const replay = new Generator();
  replay.setState(rng.getState());
  const [alpha1, alpha2, beta2, beta1] = [0, 1, 2, 3].map(() => draws(replay, shape[0]));

  const xT = leaf(x);
  const y = block.forward(block.forward(xT));
  const [ref1, ref2] = [0, 1].map(() => new RefShakeShakeBlock(state, "", 1));
  [ref1.alpha, ref1.beta, ref2.alpha, ref2.beta] = [alpha1, beta1, alpha2, beta2].map((a) =>
    Float64Array.from(a)
  );
  const yRef = ref2.forward(ref1.forward(x));
  assertClose(await read64(y), yRef.data, { ...FORWARD, message: "forward twice" });
  const dx = await gradientOf(xT, y, dy);
  assertClose(dx, ref1.backward(ref2.backward(dy)).data, { ...BACKWARD, message: "dx" });
  await compareGrads("block twice", block, ref1, ref2);
  assertEquals(block.lastBeta, beta1, "the last backward is the first call's");
  assertEquals(rng.getState(), replay.getState(), "nothing else drawn");
  disposeLeaf(xT);
  block.dispose();
});

Deno.test("model: a step draws every block's α in order, then every β in reverse", async () => {
  const rng = new Generator(testSeed("shake draw order"));
  const model = shakeShake26({ width: 2, seed: rng.int(1000) });
  const n = 3;
  const xT = upload(random(rng, [n, 3, 8, 8]).data, [n, 3, 8, 8]);
  const labels = Tensor.from([0, 1, 2], [n], { dtype: "i32" });
  const replay = new Generator();
  replay.setState(model.generator.getState());
  await lossOf(model, xT, labels, true);
  const blocks = model.blocks();
  const alphas = blocks.map(() => draws(replay, n));
  const betas = blocks.map(() => draws(replay, n)).reverse();
  blocks.forEach((block, i) => {
    assertEquals(block.lastAlpha, alphas[i], `block ${i} α`);
    assertEquals(block.lastBeta, betas[i], `block ${i} β`);
  });
  assertEquals(model.generator.getState(), replay.getState(), "nothing else drawn");
  // Without the tape (evaluation), only α is drawn.
  await lossOf(model, xT, labels, false);
  blocks.forEach(() => draws(replay, n));
  assertEquals(model.generator.getState(), replay.getState(), "noGrad draws no β");
  xT.dispose();
  labels.dispose();
  model.dispose();
});

/** Cross-entropy loss of `model` on (x, labels) in training mode; `loss.backward()` when `grad`. */
async function lossOf(
  model: Module,
  x: Tensor,
  labels: Tensor<"i32">,
  grad: boolean,
): Promise<number> {
  if (!grad) return await noGrad(() => F.crossEntropy(model.forward(x), labels)).item();
  const loss = F.crossEntropy(model.forward(x), labels);
  loss.backward();
  return await loss.item();
}

Deno.test("model: whole-network gradients against float64 and finite differences", async () => {
  const rng = new Generator(testSeed("shake model grad"));
  const model = shakeShake26({ width: 4, generator: rng });
  randomizeBatchNorms(model, rng);
  const n = 2;
  const x = random(rng, [n, 3, 8, 8]);
  const xT = upload(x.data, x.shape);
  const labelValues = [rng.int(10), rng.int(10)];
  const labels = Tensor.from(labelValues, [n], { dtype: "i32" });
  const blocks = model.blocks();
  assertEquals(blocks.length, 12);

  // β ≠ α: every gradient against the float64 reference.
  const coefficients = blocks.map(() => {
    const alpha = uniform(rng, n);
    return { alpha, beta: alpha.map((a) => 1 - a) };
  });
  blocks.forEach((b, i) => b.fixCoefficients(coefficients[i]));
  const state = await stateOf(model);
  model.zeroGrad();
  const loss = await lossOf(model, xT, labels, true);
  const ref = refShakeShake26(state);
  ref.blocks.forEach((b, i) => {
    b.alpha = coefficients[i].alpha;
    b.beta = coefficients[i].beta;
  });
  const logits = ref.model.forward(x);
  const ce = refCrossEntropy(logits, labelValues);
  assertClose([loss], [ce.loss], { atol: 1e-4, rtol: 1e-4, message: "loss" });
  ref.model.backward({ data: ce.grad, shape: logits.shape });
  await compareGrads("ShakeShake26 width 4", model, ref.model);

  // β = α: the backward is the true gradient; central differences in f32 on random entries.
  blocks.forEach((b, i) =>
    b.fixCoefficients({ alpha: coefficients[i].alpha, beta: coefficients[i].alpha })
  );
  model.zeroGrad();
  await lossOf(model, xT, labels, true);
  const params = model.namedParameters();
  // A step of 1e-3 keeps f32 rounding near 1e-4, but a step that crosses ReLU kinks changes
  // the difference quotient itself. Such an entry is accepted only when the float64 network
  // gives the same quotient at that step and its tiny-step slope matches the GPU backward.
  const eps = 1e-3;
  const refLoss = () => refCrossEntropy(ref.model.forward(x), labelValues).loss;
  const refParams = new Map(ref.model.params());
  const close = (a: number, b: number) => Math.abs(a - b) <= 5e-3 + 5e-2 * Math.abs(b);
  const misses: string[] = [];
  let checked = 0;
  for (const [name, p] of params) {
    // the stem, one conv per stage, a shortcut conv, a few BN γ/β and the classifier
    if (
      !/^(conv|fc)\.|stage\d\.0\.residual_path[12]\.conv1|shortcut\.conv2|3\.residual_path2\.bn2/
        .test(name)
    ) continue;
    const values = await p.data.read();
    const grads = await p.grad.read();
    for (let t = 0; t < 2; t++) {
      const i = rng.int(values.length);
      const at = (v: number) => {
        const copy = values.slice();
        copy[i] = v;
        p.data.write(copy);
        return lossOf(model, xT, labels, false);
      };
      const plus = await at(values[i] + eps);
      const minus = await at(values[i] - eps);
      p.data.write(values);
      const fd = (plus - minus) / (2 * eps);
      checked++;
      if (close(grads[i], fd)) continue;
      const refValues = refParams.get(name)!.data;
      const refStep = numericGrad(refLoss, refValues, i, eps);
      const refSlope = numericGrad(refLoss, refValues, i, 1e-7);
      if (!close(fd, refStep) || !close(grads[i], refSlope)) {
        misses.push(
          `${name}[${i}]: backward ${grads[i]}, FD ${fd} (float64: ${refStep}, ${refSlope})`,
        );
      }
    }
  }
  assert(checked >= 30, `checked ${checked} entries`);
  assert(misses.length === 0, `gradients off:\n${misses.join("\n")}`);
  xT.dispose();
  labels.dispose();
  model.dispose();
});

Deno.test("model: a short run of SGD lowers the training loss", async () => {
  const rng = new Generator(testSeed("shake short run"));
  const model = shakeShake26({ width: 4, generator: rng });
  const n = 16;
  const xT = upload(random(rng, [n, 3, 8, 8]).data, [n, 3, 8, 8]);
  const labels = Tensor.from(Array.from({ length: n }, () => rng.int(10)), [n], { dtype: "i32" });
  const momentum = new Map(model.parameters().map((p) => [p, Tensor.zeros(p.shape)]));
  const losses: number[] = [];
  for (let step = 0; step < 30; step++) {
    model.zeroGrad();
    losses.push(await lossOf(model, xT, labels, true));
    for (const [p, buffer] of momentum) {
      sgdStep(p.data, p.grad, buffer, {
        lr: 0.05,
        momentum: 0.9,
        dampening: 0,
        nesterov: true,
        weightDecay: 1e-4,
        firstStep: step === 0,
      });
    }
  }
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const first = mean(losses.slice(0, 5));
  const last = mean(losses.slice(-5));
  assert(last < 0.6 * first, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
  for (const buffer of momentum.values()) buffer.dispose();
  xT.dispose();
  labels.dispose();
  model.dispose();
});

Deno.test("factories: parameter counts, registry names and printing", () => {
  const expected: [number, number, number][] = [[32, 2_923_162, 2.923], [64, 11_653_978, 11.65], [
    96,
    26_192_922,
    26.19,
  ]];
  for (const [width, count, millions] of expected) {
    const model = createModel(`shake-shake-26-2x${width}d`, { seed: 0 });
    assert(model instanceof ShakeShake26);
    const params = model.numParameters();
    console.log(`shake-shake-26-2x${width}d: ${params} parameters`);
    assertEquals(params, count, `2×${width}d`);
    assertEquals(Number((params / 1e6).toFixed(width === 32 ? 3 : 2)), millions);
    if (width === 32) {
      const text = model.toString();
      assert(text.startsWith("ShakeShake26(\n  (conv): Conv2d(3, 16, kernel_size=(3, 3)"), text);
      assert(text.includes("(shortcut): DownsamplingShortcut("), "prints the shortcut");
      assert(text.includes("(fc): Linear(in_features=128, out_features=10, bias=True)"));
      const names = model.namedParameters().map(([n]) => n);
      assert(names.includes("stage2.0.shortcut.conv2.weight"));
      assert(!names.includes("stage2.1.shortcut.conv1.weight"), "identity shortcuts have none");
      const shifts = (m: ShakeShake26) => m.blocks().flatMap((b) => b.shortcut?.shift ?? []);
      assertEquals(shifts(model), ["pytorch", "pytorch", "pytorch"], "the PyTorch ports' shift");
      const lua = shakeShake26({ width: 2, shift: "lua" });
      assertEquals(shifts(lua), ["lua", "lua", "lua"], "shift reaches every shortcut");
      lua.dispose();
      assert(!names.some((n) => n.endsWith("conv1.bias") || n === "conv.bias"), "no conv biases");
    }
    model.dispose();
  }
  for (const width of [32, 64, 96]) assert(modelNames().includes(`shake-shake-26-2x${width}d`));
});

Deno.test("initialisation follows the reference code", async () => {
  const model = shakeShake26({ width: 8, seed: 5 });
  const w = await model.stage3.at(1).namedParameters()[0][1].data.read(); // conv1 [32, 32, 3, 3]
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  const expected = Math.sqrt(2 / (9 * 32));
  assert(Math.abs(std / expected - 1) < 0.05, `He-normal fan_out std ${std} vs ${expected}`);
  assertEquals(await model.fc.bias!.data.read(), new Float32Array(10), "fc bias 0");
  assertEquals(await model.bn.weight.data.read(), new Float32Array(16).fill(1), "BN γ 1");
  const [m1, m2] = [shakeShake26({ width: 4, seed: 9 }), shakeShake26({ width: 4, seed: 9 })];
  const [a, b] = [await m1.stateDict(), await m2.stateDict()];
  assertEquals([...a.values()].map((e) => e.data), [...b.values()].map((e) => e.data), "seeded");
  for (const m of [model, m1, m2]) m.dispose();
});

Deno.test("bad inputs name the argument", () => {
  assertThrows(() => shakeShake26({ width: 5 }), "width must be an even integer");
  assertThrows(() => shakeShake26({ classes: 0 }), "classes must be");
  assertThrows(
    () => new ShakeShakeBlock(2, 2, { mode: "shake" as ShakeMode }),
    "mode must be one of",
  );
  assertThrows(() => new ShakeShakeBlock(2, 2, { level: "pixel" as "image" }), "level must be");
  assertThrows(() => new ShakeShakeBlock(2, 3), "outChannels must be even");
  assertThrows(() => new ShakeShakeBlock(2, 4, { stride: 0 }), "stride must be");
  const block = new ShakeShakeBlock(2, 2, { seed: 0 });
  assertThrows(() => block.forward(Tensor.zeros([1, 3, 3, 3])), "x has shape [1, 3, 3, 3]");
  assertThrows(() => block.fixCoefficients({ alpha: [0.5], beta: [0.5, 0.5] }), "alpha has 1");
  block.fixCoefficients({ alpha: [0.5], beta: [0.5] });
  assertThrows(() => block.forward(Tensor.zeros([2, 2, 3, 3])), "fixed alpha has 1 values");
  block.fixCoefficients(null);
  const y = block.forward(Tensor.zeros([2, 2, 3, 3]));
  assertThrows(() => y.backward({ gradient: Tensor.zeros([2, 2, 4, 3]) }), "[2, 2, 4, 3]");
  assertEquals(y.shape, [2, 2, 3, 3]);
  block.dispose();
});
