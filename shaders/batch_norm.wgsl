// Batch normalisation of [N, C, H, W] tensors over N·H·W per channel (PyTorch's BatchNorm2d).
// Bindings: 0 params, then the read-only inputs, then the read-write outputs (per entry point
// below, in that order).
//
// With reluInput = 1 every pass reads relu(x) where it reads x, and backwardDx masks dx as relu's
// backward does: a ReLU in front fused in (see Params).
//
// Training forward, three dispatches:
//   stats          a workgroup per (chunk, channel): the chunk's mean, then Σ(x − chunk mean)²
//                  (two passes; the chunk stays in cache between them) into `partials`
//   statsFinalize  a thread per channel merges the chunks (Chan et al.), writes saveMean and
//                  saveInvStd, updates the running statistics
//   normalize      y = (x − mean)·invStd·γ + β (also the eval forward, from running statistics)
// Backward, three dispatches (dx's last, skipped when no dx is needed):
//   backwardReduce    per (chunk, channel): Σdy and Σdy·(x − mean) into `partials`
//   backwardFinalize  per channel: dGamma += Σdy·x̂, dBeta += Σdy, and dx's coefficients
//   backwardDx        dx = γ·invStd·(dy − mean(dy)) − (x − mean)·γ·invStd²·mean(dy·x̂)
// With eval = 1 the backward is that of the eval forward: mean and stat are the running mean
// and variance, constants, so dx = γ·invStd·dy (the two mean terms vanish).
// stats4, normalize4, backwardReduce4 and backwardDx4 are the same over vec4 units, for planes of
// a multiple of 4 elements: a unit then lies in one plane, so one channel, and a thread loads
// its per-channel values once per 4 elements (llvmpipe pays for every load, wide or not). Their
// params count vec4 units (plane, count, chunk, total, the steps); the finalize kernels always
// get elements.
// `partials` and the coefficients live in one scratch buffer: partials [C, chunks, 2] from word
// 0, coefficients [C, 4] from word `coefOffset`.
//
// Threads step through elements WORKGROUP apart and track (image, channel, plane offset) with
// adds only: an integer division per element is slow where it is emulated (llvmpipe vectorises
// everything but division), so each thread divides once.

struct Params {
  channels: u32,   // C
  plane: u32,      // H·W
  count: u32,      // N·H·W: elements per channel
  chunk: u32,      // elements per chunk, a multiple of WORKGROUP
  chunks: u32,     // chunks per channel
  total: u32,      // N·C·H·W
  momentum: f32,   // statsFinalize: running = (1 − momentum)·running + momentum·batch
  eps: f32,
  eval: u32,       // normalize, backwardFinalize: 1 when `stat` holds running variances
                   // rather than inverse stds (the eval forward and its backward)
  coefOffset: u32, // first word of the dx coefficients in the scratch buffer
  stepQ: u32,      // WORKGROUP / plane: whole planes in a step of WORKGROUP elements
  stepS: u32,      // WORKGROUP % plane: and the plane offset the step adds
  stepC: u32,      // stepQ % channels: and the channels the step adds
  reluInput: u32,  // 1: the input is x's ReLU, applied on load (a ReLU fused in front); the
                   // backward then gives the gradient of the ReLU's input
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 256u;
// Elements each thread of normalize / backwardDx handles, WORKGROUP apart.
override PER_THREAD: u32 = 8u;
// The 2-barrier reductions sum WORKGROUP values in REDUCE_GROUPS groups, then the group sums.
const REDUCE_GROUPS: u32 = 16u;
var<workgroup> red: array<vec2f, WORKGROUP>;
var<workgroup> red2: array<vec2f, REDUCE_GROUPS>;

// Sums `v` over the workgroup; every invocation gets the total. Two barriers only, since
// barriers are costly on CPU implementations (llvmpipe). Call from uniform control flow.
fn workgroupSum(t: u32, v: vec2f) -> vec2f {
  red[t] = v;
  workgroupBarrier();
  let per = WORKGROUP / REDUCE_GROUPS;
  if (t < REDUCE_GROUPS) {
    var s = vec2f(0.0);
    for (var i = 0u; i < per; i++) {
      s += red[t * per + i];
    }
    red2[t] = s;
  }
  workgroupBarrier();
  var total = vec2f(0.0);
  for (var i = 0u; i < REDUCE_GROUPS; i++) {
    total += red2[i];
  }
  return total;
}

// The helpers below take vec4 units; the scalar entry points pass vec4f(x) and keep `.x`.

// The input value the passes see: x, or relu(x) with reluInput = 1 (relu's own select, so NaN
// stays NaN).
fn input4(x: vec4f) -> vec4f {
  return select(x, vec4f(0.0), vec4<bool>(params.reluInput == 1u) & (x <= vec4f(0.0)));
}

fn input1(x: f32) -> f32 {
  return input4(vec4f(x)).x;
}

// Elements in chunk k of a channel.
fn chunkLength(k: u32) -> u32 {
  return min(params.chunk, params.count - k * params.chunk);
}

// A channel's element j (in [0, N·H·W)) as image n and plane offset s.
struct Cursor {
  n: u32,
  s: u32,
}

fn cursorAt(j: u32) -> Cursor {
  let n = j / params.plane;
  return Cursor(n, j - n * params.plane);
}

// The cursor of element j + WORKGROUP.
fn step(cur: Cursor) -> Cursor {
  var next = Cursor(cur.n + params.stepQ, cur.s + params.stepS);
  if (next.s >= params.plane) {
    next.s -= params.plane;
    next.n += 1u;
  }
  return next;
}

fn address(c: u32, cur: Cursor) -> u32 {
  return (cur.n * params.channels + c) * params.plane + cur.s;
}

// Element i of the whole tensor with its channel c and plane offset s.
struct Element {
  i: u32,
  c: u32,
  s: u32,
}

fn elementAt(i: u32) -> Element {
  let q = i / params.plane;
  return Element(i, q % params.channels, i - q * params.plane);
}

// Element i + WORKGROUP (c + stepC + 1 < 2·C, so one wrap suffices).
fn nextElement(e: Element) -> Element {
  var next = Element(e.i + WORKGROUP, e.c + params.stepC, e.s + params.stepS);
  if (next.s >= params.plane) {
    next.s -= params.plane;
    next.c += 1u;
  }
  if (next.c >= params.channels) {
    next.c -= params.channels;
  }
  return next;
}

// The first element of thread lid in the linear workgroup of a 2-D grid.
fn firstElement(lid: u32, wid: vec3u, nwg: vec3u) -> Element {
  return elementAt((wid.x + wid.y * nwg.x) * WORKGROUP * PER_THREAD + lid);
}

// stats: partials[c, k] = (mean, M2) of chunk k of channel c.
// x: [N, C, H, W]; partials: [C, chunks, 2]. Dispatch (chunks, C).
@group(0) @binding(1) var<storage, read> stats_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats_partials: array<f32>;

// Chunk k of channel c's (mean, M2) into partials.
fn storeStats(c: u32, k: u32, v: vec2f) {
  stats_partials[(c * params.chunks + k) * 2u] = v.x;
  stats_partials[(c * params.chunks + k) * 2u + 1u] = v.y;
}

@compute @workgroup_size(WORKGROUP)
fn stats(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let k = wid.x;
  let c = wid.y;
  let start = k * params.chunk;
  let end = start + chunkLength(k);
  let first = cursorAt(start + t);
  var cur = first;
  var s = 0.0;
  for (var j = start + t; j < end; j += WORKGROUP) {
    s += input1(stats_x[address(c, cur)]);
    cur = step(cur);
  }
  let mean = workgroupSum(t, vec2f(s, 0.0)).x / f32(end - start);
  cur = first;
  var q = 0.0;
  for (var j = start + t; j < end; j += WORKGROUP) {
    let d = input1(stats_x[address(c, cur)]) - mean;
    q += d * d;
    cur = step(cur);
  }
  let m2 = workgroupSum(t, vec2f(q, 0.0)).x;
  if (t == 0u) {
    storeStats(c, k, vec2f(mean, m2));
  }
}

// statsFinalize: merge the chunks of each channel, save the batch statistics for backward and
// update the running ones (unbiased variance, as PyTorch).
// partials: [C, chunks, 2]; runningMean, runningVar, saveMean, saveInvStd: [C].
@group(0) @binding(1) var<storage, read> fin_partials: array<f32>;
@group(0) @binding(2) var<storage, read_write> fin_runningMean: array<f32>;
@group(0) @binding(3) var<storage, read_write> fin_runningVar: array<f32>;
@group(0) @binding(4) var<storage, read_write> fin_saveMean: array<f32>;
@group(0) @binding(5) var<storage, read_write> fin_saveInvStd: array<f32>;

@compute @workgroup_size(64)
fn statsFinalize(@builtin(global_invocation_id) id: vec3u) {
  let c = id.x;
  if (c >= params.channels) {
    return;
  }
  var n = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var k = 0u; k < params.chunks; k++) {
    let nb = f32(chunkLength(k));
    let mb = fin_partials[(c * params.chunks + k) * 2u];
    let total = n + nb;
    let delta = mb - mean;
    mean += delta * (nb / total);
    m2 += fin_partials[(c * params.chunks + k) * 2u + 1u] + delta * delta * (n * nb / total);
    n = total;
  }
  let m = params.momentum;
  fin_saveMean[c] = mean;
  fin_saveInvStd[c] = 1.0 / sqrt(m2 / n + params.eps);
  fin_runningMean[c] = (1.0 - m) * fin_runningMean[c] + m * mean;
  fin_runningVar[c] = (1.0 - m) * fin_runningVar[c] + m * (m2 / (n - 1.0));
}

// normalize: y = (x − mean[c])·invStd[c]·γ[c] + β[c]; with eval = 1, `stat` holds variances and
// invStd = 1/sqrt(var + eps).
// x: [N, C, H, W]; gamma, beta, mean, stat: [C]; y: [N, C, H, W].
@group(0) @binding(1) var<storage, read> norm_x: array<f32>;
@group(0) @binding(2) var<storage, read> norm_gamma: array<f32>;
@group(0) @binding(3) var<storage, read> norm_beta: array<f32>;
@group(0) @binding(4) var<storage, read> norm_mean: array<f32>;
@group(0) @binding(5) var<storage, read> norm_stat: array<f32>;
@group(0) @binding(6) var<storage, read_write> norm_y: array<f32>;

// (x − mean[c])·invStd[c]·γ[c] + β[c] of the input a unit of x holds.
fn normalized(x: vec4f, c: u32) -> vec4f {
  var invStd = norm_stat[c];
  if (params.eval == 1u) {
    invStd = 1.0 / sqrt(invStd + params.eps);
  }
  return (input4(x) - norm_mean[c]) * (invStd * norm_gamma[c]) + norm_beta[c];
}

@compute @workgroup_size(WORKGROUP)
fn normalize(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  var e = firstElement(lid, wid, nwg);
  for (var k = 0u; k < PER_THREAD && e.i < params.total; k++) {
    norm_y[e.i] = normalized(vec4f(norm_x[e.i]), e.c).x;
    e = nextElement(e);
  }
}

// backwardReduce: partials[c, k] = (Σdy, Σdy·(x − mean[c])) over chunk k of channel c.
// dy, x: [N, C, H, W]; mean: [C]; partials: [C, chunks, 2]. Dispatch (chunks, C).
@group(0) @binding(1) var<storage, read> bred_dy: array<f32>;
@group(0) @binding(2) var<storage, read> bred_x: array<f32>;
@group(0) @binding(3) var<storage, read> bred_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> bred_partials: array<f32>;

// Chunk k of channel c's (Σdy, Σdy·(x − mean)) into partials.
fn storeReduced(c: u32, k: u32, v: vec2f) {
  bred_partials[(c * params.chunks + k) * 2u] = v.x;
  bred_partials[(c * params.chunks + k) * 2u + 1u] = v.y;
}

@compute @workgroup_size(WORKGROUP)
fn backwardReduce(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let k = wid.x;
  let c = wid.y;
  let start = k * params.chunk;
  let end = start + chunkLength(k);
  let mean = bred_mean[c];
  var cur = cursorAt(start + t);
  var s = vec2f(0.0);
  for (var j = start + t; j < end; j += WORKGROUP) {
    let a = address(c, cur);
    let g = bred_dy[a];
    s += vec2f(g, g * (input1(bred_x[a]) - mean));
    cur = step(cur);
  }
  let total = workgroupSum(t, s);
  if (t == 0u) {
    storeReduced(c, k, total);
  }
}

// backwardFinalize: per channel, dGamma += Σdy·x̂, dBeta += Σdy, and the coefficients
// (γ·invStd, mean(dy), mean, γ·invStd²·mean(dy·x̂)) of backwardDx; with eval = 1 `invStd`
// holds running variances and the two mean coefficients are 0.
// mean, invStd, gamma: [C]; dGamma, dBeta: [C]; scratch: partials, then coefficients [C, 4].
@group(0) @binding(1) var<storage, read> bfin_mean: array<f32>;
@group(0) @binding(2) var<storage, read> bfin_invStd: array<f32>;
@group(0) @binding(3) var<storage, read> bfin_gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> bfin_dGamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> bfin_dBeta: array<f32>;
@group(0) @binding(6) var<storage, read_write> bfin_scratch: array<f32>;

@compute @workgroup_size(64)
fn backwardFinalize(@builtin(global_invocation_id) id: vec3u) {
  let c = id.x;
  if (c >= params.channels) {
    return;
  }
  var s = vec2f(0.0);
  for (var k = 0u; k < params.chunks; k++) {
    let p = (c * params.chunks + k) * 2u;
    s += vec2f(bfin_scratch[p], bfin_scratch[p + 1u]);
  }
  var invStd = bfin_invStd[c];
  if (params.eval == 1u) {
    invStd = 1.0 / sqrt(invStd + params.eps);
  }
  let sumDyXhat = s.y * invStd;
  let train = params.eval == 0u;
  bfin_dBeta[c] += s.x;
  bfin_dGamma[c] += sumDyXhat;
  let a = bfin_gamma[c] * invStd;
  let n = f32(params.count);
  let o = params.coefOffset + c * 4u;
  bfin_scratch[o] = a;
  bfin_scratch[o + 1u] = select(0.0, s.x / n, train);
  bfin_scratch[o + 2u] = bfin_mean[c];
  bfin_scratch[o + 3u] = select(0.0, a * invStd * (sumDyXhat / n), train);
}

// backwardDx: dx = a·(dy − mean(dy)) − (x − mean)·k with the coefficients of backwardFinalize.
// dy, x: [N, C, H, W]; scratch: coefficients [C, 4] from coefOffset; dx: [N, C, H, W].
@group(0) @binding(1) var<storage, read> bdx_dy: array<f32>;
@group(0) @binding(2) var<storage, read> bdx_x: array<f32>;
@group(0) @binding(3) var<storage, read> bdx_coef: array<f32>;
@group(0) @binding(4) var<storage, read_write> bdx_dx: array<f32>;

// dx of a unit from dy and x, with channel c's coefficients; masked as relu's backward masks
// (where relu(x) is not > 0) with reluInput = 1.
fn inputGradient(dy: vec4f, x: vec4f, c: u32) -> vec4f {
  let o = params.coefOffset + c * 4u;
  let seen = input4(x);
  let d = bdx_coef[o] * (dy - bdx_coef[o + 1u]) - (seen - bdx_coef[o + 2u]) * bdx_coef[o + 3u];
  return select(d, vec4f(0.0), vec4<bool>(params.reluInput == 1u) & !(seen > vec4f(0.0)));
}

@compute @workgroup_size(WORKGROUP)
fn backwardDx(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
              @builtin(num_workgroups) nwg: vec3u) {
  var e = firstElement(lid, wid, nwg);
  for (var k = 0u; k < PER_THREAD && e.i < params.total; k++) {
    bdx_dx[e.i] = inputGradient(vec4f(bdx_dy[e.i]), vec4f(bdx_x[e.i]), e.c).x;
    e = nextElement(e);
  }
}

// stats4: stats over vec4 units (partials bound as stats binds them).
// x: [N, C, H, W] as vec4; partials: [C, chunks, 2].
@group(0) @binding(1) var<storage, read> stats4_x: array<vec4f>;

@compute @workgroup_size(WORKGROUP)
fn stats4(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let k = wid.x;
  let c = wid.y;
  let start = k * params.chunk;
  let end = start + chunkLength(k);
  let first = cursorAt(start + t);
  var cur = first;
  var s = 0.0;
  for (var j = start + t; j < end; j += WORKGROUP) {
    let v = input4(stats4_x[address(c, cur)]);
    s += (v.x + v.y) + (v.z + v.w);
    cur = step(cur);
  }
  let mean = workgroupSum(t, vec2f(s, 0.0)).x / f32(4u * (end - start));
  cur = first;
  var q = 0.0;
  for (var j = start + t; j < end; j += WORKGROUP) {
    let d = input4(stats4_x[address(c, cur)]) - mean;
    q += dot(d, d);
    cur = step(cur);
  }
  let m2 = workgroupSum(t, vec2f(q, 0.0)).x;
  if (t == 0u) {
    storeStats(c, k, vec2f(mean, m2));
  }
}

// normalize4: normalize over vec4 units (gamma, beta, mean, stat bound as normalize binds them).
// x: [N, C, H, W] as vec4; gamma, beta, mean, stat: [C]; y: [N, C, H, W] as vec4.
@group(0) @binding(1) var<storage, read> norm4_x: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> norm4_y: array<vec4f>;

@compute @workgroup_size(WORKGROUP)
fn normalize4(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
              @builtin(num_workgroups) nwg: vec3u) {
  var e = firstElement(lid, wid, nwg);
  for (var k = 0u; k < PER_THREAD && e.i < params.total; k++) {
    norm4_y[e.i] = normalized(norm4_x[e.i], e.c);
    e = nextElement(e);
  }
}

// backwardReduce4: backwardReduce over vec4 units (mean, partials as backwardReduce binds them).
// dy, x: [N, C, H, W] as vec4; mean: [C]; partials: [C, chunks, 2].
@group(0) @binding(1) var<storage, read> bred4_dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> bred4_x: array<vec4f>;

@compute @workgroup_size(WORKGROUP)
fn backwardReduce4(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let k = wid.x;
  let c = wid.y;
  let start = k * params.chunk;
  let end = start + chunkLength(k);
  let mean = bred_mean[c];
  var cur = cursorAt(start + t);
  var s = vec2f(0.0);
  for (var j = start + t; j < end; j += WORKGROUP) {
    let a = address(c, cur);
    let g = bred4_dy[a];
    s += vec2f((g.x + g.y) + (g.z + g.w), dot(g, input4(bred4_x[a]) - mean));
    cur = step(cur);
  }
  let total = workgroupSum(t, s);
  if (t == 0u) {
    storeReduced(c, k, total);
  }
}

// backwardDx4: backwardDx over vec4 units (the coefficients as backwardDx binds them).
// dy, x: [N, C, H, W] as vec4; scratch: coefficients [C, 4] from coefOffset; dx: as vec4.
@group(0) @binding(1) var<storage, read> bdx4_dy: array<vec4f>;
@group(0) @binding(2) var<storage, read> bdx4_x: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> bdx4_dx: array<vec4f>;

@compute @workgroup_size(WORKGROUP)
fn backwardDx4(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  var e = firstElement(lid, wid, nwg);
  for (var k = 0u; k < PER_THREAD && e.i < params.total; k++) {
    bdx4_dx[e.i] = inputGradient(bdx4_dy[e.i], bdx4_x[e.i], e.c);
    e = nextElement(e);
  }
}
