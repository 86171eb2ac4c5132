// Shake-Shake branch mixing (Gastaldi 2017), per image n of a batch:
//   shakeMix          y = α[n]·a + (1 − α[n])·b
//   shakeMixBackward  da = β[n]·dy, db = (1 − β[n])·dy (β drawn independently of α)
// Each thread handles PER_THREAD elements WORKGROUP apart and tracks their image with adds only
// (an integer division per element is slow where it is emulated); a 2-D grid of workgroups.
// Bindings: 0 params, then the read-only inputs, then the read-write outputs (per entry point
// below, in that order).

struct Params {
  count: u32, // elements of a (= N·inner)
  inner: u32, // elements per image
  stepQ: u32, // WORKGROUP / inner: whole images in a step of WORKGROUP elements
  stepS: u32, // WORKGROUP % inner: and the offset the step adds
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

// Element i as (image q, offset s).
struct Cursor {
  q: u32,
  s: u32,
}

fn cursorAt(i: u32) -> Cursor {
  let q = i / params.inner;
  return Cursor(q, i - q * params.inner);
}

// The cursor of element i + WORKGROUP.
fn next(cur: Cursor) -> Cursor {
  var n = Cursor(cur.q + params.stepQ, cur.s + params.stepS);
  if (n.s >= params.inner) {
    n.s -= params.inner;
    n.q += 1u;
  }
  return n;
}

// shakeMix.  a, b, y: [N, ...] (count elements); alpha: [N]
@group(0) @binding(1) var<storage, read> mix_a: array<f32>;
@group(0) @binding(2) var<storage, read> mix_b: array<f32>;
@group(0) @binding(3) var<storage, read> mix_alpha: array<f32>;
@group(0) @binding(4) var<storage, read_write> mix_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn shakeMix(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  var cur = cursorAt(i0);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    let alpha = mix_alpha[cur.q];
    mix_y[i] = alpha * mix_a[i] + (1.0 - alpha) * mix_b[i];
    cur = next(cur);
  }
}

// shakeMixBackward.  dy, da, db: [N, ...] (count elements); beta: [N]
@group(0) @binding(1) var<storage, read> mixb_dy: array<f32>;
@group(0) @binding(2) var<storage, read> mixb_beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> mixb_da: array<f32>;
@group(0) @binding(4) var<storage, read_write> mixb_db: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn shakeMixBackward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  var cur = cursorAt(i0);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    let beta = mixb_beta[cur.q];
    let g = mixb_dy[i];
    mixb_da[i] = beta * g;
    mixb_db[i] = (1.0 - beta) * g;
    cur = next(cur);
  }
}
