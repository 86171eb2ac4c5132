/**
 * Average pooling (kernel, stride, padding, count_include_pad) and adaptive average / max pooling
 * to output sizes other than 1 (PyTorch's start/end windows, overlapping where sizes do not
 * divide, and larger than the input): ops and modules against the float64 references
 * (tests/reference/pool.ts, which scatter as PyTorch does while the GPU gathers) and finite
 * differences, on fresh random inputs with poisoned outputs (tests/gpu.ts).
 */

import { AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, F, Generator, Tensor } from "../mod.ts";
import { avgPool2dForward } from "../gpu.ts";
import { assertClose, assertEquals, randomArray, testSeed } from "./assert.ts";
import { assertThrowsBeforeGpuWork, read64 } from "./gpu.ts";
import { dot, f32, numericGrad, size } from "./numeric.ts";
import {
  adaptiveAvgPool2dBackwardRef,
  adaptivePool2dRef,
  avgPool2dBackwardRef,
  avgPool2dRef,
  type AvgPoolRef,
  maxPool2dBackwardRef,
} from "./reference/pool.ts";

const MEAN = { atol: 1e-6, rtol: 1e-5 };
const EXACT = { atol: 0, rtol: 0 };
const FD = { atol: 1e-6, rtol: 1e-5 };

/** Values without ties (so the max and its argmax have one answer and a derivative). */
function distinct(rng: Generator, n: number): Float64Array {
  const order = rng.permutation(n);
  return f32(Float64Array.from(order, (k) => 0.01 * k - 0.005 * n + 0.001 * rng.uniform()));
}

Deno.test("avgPool2d: kernel, stride, padding, count_include_pad vs reference and finite differences", async () => {
  const rng = new Generator(testSeed("avg pool"));
  const cases: [number[], AvgPoolRef][] = [
    [[2, 3, 7, 6], { kernel: [2, 2], stride: [2, 2], padding: [0, 0], countIncludePad: true }],
    [[1, 2, 9, 11], { kernel: [3, 3], stride: [2, 2], padding: [1, 1], countIncludePad: true }],
    [[1, 2, 9, 11], { kernel: [3, 3], stride: [2, 2], padding: [1, 1], countIncludePad: false }],
    [[3, 1, 8, 5], { kernel: [3, 2], stride: [1, 3], padding: [1, 0], countIncludePad: true }],
    [[2, 2, 5, 7], { kernel: [4, 5], stride: [3, 1], padding: [2, 2], countIncludePad: false }],
    [[1, 1, 1, 1], { kernel: [1, 1], stride: [1, 1], padding: [0, 0], countIncludePad: true }],
    [[2, 3, 6, 5], { kernel: [1, 1], stride: [2, 2], padding: [0, 0], countIncludePad: true }],
  ];
  for (const [shape, o] of cases) {
    const msg = `[${shape}] ${JSON.stringify(o)}`;
    const x = f32(randomArray(rng, size(shape)));
    const xT = Tensor.from(x, shape, { requiresGrad: true });
    const y = F.avgPool2d(xT, o.kernel, o.stride, o.padding, {
      countIncludePad: o.countIncludePad,
    });
    const ref = avgPool2dRef(x, shape, o);
    assertEquals(y.shape, ref.outShape, msg);
    assertClose(await read64(y), ref.y, { ...MEAN, message: `forward ${msg}` });
    const dy = f32(randomArray(rng, ref.y.length));
    y.backward({ gradient: Tensor.from(dy, y.shape) });
    const dxRef = avgPool2dBackwardRef(dy, shape, o);
    assertClose(await read64(xT.grad!), dxRef, { ...MEAN, message: `backward ${msg}` });
    const loss = () => dot(dy, avgPool2dRef(x, shape, o).y);
    assertClose(await read64(xT.grad!), numericGrad(x, loss), { ...FD, message: `f.d. ${msg}` });
  }
  // Scalars for both axes, stride defaulting to the window, and the module: the same op.
  const x = f32(randomArray(rng, 2 * 4 * 10 * 10));
  const xT = Tensor.from(x, [2, 4, 10, 10]);
  const o: AvgPoolRef = { kernel: [3, 3], stride: [3, 3], padding: [1, 1], countIncludePad: true };
  const ref = avgPool2dRef(x, [2, 4, 10, 10], o).y;
  assertClose(await read64(F.avgPool2d(xT, 3, undefined, 1)), ref, MEAN);
  const pool = new AvgPool2d(3, 3, 1);
  assertEquals(pool.toString(), "AvgPool2d(kernel_size=3, stride=3, padding=1)");
  assertClose(await read64(pool.forward(xT)), ref, MEAN);
  assertEquals(
    new AvgPool2d([2, 3], 1, [1, 0], { countIncludePad: false }).toString(),
    "AvgPool2d(kernel_size=(2, 3), stride=1, padding=(1, 0), count_include_pad=False)",
  );
});

Deno.test("adaptive pools to any output size: PyTorch's windows vs reference and finite differences", async () => {
  const rng = new Generator(testSeed("adaptive pools"));
  const cases: [number[], [number, number]][] = [
    [[2, 3, 7, 6], [3, 2]], // 7 → 3 overlaps
    [[1, 2, 5, 11], [2, 4]],
    [[2, 1, 4, 4], [2, 2]], // divides: plain 2×2 windows
    [[1, 2, 3, 2], [5, 7]], // larger than the input: windows repeat
    [[3, 2, 6, 1], [4, 1]],
    [[1, 1, 9, 9], [1, 3]],
  ];
  for (const [shape, out] of cases) {
    const msg = `[${shape}] → [${out}]`;
    const x = distinct(rng, size(shape));
    const ref = adaptivePool2dRef(x, shape, out);
    const dy = f32(randomArray(rng, ref.avg.length));

    const xT = Tensor.from(x, shape, { requiresGrad: true });
    const avg = F.adaptiveAvgPool2d(xT, out);
    assertEquals(avg.shape, ref.outShape, msg);
    assertClose(await read64(avg), ref.avg, { ...MEAN, message: `avg ${msg}` });
    avg.backward({ gradient: Tensor.from(dy, avg.shape) });
    const dxAvg = adaptiveAvgPool2dBackwardRef(dy, shape, out);
    assertClose(await read64(xT.grad!), dxAvg, { ...MEAN, message: `avg backward ${msg}` });
    const avgLoss = () => dot(dy, adaptivePool2dRef(x, shape, out).avg);
    assertClose(await read64(xT.grad!), numericGrad(x, avgLoss), { ...FD, message: msg });

    xT.grad!.fill(0);
    const max = F.adaptiveMaxPool2d(xT, out);
    assertClose(await read64(max), ref.max, { ...EXACT, message: `max ${msg}` });
    max.backward({ gradient: Tensor.from(dy, max.shape) });
    const dxMax = maxPool2dBackwardRef(dy, ref.argmax, out[0] * out[1], shape);
    // Overlapping windows sharing a maximum add their f32 gradients (|dy| ≤ 1, up to 12 windows
    // per input when the output is larger): each add rounds by 2^-24 of a partial sum ≤ 12.
    assertClose(await read64(xT.grad!), dxMax, { atol: 4e-6, rtol: 0, message: msg });
    const maxLoss = () => dot(dy, adaptivePool2dRef(x, shape, out).max);
    assertClose(await read64(xT.grad!), numericGrad(x, maxLoss), { ...FD, message: msg });
  }
  // The modules take any size now, and print it as PyTorch does.
  const x = distinct(rng, 2 * 3 * 7 * 7);
  const xT = Tensor.from(x, [2, 3, 7, 7]);
  const ref = adaptivePool2dRef(x, [2, 3, 7, 7], [2, 3]);
  const avgPool = new AdaptiveAvgPool2d([2, 3]);
  const maxPool = new AdaptiveMaxPool2d(3);
  assertEquals([`${avgPool}`, `${maxPool}`], [
    "AdaptiveAvgPool2d(output_size=(2, 3))",
    "AdaptiveMaxPool2d(output_size=3)",
  ]);
  assertClose(await read64(avgPool.forward(xT)), ref.avg, MEAN);
  const max3 = adaptivePool2dRef(x, [2, 3, 7, 7], [3, 3]).max;
  assertClose(await read64(maxPool.forward(xT)), max3, EXACT);
  assertEquals(`${new AdaptiveAvgPool2d()}`, "AdaptiveAvgPool2d(output_size=1)");
});

Deno.test("avg and adaptive pools: bad sizes are errors naming the value, before GPU work", () => {
  const x = Tensor.zeros([1, 2, 5, 5]);
  const y = Tensor.empty([1, 2, 2, 2]);
  const [emptyPlane, matrix] = [Tensor.zeros([2, 3, 0, 4]), Tensor.zeros([2, 3])];
  for (
    const [fn, message] of [
      [
        () => F.avgPool2d(x, 3, 1, 2),
        "avgPool2d: padding [2, 2] must be integers in [0, kernel/2]",
      ],
      [() => F.avgPool2d(x, 7), "avgPool2d: the 5×5 plane padded by [0, 0] is smaller than"],
      [() => F.avgPool2d(x, 2, 0), "avgPool2d: stride must be an integer ≥ 1, got 0"],
      [() => F.avgPool2d(x, [2, 1.5]), "avgPool2d: kernel must be an integer ≥ 1, got 1.5"],
      [() => new AvgPool2d(2, 2, 3), "AvgPool2d: padding [3, 3] must be integers in"],
      [() => F.adaptiveAvgPool2d(x, 0), "adaptiveAvgPool2d: outputSize must be an integer ≥ 1"],
      [() => F.adaptiveMaxPool2d(x, [2, -1]), "adaptiveMaxPool2d: outputSize must be an"],
      [() => new AdaptiveAvgPool2d([1, 2.5]), "AdaptiveAvgPool2d: outputSize must be"],
      [() => F.adaptiveAvgPool2d(emptyPlane, 2), "x has an empty plane 0×4"],
      [() => F.avgPool2d(matrix, 2), "avgPool2d: x has shape [2, 3]"],
      [
        () =>
          avgPool2dForward(x, y, {
            kernel: [2, 2],
            stride: [1, 1],
            padding: [0, 0],
            countIncludePad: true,
          }),
        "avgPool2dForward: y has shape [1, 2, 2, 2], expected [1, 2, 4, 4]",
      ],
    ] as [() => unknown, string][]
  ) assertThrowsBeforeGpuWork(fn, message);
});
