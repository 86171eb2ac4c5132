// Whole-tensor reductions and comparisons (the metrics of a training loop: sum, mean, row argmax,
// elementwise equality), the scalar broadcasts that make the gradients of sum, mean and a
// loss scaled by its output gradient, and gradient-norm clipping (sums of squares by chunks, the
// clip coefficient, the in-place rescale).
// Bindings: 0 params, then the read-only inputs, then the read-write outputs (per entry point
// below, in that order). sumAll* and clipCoefficient run as one workgroup that adds in a fixed
// order, so a sum is deterministic; sumSquaresPartial runs a workgroup per chunk; the others use
// one thread per element written and a 2-D grid of workgroups.

struct Params {
  count: u32,  // elements of x (sumAll*, sumSquaresPartial), written (equalMask,
               // broadcastScalar, scaleByScalar*), rows N (rowArgmax) or partial sums
               // (clipCoefficient)
  k: u32,      // rowArgmax: columns K
  factor: f32, // sumAllF32, broadcastScalar: the factor applied (1 for sum, 1/count for mean);
               // clipCoefficient: the maximum norm
  offset: u32, // sumSquaresPartial: where this tensor's chunks start in partials
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 256u; // a power of two (tree reductions)
override CHUNK: u32 = 4096u;    // sumSquaresPartial: elements per workgroup

fn index(lid: u32, wid: vec3u, nwg: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
}

// sumAllF32: y[0] = factor · Σ x (each thread adds a strided share, then a tree).
// x: [count]; y: [1]
@group(0) @binding(1) var<storage, read> sumf_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sumf_y: array<f32>;

var<workgroup> partialF32: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn sumAllF32(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < params.count; i += WORKGROUP) {
    s += sumf_x[i];
  }
  partialF32[lid] = s;
  workgroupBarrier();
  for (var half = WORKGROUP / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      partialF32[lid] += partialF32[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    sumf_y[0] = params.factor * partialF32[0];
  }
}

// sumAllI32: y[0] = Σ x, wrapping on overflow as i32 does.  x: [count] i32; y: [1] i32
@group(0) @binding(1) var<storage, read> sumi_x: array<i32>;
@group(0) @binding(2) var<storage, read_write> sumi_y: array<i32>;

var<workgroup> partialI32: array<i32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn sumAllI32(@builtin(local_invocation_index) lid: u32) {
  var s = 0;
  for (var i = lid; i < params.count; i += WORKGROUP) {
    s += sumi_x[i];
  }
  partialI32[lid] = s;
  workgroupBarrier();
  for (var half = WORKGROUP / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      partialI32[lid] += partialI32[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    sumi_y[0] = partialI32[0];
  }
}

// rowArgmax: y[r] = the column of the largest x[r, :] (the first one on ties, as torch.argmax).
// x: [N, K]; y: [N] i32
@group(0) @binding(1) var<storage, read> am_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> am_y: array<i32>;

@compute @workgroup_size(WORKGROUP)
fn rowArgmax(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  let row = index(lid, wid, nwg);
  if (row >= params.count) {
    return;
  }
  let base = row * params.k;
  var best = am_x[base];
  var arg = 0u;
  for (var j = 1u; j < params.k; j++) {
    let v = am_x[base + j];
    if (v > best) {
      best = v;
      arg = j;
    }
  }
  am_y[row] = i32(arg);
}

// equalMask: y = 1 where a = b, else 0.  a, b, y: [count] i32
@group(0) @binding(1) var<storage, read> eq_a: array<i32>;
@group(0) @binding(2) var<storage, read> eq_b: array<i32>;
@group(0) @binding(3) var<storage, read_write> eq_y: array<i32>;

@compute @workgroup_size(WORKGROUP)
fn equalMask(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  eq_y[i] = select(0, 1, eq_a[i] == eq_b[i]);
}

// broadcastScalar: y = factor · s[0] everywhere (the gradient of sum and mean).
// s: [1]; y: [count]
@group(0) @binding(1) var<storage, read> bc_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> bc_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn broadcastScalar(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                   @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  bc_y[i] = params.factor * bc_s[0];
}

// scaleByScalar: y = x · s[0] (a saved gradient times the output gradient of a scalar op).
// x, y: [count]; s: [1]
@group(0) @binding(1) var<storage, read> sbs_x: array<f32>;
@group(0) @binding(2) var<storage, read> sbs_s: array<f32>;
@group(0) @binding(3) var<storage, read_write> sbs_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn scaleByScalar(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                 @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  sbs_y[i] = sbs_x[i] * sbs_s[0];
}

// sumSquaresPartial: partials[offset + g] = Σ x² over chunk g = [g·CHUNK, (g + 1)·CHUNK) of x, a
// workgroup per chunk (strided shares, then a tree).  x: [count]; partials: [offset + chunks, ...]
@group(0) @binding(1) var<storage, read> ssq_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ssq_partials: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn sumSquaresPartial(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                     @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let start = g * CHUNK;
  if (start >= params.count) {
    return; // a workgroup past the last chunk (the grid rounds up); uniform, so barriers hold
  }
  let stop = min(start + CHUNK, params.count);
  var s = 0.0;
  for (var i = start + lid; i < stop; i += WORKGROUP) {
    let v = ssq_x[i];
    s += v * v;
  }
  partialF32[lid] = s;
  workgroupBarrier();
  for (var half = WORKGROUP / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      partialF32[lid] += partialF32[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    ssq_partials[params.offset + g] = partialF32[0];
  }
}

// clipCoefficient: norm[0] = sqrt(Σ partials), coef[0] = min(1, maxNorm / (norm + 1e-6)) as
// torch.nn.utils.clip_grad_norm_ (a NaN norm gives a NaN coefficient, as its clamp does).
// partials: [count]; norm, coef: [1]
@group(0) @binding(1) var<storage, read> clip_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> clip_norm: array<f32>;
@group(0) @binding(3) var<storage, read_write> clip_coef: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn clipCoefficient(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < params.count; i += WORKGROUP) {
    s += clip_partials[i];
  }
  partialF32[lid] = s;
  workgroupBarrier();
  for (var half = WORKGROUP / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      partialF32[lid] += partialF32[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let norm = sqrt(partialF32[0]);
    let c = params.factor / (norm + 1e-6);
    clip_norm[0] = norm;
    clip_coef[0] = select(c, 1.0, c > 1.0);
  }
}

// scaleByScalarInPlace: y *= s[0].  s: [1]; y: [count]
@group(0) @binding(1) var<storage, read> sip_s: array<f32>;
@group(0) @binding(2) var<storage, read_write> sip_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn scaleByScalarInPlace(@builtin(local_invocation_index) lid: u32,
                        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  sip_y[i] *= sip_s[0];
}
