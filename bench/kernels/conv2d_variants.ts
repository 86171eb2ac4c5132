// Times every conv2d variant the autotuner offers for one shape, as the autotuner does (the
// variants interleaved, best round kept) but with more rounds and no time budget, and prints them
// fastest first: milliseconds per call and GFLOP/s (wall). Shows what tuning weighs, per direction.
// deno run -A bench/kernels/conv2d_variants.ts N C O SIZE KERNEL STRIDE PADDING [f,d,w]
// (f forward, d backward-data, w backward-weight; all three by default). ROUNDS=n (default 4).
import { Autotuner, setAutotuner, sync } from "../../gpu.ts";
import { initGpu, Tensor } from "../../mod.ts";
import {
  conv2dBackwardData,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dOutputSize,
} from "../../src/kernels/conv2d.ts";
await initGpu();
const [n, c, o, size, k, stride, padding] = Deno.args.slice(0, 7).map(Number);
const directions = (Deno.args[7] ?? "f,d,w").split(",");
const rounds = Number(Deno.env.get("ROUNDS") ?? 4);
const tuner = new Autotuner({ cacheFile: null, rounds, budgetMs: Infinity, margin: 0 });
setAutotuner(tuner);
const out = conv2dOutputSize(size, k, stride, padding);
const x = Tensor.zeros([n, c, size, size]);
const weight = Tensor.zeros([o, c, k, k]);
const y = Tensor.zeros([n, o, out, out]);
const dx = Tensor.zeros([n, c, size, size]);
const dWeight = Tensor.zeros([o, c, k, k]);
const opts = { stride, padding };
// One call of each direction makes its shape pending; tunePending times the variants.
if (directions.includes("f")) conv2dForward(x, weight, null, y, opts);
if (directions.includes("d")) conv2dBackwardData(y, weight, dx, opts);
if (directions.includes("w")) conv2dBackwardWeight(y, x, dWeight, null, opts);
await sync();
const flops = 2 * n * o * out * out * c * k * k;
for (const r of await tuner.tunePending()) {
  const timings = Object.entries(r.msPerCall).sort((a, b) => a[1] - b[1]);
  const cells = timings.map(([v, ms]) =>
    `${v} ${ms.toFixed(1)} ms ${(flops / ms / 1e6).toFixed(2)}`
  );
  console.log(`${r.family} ${r.key}: ${cells.join(" | ")}`);
}
