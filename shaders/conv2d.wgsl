// 2-D convolution (NCHW, cross-correlation as in PyTorch) as implicit GEMM, forward and backward.
// Bindings of every entry point: 0 params (uniform), then the read-only inputs, then the outputs.
//
// transpose    out[a, b, c] = in[a·a_stride + b·b_stride + c·c_stride], zero for c ≥ c_count up
//              to c_pad: lays weights out as [r, tap, q] and dy as [n, pos, o], so that the GEMM
//              loops below read 16 channels with four vec4 loads. 16 channels per invocation.
// gather_*      out[n, q, pos] = Σ_r Σ_tap in[n, r, tap(pos)] · w[r, tap, q] (+ bias[q]). The
//              forward pass (q = o, r = c) and the input gradient (q = c, r = o, taps mirrored,
//              the output split into stride² phases so every tap of a phase is used) are both it.
// weight_grad_* dW[o, c, kh, kw] (+)= Σ over a chunk of the rows (n, oh) and all ow of
//              dy[n, o, oh, ow] · x[n, c, oh·s − p + kh, ow·s − p + kw].
// sumChunks   dW += Σ_chunk partial[chunk]: the second pass when the reduction was split.
// biasGrad    dBias[o] += Σ_{n, oh, ow} dy[n, o, oh, ow].
//
// Every invocation of the GEMMs (gather, weight_grad) owns a register tile in named mat4x4f
// accumulators, 16 channels each as four vec4 columns. The channels are the same for all the
// invocations of a workgroup, so their vec4 loads are uniform; the rows differ per lane. No
// workgroup memory, no barriers, except in gatherTiled64x64, the classic block tiling for hardware
// GPUs, and its weight-gradient twin weightGradTiled64x64 (described at them). Tails are clamped for loads and guarded for stores, so any shape
// works on any adapter. Every tile sums each output in the same order (bit-identical results):
// - the hardware tiles, 64 to 80 accumulators (gather4x16: 4 positions × 16 channels,
//   weightGrad4x16: 4 columns (c, kh, kw) × 16 output channels, weightGradRow5x16: 5 taps of one
//   kernel row × 16): fit a GPU's register file (255 per invocation on NVIDIA) and build in under
//   a second on SwiftShader;
// - the llvmpipe tiles, 256 to 576 accumulators (gather16x16, gather16x32, gatherRow16x16,
//   weightGrad8x32, weightGrad3x3x2x16, weightGrad3x3x4x16): llvmpipe runs a workgroup on one CPU
//   thread, its invocations 8 at a time in SIMD lanes, and every storage load inside a loop,
//   uniform or not, is a loop over the lanes that costs about as much as 8 to 9 multiply-adds on
//   all of them, while accumulators spilled to the stack cost little; so the tiles that win there
//   feed the most multiply-adds per value loaded: more positions and channels per invocation, and
//   windows of inputs that slide along a row, so that taps which read the same input load it once.
//   Other compilers choke on them: SwiftShader (Subzero) grows past 3 GB building a gather of 8
//   positions, and Dawn's GPU process dies after 88 s on the 16-position one.

override WORKGROUP: u32 = 64u;

// ---- transpose ----

struct TransposeParams {
  a_count: u32,
  b_count: u32,
  c_count: u32,
  c_pad: u32, // a multiple of 16
  a_stride: u32,
  b_stride: u32,
  c_stride: u32,
}

@group(0) @binding(0) var<uniform> tparams: TransposeParams;
@group(0) @binding(1) var<storage, read> transpose_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> transpose_out: array<vec4f>; // [a, b, c_pad / 4]

@compute @workgroup_size(WORKGROUP)
fn transpose(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
  let c_blocks = tparams.c_pad / 16u;
  if (i >= tparams.a_count * tparams.b_count * c_blocks) {
    return;
  }
  let c0 = (i % c_blocks) * 16u;
  let ab = i / c_blocks;
  let b = ab % tparams.b_count;
  let a = ab / tparams.b_count;
  let base = a * tparams.a_stride + b * tparams.b_stride;
  let last = tparams.c_count - 1u;
  var m = mat4x4f();
  for (var j = 0u; j < 16u; j++) {
    let c = c0 + j;
    let v = transpose_in[base + min(c, last) * tparams.c_stride];
    m[j / 4u][j % 4u] = select(0.0, v, c < tparams.c_count);
  }
  let o = ab * (tparams.c_pad / 4u) + c0 / 4u;
  transpose_out[o] = m[0];
  transpose_out[o + 1u] = m[1];
  transpose_out[o + 2u] = m[2];
  transpose_out[o + 3u] = m[3];
}

// ---- gather: forward and input gradient ----

struct GatherParams {
  batch: u32,
  q_count: u32,      // channels of the output
  r_count: u32,      // channels reduced over
  in_h: u32,         // spatial size of the gathered input
  in_w: u32,
  out_h: u32,        // spatial size of the output
  out_w: u32,
  kernel_h: u32,
  kernel_w: u32,
  phase_stride: u32, // output coordinate = phase + phase_stride · u
  sub_h: u32,        // range of u: ceil(out / phase_stride)
  sub_w: u32,
  in_step: u32,      // input coordinate = in_step · u + (phase + tap_sign · k + tap_offset) / tap_div
  tap_sign: i32,     // (taps whose numerator is not a multiple of tap_div do not reach the phase)
  tap_offset: i32,
  tap_div: i32,
  q_vec: u32,        // vec4s per (r, tap) row of the weights: q_pad / 4
  use_bias: u32,     // 1: add bias[q]
  blocks_m: u32,     // workgroups per phase along the positions
  blocks_q: u32,     // workgroups along q, 16 channels each
}

@group(0) @binding(0) var<uniform> gparams: GatherParams;
@group(0) @binding(1) var<storage, read> gather_in: array<f32>;    // [N, R, in_h, in_w]
@group(0) @binding(2) var<storage, read> gather_w: array<vec4f>;   // [R, KH·KW, q_pad / 4]
@group(0) @binding(3) var<storage, read> gather_bias: array<f32>;  // [Q] (unread without bias)
@group(0) @binding(4) var<storage, read_write> gather_out: array<f32>; // [N, Q, out_h, out_w]

// One output position of an invocation.
struct Pos {
  valid: bool,
  n: u32,
  oh: u32,
  ow: u32,
  uh: u32,
  uw: u32,
}

fn gather_pos(mu: u32, ph: u32, pw: u32) -> Pos {
  let plane = gparams.sub_h * gparams.sub_w;
  let n = mu / plane;
  let rest = mu - n * plane;
  let uh = rest / gparams.sub_w;
  let uw = rest - uh * gparams.sub_w;
  let oh = ph + gparams.phase_stride * uh;
  let ow = pw + gparams.phase_stride * uw;
  let valid = n < gparams.batch && oh < gparams.out_h && ow < gparams.out_w;
  return Pos(valid, n, oh, ow, uh, uw);
}

// Where a tap reads the input for position p (channel 0), or -1 in the padding.
fn gather_offset(p: Pos, bh: i32, bw: i32) -> i32 {
  let ih = i32(p.uh * gparams.in_step) + bh;
  let iw = i32(p.uw * gparams.in_step) + bw;
  let inside = p.valid && ih >= 0 && ih < i32(gparams.in_h) && iw >= 0 && iw < i32(gparams.in_w);
  let plane = gparams.in_h * gparams.in_w;
  let base = i32(p.n * gparams.r_count * plane) + ih * i32(gparams.in_w) + iw;
  return select(-1, base, inside);
}

fn gather_load(offset: i32, r_offset: u32) -> f32 {
  let v = gather_in[u32(max(offset, 0)) + r_offset];
  return select(0.0, v, offset >= 0);
}

// Stores the first `width` channels of a tile's accumulators for position p, bias added.
fn gather_store_n(p: Pos, q0: u32, acc: mat4x4f, width: u32) {
  if (!p.valid) {
    return;
  }
  let plane = gparams.out_h * gparams.out_w;
  let base = p.n * gparams.q_count * plane + p.oh * gparams.out_w + p.ow;
  for (var j = 0u; j < width; j++) {
    let q = q0 + j;
    if (q < gparams.q_count) {
      var v = acc[j / 4u][j % 4u];
      if (gparams.use_bias != 0u) {
        v += gather_bias[q];
      }
      gather_out[base + q * plane] = v;
    }
  }
}

fn gather_store(p: Pos, q0: u32, acc: mat4x4f) {
  gather_store_n(p, q0, acc, 16u);
}

// The 8- and 12-channel tiles' stores.
fn gather_store8(p: Pos, q0: u32, acc: mat2x4f) {
  gather_store_n(p, q0, mat4x4f(acc[0], acc[1], vec4f(), vec4f()), 8u);
}

fn gather_store12(p: Pos, q0: u32, acc: mat3x4f) {
  gather_store_n(p, q0, mat4x4f(acc[0], acc[1], acc[2], vec4f()), 12u);
}

@compute @workgroup_size(WORKGROUP)
fn gather16x16(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let q_block = g % gparams.blocks_q;
  let rest = g / gparams.blocks_q;
  let m_block = rest % gparams.blocks_m;
  let phase = rest / gparams.blocks_m;
  if (phase >= gparams.phase_stride * gparams.phase_stride) {
    return;
  }
  let ph = phase / gparams.phase_stride;
  let pw = phase % gparams.phase_stride;
  let q0 = q_block * 16u;
  // The 16 positions of an invocation are WORKGROUP apart, so neighbouring lanes read neighbours.
  let m0 = m_block * WORKGROUP * 16u + lid;
  let p0 = gather_pos(m0, ph, pw);
  let p1 = gather_pos(m0 + WORKGROUP, ph, pw);
  let p2 = gather_pos(m0 + 2u * WORKGROUP, ph, pw);
  let p3 = gather_pos(m0 + 3u * WORKGROUP, ph, pw);
  let p4 = gather_pos(m0 + 4u * WORKGROUP, ph, pw);
  let p5 = gather_pos(m0 + 5u * WORKGROUP, ph, pw);
  let p6 = gather_pos(m0 + 6u * WORKGROUP, ph, pw);
  let p7 = gather_pos(m0 + 7u * WORKGROUP, ph, pw);
  let p8 = gather_pos(m0 + 8u * WORKGROUP, ph, pw);
  let p9 = gather_pos(m0 + 9u * WORKGROUP, ph, pw);
  let p10 = gather_pos(m0 + 10u * WORKGROUP, ph, pw);
  let p11 = gather_pos(m0 + 11u * WORKGROUP, ph, pw);
  let p12 = gather_pos(m0 + 12u * WORKGROUP, ph, pw);
  let p13 = gather_pos(m0 + 13u * WORKGROUP, ph, pw);
  let p14 = gather_pos(m0 + 14u * WORKGROUP, ph, pw);
  let p15 = gather_pos(m0 + 15u * WORKGROUP, ph, pw);
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  var a4 = mat4x4f();
  var a5 = mat4x4f();
  var a6 = mat4x4f();
  var a7 = mat4x4f();
  var a8 = mat4x4f();
  var a9 = mat4x4f();
  var a10 = mat4x4f();
  var a11 = mat4x4f();
  var a12 = mat4x4f();
  var a13 = mat4x4f();
  var a14 = mat4x4f();
  var a15 = mat4x4f();
  let in_plane = gparams.in_h * gparams.in_w;
  let taps = gparams.kernel_h * gparams.kernel_w;
  let w_step = taps * gparams.q_vec;
  for (var kh = 0u; kh < gparams.kernel_h; kh++) {
    let nh = i32(ph) + gparams.tap_sign * i32(kh) + gparams.tap_offset;
    if (nh % gparams.tap_div != 0) {
      continue;
    }
    let bh = nh / gparams.tap_div;
    for (var kw = 0u; kw < gparams.kernel_w; kw++) {
      let nw = i32(pw) + gparams.tap_sign * i32(kw) + gparams.tap_offset;
      if (nw % gparams.tap_div != 0) {
        continue;
      }
      let bw = nw / gparams.tap_div;
      let o0 = gather_offset(p0, bh, bw);
      let o1 = gather_offset(p1, bh, bw);
      let o2 = gather_offset(p2, bh, bw);
      let o3 = gather_offset(p3, bh, bw);
      let o4 = gather_offset(p4, bh, bw);
      let o5 = gather_offset(p5, bh, bw);
      let o6 = gather_offset(p6, bh, bw);
      let o7 = gather_offset(p7, bh, bw);
      let o8 = gather_offset(p8, bh, bw);
      let o9 = gather_offset(p9, bh, bw);
      let o10 = gather_offset(p10, bh, bw);
      let o11 = gather_offset(p11, bh, bw);
      let o12 = gather_offset(p12, bh, bw);
      let o13 = gather_offset(p13, bh, bw);
      let o14 = gather_offset(p14, bh, bw);
      let o15 = gather_offset(p15, bh, bw);
      var wi = (kh * gparams.kernel_w + kw) * gparams.q_vec + q0 / 4u;
      var ri = 0u;
      for (var r = 0u; r < gparams.r_count; r++) {
        let w = mat4x4f(gather_w[wi], gather_w[wi + 1u], gather_w[wi + 2u], gather_w[wi + 3u]);
        a0 += gather_load(o0, ri) * w;
        a1 += gather_load(o1, ri) * w;
        a2 += gather_load(o2, ri) * w;
        a3 += gather_load(o3, ri) * w;
        a4 += gather_load(o4, ri) * w;
        a5 += gather_load(o5, ri) * w;
        a6 += gather_load(o6, ri) * w;
        a7 += gather_load(o7, ri) * w;
        a8 += gather_load(o8, ri) * w;
        a9 += gather_load(o9, ri) * w;
        a10 += gather_load(o10, ri) * w;
        a11 += gather_load(o11, ri) * w;
        a12 += gather_load(o12, ri) * w;
        a13 += gather_load(o13, ri) * w;
        a14 += gather_load(o14, ri) * w;
        a15 += gather_load(o15, ri) * w;
        wi += w_step;
        ri += in_plane;
      }
    }
  }
  gather_store(p0, q0, a0);
  gather_store(p1, q0, a1);
  gather_store(p2, q0, a2);
  gather_store(p3, q0, a3);
  gather_store(p4, q0, a4);
  gather_store(p5, q0, a5);
  gather_store(p6, q0, a6);
  gather_store(p7, q0, a7);
  gather_store(p8, q0, a8);
  gather_store(p9, q0, a9);
  gather_store(p10, q0, a10);
  gather_store(p11, q0, a11);
  gather_store(p12, q0, a12);
  gather_store(p13, q0, a13);
  gather_store(p14, q0, a14);
  gather_store(p15, q0, a15);
}

// The llvmpipe tile for GEMMs of 8 output channels or a few more than a multiple of 16 (BasicCNN's
// 3 → 8 stem, the input gradient of its 8 → 16 layer): 16 positions × 8 channels (128
// accumulators), half the multiply-adds of gather16x16 for the same loads of the input.
@compute @workgroup_size(WORKGROUP)
fn gather16x8(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
              @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let q_block = g % gparams.blocks_q;
  let rest = g / gparams.blocks_q;
  let m_block = rest % gparams.blocks_m;
  let phase = rest / gparams.blocks_m;
  if (phase >= gparams.phase_stride * gparams.phase_stride) {
    return;
  }
  let ph = phase / gparams.phase_stride;
  let pw = phase % gparams.phase_stride;
  let q0 = q_block * 8u;
  // The 16 positions of an invocation are WORKGROUP apart, so neighbouring lanes read neighbours.
  let m0 = m_block * WORKGROUP * 16u + lid;
  let p0 = gather_pos(m0, ph, pw);
  let p1 = gather_pos(m0 + WORKGROUP, ph, pw);
  let p2 = gather_pos(m0 + 2u * WORKGROUP, ph, pw);
  let p3 = gather_pos(m0 + 3u * WORKGROUP, ph, pw);
  let p4 = gather_pos(m0 + 4u * WORKGROUP, ph, pw);
  let p5 = gather_pos(m0 + 5u * WORKGROUP, ph, pw);
  let p6 = gather_pos(m0 + 6u * WORKGROUP, ph, pw);
  let p7 = gather_pos(m0 + 7u * WORKGROUP, ph, pw);
  let p8 = gather_pos(m0 + 8u * WORKGROUP, ph, pw);
  let p9 = gather_pos(m0 + 9u * WORKGROUP, ph, pw);
  let p10 = gather_pos(m0 + 10u * WORKGROUP, ph, pw);
  let p11 = gather_pos(m0 + 11u * WORKGROUP, ph, pw);
  let p12 = gather_pos(m0 + 12u * WORKGROUP, ph, pw);
  let p13 = gather_pos(m0 + 13u * WORKGROUP, ph, pw);
  let p14 = gather_pos(m0 + 14u * WORKGROUP, ph, pw);
  let p15 = gather_pos(m0 + 15u * WORKGROUP, ph, pw);
  var a0 = mat2x4f();
  var a1 = mat2x4f();
  var a2 = mat2x4f();
  var a3 = mat2x4f();
  var a4 = mat2x4f();
  var a5 = mat2x4f();
  var a6 = mat2x4f();
  var a7 = mat2x4f();
  var a8 = mat2x4f();
  var a9 = mat2x4f();
  var a10 = mat2x4f();
  var a11 = mat2x4f();
  var a12 = mat2x4f();
  var a13 = mat2x4f();
  var a14 = mat2x4f();
  var a15 = mat2x4f();
  let in_plane = gparams.in_h * gparams.in_w;
  let taps = gparams.kernel_h * gparams.kernel_w;
  let w_step = taps * gparams.q_vec;
  for (var kh = 0u; kh < gparams.kernel_h; kh++) {
    let nh = i32(ph) + gparams.tap_sign * i32(kh) + gparams.tap_offset;
    if (nh % gparams.tap_div != 0) {
      continue;
    }
    let bh = nh / gparams.tap_div;
    for (var kw = 0u; kw < gparams.kernel_w; kw++) {
      let nw = i32(pw) + gparams.tap_sign * i32(kw) + gparams.tap_offset;
      if (nw % gparams.tap_div != 0) {
        continue;
      }
      let bw = nw / gparams.tap_div;
      let o0 = gather_offset(p0, bh, bw);
      let o1 = gather_offset(p1, bh, bw);
      let o2 = gather_offset(p2, bh, bw);
      let o3 = gather_offset(p3, bh, bw);
      let o4 = gather_offset(p4, bh, bw);
      let o5 = gather_offset(p5, bh, bw);
      let o6 = gather_offset(p6, bh, bw);
      let o7 = gather_offset(p7, bh, bw);
      let o8 = gather_offset(p8, bh, bw);
      let o9 = gather_offset(p9, bh, bw);
      let o10 = gather_offset(p10, bh, bw);
      let o11 = gather_offset(p11, bh, bw);
      let o12 = gather_offset(p12, bh, bw);
      let o13 = gather_offset(p13, bh, bw);
      let o14 = gather_offset(p14, bh, bw);
      let o15 = gather_offset(p15, bh, bw);
      var wi = (kh * gparams.kernel_w + kw) * gparams.q_vec + q0 / 4u;
      var ri = 0u;
      for (var r = 0u; r < gparams.r_count; r++) {
        let w = mat2x4f(gather_w[wi], gather_w[wi + 1u]);
        a0 += gather_load(o0, ri) * w;
        a1 += gather_load(o1, ri) * w;
        a2 += gather_load(o2, ri) * w;
        a3 += gather_load(o3, ri) * w;
        a4 += gather_load(o4, ri) * w;
        a5 += gather_load(o5, ri) * w;
        a6 += gather_load(o6, ri) * w;
        a7 += gather_load(o7, ri) * w;
        a8 += gather_load(o8, ri) * w;
        a9 += gather_load(o9, ri) * w;
        a10 += gather_load(o10, ri) * w;
        a11 += gather_load(o11, ri) * w;
        a12 += gather_load(o12, ri) * w;
        a13 += gather_load(o13, ri) * w;
        a14 += gather_load(o14, ri) * w;
        a15 += gather_load(o15, ri) * w;
        wi += w_step;
        ri += in_plane;
      }
    }
  }
  gather_store8(p0, q0, a0);
  gather_store8(p1, q0, a1);
  gather_store8(p2, q0, a2);
  gather_store8(p3, q0, a3);
  gather_store8(p4, q0, a4);
  gather_store8(p5, q0, a5);
  gather_store8(p6, q0, a6);
  gather_store8(p7, q0, a7);
  gather_store8(p8, q0, a8);
  gather_store8(p9, q0, a9);
  gather_store8(p10, q0, a10);
  gather_store8(p11, q0, a11);
  gather_store8(p12, q0, a12);
  gather_store8(p13, q0, a13);
  gather_store8(p14, q0, a14);
  gather_store8(p15, q0, a15);
}

// The same tile for 12 output channels (the 10-channel layers of ConvBnNet and DeepBnNet).
@compute @workgroup_size(WORKGROUP)
fn gather16x12(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let q_block = g % gparams.blocks_q;
  let rest = g / gparams.blocks_q;
  let m_block = rest % gparams.blocks_m;
  let phase = rest / gparams.blocks_m;
  if (phase >= gparams.phase_stride * gparams.phase_stride) {
    return;
  }
  let ph = phase / gparams.phase_stride;
  let pw = phase % gparams.phase_stride;
  let q0 = q_block * 12u;
  // The 16 positions of an invocation are WORKGROUP apart, so neighbouring lanes read neighbours.
  let m0 = m_block * WORKGROUP * 16u + lid;
  let p0 = gather_pos(m0, ph, pw);
  let p1 = gather_pos(m0 + WORKGROUP, ph, pw);
  let p2 = gather_pos(m0 + 2u * WORKGROUP, ph, pw);
  let p3 = gather_pos(m0 + 3u * WORKGROUP, ph, pw);
  let p4 = gather_pos(m0 + 4u * WORKGROUP, ph, pw);
  let p5 = gather_pos(m0 + 5u * WORKGROUP, ph, pw);
  let p6 = gather_pos(m0 + 6u * WORKGROUP, ph, pw);
  let p7 = gather_pos(m0 + 7u * WORKGROUP, ph, pw);
  let p8 = gather_pos(m0 + 8u * WORKGROUP, ph, pw);
  let p9 = gather_pos(m0 + 9u * WORKGROUP, ph, pw);
  let p10 = gather_pos(m0 + 10u * WORKGROUP, ph, pw);
  let p11 = gather_pos(m0 + 11u * WORKGROUP, ph, pw);
  let p12 = gather_pos(m0 + 12u * WORKGROUP, ph, pw);
  let p13 = gather_pos(m0 + 13u * WORKGROUP, ph, pw);
  let p14 = gather_pos(m0 + 14u * WORKGROUP, ph, pw);
  let p15 = gather_pos(m0 + 15u * WORKGROUP, ph, pw);
  var a0 = mat3x4f();
  var a1 = mat3x4f();
  var a2 = mat3x4f();
  var a3 = mat3x4f();
  var a4 = mat3x4f();
  var a5 = mat3x4f();
  var a6 = mat3x4f();
  var a7 = mat3x4f();
  var a8 = mat3x4f();
  var a9 = mat3x4f();
  var a10 = mat3x4f();
  var a11 = mat3x4f();
  var a12 = mat3x4f();
  var a13 = mat3x4f();
  var a14 = mat3x4f();
  var a15 = mat3x4f();
  let in_plane = gparams.in_h * gparams.in_w;
  let taps = gparams.kernel_h * gparams.kernel_w;
  let w_step = taps * gparams.q_vec;
  for (var kh = 0u; kh < gparams.kernel_h; kh++) {
    let nh = i32(ph) + gparams.tap_sign * i32(kh) + gparams.tap_offset;
    if (nh % gparams.tap_div != 0) {
      continue;
    }
    let bh = nh / gparams.tap_div;
    for (var kw = 0u; kw < gparams.kernel_w; kw++) {
      let nw = i32(pw) + gparams.tap_sign * i32(kw) + gparams.tap_offset;
      if (nw % gparams.tap_div != 0) {
        continue;
      }
      let bw = nw / gparams.tap_div;
      let o0 = gather_offset(p0, bh, bw);
      let o1 = gather_offset(p1, bh, bw);
      let o2 = gather_offset(p2, bh, bw);
      let o3 = gather_offset(p3, bh, bw);
      let o4 = gather_offset(p4, bh, bw);
      let o5 = gather_offset(p5, bh, bw);
      let o6 = gather_offset(p6, bh, bw);
      let o7 = gather_offset(p7, bh, bw);
      let o8 = gather_offset(p8, bh, bw);
      let o9 = gather_offset(p9, bh, bw);
      let o10 = gather_offset(p10, bh, bw);
      let o11 = gather_offset(p11, bh, bw);
      let o12 = gather_offset(p12, bh, bw);
      let o13 = gather_offset(p13, bh, bw);
      let o14 = gather_offset(p14, bh, bw);
      let o15 = gather_offset(p15, bh, bw);
      var wi = (kh * gparams.kernel_w + kw) * gparams.q_vec + q0 / 4u;
      var ri = 0u;
      for (var r = 0u; r < gparams.r_count; r++) {
        let w = mat3x4f(gather_w[wi], gather_w[wi + 1u], gather_w[wi + 2u]);
        a0 += gather_load(o0, ri) * w;
        a1 += gather_load(o1, ri) * w;
        a2 += gather_load(o2, ri) * w;
        a3 += gather_load(o3, ri) * w;
        a4 += gather_load(o4, ri) * w;
        a5 += gather_load(o5, ri) * w;
        a6 += gather_load(o6, ri) * w;
        a7 += gather_load(o7, ri) * w;
        a8 += gather_load(o8, ri) * w;
        a9 += gather_load(o9, ri) * w;
        a10 += gather_load(o10, ri) * w;
        a11 += gather_load(o11, ri) * w;
        a12 += gather_load(o12, ri) * w;
        a13 += gather_load(o13, ri) * w;
        a14 += gather_load(o14, ri) * w;
        a15 += gather_load(o15, ri) * w;
        wi += w_step;
        ri += in_plane;
      }
    }
  }
  gather_store12(p0, q0, a0);
  gather_store12(p1, q0, a1);
  gather_store12(p2, q0, a2);
  gather_store12(p3, q0, a3);
  gather_store12(p4, q0, a4);
  gather_store12(p5, q0, a5);
  gather_store12(p6, q0, a6);
  gather_store12(p7, q0, a7);
  gather_store12(p8, q0, a8);
  gather_store12(p9, q0, a9);
  gather_store12(p10, q0, a10);
  gather_store12(p11, q0, a11);
  gather_store12(p12, q0, a12);
  gather_store12(p13, q0, a13);
  gather_store12(p14, q0, a14);
  gather_store12(p15, q0, a15);
}

// A bigger llvmpipe tile (512 accumulators): 16 positions × 32 channels.
@compute @workgroup_size(WORKGROUP)
fn gather16x32(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let q_block = g % gparams.blocks_q;
  let rest = g / gparams.blocks_q;
  let m_block = rest % gparams.blocks_m;
  let phase = rest / gparams.blocks_m;
  if (phase >= gparams.phase_stride * gparams.phase_stride) {
    return;
  }
  let ph = phase / gparams.phase_stride;
  let pw = phase % gparams.phase_stride;
  let q0 = q_block * 32u;
  // The second 16 channels are skipped past the last channel (a uniform branch).
  let wide = q0 + 16u < gparams.q_count;
  let m0 = m_block * WORKGROUP * 16u + lid;
  let p0 = gather_pos(m0, ph, pw);
  let p1 = gather_pos(m0 + WORKGROUP, ph, pw);
  let p2 = gather_pos(m0 + 2u * WORKGROUP, ph, pw);
  let p3 = gather_pos(m0 + 3u * WORKGROUP, ph, pw);
  let p4 = gather_pos(m0 + 4u * WORKGROUP, ph, pw);
  let p5 = gather_pos(m0 + 5u * WORKGROUP, ph, pw);
  let p6 = gather_pos(m0 + 6u * WORKGROUP, ph, pw);
  let p7 = gather_pos(m0 + 7u * WORKGROUP, ph, pw);
  let p8 = gather_pos(m0 + 8u * WORKGROUP, ph, pw);
  let p9 = gather_pos(m0 + 9u * WORKGROUP, ph, pw);
  let p10 = gather_pos(m0 + 10u * WORKGROUP, ph, pw);
  let p11 = gather_pos(m0 + 11u * WORKGROUP, ph, pw);
  let p12 = gather_pos(m0 + 12u * WORKGROUP, ph, pw);
  let p13 = gather_pos(m0 + 13u * WORKGROUP, ph, pw);
  let p14 = gather_pos(m0 + 14u * WORKGROUP, ph, pw);
  let p15 = gather_pos(m0 + 15u * WORKGROUP, ph, pw);
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  var a4 = mat4x4f();
  var a5 = mat4x4f();
  var a6 = mat4x4f();
  var a7 = mat4x4f();
  var a8 = mat4x4f();
  var a9 = mat4x4f();
  var a10 = mat4x4f();
  var a11 = mat4x4f();
  var a12 = mat4x4f();
  var a13 = mat4x4f();
  var a14 = mat4x4f();
  var a15 = mat4x4f();
  var b0 = mat4x4f();
  var b1 = mat4x4f();
  var b2 = mat4x4f();
  var b3 = mat4x4f();
  var b4 = mat4x4f();
  var b5 = mat4x4f();
  var b6 = mat4x4f();
  var b7 = mat4x4f();
  var b8 = mat4x4f();
  var b9 = mat4x4f();
  var b10 = mat4x4f();
  var b11 = mat4x4f();
  var b12 = mat4x4f();
  var b13 = mat4x4f();
  var b14 = mat4x4f();
  var b15 = mat4x4f();
  let in_plane = gparams.in_h * gparams.in_w;
  let w_step = gparams.kernel_h * gparams.kernel_w * gparams.q_vec;
  for (var kh = 0u; kh < gparams.kernel_h; kh++) {
    let nh = i32(ph) + gparams.tap_sign * i32(kh) + gparams.tap_offset;
    if (nh % gparams.tap_div != 0) {
      continue;
    }
    let bh = nh / gparams.tap_div;
    for (var kw = 0u; kw < gparams.kernel_w; kw++) {
      let nw = i32(pw) + gparams.tap_sign * i32(kw) + gparams.tap_offset;
      if (nw % gparams.tap_div != 0) {
        continue;
      }
      let bw = nw / gparams.tap_div;
      let o0 = gather_offset(p0, bh, bw);
      let o1 = gather_offset(p1, bh, bw);
      let o2 = gather_offset(p2, bh, bw);
      let o3 = gather_offset(p3, bh, bw);
      let o4 = gather_offset(p4, bh, bw);
      let o5 = gather_offset(p5, bh, bw);
      let o6 = gather_offset(p6, bh, bw);
      let o7 = gather_offset(p7, bh, bw);
      let o8 = gather_offset(p8, bh, bw);
      let o9 = gather_offset(p9, bh, bw);
      let o10 = gather_offset(p10, bh, bw);
      let o11 = gather_offset(p11, bh, bw);
      let o12 = gather_offset(p12, bh, bw);
      let o13 = gather_offset(p13, bh, bw);
      let o14 = gather_offset(p14, bh, bw);
      let o15 = gather_offset(p15, bh, bw);
      var wi = (kh * gparams.kernel_w + kw) * gparams.q_vec + q0 / 4u;
      var ri = 0u;
      for (var r = 0u; r < gparams.r_count; r++) {
        let w = mat4x4f(gather_w[wi], gather_w[wi + 1u], gather_w[wi + 2u], gather_w[wi + 3u]);
        let x0 = gather_load(o0, ri);
        let x1 = gather_load(o1, ri);
        let x2 = gather_load(o2, ri);
        let x3 = gather_load(o3, ri);
        let x4 = gather_load(o4, ri);
        let x5 = gather_load(o5, ri);
        let x6 = gather_load(o6, ri);
        let x7 = gather_load(o7, ri);
        let x8 = gather_load(o8, ri);
        let x9 = gather_load(o9, ri);
        let x10 = gather_load(o10, ri);
        let x11 = gather_load(o11, ri);
        let x12 = gather_load(o12, ri);
        let x13 = gather_load(o13, ri);
        let x14 = gather_load(o14, ri);
        let x15 = gather_load(o15, ri);
        a0 += x0 * w;
        a1 += x1 * w;
        a2 += x2 * w;
        a3 += x3 * w;
        a4 += x4 * w;
        a5 += x5 * w;
        a6 += x6 * w;
        a7 += x7 * w;
        a8 += x8 * w;
        a9 += x9 * w;
        a10 += x10 * w;
        a11 += x11 * w;
        a12 += x12 * w;
        a13 += x13 * w;
        a14 += x14 * w;
        a15 += x15 * w;
        if (wide) {
          let v = mat4x4f(gather_w[wi + 4u], gather_w[wi + 5u], gather_w[wi + 6u],
                          gather_w[wi + 7u]);
          b0 += x0 * v;
          b1 += x1 * v;
          b2 += x2 * v;
          b3 += x3 * v;
          b4 += x4 * v;
          b5 += x5 * v;
          b6 += x6 * v;
          b7 += x7 * v;
          b8 += x8 * v;
          b9 += x9 * v;
          b10 += x10 * v;
          b11 += x11 * v;
          b12 += x12 * v;
          b13 += x13 * v;
          b14 += x14 * v;
          b15 += x15 * v;
        }
        wi += w_step;
        ri += in_plane;
      }
    }
  }
  gather_store(p0, q0, a0);
  gather_store(p1, q0, a1);
  gather_store(p2, q0, a2);
  gather_store(p3, q0, a3);
  gather_store(p4, q0, a4);
  gather_store(p5, q0, a5);
  gather_store(p6, q0, a6);
  gather_store(p7, q0, a7);
  gather_store(p8, q0, a8);
  gather_store(p9, q0, a9);
  gather_store(p10, q0, a10);
  gather_store(p11, q0, a11);
  gather_store(p12, q0, a12);
  gather_store(p13, q0, a13);
  gather_store(p14, q0, a14);
  gather_store(p15, q0, a15);
  gather_store(p0, q0 + 16u, b0);
  gather_store(p1, q0 + 16u, b1);
  gather_store(p2, q0 + 16u, b2);
  gather_store(p3, q0 + 16u, b3);
  gather_store(p4, q0 + 16u, b4);
  gather_store(p5, q0 + 16u, b5);
  gather_store(p6, q0 + 16u, b6);
  gather_store(p7, q0 + 16u, b7);
  gather_store(p8, q0 + 16u, b8);
  gather_store(p9, q0 + 16u, b9);
  gather_store(p10, q0 + 16u, b10);
  gather_store(p11, q0 + 16u, b11);
  gather_store(p12, q0 + 16u, b12);
  gather_store(p13, q0 + 16u, b13);
  gather_store(p14, q0 + 16u, b14);
  gather_store(p15, q0 + 16u, b15);
}

// The hardware tile: 4 positions × 16 channels (64 accumulators). Register files of real GPUs
// (255 per invocation on NVIDIA) and shader compilers that allocate registers at pipeline build
// time (SwiftShader's, Dawn's) handle it in milliseconds; the 16 × 16 tile above is for llvmpipe.
@compute @workgroup_size(WORKGROUP)
fn gather4x16(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
              @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let q_block = g % gparams.blocks_q;
  let rest = g / gparams.blocks_q;
  let m_block = rest % gparams.blocks_m;
  let phase = rest / gparams.blocks_m;
  if (phase >= gparams.phase_stride * gparams.phase_stride) {
    return;
  }
  let ph = phase / gparams.phase_stride;
  let pw = phase % gparams.phase_stride;
  let q0 = q_block * 16u;
  let m0 = m_block * WORKGROUP * 4u + lid;
  let p0 = gather_pos(m0, ph, pw);
  let p1 = gather_pos(m0 + WORKGROUP, ph, pw);
  let p2 = gather_pos(m0 + 2u * WORKGROUP, ph, pw);
  let p3 = gather_pos(m0 + 3u * WORKGROUP, ph, pw);
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  let in_plane = gparams.in_h * gparams.in_w;
  let w_step = gparams.kernel_h * gparams.kernel_w * gparams.q_vec;
  for (var kh = 0u; kh < gparams.kernel_h; kh++) {
    let nh = i32(ph) + gparams.tap_sign * i32(kh) + gparams.tap_offset;
    if (nh % gparams.tap_div != 0) {
      continue;
    }
    let bh = nh / gparams.tap_div;
    for (var kw = 0u; kw < gparams.kernel_w; kw++) {
      let nw = i32(pw) + gparams.tap_sign * i32(kw) + gparams.tap_offset;
      if (nw % gparams.tap_div != 0) {
        continue;
      }
      let bw = nw / gparams.tap_div;
      let o0 = gather_offset(p0, bh, bw);
      let o1 = gather_offset(p1, bh, bw);
      let o2 = gather_offset(p2, bh, bw);
      let o3 = gather_offset(p3, bh, bw);
      var wi = (kh * gparams.kernel_w + kw) * gparams.q_vec + q0 / 4u;
      var ri = 0u;
      for (var r = 0u; r < gparams.r_count; r++) {
        let w = mat4x4f(gather_w[wi], gather_w[wi + 1u], gather_w[wi + 2u], gather_w[wi + 3u]);
        a0 += gather_load(o0, ri) * w;
        a1 += gather_load(o1, ri) * w;
        a2 += gather_load(o2, ri) * w;
        a3 += gather_load(o3, ri) * w;
        wi += w_step;
        ri += in_plane;
      }
    }
  }
  gather_store(p0, q0, a0);
  gather_store(p1, q0, a1);
  gather_store(p2, q0, a2);
  gather_store(p3, q0, a3);
}

// The row tile, for the stem (few input channels, a small kernel, stride 1): an invocation owns
// 16 neighbouring output positions of one row × 16 channels (256 accumulators), and keeps for
// each of up to 4 input channels the 16 inputs its positions read at the current tap, a window
// that slides by one column per tap: one load per channel and tap instead of 16. Sums in the
// order of the other gathers (kh, kw, then r). Forward only (one phase); the TypeScript side
// offers it where r_count ≤ 4, in_step is 1 and the kernel is at most 5 wide. blocks_m counts
// workgroups of invocations, one per 16 positions of a row.
@compute @workgroup_size(WORKGROUP)
fn gatherRow16x16(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                  @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let q_block = g % gparams.blocks_q;
  let m_block = g / gparams.blocks_q;
  let q0 = q_block * 16u;
  let segments = (gparams.out_w + 15u) / 16u;
  let lane = m_block * WORKGROUP + lid;
  let seg = lane % segments;
  let rest = lane / segments;
  let oh = rest % gparams.out_h;
  let n = rest / gparams.out_h;
  let ow0 = seg * 16u;
  let valid = n < gparams.batch;
  let nc = min(n, gparams.batch - 1u);
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  var a4 = mat4x4f();
  var a5 = mat4x4f();
  var a6 = mat4x4f();
  var a7 = mat4x4f();
  var a8 = mat4x4f();
  var a9 = mat4x4f();
  var a10 = mat4x4f();
  var a11 = mat4x4f();
  var a12 = mat4x4f();
  var a13 = mat4x4f();
  var a14 = mat4x4f();
  var a15 = mat4x4f();
  let in_plane = gparams.in_h * gparams.in_w;
  let taps = gparams.kernel_h * gparams.kernel_w;
  let iw0 = i32(ow0) + gparams.tap_offset;
  for (var kh = 0u; kh < gparams.kernel_h; kh++) {
    let ih = i32(oh) + i32(kh) + gparams.tap_offset;
    let inside = ih >= 0 && ih < i32(gparams.in_h);
    let base = i32(nc * gparams.r_count * in_plane) + ih * i32(gparams.in_w);
    // Channel 0: its row, and its window before tap 0 (columns iw0 − 1 …).
    let row0 = base + 0 * i32(in_plane);
    let in0 = inside && 0u < gparams.r_count;
    var x0_0 = 0.0;
    var x0_1 = gather_row_load(in0, row0, iw0 + 0);
    var x0_2 = gather_row_load(in0, row0, iw0 + 1);
    var x0_3 = gather_row_load(in0, row0, iw0 + 2);
    var x0_4 = gather_row_load(in0, row0, iw0 + 3);
    var x0_5 = gather_row_load(in0, row0, iw0 + 4);
    var x0_6 = gather_row_load(in0, row0, iw0 + 5);
    var x0_7 = gather_row_load(in0, row0, iw0 + 6);
    var x0_8 = gather_row_load(in0, row0, iw0 + 7);
    var x0_9 = gather_row_load(in0, row0, iw0 + 8);
    var x0_10 = gather_row_load(in0, row0, iw0 + 9);
    var x0_11 = gather_row_load(in0, row0, iw0 + 10);
    var x0_12 = gather_row_load(in0, row0, iw0 + 11);
    var x0_13 = gather_row_load(in0, row0, iw0 + 12);
    var x0_14 = gather_row_load(in0, row0, iw0 + 13);
    var x0_15 = gather_row_load(in0, row0, iw0 + 14);
    // Channel 1: its row, and its window before tap 0 (columns iw0 − 1 …).
    let row1 = base + 1 * i32(in_plane);
    let in1 = inside && 1u < gparams.r_count;
    var x1_0 = 0.0;
    var x1_1 = gather_row_load(in1, row1, iw0 + 0);
    var x1_2 = gather_row_load(in1, row1, iw0 + 1);
    var x1_3 = gather_row_load(in1, row1, iw0 + 2);
    var x1_4 = gather_row_load(in1, row1, iw0 + 3);
    var x1_5 = gather_row_load(in1, row1, iw0 + 4);
    var x1_6 = gather_row_load(in1, row1, iw0 + 5);
    var x1_7 = gather_row_load(in1, row1, iw0 + 6);
    var x1_8 = gather_row_load(in1, row1, iw0 + 7);
    var x1_9 = gather_row_load(in1, row1, iw0 + 8);
    var x1_10 = gather_row_load(in1, row1, iw0 + 9);
    var x1_11 = gather_row_load(in1, row1, iw0 + 10);
    var x1_12 = gather_row_load(in1, row1, iw0 + 11);
    var x1_13 = gather_row_load(in1, row1, iw0 + 12);
    var x1_14 = gather_row_load(in1, row1, iw0 + 13);
    var x1_15 = gather_row_load(in1, row1, iw0 + 14);
    // Channel 2: its row, and its window before tap 0 (columns iw0 − 1 …).
    let row2 = base + 2 * i32(in_plane);
    let in2 = inside && 2u < gparams.r_count;
    var x2_0 = 0.0;
    var x2_1 = gather_row_load(in2, row2, iw0 + 0);
    var x2_2 = gather_row_load(in2, row2, iw0 + 1);
    var x2_3 = gather_row_load(in2, row2, iw0 + 2);
    var x2_4 = gather_row_load(in2, row2, iw0 + 3);
    var x2_5 = gather_row_load(in2, row2, iw0 + 4);
    var x2_6 = gather_row_load(in2, row2, iw0 + 5);
    var x2_7 = gather_row_load(in2, row2, iw0 + 6);
    var x2_8 = gather_row_load(in2, row2, iw0 + 7);
    var x2_9 = gather_row_load(in2, row2, iw0 + 8);
    var x2_10 = gather_row_load(in2, row2, iw0 + 9);
    var x2_11 = gather_row_load(in2, row2, iw0 + 10);
    var x2_12 = gather_row_load(in2, row2, iw0 + 11);
    var x2_13 = gather_row_load(in2, row2, iw0 + 12);
    var x2_14 = gather_row_load(in2, row2, iw0 + 13);
    var x2_15 = gather_row_load(in2, row2, iw0 + 14);
    // Channel 3: its row, and its window before tap 0 (columns iw0 − 1 …).
    let row3 = base + 3 * i32(in_plane);
    let in3 = inside && 3u < gparams.r_count;
    var x3_0 = 0.0;
    var x3_1 = gather_row_load(in3, row3, iw0 + 0);
    var x3_2 = gather_row_load(in3, row3, iw0 + 1);
    var x3_3 = gather_row_load(in3, row3, iw0 + 2);
    var x3_4 = gather_row_load(in3, row3, iw0 + 3);
    var x3_5 = gather_row_load(in3, row3, iw0 + 4);
    var x3_6 = gather_row_load(in3, row3, iw0 + 5);
    var x3_7 = gather_row_load(in3, row3, iw0 + 6);
    var x3_8 = gather_row_load(in3, row3, iw0 + 7);
    var x3_9 = gather_row_load(in3, row3, iw0 + 8);
    var x3_10 = gather_row_load(in3, row3, iw0 + 9);
    var x3_11 = gather_row_load(in3, row3, iw0 + 10);
    var x3_12 = gather_row_load(in3, row3, iw0 + 11);
    var x3_13 = gather_row_load(in3, row3, iw0 + 12);
    var x3_14 = gather_row_load(in3, row3, iw0 + 13);
    var x3_15 = gather_row_load(in3, row3, iw0 + 14);
    for (var kw = 0u; kw < gparams.kernel_w; kw++) {
      let col = iw0 + i32(kw) + 15;
      var wi = (kh * gparams.kernel_w + kw) * gparams.q_vec + q0 / 4u;
      x0_0 = x0_1;
      x0_1 = x0_2;
      x0_2 = x0_3;
      x0_3 = x0_4;
      x0_4 = x0_5;
      x0_5 = x0_6;
      x0_6 = x0_7;
      x0_7 = x0_8;
      x0_8 = x0_9;
      x0_9 = x0_10;
      x0_10 = x0_11;
      x0_11 = x0_12;
      x0_12 = x0_13;
      x0_13 = x0_14;
      x0_14 = x0_15;
      x0_15 = gather_row_load(in0, row0, col);
      let w0 = mat4x4f(gather_w[wi], gather_w[wi + 1u], gather_w[wi + 2u], gather_w[wi + 3u]);
      a0 += x0_0 * w0;
      a1 += x0_1 * w0;
      a2 += x0_2 * w0;
      a3 += x0_3 * w0;
      a4 += x0_4 * w0;
      a5 += x0_5 * w0;
      a6 += x0_6 * w0;
      a7 += x0_7 * w0;
      a8 += x0_8 * w0;
      a9 += x0_9 * w0;
      a10 += x0_10 * w0;
      a11 += x0_11 * w0;
      a12 += x0_12 * w0;
      a13 += x0_13 * w0;
      a14 += x0_14 * w0;
      a15 += x0_15 * w0;
      wi += taps * gparams.q_vec;
      if (1u < gparams.r_count) {
        x1_0 = x1_1;
        x1_1 = x1_2;
        x1_2 = x1_3;
        x1_3 = x1_4;
        x1_4 = x1_5;
        x1_5 = x1_6;
        x1_6 = x1_7;
        x1_7 = x1_8;
        x1_8 = x1_9;
        x1_9 = x1_10;
        x1_10 = x1_11;
        x1_11 = x1_12;
        x1_12 = x1_13;
        x1_13 = x1_14;
        x1_14 = x1_15;
        x1_15 = gather_row_load(in1, row1, col);
        let w1 = mat4x4f(gather_w[wi], gather_w[wi + 1u], gather_w[wi + 2u], gather_w[wi + 3u]);
        a0 += x1_0 * w1;
        a1 += x1_1 * w1;
        a2 += x1_2 * w1;
        a3 += x1_3 * w1;
        a4 += x1_4 * w1;
        a5 += x1_5 * w1;
        a6 += x1_6 * w1;
        a7 += x1_7 * w1;
        a8 += x1_8 * w1;
        a9 += x1_9 * w1;
        a10 += x1_10 * w1;
        a11 += x1_11 * w1;
        a12 += x1_12 * w1;
        a13 += x1_13 * w1;
        a14 += x1_14 * w1;
        a15 += x1_15 * w1;
        wi += taps * gparams.q_vec;
      }
      if (2u < gparams.r_count) {
        x2_0 = x2_1;
        x2_1 = x2_2;
        x2_2 = x2_3;
        x2_3 = x2_4;
        x2_4 = x2_5;
        x2_5 = x2_6;
        x2_6 = x2_7;
        x2_7 = x2_8;
        x2_8 = x2_9;
        x2_9 = x2_10;
        x2_10 = x2_11;
        x2_11 = x2_12;
        x2_12 = x2_13;
        x2_13 = x2_14;
        x2_14 = x2_15;
        x2_15 = gather_row_load(in2, row2, col);
        let w2 = mat4x4f(gather_w[wi], gather_w[wi + 1u], gather_w[wi + 2u], gather_w[wi + 3u]);
        a0 += x2_0 * w2;
        a1 += x2_1 * w2;
        a2 += x2_2 * w2;
        a3 += x2_3 * w2;
        a4 += x2_4 * w2;
        a5 += x2_5 * w2;
        a6 += x2_6 * w2;
        a7 += x2_7 * w2;
        a8 += x2_8 * w2;
        a9 += x2_9 * w2;
        a10 += x2_10 * w2;
        a11 += x2_11 * w2;
        a12 += x2_12 * w2;
        a13 += x2_13 * w2;
        a14 += x2_14 * w2;
        a15 += x2_15 * w2;
        wi += taps * gparams.q_vec;
      }
      if (3u < gparams.r_count) {
        x3_0 = x3_1;
        x3_1 = x3_2;
        x3_2 = x3_3;
        x3_3 = x3_4;
        x3_4 = x3_5;
        x3_5 = x3_6;
        x3_6 = x3_7;
        x3_7 = x3_8;
        x3_8 = x3_9;
        x3_9 = x3_10;
        x3_10 = x3_11;
        x3_11 = x3_12;
        x3_12 = x3_13;
        x3_13 = x3_14;
        x3_14 = x3_15;
        x3_15 = gather_row_load(in3, row3, col);
        let w3 = mat4x4f(gather_w[wi], gather_w[wi + 1u], gather_w[wi + 2u], gather_w[wi + 3u]);
        a0 += x3_0 * w3;
        a1 += x3_1 * w3;
        a2 += x3_2 * w3;
        a3 += x3_3 * w3;
        a4 += x3_4 * w3;
        a5 += x3_5 * w3;
        a6 += x3_6 * w3;
        a7 += x3_7 * w3;
        a8 += x3_8 * w3;
        a9 += x3_9 * w3;
        a10 += x3_10 * w3;
        a11 += x3_11 * w3;
        a12 += x3_12 * w3;
        a13 += x3_13 * w3;
        a14 += x3_14 * w3;
        a15 += x3_15 * w3;
        wi += taps * gparams.q_vec;
      }
    }
  }
  gather_store(Pos(valid && ow0 + 0u < gparams.out_w, n, oh, ow0 + 0u, 0u, 0u), q0, a0);
  gather_store(Pos(valid && ow0 + 1u < gparams.out_w, n, oh, ow0 + 1u, 0u, 0u), q0, a1);
  gather_store(Pos(valid && ow0 + 2u < gparams.out_w, n, oh, ow0 + 2u, 0u, 0u), q0, a2);
  gather_store(Pos(valid && ow0 + 3u < gparams.out_w, n, oh, ow0 + 3u, 0u, 0u), q0, a3);
  gather_store(Pos(valid && ow0 + 4u < gparams.out_w, n, oh, ow0 + 4u, 0u, 0u), q0, a4);
  gather_store(Pos(valid && ow0 + 5u < gparams.out_w, n, oh, ow0 + 5u, 0u, 0u), q0, a5);
  gather_store(Pos(valid && ow0 + 6u < gparams.out_w, n, oh, ow0 + 6u, 0u, 0u), q0, a6);
  gather_store(Pos(valid && ow0 + 7u < gparams.out_w, n, oh, ow0 + 7u, 0u, 0u), q0, a7);
  gather_store(Pos(valid && ow0 + 8u < gparams.out_w, n, oh, ow0 + 8u, 0u, 0u), q0, a8);
  gather_store(Pos(valid && ow0 + 9u < gparams.out_w, n, oh, ow0 + 9u, 0u, 0u), q0, a9);
  gather_store(Pos(valid && ow0 + 10u < gparams.out_w, n, oh, ow0 + 10u, 0u, 0u), q0, a10);
  gather_store(Pos(valid && ow0 + 11u < gparams.out_w, n, oh, ow0 + 11u, 0u, 0u), q0, a11);
  gather_store(Pos(valid && ow0 + 12u < gparams.out_w, n, oh, ow0 + 12u, 0u, 0u), q0, a12);
  gather_store(Pos(valid && ow0 + 13u < gparams.out_w, n, oh, ow0 + 13u, 0u, 0u), q0, a13);
  gather_store(Pos(valid && ow0 + 14u < gparams.out_w, n, oh, ow0 + 14u, 0u, 0u), q0, a14);
  gather_store(Pos(valid && ow0 + 15u < gparams.out_w, n, oh, ow0 + 15u, 0u, 0u), q0, a15);
}

// The input at column iw of the row starting at offset `row` (inside the image or not); 0 in the
// padding.
fn gather_row_load(inside: bool, row: i32, iw: i32) -> f32 {
  let ok = inside && iw >= 0 && iw < i32(gparams.in_w);
  let v = gather_in[u32(select(0, row + iw, ok))];
  return select(0.0, v, ok);
}


// The workgroup-tiled gather, for hardware GPUs (the TypeScript side offers it off software
// adapters only; tests force it everywhere). A workgroup of 64 invocations computes 64 positions ×
// 64 channels: invocation lid owns the positions m0 + lid % 16 + 16i (i < 4) × the 16 channels
// q0 + 16·(lid / 16) + j, in mat4x4f accumulators as the register tiles. The reduction is walked
// in steps of one tap (kh, kw; those that do not reach the phase skipped) × 16 channels r: the
// workgroup stages the step's inputs (64 positions × 16 r) and weights (16 r × 64 channels) in
// workgroup memory, double buffered: the next step is loaded into registers while this one is
// multiplied out of workgroup memory, then stored into the other buffer; one barrier per step.
// Each output sums kh, kw, then r, from 0, as `acc += x · w`, exactly as the register tiles do:
// bit-identical. 2 buffers × (64 × 16 floats + 16 × 16 vec4s) × 4 bytes = 16384 bytes of
// workgroup memory. Needs WORKGROUP = 64.

const TILED_POS = 64u; // positions per workgroup
const TILED_Q = 64u;   // channels per workgroup
const TILED_R = 16u;   // channels r per step

// [buffer · 16 + r][position], [buffer · 16 + r][q / 4]
var<workgroup> tiled_x: array<array<f32, TILED_POS>, 2u * TILED_R>;
var<workgroup> tiled_w: array<array<vec4f, TILED_Q / 4u>, 2u * TILED_R>;

// An invocation's share of one step: the 16 r of position m0 + lid, and weight vec4s
// e = lid + 64i (r = e / 16, channels 4·(e % 16) ..); weightGradTiled64x64 stages its own.
struct TiledStep { x: array<f32, 16>, w: array<vec4f, 4> }

// The first tap t ≥ t0 (t = kh · KW + kw) that reaches the phase (ph, pw), or KH · KW.
fn tiled_next_tap(t0: u32, ph: u32, pw: u32) -> u32 {
  let taps = gparams.kernel_h * gparams.kernel_w;
  for (var t = t0; t < taps; t++) {
    let nh = i32(ph) + gparams.tap_sign * i32(t / gparams.kernel_w) + gparams.tap_offset;
    let nw = i32(pw) + gparams.tap_sign * i32(t % gparams.kernel_w) + gparams.tap_offset;
    if (nh % gparams.tap_div == 0 && nw % gparams.tap_div == 0) {
      return t;
    }
  }
  return taps;
}

fn tiled_load(lid: u32, m0: u32, ph: u32, pw: u32, q0: u32, t: u32, rb: u32) -> TiledStep {
  let taps = gparams.kernel_h * gparams.kernel_w;
  let bh = (i32(ph) + gparams.tap_sign * i32(t / gparams.kernel_w) + gparams.tap_offset) /
    gparams.tap_div;
  let bw = (i32(pw) + gparams.tap_sign * i32(t % gparams.kernel_w) + gparams.tap_offset) /
    gparams.tap_div;
  let offset = gather_offset(gather_pos(m0 + lid, ph, pw), bh, bw);
  let in_plane = gparams.in_h * gparams.in_w;
  var s: TiledStep;
  for (var i = 0u; i < TILED_R; i++) {
    let r = rb * TILED_R + i;
    let v = gather_load(offset, min(r, gparams.r_count - 1u) * in_plane);
    s.x[i] = select(0.0, v, r < gparams.r_count);
  }
  for (var i = 0u; i < 4u; i++) {
    let e = lid + 64u * i;
    let r = rb * TILED_R + e / 16u;
    let qv = q0 / 4u + e % 16u;
    let inside = r < gparams.r_count && qv < gparams.q_vec;
    let v = gather_w[select(0u, (r * taps + t) * gparams.q_vec + qv, inside)];
    s.w[i] = select(vec4f(0.0), v, inside);
  }
  return s;
}

fn tiled_stage(lid: u32, buffer: u32, s: TiledStep) {
  for (var i = 0u; i < TILED_R; i++) {
    tiled_x[buffer * TILED_R + i][lid] = s.x[i];
  }
  for (var i = 0u; i < 4u; i++) {
    let e = lid + 64u * i;
    tiled_w[buffer * TILED_R + e / 16u][e % 16u] = s.w[i];
  }
}

@compute @workgroup_size(WORKGROUP)
fn gatherTiled64x64(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let q_block = g % gparams.blocks_q;
  let rest = g / gparams.blocks_q;
  let m_block = rest % gparams.blocks_m;
  let phase = rest / gparams.blocks_m;
  if (phase >= gparams.phase_stride * gparams.phase_stride) {
    return; // the whole workgroup pads the grid
  }
  let ph = phase / gparams.phase_stride;
  let pw = phase % gparams.phase_stride;
  let q0 = q_block * TILED_Q;
  let m0 = m_block * TILED_POS;
  let pl = lid % 16u;
  let cg = 4u * (lid / 16u); // the invocation's first vec4 of the workgroup's 16
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  let taps = gparams.kernel_h * gparams.kernel_w;
  let blocks = (gparams.r_count + TILED_R - 1u) / TILED_R;
  var t = tiled_next_tap(0u, ph, pw);
  var rb = 0u;
  var cur = 0u;
  if (t < taps) {
    tiled_stage(lid, 0u, tiled_load(lid, m0, ph, pw, q0, t, 0u));
  }
  workgroupBarrier();
  while (t < taps) {
    var next_t = t;
    var next_rb = rb + 1u;
    if (next_rb == blocks) {
      next_rb = 0u;
      next_t = tiled_next_tap(t + 1u, ph, pw);
    }
    let more = next_t < taps;
    var next: TiledStep;
    if (more) {
      next = tiled_load(lid, m0, ph, pw, q0, next_t, next_rb);
    }
    let rn = min(TILED_R, gparams.r_count - rb * TILED_R);
    for (var rr = 0u; rr < rn; rr++) {
      let row = cur * TILED_R + rr;
      let w = mat4x4f(tiled_w[row][cg], tiled_w[row][cg + 1u], tiled_w[row][cg + 2u],
                      tiled_w[row][cg + 3u]);
      a0 += tiled_x[row][pl] * w;
      a1 += tiled_x[row][pl + 16u] * w;
      a2 += tiled_x[row][pl + 32u] * w;
      a3 += tiled_x[row][pl + 48u] * w;
    }
    if (more) {
      tiled_stage(lid, 1u - cur, next);
    }
    workgroupBarrier();
    t = next_t;
    rb = next_rb;
    cur = 1u - cur;
  }
  let q = q0 + 4u * cg;
  gather_store(gather_pos(m0 + pl, ph, pw), q, a0);
  gather_store(gather_pos(m0 + pl + 16u, ph, pw), q, a1);
  gather_store(gather_pos(m0 + pl + 32u, ph, pw), q, a2);
  gather_store(gather_pos(m0 + pl + 48u, ph, pw), q, a3);
}

// ---- weight_grad: the weight gradient over one chunk of rows ----

struct WeightGradParams {
  batch: u32,
  channels: u32,       // C
  in_h: u32,
  in_w: u32,
  out_channels: u32,   // O
  out_h: u32,
  out_w: u32,
  kernel_h: u32,
  kernel_w: u32,
  stride: u32,
  padding: u32,
  o_vec: u32,          // vec4s per position of the transposed dy: o_pad / 4 (o_pad: 32·k)
  rows_per_chunk: u32, // rows (n, oh) each chunk reduces over
  blocks_j: u32,       // workgroups along j = (c, kh, kw)
  blocks_o: u32,       // workgroups along o, 32 channels each (16 in weightGrad4x16)
  accumulate: u32,     // 1: add into out (one chunk writes dW directly)
}

@group(0) @binding(0) var<uniform> wparams: WeightGradParams;
@group(0) @binding(1) var<storage, read> wgrad_x: array<f32>;           // [N, C, H, W]
@group(0) @binding(2) var<storage, read> wgrad_dy: array<vec4f>;        // [N, OH, OW, o_pad / 4]
@group(0) @binding(3) var<storage, read_write> wgrad_out: array<f32>;   // [chunks, O, C·KH·KW]

// One column j = (c, kh, kw) of an invocation: its input offset and kernel position.
struct Col {
  j: u32,
  offset: i32, // x offset of (n = 0, c, row kh − p, column kw − p)
  kh: i32,
  kw: i32,
}

fn wgrad_col(j: u32) -> Col {
  let count = wparams.channels * wparams.kernel_h * wparams.kernel_w;
  let jc = min(j, count - 1u);
  let taps = wparams.kernel_h * wparams.kernel_w;
  let c = jc / taps;
  let tap = jc - c * taps;
  let kh = i32(tap / wparams.kernel_w) - i32(wparams.padding);
  let kw = i32(tap % wparams.kernel_w) - i32(wparams.padding);
  let offset = i32(c * wparams.in_h * wparams.in_w) + kh * i32(wparams.in_w) + kw;
  return Col(j, offset, kh, kw);
}

// x at column `col` of the window whose corner (before padding) is input row ih0, column iw0 at
// offset `base`; 0 in the padding.
fn wgrad_load(col: Col, base: i32, ih0: i32, iw0: i32) -> f32 {
  let ih = ih0 + col.kh;
  let iw = iw0 + col.kw;
  let inside = ih >= 0 && ih < i32(wparams.in_h) && iw >= 0 && iw < i32(wparams.in_w);
  let v = wgrad_x[u32(select(0, base + col.offset, inside))];
  return select(0.0, v, inside);
}

fn wgrad_store_n(col: Col, o0: u32, chunk: u32, acc: mat4x4f, width: u32) {
  let count = wparams.channels * wparams.kernel_h * wparams.kernel_w;
  if (col.j >= count) {
    return;
  }
  for (var k = 0u; k < width; k++) {
    let o = o0 + k;
    if (o < wparams.out_channels) {
      let i = (chunk * wparams.out_channels + o) * count + col.j;
      var v = acc[k / 4u][k % 4u];
      if (wparams.accumulate != 0u) {
        v += wgrad_out[i];
      }
      wgrad_out[i] = v;
    }
  }
}

fn wgrad_store(col: Col, o0: u32, chunk: u32, acc: mat4x4f) {
  wgrad_store_n(col, o0, chunk, acc, 16u);
}

// The llvmpipe tile: 8 columns × 32 output channels (256 accumulators).
@compute @workgroup_size(WORKGROUP)
fn weightGrad8x32(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                  @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let j_block = g % wparams.blocks_j;
  let rest = g / wparams.blocks_j;
  let o_block = rest % wparams.blocks_o;
  let chunk = rest / wparams.blocks_o;
  let rows = wparams.batch * wparams.out_h;
  let row_begin = chunk * wparams.rows_per_chunk;
  if (row_begin >= rows) {
    return;
  }
  let row_end = min(rows, row_begin + wparams.rows_per_chunk);
  let o0 = o_block * 32u;
  let j0 = j_block * WORKGROUP * 8u + lid;
  // Parts of the tile no lane needs are skipped (uniform branches): the second 16 channels past
  // the last channel, the last 4 columns past the last column.
  let wide = o0 + 16u < wparams.out_channels;
  let count = wparams.channels * wparams.kernel_h * wparams.kernel_w;
  let tall = j_block * WORKGROUP * 8u + 4u * WORKGROUP < count;
  let c0 = wgrad_col(j0);
  let c1 = wgrad_col(j0 + WORKGROUP);
  let c2 = wgrad_col(j0 + 2u * WORKGROUP);
  let c3 = wgrad_col(j0 + 3u * WORKGROUP);
  let c4 = wgrad_col(j0 + 4u * WORKGROUP);
  let c5 = wgrad_col(j0 + 5u * WORKGROUP);
  let c6 = wgrad_col(j0 + 6u * WORKGROUP);
  let c7 = wgrad_col(j0 + 7u * WORKGROUP);
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  var a4 = mat4x4f();
  var a5 = mat4x4f();
  var a6 = mat4x4f();
  var a7 = mat4x4f();
  var b0 = mat4x4f();
  var b1 = mat4x4f();
  var b2 = mat4x4f();
  var b3 = mat4x4f();
  var b4 = mat4x4f();
  var b5 = mat4x4f();
  var b6 = mat4x4f();
  var b7 = mat4x4f();
  let s = i32(wparams.stride);
  let image = i32(wparams.channels * wparams.in_h * wparams.in_w);
  for (var row = row_begin; row < row_end; row++) {
    let n = row / wparams.out_h;
    let oh = row - n * wparams.out_h;
    let ih0 = i32(oh) * s;
    let row_base = i32(n) * image + ih0 * i32(wparams.in_w);
    var di = row * wparams.out_w * wparams.o_vec + o0 / 4u;
    for (var ow = 0u; ow < wparams.out_w; ow++) {
      let d = mat4x4f(wgrad_dy[di], wgrad_dy[di + 1u], wgrad_dy[di + 2u], wgrad_dy[di + 3u]);
      let e = mat4x4f(wgrad_dy[di + 4u], wgrad_dy[di + 5u], wgrad_dy[di + 6u], wgrad_dy[di + 7u]);
      let iw0 = i32(ow) * s;
      let base = row_base + iw0;
      let x0 = wgrad_load(c0, base, ih0, iw0);
      let x1 = wgrad_load(c1, base, ih0, iw0);
      let x2 = wgrad_load(c2, base, ih0, iw0);
      let x3 = wgrad_load(c3, base, ih0, iw0);
      a0 += x0 * d;
      a1 += x1 * d;
      a2 += x2 * d;
      a3 += x3 * d;
      if (wide) {
        b0 += x0 * e;
        b1 += x1 * e;
        b2 += x2 * e;
        b3 += x3 * e;
      }
      if (tall) {
        let x4 = wgrad_load(c4, base, ih0, iw0);
        let x5 = wgrad_load(c5, base, ih0, iw0);
        let x6 = wgrad_load(c6, base, ih0, iw0);
        let x7 = wgrad_load(c7, base, ih0, iw0);
        a4 += x4 * d;
        a5 += x5 * d;
        a6 += x6 * d;
        a7 += x7 * d;
        if (wide) {
          b4 += x4 * e;
          b5 += x5 * e;
          b6 += x6 * e;
          b7 += x7 * e;
        }
      }
      di += wparams.o_vec;
    }
  }
  wgrad_store(c0, o0, chunk, a0);
  wgrad_store(c1, o0, chunk, a1);
  wgrad_store(c2, o0, chunk, a2);
  wgrad_store(c3, o0, chunk, a3);
  wgrad_store(c4, o0, chunk, a4);
  wgrad_store(c5, o0, chunk, a5);
  wgrad_store(c6, o0, chunk, a6);
  wgrad_store(c7, o0, chunk, a7);
  wgrad_store(c0, o0 + 16u, chunk, b0);
  wgrad_store(c1, o0 + 16u, chunk, b1);
  wgrad_store(c2, o0 + 16u, chunk, b2);
  wgrad_store(c3, o0 + 16u, chunk, b3);
  wgrad_store(c4, o0 + 16u, chunk, b4);
  wgrad_store(c5, o0 + 16u, chunk, b5);
  wgrad_store(c6, o0 + 16u, chunk, b6);
  wgrad_store(c7, o0 + 16u, chunk, b7);
}

// The hardware tile: 4 columns × 16 output channels (64 accumulators), for the reasons given at
// gather4x16. blocks_o counts 16 channels per workgroup here.
@compute @workgroup_size(WORKGROUP)
fn weightGrad4x16(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                  @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let j_block = g % wparams.blocks_j;
  let rest = g / wparams.blocks_j;
  let o_block = rest % wparams.blocks_o;
  let chunk = rest / wparams.blocks_o;
  let rows = wparams.batch * wparams.out_h;
  let row_begin = chunk * wparams.rows_per_chunk;
  if (row_begin >= rows) {
    return;
  }
  let row_end = min(rows, row_begin + wparams.rows_per_chunk);
  let o0 = o_block * 16u;
  let j0 = j_block * WORKGROUP * 4u + lid;
  let c0 = wgrad_col(j0);
  let c1 = wgrad_col(j0 + WORKGROUP);
  let c2 = wgrad_col(j0 + 2u * WORKGROUP);
  let c3 = wgrad_col(j0 + 3u * WORKGROUP);
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  let s = i32(wparams.stride);
  let image = i32(wparams.channels * wparams.in_h * wparams.in_w);
  for (var row = row_begin; row < row_end; row++) {
    let n = row / wparams.out_h;
    let oh = row - n * wparams.out_h;
    let ih0 = i32(oh) * s;
    let row_base = i32(n) * image + ih0 * i32(wparams.in_w);
    var di = row * wparams.out_w * wparams.o_vec + o0 / 4u;
    for (var ow = 0u; ow < wparams.out_w; ow++) {
      let d = mat4x4f(wgrad_dy[di], wgrad_dy[di + 1u], wgrad_dy[di + 2u], wgrad_dy[di + 3u]);
      let iw0 = i32(ow) * s;
      let base = row_base + iw0;
      a0 += wgrad_load(c0, base, ih0, iw0) * d;
      a1 += wgrad_load(c1, base, ih0, iw0) * d;
      a2 += wgrad_load(c2, base, ih0, iw0) * d;
      a3 += wgrad_load(c3, base, ih0, iw0) * d;
      di += wparams.o_vec;
    }
  }
  wgrad_store(c0, o0, chunk, a0);
  wgrad_store(c1, o0, chunk, a1);
  wgrad_store(c2, o0, chunk, a2);
  wgrad_store(c3, o0, chunk, a3);
}

// The row tile, for the few long columns of small kernels (the 5 × 5 stem over 3 channels has 75):
// an invocation owns 5 taps (kw0 … kw0 + 4) of one kernel row (c, kh) × 16 output channels (80
// accumulators). At stride 1 the taps of neighbouring outputs overlap, so the 5 inputs slide along
// the input row and each output position costs one load. Taps past the kernel's width are computed
// from zeros and never stored; blocks_j counts invocations of kernel rows (C · KH · ⌈KW / 5⌉).
@compute @workgroup_size(WORKGROUP)
fn weightGradRow5x16(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                     @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let j_block = g % wparams.blocks_j;
  let rest = g / wparams.blocks_j;
  let o_block = rest % wparams.blocks_o;
  let chunk = rest / wparams.blocks_o;
  let rows = wparams.batch * wparams.out_h;
  let row_begin = chunk * wparams.rows_per_chunk;
  if (row_begin >= rows) {
    return;
  }
  let row_end = min(rows, row_begin + wparams.rows_per_chunk);
  let o0 = o_block * 16u;
  let kw_blocks = (wparams.kernel_w + 4u) / 5u;
  let groups = wparams.channels * wparams.kernel_h * kw_blocks;
  let group = j_block * WORKGROUP + lid;
  let gc = min(group, groups - 1u);
  let kw0 = (gc % kw_blocks) * 5u;
  let ckh = gc / kw_blocks; // c · KH + kh
  let kh = i32(ckh % wparams.kernel_h) - i32(wparams.padding);
  let kw = i32(kw0) - i32(wparams.padding);
  let plane = wparams.in_h * wparams.in_w;
  let c_offset = i32((ckh / wparams.kernel_h) * plane);
  // The taps 3 and 4 are accumulated only when some kernel row has them (a uniform branch).
  let taps = select(5u, wparams.kernel_w, wparams.kernel_w <= 5u);
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  var a4 = mat4x4f();
  let s = i32(wparams.stride);
  let w = i32(wparams.in_w);
  let image = i32(wparams.channels * plane);
  for (var row = row_begin; row < row_end; row++) {
    let n = row / wparams.out_h;
    let oh = row - n * wparams.out_h;
    let ih = i32(oh) * s + kh;
    let inside = ih >= 0 && ih < i32(wparams.in_h);
    let base = i32(n) * image + c_offset + ih * w;
    var di = row * wparams.out_w * wparams.o_vec + o0 / 4u;
    if (s == 1) {
      var v0 = wgrad_row_load(inside, base, kw);
      var v1 = wgrad_row_load(inside, base, kw + 1);
      var v2 = wgrad_row_load(inside, base, kw + 2);
      var v3 = wgrad_row_load(inside, base, kw + 3);
      for (var ow = 0u; ow < wparams.out_w; ow++) {
        let v4 = wgrad_row_load(inside, base, i32(ow) + kw + 4);
        let d = mat4x4f(wgrad_dy[di], wgrad_dy[di + 1u], wgrad_dy[di + 2u], wgrad_dy[di + 3u]);
        a0 += v0 * d;
        a1 += v1 * d;
        a2 += v2 * d;
        if (taps > 3u) {
          a3 += v3 * d;
          a4 += v4 * d;
        }
        v0 = v1;
        v1 = v2;
        v2 = v3;
        v3 = v4;
        di += wparams.o_vec;
      }
    } else {
      for (var ow = 0u; ow < wparams.out_w; ow++) {
        let iw = i32(ow) * s + kw;
        let d = mat4x4f(wgrad_dy[di], wgrad_dy[di + 1u], wgrad_dy[di + 2u], wgrad_dy[di + 3u]);
        a0 += wgrad_row_load(inside, base, iw) * d;
        a1 += wgrad_row_load(inside, base, iw + 1) * d;
        a2 += wgrad_row_load(inside, base, iw + 2) * d;
        if (taps > 3u) {
          a3 += wgrad_row_load(inside, base, iw + 3) * d;
          a4 += wgrad_row_load(inside, base, iw + 4) * d;
        }
        di += wparams.o_vec;
      }
    }
  }
  let j = ckh * wparams.kernel_w + kw0;
  let valid = group < groups;
  wgrad_row_store(valid && kw0 < wparams.kernel_w, j, o0, chunk, a0);
  wgrad_row_store(valid && kw0 + 1u < wparams.kernel_w, j + 1u, o0, chunk, a1);
  wgrad_row_store(valid && kw0 + 2u < wparams.kernel_w, j + 2u, o0, chunk, a2);
  wgrad_row_store(valid && kw0 + 3u < wparams.kernel_w, j + 3u, o0, chunk, a3);
  wgrad_row_store(valid && kw0 + 4u < wparams.kernel_w, j + 4u, o0, chunk, a4);
}

// x at column iw of the input row starting at offset `base` (its row inside the image or not);
// 0 in the padding.
fn wgrad_row_load(inside: bool, base: i32, iw: i32) -> f32 {
  let ok = inside && iw >= 0 && iw < i32(wparams.in_w);
  let v = wgrad_x[u32(select(0, base + iw, ok))];
  return select(0.0, v, ok);
}

fn wgrad_row_store(valid: bool, j: u32, o0: u32, chunk: u32, acc: mat4x4f) {
  let count = wparams.channels * wparams.kernel_h * wparams.kernel_w;
  wgrad_store(Col(select(count, j, valid), 0, 0, 0), o0, chunk, acc);
}

// The kernel tile, for 3 × 3 kernels: an invocation owns 3 × 3 taps (kh0 …, kw0 …) of 2 input
// channels × 16 output channels (288 accumulators), so each dy it loads feeds 18 columns and each
// x it loads 16 channels. Its 6 kernel rows slide along their input rows, a window of 3 inputs
// each: one new load per row per output position at stride 1, two at stride 2. Taps past the
// kernel and the second channel past the last are computed from zeros and never stored;
// blocks_j counts invocations (⌈C / 2⌉ · ⌈KH / 3⌉ · ⌈KW / 3⌉). For llvmpipe.
@compute @workgroup_size(WORKGROUP)
fn weightGrad3x3x2x16(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                      @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let j_block = g % wparams.blocks_j;
  let rest = g / wparams.blocks_j;
  let o_block = rest % wparams.blocks_o;
  let chunk = rest / wparams.blocks_o;
  let rows = wparams.batch * wparams.out_h;
  let row_begin = chunk * wparams.rows_per_chunk;
  if (row_begin >= rows) {
    return;
  }
  let row_end = min(rows, row_begin + wparams.rows_per_chunk);
  let o0 = o_block * 16u;
  let kh_blocks = (wparams.kernel_h + 2u) / 3u;
  let kw_blocks = (wparams.kernel_w + 2u) / 3u;
  let groups = (wparams.channels + 1u) / 2u * kh_blocks * kw_blocks;
  let group = j_block * WORKGROUP + lid;
  let gc = min(group, groups - 1u);
  let kw0 = (gc % kw_blocks) * 3u;
  let kh0 = (gc / kw_blocks % kh_blocks) * 3u;
  let c0 = gc / (kw_blocks * kh_blocks) * 2u;
  let c1 = c0 + 1u;
  let kw = i32(kw0) - i32(wparams.padding);
  var a000 = mat4x4f();
  var a001 = mat4x4f();
  var a002 = mat4x4f();
  var a010 = mat4x4f();
  var a011 = mat4x4f();
  var a012 = mat4x4f();
  var a020 = mat4x4f();
  var a021 = mat4x4f();
  var a022 = mat4x4f();
  var a100 = mat4x4f();
  var a101 = mat4x4f();
  var a102 = mat4x4f();
  var a110 = mat4x4f();
  var a111 = mat4x4f();
  var a112 = mat4x4f();
  var a120 = mat4x4f();
  var a121 = mat4x4f();
  var a122 = mat4x4f();
  let s = i32(wparams.stride);
  for (var row = row_begin; row < row_end; row++) {
    let n = row / wparams.out_h;
    let oh = row - n * wparams.out_h;
    let r00 = wgrad_kernel_row(n, oh, c0, kh0 + 0u);
    let r01 = wgrad_kernel_row(n, oh, c0, kh0 + 1u);
    let r02 = wgrad_kernel_row(n, oh, c0, kh0 + 2u);
    let r10 = wgrad_kernel_row(n, oh, c1, kh0 + 0u);
    let r11 = wgrad_kernel_row(n, oh, c1, kh0 + 1u);
    let r12 = wgrad_kernel_row(n, oh, c1, kh0 + 2u);
    var w00 = wgrad_window_prime(r00, kw);
    var w01 = wgrad_window_prime(r01, kw);
    var w02 = wgrad_window_prime(r02, kw);
    var w10 = wgrad_window_prime(r10, kw);
    var w11 = wgrad_window_prime(r11, kw);
    var w12 = wgrad_window_prime(r12, kw);
    var di = row * wparams.out_w * wparams.o_vec + o0 / 4u;
    for (var ow = 0u; ow < wparams.out_w; ow++) {
      let iw = i32(ow) * s + kw;
      w00 = wgrad_window_slide(w00, r00, iw);
      w01 = wgrad_window_slide(w01, r01, iw);
      w02 = wgrad_window_slide(w02, r02, iw);
      w10 = wgrad_window_slide(w10, r10, iw);
      w11 = wgrad_window_slide(w11, r11, iw);
      w12 = wgrad_window_slide(w12, r12, iw);
      let d = mat4x4f(wgrad_dy[di], wgrad_dy[di + 1u], wgrad_dy[di + 2u], wgrad_dy[di + 3u]);
      a000 += w00[0] * d;
      a001 += w00[1] * d;
      a002 += w00[2] * d;
      a010 += w01[0] * d;
      a011 += w01[1] * d;
      a012 += w01[2] * d;
      a020 += w02[0] * d;
      a021 += w02[1] * d;
      a022 += w02[2] * d;
      a100 += w10[0] * d;
      a101 += w10[1] * d;
      a102 += w10[2] * d;
      a110 += w11[0] * d;
      a111 += w11[1] * d;
      a112 += w11[2] * d;
      a120 += w12[0] * d;
      a121 += w12[1] * d;
      a122 += w12[2] * d;
      di += wparams.o_vec;
    }
  }
  let valid = group < groups;
  wgrad_kernel_store(valid, c0, kh0 + 0u, kw0 + 0u, o0, chunk, a000);
  wgrad_kernel_store(valid, c0, kh0 + 0u, kw0 + 1u, o0, chunk, a001);
  wgrad_kernel_store(valid, c0, kh0 + 0u, kw0 + 2u, o0, chunk, a002);
  wgrad_kernel_store(valid, c0, kh0 + 1u, kw0 + 0u, o0, chunk, a010);
  wgrad_kernel_store(valid, c0, kh0 + 1u, kw0 + 1u, o0, chunk, a011);
  wgrad_kernel_store(valid, c0, kh0 + 1u, kw0 + 2u, o0, chunk, a012);
  wgrad_kernel_store(valid, c0, kh0 + 2u, kw0 + 0u, o0, chunk, a020);
  wgrad_kernel_store(valid, c0, kh0 + 2u, kw0 + 1u, o0, chunk, a021);
  wgrad_kernel_store(valid, c0, kh0 + 2u, kw0 + 2u, o0, chunk, a022);
  wgrad_kernel_store(valid, c1, kh0 + 0u, kw0 + 0u, o0, chunk, a100);
  wgrad_kernel_store(valid, c1, kh0 + 0u, kw0 + 1u, o0, chunk, a101);
  wgrad_kernel_store(valid, c1, kh0 + 0u, kw0 + 2u, o0, chunk, a102);
  wgrad_kernel_store(valid, c1, kh0 + 1u, kw0 + 0u, o0, chunk, a110);
  wgrad_kernel_store(valid, c1, kh0 + 1u, kw0 + 1u, o0, chunk, a111);
  wgrad_kernel_store(valid, c1, kh0 + 1u, kw0 + 2u, o0, chunk, a112);
  wgrad_kernel_store(valid, c1, kh0 + 2u, kw0 + 0u, o0, chunk, a120);
  wgrad_kernel_store(valid, c1, kh0 + 2u, kw0 + 1u, o0, chunk, a121);
  wgrad_kernel_store(valid, c1, kh0 + 2u, kw0 + 2u, o0, chunk, a122);
}

// weightGrad3x3x2x16 for 8 output channels (BasicCNN's 3 → 8 stem; O a few past a multiple of
// 16): 144 accumulators, half the multiply-adds for the same loads of the input windows.
@compute @workgroup_size(WORKGROUP)
fn weightGrad3x3x2x8(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                     @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let j_block = g % wparams.blocks_j;
  let rest = g / wparams.blocks_j;
  let o_block = rest % wparams.blocks_o;
  let chunk = rest / wparams.blocks_o;
  let rows = wparams.batch * wparams.out_h;
  let row_begin = chunk * wparams.rows_per_chunk;
  if (row_begin >= rows) {
    return;
  }
  let row_end = min(rows, row_begin + wparams.rows_per_chunk);
  let o0 = o_block * 8u;
  let kh_blocks = (wparams.kernel_h + 2u) / 3u;
  let kw_blocks = (wparams.kernel_w + 2u) / 3u;
  let groups = (wparams.channels + 1u) / 2u * kh_blocks * kw_blocks;
  let group = j_block * WORKGROUP + lid;
  let gc = min(group, groups - 1u);
  let kw0 = (gc % kw_blocks) * 3u;
  let kh0 = (gc / kw_blocks % kh_blocks) * 3u;
  let c0 = gc / (kw_blocks * kh_blocks) * 2u;
  let c1 = c0 + 1u;
  let kw = i32(kw0) - i32(wparams.padding);
  var a000 = mat2x4f();
  var a001 = mat2x4f();
  var a002 = mat2x4f();
  var a010 = mat2x4f();
  var a011 = mat2x4f();
  var a012 = mat2x4f();
  var a020 = mat2x4f();
  var a021 = mat2x4f();
  var a022 = mat2x4f();
  var a100 = mat2x4f();
  var a101 = mat2x4f();
  var a102 = mat2x4f();
  var a110 = mat2x4f();
  var a111 = mat2x4f();
  var a112 = mat2x4f();
  var a120 = mat2x4f();
  var a121 = mat2x4f();
  var a122 = mat2x4f();
  let s = i32(wparams.stride);
  for (var row = row_begin; row < row_end; row++) {
    let n = row / wparams.out_h;
    let oh = row - n * wparams.out_h;
    let r00 = wgrad_kernel_row(n, oh, c0, kh0 + 0u);
    let r01 = wgrad_kernel_row(n, oh, c0, kh0 + 1u);
    let r02 = wgrad_kernel_row(n, oh, c0, kh0 + 2u);
    let r10 = wgrad_kernel_row(n, oh, c1, kh0 + 0u);
    let r11 = wgrad_kernel_row(n, oh, c1, kh0 + 1u);
    let r12 = wgrad_kernel_row(n, oh, c1, kh0 + 2u);
    var w00 = wgrad_window_prime(r00, kw);
    var w01 = wgrad_window_prime(r01, kw);
    var w02 = wgrad_window_prime(r02, kw);
    var w10 = wgrad_window_prime(r10, kw);
    var w11 = wgrad_window_prime(r11, kw);
    var w12 = wgrad_window_prime(r12, kw);
    var di = row * wparams.out_w * wparams.o_vec + o0 / 4u;
    for (var ow = 0u; ow < wparams.out_w; ow++) {
      let iw = i32(ow) * s + kw;
      w00 = wgrad_window_slide(w00, r00, iw);
      w01 = wgrad_window_slide(w01, r01, iw);
      w02 = wgrad_window_slide(w02, r02, iw);
      w10 = wgrad_window_slide(w10, r10, iw);
      w11 = wgrad_window_slide(w11, r11, iw);
      w12 = wgrad_window_slide(w12, r12, iw);
      let d = mat2x4f(wgrad_dy[di], wgrad_dy[di + 1u]);
      a000 += w00[0] * d;
      a001 += w00[1] * d;
      a002 += w00[2] * d;
      a010 += w01[0] * d;
      a011 += w01[1] * d;
      a012 += w01[2] * d;
      a020 += w02[0] * d;
      a021 += w02[1] * d;
      a022 += w02[2] * d;
      a100 += w10[0] * d;
      a101 += w10[1] * d;
      a102 += w10[2] * d;
      a110 += w11[0] * d;
      a111 += w11[1] * d;
      a112 += w11[2] * d;
      a120 += w12[0] * d;
      a121 += w12[1] * d;
      a122 += w12[2] * d;
      di += wparams.o_vec;
    }
  }
  let valid = group < groups;
  wgrad_kernel_store8(valid, c0, kh0 + 0u, kw0 + 0u, o0, chunk, a000);
  wgrad_kernel_store8(valid, c0, kh0 + 0u, kw0 + 1u, o0, chunk, a001);
  wgrad_kernel_store8(valid, c0, kh0 + 0u, kw0 + 2u, o0, chunk, a002);
  wgrad_kernel_store8(valid, c0, kh0 + 1u, kw0 + 0u, o0, chunk, a010);
  wgrad_kernel_store8(valid, c0, kh0 + 1u, kw0 + 1u, o0, chunk, a011);
  wgrad_kernel_store8(valid, c0, kh0 + 1u, kw0 + 2u, o0, chunk, a012);
  wgrad_kernel_store8(valid, c0, kh0 + 2u, kw0 + 0u, o0, chunk, a020);
  wgrad_kernel_store8(valid, c0, kh0 + 2u, kw0 + 1u, o0, chunk, a021);
  wgrad_kernel_store8(valid, c0, kh0 + 2u, kw0 + 2u, o0, chunk, a022);
  wgrad_kernel_store8(valid, c1, kh0 + 0u, kw0 + 0u, o0, chunk, a100);
  wgrad_kernel_store8(valid, c1, kh0 + 0u, kw0 + 1u, o0, chunk, a101);
  wgrad_kernel_store8(valid, c1, kh0 + 0u, kw0 + 2u, o0, chunk, a102);
  wgrad_kernel_store8(valid, c1, kh0 + 1u, kw0 + 0u, o0, chunk, a110);
  wgrad_kernel_store8(valid, c1, kh0 + 1u, kw0 + 1u, o0, chunk, a111);
  wgrad_kernel_store8(valid, c1, kh0 + 1u, kw0 + 2u, o0, chunk, a112);
  wgrad_kernel_store8(valid, c1, kh0 + 2u, kw0 + 0u, o0, chunk, a120);
  wgrad_kernel_store8(valid, c1, kh0 + 2u, kw0 + 1u, o0, chunk, a121);
  wgrad_kernel_store8(valid, c1, kh0 + 2u, kw0 + 2u, o0, chunk, a122);
}

// The same tile for 12 output channels (the 10-channel layers of ConvBnNet and DeepBnNet).
@compute @workgroup_size(WORKGROUP)
fn weightGrad3x3x2x12(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                      @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let j_block = g % wparams.blocks_j;
  let rest = g / wparams.blocks_j;
  let o_block = rest % wparams.blocks_o;
  let chunk = rest / wparams.blocks_o;
  let rows = wparams.batch * wparams.out_h;
  let row_begin = chunk * wparams.rows_per_chunk;
  if (row_begin >= rows) {
    return;
  }
  let row_end = min(rows, row_begin + wparams.rows_per_chunk);
  let o0 = o_block * 12u;
  let kh_blocks = (wparams.kernel_h + 2u) / 3u;
  let kw_blocks = (wparams.kernel_w + 2u) / 3u;
  let groups = (wparams.channels + 1u) / 2u * kh_blocks * kw_blocks;
  let group = j_block * WORKGROUP + lid;
  let gc = min(group, groups - 1u);
  let kw0 = (gc % kw_blocks) * 3u;
  let kh0 = (gc / kw_blocks % kh_blocks) * 3u;
  let c0 = gc / (kw_blocks * kh_blocks) * 2u;
  let c1 = c0 + 1u;
  let kw = i32(kw0) - i32(wparams.padding);
  var a000 = mat3x4f();
  var a001 = mat3x4f();
  var a002 = mat3x4f();
  var a010 = mat3x4f();
  var a011 = mat3x4f();
  var a012 = mat3x4f();
  var a020 = mat3x4f();
  var a021 = mat3x4f();
  var a022 = mat3x4f();
  var a100 = mat3x4f();
  var a101 = mat3x4f();
  var a102 = mat3x4f();
  var a110 = mat3x4f();
  var a111 = mat3x4f();
  var a112 = mat3x4f();
  var a120 = mat3x4f();
  var a121 = mat3x4f();
  var a122 = mat3x4f();
  let s = i32(wparams.stride);
  for (var row = row_begin; row < row_end; row++) {
    let n = row / wparams.out_h;
    let oh = row - n * wparams.out_h;
    let r00 = wgrad_kernel_row(n, oh, c0, kh0 + 0u);
    let r01 = wgrad_kernel_row(n, oh, c0, kh0 + 1u);
    let r02 = wgrad_kernel_row(n, oh, c0, kh0 + 2u);
    let r10 = wgrad_kernel_row(n, oh, c1, kh0 + 0u);
    let r11 = wgrad_kernel_row(n, oh, c1, kh0 + 1u);
    let r12 = wgrad_kernel_row(n, oh, c1, kh0 + 2u);
    var w00 = wgrad_window_prime(r00, kw);
    var w01 = wgrad_window_prime(r01, kw);
    var w02 = wgrad_window_prime(r02, kw);
    var w10 = wgrad_window_prime(r10, kw);
    var w11 = wgrad_window_prime(r11, kw);
    var w12 = wgrad_window_prime(r12, kw);
    var di = row * wparams.out_w * wparams.o_vec + o0 / 4u;
    for (var ow = 0u; ow < wparams.out_w; ow++) {
      let iw = i32(ow) * s + kw;
      w00 = wgrad_window_slide(w00, r00, iw);
      w01 = wgrad_window_slide(w01, r01, iw);
      w02 = wgrad_window_slide(w02, r02, iw);
      w10 = wgrad_window_slide(w10, r10, iw);
      w11 = wgrad_window_slide(w11, r11, iw);
      w12 = wgrad_window_slide(w12, r12, iw);
      let d = mat3x4f(wgrad_dy[di], wgrad_dy[di + 1u], wgrad_dy[di + 2u]);
      a000 += w00[0] * d;
      a001 += w00[1] * d;
      a002 += w00[2] * d;
      a010 += w01[0] * d;
      a011 += w01[1] * d;
      a012 += w01[2] * d;
      a020 += w02[0] * d;
      a021 += w02[1] * d;
      a022 += w02[2] * d;
      a100 += w10[0] * d;
      a101 += w10[1] * d;
      a102 += w10[2] * d;
      a110 += w11[0] * d;
      a111 += w11[1] * d;
      a112 += w11[2] * d;
      a120 += w12[0] * d;
      a121 += w12[1] * d;
      a122 += w12[2] * d;
      di += wparams.o_vec;
    }
  }
  let valid = group < groups;
  wgrad_kernel_store12(valid, c0, kh0 + 0u, kw0 + 0u, o0, chunk, a000);
  wgrad_kernel_store12(valid, c0, kh0 + 0u, kw0 + 1u, o0, chunk, a001);
  wgrad_kernel_store12(valid, c0, kh0 + 0u, kw0 + 2u, o0, chunk, a002);
  wgrad_kernel_store12(valid, c0, kh0 + 1u, kw0 + 0u, o0, chunk, a010);
  wgrad_kernel_store12(valid, c0, kh0 + 1u, kw0 + 1u, o0, chunk, a011);
  wgrad_kernel_store12(valid, c0, kh0 + 1u, kw0 + 2u, o0, chunk, a012);
  wgrad_kernel_store12(valid, c0, kh0 + 2u, kw0 + 0u, o0, chunk, a020);
  wgrad_kernel_store12(valid, c0, kh0 + 2u, kw0 + 1u, o0, chunk, a021);
  wgrad_kernel_store12(valid, c0, kh0 + 2u, kw0 + 2u, o0, chunk, a022);
  wgrad_kernel_store12(valid, c1, kh0 + 0u, kw0 + 0u, o0, chunk, a100);
  wgrad_kernel_store12(valid, c1, kh0 + 0u, kw0 + 1u, o0, chunk, a101);
  wgrad_kernel_store12(valid, c1, kh0 + 0u, kw0 + 2u, o0, chunk, a102);
  wgrad_kernel_store12(valid, c1, kh0 + 1u, kw0 + 0u, o0, chunk, a110);
  wgrad_kernel_store12(valid, c1, kh0 + 1u, kw0 + 1u, o0, chunk, a111);
  wgrad_kernel_store12(valid, c1, kh0 + 1u, kw0 + 2u, o0, chunk, a112);
  wgrad_kernel_store12(valid, c1, kh0 + 2u, kw0 + 0u, o0, chunk, a120);
  wgrad_kernel_store12(valid, c1, kh0 + 2u, kw0 + 1u, o0, chunk, a121);
  wgrad_kernel_store12(valid, c1, kh0 + 2u, kw0 + 2u, o0, chunk, a122);
}

@compute @workgroup_size(WORKGROUP)
fn weightGrad3x3x4x16(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                      @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let j_block = g % wparams.blocks_j;
  let rest = g / wparams.blocks_j;
  let o_block = rest % wparams.blocks_o;
  let chunk = rest / wparams.blocks_o;
  let rows = wparams.batch * wparams.out_h;
  let row_begin = chunk * wparams.rows_per_chunk;
  if (row_begin >= rows) {
    return;
  }
  let row_end = min(rows, row_begin + wparams.rows_per_chunk);
  let o0 = o_block * 16u;
  let kh_blocks = (wparams.kernel_h + 2u) / 3u;
  let kw_blocks = (wparams.kernel_w + 2u) / 3u;
  let groups = (wparams.channels + 3u) / 4u * kh_blocks * kw_blocks;
  let group = j_block * WORKGROUP + lid;
  let gc = min(group, groups - 1u);
  let kw0 = (gc % kw_blocks) * 3u;
  let kh0 = (gc / kw_blocks % kh_blocks) * 3u;
  let c0 = gc / (kw_blocks * kh_blocks) * 4u;
  let c1 = c0 + 1u;
  let c2 = c0 + 2u;
  let c3 = c0 + 3u;
  let kw = i32(kw0) - i32(wparams.padding);
  var a000 = mat4x4f();
  var a001 = mat4x4f();
  var a002 = mat4x4f();
  var a010 = mat4x4f();
  var a011 = mat4x4f();
  var a012 = mat4x4f();
  var a020 = mat4x4f();
  var a021 = mat4x4f();
  var a022 = mat4x4f();
  var a100 = mat4x4f();
  var a101 = mat4x4f();
  var a102 = mat4x4f();
  var a110 = mat4x4f();
  var a111 = mat4x4f();
  var a112 = mat4x4f();
  var a120 = mat4x4f();
  var a121 = mat4x4f();
  var a122 = mat4x4f();
  var a200 = mat4x4f();
  var a201 = mat4x4f();
  var a202 = mat4x4f();
  var a210 = mat4x4f();
  var a211 = mat4x4f();
  var a212 = mat4x4f();
  var a220 = mat4x4f();
  var a221 = mat4x4f();
  var a222 = mat4x4f();
  var a300 = mat4x4f();
  var a301 = mat4x4f();
  var a302 = mat4x4f();
  var a310 = mat4x4f();
  var a311 = mat4x4f();
  var a312 = mat4x4f();
  var a320 = mat4x4f();
  var a321 = mat4x4f();
  var a322 = mat4x4f();
  let s = i32(wparams.stride);
  for (var row = row_begin; row < row_end; row++) {
    let n = row / wparams.out_h;
    let oh = row - n * wparams.out_h;
    let r00 = wgrad_kernel_row(n, oh, c0, kh0 + 0u);
    let r01 = wgrad_kernel_row(n, oh, c0, kh0 + 1u);
    let r02 = wgrad_kernel_row(n, oh, c0, kh0 + 2u);
    let r10 = wgrad_kernel_row(n, oh, c1, kh0 + 0u);
    let r11 = wgrad_kernel_row(n, oh, c1, kh0 + 1u);
    let r12 = wgrad_kernel_row(n, oh, c1, kh0 + 2u);
    let r20 = wgrad_kernel_row(n, oh, c2, kh0 + 0u);
    let r21 = wgrad_kernel_row(n, oh, c2, kh0 + 1u);
    let r22 = wgrad_kernel_row(n, oh, c2, kh0 + 2u);
    let r30 = wgrad_kernel_row(n, oh, c3, kh0 + 0u);
    let r31 = wgrad_kernel_row(n, oh, c3, kh0 + 1u);
    let r32 = wgrad_kernel_row(n, oh, c3, kh0 + 2u);
    var w00 = wgrad_window_prime(r00, kw);
    var w01 = wgrad_window_prime(r01, kw);
    var w02 = wgrad_window_prime(r02, kw);
    var w10 = wgrad_window_prime(r10, kw);
    var w11 = wgrad_window_prime(r11, kw);
    var w12 = wgrad_window_prime(r12, kw);
    var w20 = wgrad_window_prime(r20, kw);
    var w21 = wgrad_window_prime(r21, kw);
    var w22 = wgrad_window_prime(r22, kw);
    var w30 = wgrad_window_prime(r30, kw);
    var w31 = wgrad_window_prime(r31, kw);
    var w32 = wgrad_window_prime(r32, kw);
    var di = row * wparams.out_w * wparams.o_vec + o0 / 4u;
    for (var ow = 0u; ow < wparams.out_w; ow++) {
      let iw = i32(ow) * s + kw;
      w00 = wgrad_window_slide(w00, r00, iw);
      w01 = wgrad_window_slide(w01, r01, iw);
      w02 = wgrad_window_slide(w02, r02, iw);
      w10 = wgrad_window_slide(w10, r10, iw);
      w11 = wgrad_window_slide(w11, r11, iw);
      w12 = wgrad_window_slide(w12, r12, iw);
      w20 = wgrad_window_slide(w20, r20, iw);
      w21 = wgrad_window_slide(w21, r21, iw);
      w22 = wgrad_window_slide(w22, r22, iw);
      w30 = wgrad_window_slide(w30, r30, iw);
      w31 = wgrad_window_slide(w31, r31, iw);
      w32 = wgrad_window_slide(w32, r32, iw);
      let d = mat4x4f(wgrad_dy[di], wgrad_dy[di + 1u], wgrad_dy[di + 2u], wgrad_dy[di + 3u]);
      a000 += w00[0] * d;
      a001 += w00[1] * d;
      a002 += w00[2] * d;
      a010 += w01[0] * d;
      a011 += w01[1] * d;
      a012 += w01[2] * d;
      a020 += w02[0] * d;
      a021 += w02[1] * d;
      a022 += w02[2] * d;
      a100 += w10[0] * d;
      a101 += w10[1] * d;
      a102 += w10[2] * d;
      a110 += w11[0] * d;
      a111 += w11[1] * d;
      a112 += w11[2] * d;
      a120 += w12[0] * d;
      a121 += w12[1] * d;
      a122 += w12[2] * d;
      a200 += w20[0] * d;
      a201 += w20[1] * d;
      a202 += w20[2] * d;
      a210 += w21[0] * d;
      a211 += w21[1] * d;
      a212 += w21[2] * d;
      a220 += w22[0] * d;
      a221 += w22[1] * d;
      a222 += w22[2] * d;
      a300 += w30[0] * d;
      a301 += w30[1] * d;
      a302 += w30[2] * d;
      a310 += w31[0] * d;
      a311 += w31[1] * d;
      a312 += w31[2] * d;
      a320 += w32[0] * d;
      a321 += w32[1] * d;
      a322 += w32[2] * d;
      di += wparams.o_vec;
    }
  }
  let valid = group < groups;
  wgrad_kernel_store(valid, c0, kh0 + 0u, kw0 + 0u, o0, chunk, a000);
  wgrad_kernel_store(valid, c0, kh0 + 0u, kw0 + 1u, o0, chunk, a001);
  wgrad_kernel_store(valid, c0, kh0 + 0u, kw0 + 2u, o0, chunk, a002);
  wgrad_kernel_store(valid, c0, kh0 + 1u, kw0 + 0u, o0, chunk, a010);
  wgrad_kernel_store(valid, c0, kh0 + 1u, kw0 + 1u, o0, chunk, a011);
  wgrad_kernel_store(valid, c0, kh0 + 1u, kw0 + 2u, o0, chunk, a012);
  wgrad_kernel_store(valid, c0, kh0 + 2u, kw0 + 0u, o0, chunk, a020);
  wgrad_kernel_store(valid, c0, kh0 + 2u, kw0 + 1u, o0, chunk, a021);
  wgrad_kernel_store(valid, c0, kh0 + 2u, kw0 + 2u, o0, chunk, a022);
  wgrad_kernel_store(valid, c1, kh0 + 0u, kw0 + 0u, o0, chunk, a100);
  wgrad_kernel_store(valid, c1, kh0 + 0u, kw0 + 1u, o0, chunk, a101);
  wgrad_kernel_store(valid, c1, kh0 + 0u, kw0 + 2u, o0, chunk, a102);
  wgrad_kernel_store(valid, c1, kh0 + 1u, kw0 + 0u, o0, chunk, a110);
  wgrad_kernel_store(valid, c1, kh0 + 1u, kw0 + 1u, o0, chunk, a111);
  wgrad_kernel_store(valid, c1, kh0 + 1u, kw0 + 2u, o0, chunk, a112);
  wgrad_kernel_store(valid, c1, kh0 + 2u, kw0 + 0u, o0, chunk, a120);
  wgrad_kernel_store(valid, c1, kh0 + 2u, kw0 + 1u, o0, chunk, a121);
  wgrad_kernel_store(valid, c1, kh0 + 2u, kw0 + 2u, o0, chunk, a122);
  wgrad_kernel_store(valid, c2, kh0 + 0u, kw0 + 0u, o0, chunk, a200);
  wgrad_kernel_store(valid, c2, kh0 + 0u, kw0 + 1u, o0, chunk, a201);
  wgrad_kernel_store(valid, c2, kh0 + 0u, kw0 + 2u, o0, chunk, a202);
  wgrad_kernel_store(valid, c2, kh0 + 1u, kw0 + 0u, o0, chunk, a210);
  wgrad_kernel_store(valid, c2, kh0 + 1u, kw0 + 1u, o0, chunk, a211);
  wgrad_kernel_store(valid, c2, kh0 + 1u, kw0 + 2u, o0, chunk, a212);
  wgrad_kernel_store(valid, c2, kh0 + 2u, kw0 + 0u, o0, chunk, a220);
  wgrad_kernel_store(valid, c2, kh0 + 2u, kw0 + 1u, o0, chunk, a221);
  wgrad_kernel_store(valid, c2, kh0 + 2u, kw0 + 2u, o0, chunk, a222);
  wgrad_kernel_store(valid, c3, kh0 + 0u, kw0 + 0u, o0, chunk, a300);
  wgrad_kernel_store(valid, c3, kh0 + 0u, kw0 + 1u, o0, chunk, a301);
  wgrad_kernel_store(valid, c3, kh0 + 0u, kw0 + 2u, o0, chunk, a302);
  wgrad_kernel_store(valid, c3, kh0 + 1u, kw0 + 0u, o0, chunk, a310);
  wgrad_kernel_store(valid, c3, kh0 + 1u, kw0 + 1u, o0, chunk, a311);
  wgrad_kernel_store(valid, c3, kh0 + 1u, kw0 + 2u, o0, chunk, a312);
  wgrad_kernel_store(valid, c3, kh0 + 2u, kw0 + 0u, o0, chunk, a320);
  wgrad_kernel_store(valid, c3, kh0 + 2u, kw0 + 1u, o0, chunk, a321);
  wgrad_kernel_store(valid, c3, kh0 + 2u, kw0 + 2u, o0, chunk, a322);
}

// One input row of the kernel tile: where row oh·s − p + kh of channel c starts in x, and whether
// it lies inside the image (a channel past the last reads zeros too).
struct KernelRow {
  base: i32,
  inside: bool,
}

fn wgrad_kernel_row(n: u32, oh: u32, c: u32, kh: u32) -> KernelRow {
  let ih = i32(oh * wparams.stride + kh) - i32(wparams.padding);
  let inside = c < wparams.channels && kh < wparams.kernel_h && ih >= 0 &&
    ih < i32(wparams.in_h);
  let base = i32((n * wparams.channels + c) * wparams.in_h * wparams.in_w) + ih * i32(wparams.in_w);
  return KernelRow(select(0, base, inside), inside);
}

// The window before output position 0: the inputs at columns kw − s + 1 and kw − s + 2, those
// that slide into taps 0 and 1 (at stride 1) or 0 (at stride 2).
fn wgrad_window_prime(r: KernelRow, kw: i32) -> vec3f {
  let s = i32(wparams.stride);
  return vec3f(0.0, wgrad_row_load(r.inside, r.base, kw - s + 1),
               wgrad_row_load(r.inside, r.base, kw - s + 2));
}

// The window at the output position whose tap 0 reads column iw, from the previous one.
fn wgrad_window_slide(prev: vec3f, r: KernelRow, iw: i32) -> vec3f {
  var v = vec3f(0.0, 0.0, wgrad_row_load(r.inside, r.base, iw + 2));
  if (wparams.stride == 1u) {
    v.x = prev.y;
    v.y = prev.z;
  } else if (wparams.stride == 2u) {
    v.x = prev.z;
    v.y = wgrad_row_load(r.inside, r.base, iw + 1);
  } else {
    v.x = wgrad_row_load(r.inside, r.base, iw);
    v.y = wgrad_row_load(r.inside, r.base, iw + 1);
  }
  return v;
}

fn wgrad_kernel_store(valid: bool, c: u32, kh: u32, kw: u32, o0: u32, chunk: u32, acc: mat4x4f) {
  let inside = valid && c < wparams.channels && kh < wparams.kernel_h && kw < wparams.kernel_w;
  let j = (c * wparams.kernel_h + kh) * wparams.kernel_w + kw;
  wgrad_row_store(inside, j, o0, chunk, acc);
}

// wgrad_kernel_store for the 8- and 12-channel tiles.
fn wgrad_kernel_store_n(valid: bool, c: u32, kh: u32, kw: u32, o0: u32, chunk: u32, acc: mat4x4f,
                        width: u32) {
  let count = wparams.channels * wparams.kernel_h * wparams.kernel_w;
  let inside = valid && c < wparams.channels && kh < wparams.kernel_h && kw < wparams.kernel_w;
  let j = (c * wparams.kernel_h + kh) * wparams.kernel_w + kw;
  wgrad_store_n(Col(select(count, j, inside), 0, 0, 0), o0, chunk, acc, width);
}

fn wgrad_kernel_store8(valid: bool, c: u32, kh: u32, kw: u32, o0: u32, chunk: u32, acc: mat2x4f) {
  wgrad_kernel_store_n(valid, c, kh, kw, o0, chunk, mat4x4f(acc[0], acc[1], vec4f(), vec4f()), 8u);
}

fn wgrad_kernel_store12(valid: bool, c: u32, kh: u32, kw: u32, o0: u32, chunk: u32, acc: mat3x4f) {
  wgrad_kernel_store_n(valid, c, kh, kw, o0, chunk, mat4x4f(acc[0], acc[1], acc[2], vec4f()), 12u);
}

// The workgroup-tiled weight gradient, for hardware GPUs (offered as gatherTiled64x64 is): a
// workgroup of 64 invocations computes 64 columns j = (c, kh, kw) × 64 output channels over the
// chunk's positions k = (row, ow) in order; invocation lid owns the columns j0 + lid % 16 + 16i
// (i < 4) × the 16 channels o0 + 16·(lid / 16) + j. Steps of 16 positions go through tiled_x
// ([buffer · 16 + position][column]) and tiled_w ([buffer · 16 + position][o / 4], dy), double
// buffered with one barrier per step as in gatherTiled64x64. Each output sums its positions in
// order from 0 as `acc += x · dy`, exactly as the register tiles: bit-identical.

// Column j0 + lid's x and the dy vec4s e = lid + 64i (position e / 16, channels 4·(e % 16) ..)
// at the chunk's positions k0 .. k0 + 15 (zero past k_end).
fn wgrad_tiled_load(lid: u32, j0: u32, o0: u32, row_begin: u32, k0: u32, k_end: u32) -> TiledStep {
  let col = wgrad_col(j0 + lid);
  let s = i32(wparams.stride);
  let image = i32(wparams.channels * wparams.in_h * wparams.in_w);
  var step: TiledStep;
  for (var i = 0u; i < TILED_R; i++) {
    let k = min(k0 + i, k_end - 1u);
    let row = row_begin + k / wparams.out_w;
    let ow = k % wparams.out_w;
    let n = row / wparams.out_h;
    let ih0 = i32(row - n * wparams.out_h) * s;
    let iw0 = i32(ow) * s;
    let v = wgrad_load(col, i32(n) * image + ih0 * i32(wparams.in_w) + iw0, ih0, iw0);
    step.x[i] = select(0.0, v, k0 + i < k_end);
  }
  for (var i = 0u; i < 4u; i++) {
    let e = lid + 64u * i;
    let k = k0 + e / 16u;
    let ov = o0 / 4u + e % 16u;
    let inside = k < k_end && ov < wparams.o_vec;
    let row = row_begin + k / wparams.out_w;
    let di = (row * wparams.out_w + k % wparams.out_w) * wparams.o_vec + ov;
    step.w[i] = select(vec4f(0.0), wgrad_dy[select(0u, di, inside)], inside);
  }
  return step;
}

@compute @workgroup_size(WORKGROUP)
fn weightGradTiled64x64(@builtin(local_invocation_index) lid: u32,
                        @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let j_block = g % wparams.blocks_j;
  let rest = g / wparams.blocks_j;
  let o_block = rest % wparams.blocks_o;
  let chunk = rest / wparams.blocks_o;
  let rows = wparams.batch * wparams.out_h;
  let row_begin = chunk * wparams.rows_per_chunk;
  if (row_begin >= rows) {
    return; // the whole workgroup pads the grid
  }
  let row_end = min(rows, row_begin + wparams.rows_per_chunk);
  let k_end = (row_end - row_begin) * wparams.out_w;
  let o0 = o_block * TILED_Q;
  let j0 = j_block * TILED_POS;
  let jl = lid % 16u;
  let og = 4u * (lid / 16u); // the invocation's first vec4 of the workgroup's 16
  var a0 = mat4x4f();
  var a1 = mat4x4f();
  var a2 = mat4x4f();
  var a3 = mat4x4f();
  tiled_stage(lid, 0u, wgrad_tiled_load(lid, j0, o0, row_begin, 0u, k_end));
  workgroupBarrier();
  var cur = 0u;
  for (var k0 = 0u; k0 < k_end; k0 += TILED_R) {
    let more = k0 + TILED_R < k_end;
    var next: TiledStep;
    if (more) {
      next = wgrad_tiled_load(lid, j0, o0, row_begin, k0 + TILED_R, k_end);
    }
    let kn = min(TILED_R, k_end - k0);
    for (var kk = 0u; kk < kn; kk++) {
      let row = cur * TILED_R + kk;
      let d = mat4x4f(tiled_w[row][og], tiled_w[row][og + 1u], tiled_w[row][og + 2u],
                      tiled_w[row][og + 3u]);
      a0 += tiled_x[row][jl] * d;
      a1 += tiled_x[row][jl + 16u] * d;
      a2 += tiled_x[row][jl + 32u] * d;
      a3 += tiled_x[row][jl + 48u] * d;
    }
    if (more) {
      tiled_stage(lid, 1u - cur, next);
    }
    workgroupBarrier();
    cur = 1u - cur;
  }
  let o = o0 + 4u * og;
  wgrad_store(wgrad_col(j0 + jl), o, chunk, a0);
  wgrad_store(wgrad_col(j0 + jl + 16u), o, chunk, a1);
  wgrad_store(wgrad_col(j0 + jl + 32u), o, chunk, a2);
  wgrad_store(wgrad_col(j0 + jl + 48u), o, chunk, a3);
}

// ---- sumChunks: dW += Σ_chunk partial[chunk] ----

struct SumParams {
  count: u32,  // elements of dW
  chunks: u32,
}

@group(0) @binding(0) var<uniform> sparams: SumParams;
@group(0) @binding(1) var<storage, read> sum_partial: array<f32>;        // [chunks, count]
@group(0) @binding(2) var<storage, read_write> sum_out: array<f32>;      // [count]

@compute @workgroup_size(WORKGROUP)
fn sumChunks(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
             @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
  if (i >= sparams.count) {
    return;
  }
  var total = 0.0;
  for (var k = 0u; k < sparams.chunks; k++) {
    total += sum_partial[k * sparams.count + i];
  }
  sum_out[i] += total;
}

// ---- biasGrad: dBias[o] += Σ dy[n, o, :, :], one workgroup per channel ----

struct BiasParams {
  batch: u32,
  channels: u32,
  plane: u32, // OH · OW
}

const BIAS_WORKGROUP: u32 = 64u; // a power of two: the tree reduction halves it

@group(0) @binding(0) var<uniform> bparams: BiasParams;
@group(0) @binding(1) var<storage, read> bias_dy: array<f32>;            // [N, O, OH, OW]
@group(0) @binding(2) var<storage, read_write> bias_out: array<f32>;     // [O]

var<workgroup> bias_partial: array<f32, BIAS_WORKGROUP>;

@compute @workgroup_size(BIAS_WORKGROUP)
fn biasGrad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let o = wid.x + wid.y * nwg.x;
  if (o >= bparams.channels) {
    return;
  }
  let total = bparams.batch * bparams.plane;
  var sum = 0.0;
  for (var i = lid; i < total; i += BIAS_WORKGROUP) {
    let n = i / bparams.plane;
    sum += bias_dy[(n * bparams.channels + o) * bparams.plane + (i - n * bparams.plane)];
  }
  bias_partial[lid] = sum;
  workgroupBarrier();
  for (var half = BIAS_WORKGROUP / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      bias_partial[lid] += bias_partial[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    bias_out[o] += bias_partial[0];
  }
}
