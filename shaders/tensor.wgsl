// Tensor housekeeping: fill a buffer with one 32-bit pattern, copy one buffer into another.
// Bindings: 0 params, then inputs, then outputs (hajime's order everywhere).
// Tensors are treated as raw 32-bit words here, so the same kernels serve f32, i32, u32 and
// packed u8 data.

struct Params {
  count: u32,      // words to write
  bits: u32,       // fill: the 32-bit pattern to write
  src_offset: u32, // copy: first word read from x
  dst_offset: u32, // copy: first word written in y
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 256u;

// fill: y[i] = bits for i < count.  y: [count] words
@group(0) @binding(1) var<storage, read_write> fill_y: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn fill(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
  if (i < params.count) {
    fill_y[i] = params.bits;
  }
}

// copy: y[dst_offset + i] = x[src_offset + i] for i < count.
// x: [≥ src_offset + count] words, y: [≥ dst_offset + count] words
@group(0) @binding(1) var<storage, read> copy_x: array<u32>;
@group(0) @binding(2) var<storage, read_write> copy_y: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn copy(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
  if (i < params.count) {
    copy_y[params.dst_offset + i] = copy_x[params.src_offset + i];
  }
}
