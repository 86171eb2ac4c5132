// Exploration: CPU time of each pass of conv2dBackwardWeight (transpose dy, weightGrad, sumChunks)
// on one 3×3 padding-1 shape at batch 32. deno run -A bench/kernels/conv2d_parts.ts C O SIZE STRIDE
// Env: WGSL (another shader file), ROWS × CH (its weightGrad tile), ENTRY (its weight-gradient
// entry point, `weightGrad<ROWS>x<CH>` unless given), CHUNKS (force the split).
import { grid, sync, wgslKernels } from "../../gpu.ts";
import { initGpu, Tensor } from "../../mod.ts";
await initGpu();
const code = Deno.readTextFileSync(
  Deno.env.get("WGSL") ?? new URL("../../shaders/conv2d.wgsl", import.meta.url),
);
const [C, O, S, ST] = Deno.args.map(Number);
const N = 32, OS = Math.floor((S + 2 - 3) / ST) + 1, P = OS * OS, J = C * 9;
const WG = 8;
const ROWS = Number(Deno.env.get("ROWS") ?? 8);
const CH = Number(Deno.env.get("CH") ?? 32);
const kernel = wgslKernels("Conv2dParts", code);
const tr = kernel("transpose", 1, 1, {
  params: {
    a_count: "u32",
    b_count: "u32",
    c_count: "u32",
    c_pad: "u32",
    a_stride: "u32",
    b_stride: "u32",
    c_stride: "u32",
  },
  constants: { WORKGROUP: 64 },
});
const wg = kernel(Deno.env.get("ENTRY") ?? `weightGrad${ROWS}x${CH}`, 2, 1, {
  params: {
    batch: "u32",
    channels: "u32",
    in_h: "u32",
    in_w: "u32",
    out_channels: "u32",
    out_h: "u32",
    out_w: "u32",
    kernel_h: "u32",
    kernel_w: "u32",
    stride: "u32",
    padding: "u32",
    o_vec: "u32",
    rows_per_chunk: "u32",
    blocks_j: "u32",
    blocks_o: "u32",
    accumulate: "u32",
  },
  constants: { WORKGROUP: WG },
});
const sc = kernel("sumChunks", 1, 1, {
  params: { count: "u32", chunks: "u32" },
  constants: { WORKGROUP: 64 },
});
const Opad = Math.ceil(O / CH) * CH;
const x = Tensor.zeros([N * C * S * S]),
  dy = Tensor.zeros([N * O * P]),
  dyT = Tensor.zeros([N * P * Opad]);
const blocksJ = Math.ceil(J / (WG * ROWS)), blocksO = Opad / CH, rows = N * OS;
const chunksWanted = Number(
  Deno.env.get("CHUNKS") ?? Math.min(rows, Math.ceil(64 / (blocksJ * blocksO))),
);
const rpc = Math.ceil(rows / chunksWanted), chunks = Math.ceil(rows / rpc);
const partial = Tensor.zeros([chunks * O * J]), dW = Tensor.zeros([O * J]);
function cpu() {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}
const parts: [string, () => void][] = [
  [
    "transpose dy",
    () =>
      tr.dispatch(
        {
          a_count: N,
          b_count: P,
          c_count: O,
          c_pad: Opad,
          a_stride: O * P,
          b_stride: 1,
          c_stride: P,
        },
        [dy, dyT],
        grid(Math.ceil(N * P * Opad / 16 / 64)),
      ),
  ],
  [
    "weightGrad",
    () =>
      wg.dispatch(
        {
          batch: N,
          channels: C,
          in_h: S,
          in_w: S,
          out_channels: O,
          out_h: OS,
          out_w: OS,
          kernel_h: 3,
          kernel_w: 3,
          stride: ST,
          padding: 1,
          o_vec: Opad / 4,
          rows_per_chunk: rpc,
          blocks_j: blocksJ,
          blocks_o: blocksO,
          accumulate: 0,
        },
        [x, dyT, partial],
        grid(blocksJ * blocksO * chunks),
      ),
  ],
  [
    "sumChunks",
    () => sc.dispatch({ count: O * J, chunks }, [partial, dW], grid(Math.ceil(O * J / 64))),
  ],
];
console.log(
  `C ${C} O ${O} ${S}² s${ST}: J ${J} blocksJ ${blocksJ} blocksO ${blocksO} chunks ${chunks} rows/chunk ${rpc}`,
);
const flops = 2 * N * O * P * C * 9;
for (const [name, fn] of parts) {
  fn();
  await sync();
  const c0 = cpu(), t0 = performance.now();
  for (let i = 0; i < 20; i++) fn();
  await sync();
  const c = (cpu() - c0) / 20, t = (performance.now() - t0) / 20;
  console.log(
    `${name.padEnd(14)} ${t.toFixed(2)} ms wall ${c.toFixed(2)} ms cpu` +
      (name === "weightGrad" ? ` cpu2 ${(2 * flops / c / 1e6).toFixed(2)}` : ""),
  );
}
