// Does an elementwise pass gain from vec4 loads and stores? ReLU over 4 Mi floats as
// shaders/elementwise.wgsl writes it (scalar, PER elements WG apart per invocation) against the
// same loop over array<vec4f> (PER vec4s per invocation), for a few PER and workgroup sizes;
// milliseconds per pass (best of 3 rounds of 5 passes in one submit). Raw WebGPU, no hajime code.
// deno run -A bench/kernels/elementwise_vec4.ts
const adapter = await navigator.gpu.requestAdapter();
if (!adapter) throw new Error("elementwise_vec4: no WebGPU adapter");
const device = await adapter.requestDevice();
const COUNT = 1 << 22;

function storage(label: string): GPUBuffer {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  return device.createBuffer({ label: `ElementwiseVec4.${label}`, size: COUNT * 4, usage });
}
const x = storage("x");
const y = storage("y");
device.queue.writeBuffer(x, 0, new Float32Array(COUNT).map((_, i) => (i % 7) - 3));

/** The relu loop over elements of type `t` (f32 or vec4f). */
function reluShader(t: string): string {
  return `
@group(0) @binding(0) var<storage, read> x: array<${t}>;
@group(0) @binding(1) var<storage, read_write> y: array<${t}>;
override WG: u32 = 256u;
override PER: u32 = 8u;
@compute @workgroup_size(WG)
fn relu(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let i0 = (wid.x + wid.y * nwg.x) * WG * PER + lid;
  for (var i = i0; i < min(i0 + PER * WG, arrayLength(&y)); i += WG) {
    let v = x[i];
    y[i] = select(v, ${t}(0.0), v <= ${t}(0.0));
  }
}`;
}

/** Milliseconds per pass of the relu over `t` elements with these constants. */
async function time(t: string, per: number, wg: number): Promise<number> {
  const module = device.createShaderModule({ label: `ElementwiseVec4.${t}`, code: reluShader(t) });
  const pipeline = device.createComputePipeline({
    label: `ElementwiseVec4.${t}`,
    layout: "auto",
    compute: { module, entryPoint: "relu", constants: { WG: wg, PER: per } },
  });
  const bindGroup = device.createBindGroup({
    label: `ElementwiseVec4.${t}.bindGroup`,
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: x } }, { binding: 1, resource: { buffer: y } }],
  });
  const groups = Math.ceil(COUNT / (t === "vec4f" ? 4 : 1) / (wg * per));
  const passes = async (count: number) => {
    const encoder = device.createCommandEncoder({ label: "ElementwiseVec4.encoder" });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < count; i++) {
      pass.dispatchWorkgroups(Math.min(groups, 65535), Math.ceil(groups / 65535));
    }
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await passes(1);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    await passes(5);
    best = Math.min(best, (performance.now() - start) / 5);
  }
  return best;
}

console.log(
  `adapter: ${adapter.info.description || adapter.info.vendor}; relu over ${COUNT} floats`,
);
for (
  const [t, per, wg] of [["f32", 8, 256], ["f32", 32, 256], ["vec4f", 2, 256], [
    "vec4f",
    8,
    256,
  ]] as const
) {
  console.log(`${t} PER ${per} WG ${wg}: ${(await time(t, per, wg)).toFixed(2)} ms`);
}
