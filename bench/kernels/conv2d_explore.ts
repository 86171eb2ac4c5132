// Exploration driver for the numbered gather experiments (bench/kernels/conv2d_gather*.wgsl):
// checks the forward pass against the reference, then prints `wall/cpu` GFLOP/s per Resnet shape
// (cpu = 2 · flops / CPU seconds, steady on a shared machine). Files whose name holds "wt" get
// their weights laid out [C, tap, O_pad] on the CPU.
// deno run -A bench/kernels/conv2d_explore.ts FILE [workgroup] [tile channels] [tile positions]
import { grid, sync, wgslKernels } from "../../gpu.ts";
import { initGpu, Tensor } from "../../mod.ts";
import { conv2dForwardRef, type Conv2dShape, outputSize } from "../../tests/reference/conv2d.ts";
await initGpu();
const file = Deno.args[0] ?? "bench/kernels/conv2d_gather4_16x16wt.wgsl";
const WG = Number(Deno.args[1] ?? 64);
const TQ = Number(Deno.args[2] ?? 8);
const TM = Number(Deno.args[3] ?? 4);
const code = Deno.readTextFileSync(file);
const params = {
  batch: "u32",
  q_count: "u32",
  r_count: "u32",
  in_h: "u32",
  in_w: "u32",
  out_h: "u32",
  out_w: "u32",
  kernel_h: "u32",
  kernel_w: "u32",
  phase_stride: "u32",
  sub_h: "u32",
  sub_w: "u32",
  in_step: "u32",
  tap_sign: "i32",
  tap_offset: "i32",
  tap_div: "i32",
  w_q_stride: "u32",
  w_r_stride: "u32",
  use_bias: "u32",
  blocks_m: "u32",
  blocks_q: "u32",
} as const;
const k = wgslKernels("Explore", code, { params, constants: { WORKGROUP: WG } })("gather", 3, 1);
const WT = file.includes("wt");
function prepW(s: Conv2dShape, wa: Float32Array): Float32Array {
  if (!WT) return wa;
  const taps = s.kh * s.kw, qpad = Math.ceil(s.o / TQ) * TQ;
  const out = new Float32Array(s.c * taps * qpad);
  for (let q = 0; q < s.o; q++) {
    for (let r = 0; r < s.c; r++) {
      for (let t = 0; t < taps; t++) {
        out[(r * taps + t) * qpad + q] = wa[(q * s.c + r) * taps + t];
      }
    }
  }
  return out;
}
function fwd(s: Conv2dShape, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor) {
  const [oh, ow] = outputSize(s);
  const M = s.n * oh * ow;
  const blocks_m = Math.ceil(M / (WG * TM));
  const blocks_q = Math.ceil(s.o / TQ);
  k.dispatch(
    {
      batch: s.n,
      q_count: s.o,
      r_count: s.c,
      in_h: s.h,
      in_w: s.w,
      out_h: oh,
      out_w: ow,
      kernel_h: s.kh,
      kernel_w: s.kw,
      phase_stride: 1,
      sub_h: oh,
      sub_w: ow,
      in_step: s.stride,
      tap_sign: 1,
      tap_offset: -s.padding,
      tap_div: 1,
      w_q_stride: WT ? Math.ceil(s.o / TQ) * TQ / 4 : s.c * s.kh * s.kw,
      w_r_stride: s.kh * s.kw,
      use_bias: b ? 1 : 0,
      blocks_m,
      blocks_q,
    },
    [x, w, b ?? w, y],
    grid(blocks_m * blocks_q),
  );
}
function cpu() {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}
function rand(n: number) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}
// correctness
for (
  const s of [
    { n: 3, c: 5, h: 11, w: 9, o: 7, kh: 3, kw: 3, stride: 1, padding: 1 },
    { n: 3, c: 5, h: 11, w: 9, o: 13, kh: 3, kw: 3, stride: 2, padding: 1 },
    { n: 2, c: 3, h: 12, w: 10, o: 9, kh: 5, kw: 5, stride: 1, padding: 2 },
  ]
) {
  const [oh, ow] = outputSize(s);
  const xa = rand(s.n * s.c * s.h * s.w), wa = rand(s.o * s.c * s.kh * s.kw), ba = rand(s.o);
  const x = Tensor.from(xa, [xa.length]),
    w = Tensor.from(prepW(s, wa), [prepW(s, wa).length]),
    b = Tensor.from(ba, [s.o]);
  const y = Tensor.empty([s.n * s.o * oh * ow]);
  fwd(s, x, w, b, y);
  const got = await y.read();
  const ref = conv2dForwardRef(s, xa, wa, ba);
  let err = 0;
  for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(got[i] - ref[i]));
  console.log("check", JSON.stringify(s), "maxerr", err);
}
const shapes: [string, Conv2dShape][] = [
  ["conv1 3-16 5x5 32", { n: 32, c: 3, h: 32, w: 32, o: 16, kh: 5, kw: 5, stride: 1, padding: 2 }],
];
const l = [16, 32, 64, 128, 256];
for (let i = 0; i < 4; i++) {
  const sp = 16 >> i;
  shapes.push([`s${i} ${l[i]}-${l[i + 1]} s2`, {
    n: 32,
    c: l[i],
    h: sp * 2,
    w: sp * 2,
    o: l[i + 1],
    kh: 3,
    kw: 3,
    stride: 2,
    padding: 1,
  }]);
  shapes.push([`s${i} ${l[i + 1]}-${l[i + 1]} s1`, {
    n: 32,
    c: l[i + 1],
    h: sp,
    w: sp,
    o: l[i + 1],
    kh: 3,
    kw: 3,
    stride: 1,
    padding: 1,
  }]);
}
const only = Deno.env.get("ONLY");
for (const [name, s] of shapes) {
  if (only && !name.includes(only)) continue;
  const [oh, ow] = outputSize(s);
  const x = Tensor.from(rand(s.n * s.c * s.h * s.w), [s.n * s.c * s.h * s.w]);
  const wr = prepW(s, rand(s.o * s.c * s.kh * s.kw));
  const w = Tensor.from(wr, [wr.length]);
  const y = Tensor.empty([s.n * s.o * oh * ow]);
  fwd(s, x, w, null, y);
  await sync();
  const flops = 2 * s.n * s.o * oh * ow * s.c * s.kh * s.kw;
  const iters = Math.max(3, Math.round(Number(Deno.env.get("GF") ?? 3e8) / flops));
  let dt = Infinity;
  const c0 = cpu();
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) fwd(s, x, w, null, y);
    await sync();
    dt = Math.min(dt, (performance.now() - t0) / iters);
  }
  const ct = (cpu() - c0) / iters / 5;
  console.log(
    `${name.padEnd(20)} ${dt.toFixed(2)} ms  ${(flops / dt / 1e6).toFixed(2)} GFLOP/s cpu2 ${
      (2 * flops / ct / 1e6).toFixed(2)
    }`,
  );
  x.dispose();
  w.dispose();
  y.dispose();
}
