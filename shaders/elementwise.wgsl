// Elementwise kernels: ReLU, sums, products, scaling and dropout (elementwise and per channel),
// forward and backward. Each thread handles PER_THREAD elements WORKGROUP apart (fewer
// invocations pay off on CPU adapters); a 2-D grid of workgroups for large tensors.
// Bindings: 0 params, then the read-only inputs, then the read-write outputs (per entry point
// below, in that order).
//
// Dropout masks come from a hash of (seed, element index), so a mask is a pure function of the
// seed: the TypeScript reference reproduces it bit for bit and nothing random lives on the GPU.

struct Params {
  count: u32,     // elements to write
  inner: u32,     // dropout2d*: H·W, the elements of one (n, c) plane
  factor: f32,    // scale: the factor; dropout: 1/(1 − p), the value of a kept mask element
  threshold: u32, // dropout: an element is dropped when its hash < threshold = ⌊p·2³²⌋
  seed: u32,      // dropout: the mask's seed
  stepQ: u32,     // dropout2d*: WORKGROUP / inner, whole planes in a step of WORKGROUP elements
  stepS: u32,     // dropout2d*: WORKGROUP % inner, and the plane offset the step adds
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 256u;
override PER_THREAD: u32 = 8u;

// The first element of thread lid in the linear workgroup of a 2-D grid.
fn first(lid: u32, wid: vec3u, nwg: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * WORKGROUP * PER_THREAD + lid;
}

// The end of the elements first, first + WORKGROUP, ... of one thread.
fn end(first: u32) -> u32 {
  return min(first + PER_THREAD * WORKGROUP, params.count);
}

// Element i as (plane q, offset s) with `inner` elements per plane; `next` steps WORKGROUP
// elements with adds only, since an integer division per element is slow where it is emulated.
struct Cursor {
  q: u32,
  s: u32,
}

fn cursorAt(i: u32) -> Cursor {
  let q = i / params.inner;
  return Cursor(q, i - q * params.inner);
}

fn next(cur: Cursor) -> Cursor {
  var n = Cursor(cur.q + params.stepQ, cur.s + params.stepS);
  if (n.s >= params.inner) {
    n.s -= params.inner;
    n.q += 1u;
  }
  return n;
}

// PCG hash (Jarzynski & Olano 2020, "Hash Functions for GPU Rendering").
fn pcgHash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// The mask value of element (or plane) i: 0 or 1/(1 − p).
fn dropMask(i: u32) -> f32 {
  let h = pcgHash(i ^ pcgHash(params.seed));
  return select(0.0, params.factor, h >= params.threshold);
}

// relu: y = max(x, 0), NaN kept.  x, y: [count]
@group(0) @binding(1) var<storage, read> relu_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> relu_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn relu(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    let v = relu_x[i];
    relu_y[i] = select(v, 0.0, v <= 0.0);
  }
}

// reluBackward: dx = dy where y > 0, else 0 (y is relu's output).  dy, y, dx: [count]
@group(0) @binding(1) var<storage, read> relub_dy: array<f32>;
@group(0) @binding(2) var<storage, read> relub_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> relub_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn reluBackward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    relub_dx[i] = select(0.0, relub_dy[i], relub_y[i] > 0.0);
  }
}

// add: y = a + b.  a, b, y: [count]
@group(0) @binding(1) var<storage, read> add_a: array<f32>;
@group(0) @binding(2) var<storage, read> add_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> add_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn add(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    add_y[i] = add_a[i] + add_b[i];
  }
}

// addInto: y += x.  x, y: [count]
@group(0) @binding(1) var<storage, read> addi_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> addi_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn addInto(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    addi_y[i] += addi_x[i];
  }
}

// scale: y = factor·x.  x, y: [count]
@group(0) @binding(1) var<storage, read> scale_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> scale_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn scale(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
         @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    scale_y[i] = params.factor * scale_x[i];
  }
}

// dropout: mask = 0 or 1/(1 − p) per element, y = x·mask.  x, y, mask: [count]
@group(0) @binding(1) var<storage, read> drop_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> drop_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> drop_mask: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn dropout(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    let m = dropMask(i);
    drop_mask[i] = m;
    drop_y[i] = drop_x[i] * m;
  }
}

// dropout2d: mask = 0 or 1/(1 − p) per (n, c) plane, y = x·mask[plane]; the first element of
// each plane writes the mask.  x, y: [N, C, H, W] (count elements); mask: [N, C]
@group(0) @binding(1) var<storage, read> drop2_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> drop2_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> drop2_mask: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn dropout2d(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  var cur = cursorAt(i0);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    let m = dropMask(cur.q);
    if (cur.s == 0u) {
      drop2_mask[cur.q] = m;
    }
    drop2_y[i] = drop2_x[i] * m;
    cur = next(cur);
  }
}

// mul: y = a·b (also dropout's backward, dx = dy·mask).  a, b, y: [count]
@group(0) @binding(1) var<storage, read> mul_a: array<f32>;
@group(0) @binding(2) var<storage, read> mul_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> mul_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn mul(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    mul_y[i] = mul_a[i] * mul_b[i];
  }
}

// dropout2dBackward: dx = dy·mask[plane].  dy, dx: [N, C, H, W] (count elements); mask: [N, C]
@group(0) @binding(1) var<storage, read> drop2b_dy: array<f32>;
@group(0) @binding(2) var<storage, read> drop2b_mask: array<f32>;
@group(0) @binding(3) var<storage, read_write> drop2b_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn dropout2dBackward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                     @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  var cur = cursorAt(i0);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    drop2b_dx[i] = drop2b_dy[i] * drop2b_mask[cur.q];
    cur = next(cur);
  }
}
