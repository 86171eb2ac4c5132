/**
 * Sigmoid, tanh, LeakyReLU, GELU (erf and tanh forms) and softmax: the kernels, ops and modules
 * against the float64 references (tests/reference/activation.ts) and finite differences, on fresh
 * random inputs of awkward sizes with poisoned outputs (tests/gpu.ts), including the saturated
 * tails and values near 0 where a naive formula loses its precision.
 */

import { F, GELU, Generator, LeakyReLU, Sigmoid, Softmax, Tanh, Tensor } from "../mod.ts";
import { activationBackward, activationForward } from "../gpu.ts";
import { assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { assertThrowsBeforeGpuWork, read64 } from "./gpu.ts";
import { dot, f32, numericGrad, size } from "./numeric.ts";
import {
  activationBackwardFromOutputRef,
  activationBackwardRef,
  type ActivationRef,
  activationRef,
  softmaxBackwardRef,
  softmaxRef,
} from "./reference/activation.ts";

// Relative, down to tiny outputs; in the far tails e^v of an f32 v near −66 carries ~1e-5.
const FORWARD = { atol: 1e-30, rtol: 3e-5 };
const BACKWARD = { atol: 5e-7, rtol: 1e-5 }; // |dy| ≤ 2 and f' ≤ 1.13: a few f32 ulps
const FD = { atol: 1e-6, rtol: 1e-5 };

const KINDS: ActivationRef[] = [
  { kind: "sigmoid" },
  { kind: "tanh" },
  { kind: "leakyRelu", negativeSlope: 0.01 },
  { kind: "leakyRelu", negativeSlope: -0.3 },
  { kind: "gelu" },
  { kind: "geluTanh" },
];

/** f32 values spread over [−9, 9], plus the points where precision is hardest. */
function inputs(rng: Generator, n: number): Float64Array {
  const edges = [0, 1e-7, -1e-6, 3e-4, -0.62, 0.63, 12, -12, 40, -40, 90, -90];
  return f32(Float64Array.from({ length: n }, (_, i) => edges[i] ?? rng.uniformRange(-9, 9)));
}

/** The op of F for an activation. */
function op(a: ActivationRef): (x: Tensor) => Tensor {
  switch (a.kind) {
    case "sigmoid":
      return F.sigmoid;
    case "tanh":
      return F.tanh;
    case "leakyRelu":
      return (x) => F.leakyRelu(x, a.negativeSlope);
    case "gelu":
      return (x) => F.gelu(x);
    case "geluTanh":
      return (x) => F.gelu(x, { approximate: "tanh" });
  }
}

Deno.test("activation kernels: forward and backward vs the float64 reference, tails included", async () => {
  const rng = new Generator(testSeed("activation kernels"));
  for (const a of KINDS) {
    for (const count of [1, 12, 2049, 300_001]) {
      const msg = `${JSON.stringify(a)} × ${count}`;
      const x = inputs(rng, count);
      const xT = Tensor.from(x, [count]);
      const y = Tensor.empty([count]);
      activationForward(xT, y, a);
      const yRef = activationRef(x, a);
      assertClose(await read64(y), yRef, { ...FORWARD, message: `forward ${msg}` });
      const dy = f32(randomArray(rng, count, -2, 2));
      const dx = Tensor.empty([count]);
      const fromOutput = a.kind === "sigmoid" || a.kind === "tanh";
      activationBackward(Tensor.from(dy, [count]), fromOutput ? y : xT, dx, a);
      // From y (PyTorch's way for these two) the derivative is as exact as the f32 y it reads.
      const dxRef = a.kind === "sigmoid" || a.kind === "tanh"
        ? activationBackwardFromOutputRef(dy, await read64(y), a.kind)
        : activationBackwardRef(dy, x, a);
      assertClose(await read64(dx), dxRef, { ...BACKWARD, message: `backward ${msg}` });
    }
  }
});

Deno.test("sigmoid, tanh, leakyRelu, gelu ops: tape gradients vs finite differences", async () => {
  const rng = new Generator(testSeed("activation ops"));
  for (const a of KINDS) {
    for (const shape of [[3, 5, 7], [1], [2, 1, 13]]) {
      const msg = `${JSON.stringify(a)} [${shape}]`;
      const x = f32(randomArray(rng, size(shape), -3, 3));
      const xT = Tensor.from(x, shape, { requiresGrad: true });
      const y = op(a)(xT);
      assertEquals(y.shape, shape);
      assertClose(await read64(y), activationRef(x, a), { ...FORWARD, message: msg });
      const dy = f32(randomArray(rng, y.size));
      y.backward({ gradient: Tensor.from(dy, shape) });
      const loss = () => dot(dy, activationRef(x, a));
      assertClose(await read64(xT.grad!), numericGrad(x, loss), { ...FD, message: `f.d. ${msg}` });
    }
  }
});

Deno.test("softmax: op and module vs reference, gradients vs finite differences", async () => {
  const rng = new Generator(testSeed("softmax"));
  for (const [n, k] of [[3, 10], [33, 7], [1, 1], [2, 300]]) {
    const msg = `[${n}, ${k}]`;
    const x = f32(randomArray(rng, n * k, -6, 6));
    const xT = Tensor.from(x, [n, k], { requiresGrad: true });
    const y = F.softmax(xT, -1);
    const yRef = softmaxRef(x, n, k);
    assertClose(await read64(y), yRef, { atol: 1e-7, rtol: 1e-5, message: msg });
    const dy = f32(randomArray(rng, n * k));
    y.backward({ gradient: Tensor.from(dy, [n, k]) });
    const dxRef = softmaxBackwardRef(dy, yRef, n, k);
    assertClose(await read64(xT.grad!), dxRef, { atol: 1e-6, rtol: 1e-4, message: msg });
    if (n * k <= 300) {
      const fd = numericGrad(x, () => dot(dy, softmaxRef(x, n, k)));
      assertClose(await read64(xT.grad!), fd, { ...FD, message: `f.d. ${msg}` });
    }
  }
  // Large logits are safe (max-subtracted), and the module is the op.
  const big = new Softmax(1).forward(Tensor.from([1000, 1000, -1000], [1, 3]));
  assertClose(await read64(big), [0.5, 0.5, 0], { atol: 0, rtol: 0 });
});

Deno.test("activation modules: forward is the op; PyTorch's printing; bad options fail early", async () => {
  const x = Tensor.from([-2, 0.5], [2]);
  const cases: [{ forward(x: Tensor): Tensor; toString(): string }, ActivationRef, string][] = [
    [new Sigmoid(), { kind: "sigmoid" }, "Sigmoid()"],
    [new Tanh(), { kind: "tanh" }, "Tanh()"],
    [new LeakyReLU(), { kind: "leakyRelu", negativeSlope: 0.01 }, "LeakyReLU(negative_slope=0.01)"],
    [
      new LeakyReLU(0.2),
      { kind: "leakyRelu", negativeSlope: 0.2 },
      "LeakyReLU(negative_slope=0.2)",
    ],
    [new GELU(), { kind: "gelu" }, "GELU(approximate='none')"],
    [new GELU({ approximate: "tanh" }), { kind: "geluTanh" }, "GELU(approximate='tanh')"],
  ];
  for (const [module, a, printed] of cases) {
    assertEquals(module.toString(), printed);
    assertClose(await read64(module.forward(x)), activationRef([-2, 0.5], a), FORWARD);
  }
  assertEquals(new Softmax().toString(), "Softmax(dim=1)");
  const ints = Tensor.zeros([2], { dtype: "i32" }) as unknown as Tensor;
  const [three, two] = [Tensor.empty([3]), Tensor.empty([2])];
  for (
    const [fn, message] of [
      [() => F.sigmoid(ints), "sigmoid: x has dtype i32, expected f32"],
      [() => F.leakyRelu(x, NaN), "leakyRelu: negativeSlope must be finite, got NaN"],
      [() => new LeakyReLU(Infinity), "LeakyReLU: negativeSlope must be finite"],
      [
        () => F.gelu(x, { approximate: "fast" as "tanh" }),
        `gelu: approximate must be "none" or "tanh", got "fast"`,
      ],
      [() => new GELU({ approximate: "erf" as "none" }), "GELU: approximate must be"],
      [() => F.softmax(x.reshape([1, 2]), 0), "softmax: dim must be 1 or -1"],
      [() => F.softmax(x, 1), "softmax: x has shape [2], expected [*, *]"],
      [() => new Softmax(2), "Softmax: dim must be 1 or -1"],
      [
        () => activationForward(x, three, { kind: "tanh" }),
        "activationForward(tanh): y has shape [3], expected [2]",
      ],
      [
        () => activationForward(x, two, { kind: "swish" as "tanh" }),
        `activationForward(swish): kind "swish" is not one of`,
      ],
    ] as [() => unknown, string][]
  ) assertThrowsBeforeGpuWork(fn, message);
});
