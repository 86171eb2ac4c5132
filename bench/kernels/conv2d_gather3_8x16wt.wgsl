// Experiment 3 (see bench/README_conv2d.md): 8 positions × 16 channels, the weights first laid out
// as [r, tap, q] (the driver does it on the CPU) so the 16 channels are four uniform vec4 loads.
// Driven by bench/kernels/conv2d_explore.ts. Bindings: 0 params, 1 input, 2 weights, 3 bias,
// 4 output.

struct Params {
  batch: u32,        // N
  q_count: u32,      // channels of the output tensor
  r_count: u32,      // channels reduced over
  in_h: u32,         // spatial size of the gathered input
  in_w: u32,
  out_h: u32,        // spatial size of the output
  out_w: u32,
  kernel_h: u32,
  kernel_w: u32,
  phase_stride: u32, // output coordinate = phase + phase_stride·u (1: one phase)
  sub_h: u32,        // u ranges per phase: ceil(out / phase_stride)
  sub_w: u32,
  in_step: u32,      // input coordinate = in_step·u + (phase + tap_sign·k + tap_offset) / tap_div
  tap_sign: i32,
  tap_offset: i32,
  tap_div: i32,
  w_q_stride: u32,   // weight index = q·w_q_stride + r·w_r_stride + kh·kernel_w + kw
  w_r_stride: u32,
  use_bias: u32,     // 1: add bias[q]
  blocks_m: u32,     // workgroups per phase along positions
  blocks_q: u32,     // workgroups along q
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 64u;
const TILE_M: u32 = 8u;

@group(0) @binding(1) var<storage, read> gather_in: array<f32>;
@group(0) @binding(2) var<storage, read> gather_w: array<vec4f>;
@group(0) @binding(3) var<storage, read> gather_bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> gather_out: array<f32>;

// One output position of a lane: where it lives and where its input window starts.
struct Pos {
  valid: bool,
  n: u32,
  oh: u32,
  ow: u32,
  uh: u32,
  uw: u32,
}

fn gather_pos(mu: u32, ph: u32, pw: u32) -> Pos {
  let plane = params.sub_h * params.sub_w;
  let n = mu / plane;
  let rest = mu - n * plane;
  let uh = rest / params.sub_w;
  let uw = rest - uh * params.sub_w;
  let oh = ph + params.phase_stride * uh;
  let ow = pw + params.phase_stride * uw;
  let valid = n < params.batch && oh < params.out_h && ow < params.out_w;
  return Pos(valid, n, oh, ow, uh, uw);
}

// Offset of the input element a tap reads for position p, or -1 when it falls in the padding.
fn gather_offset(p: Pos, bh: i32, bw: i32) -> i32 {
  let ih = i32(p.uh * params.in_step) + bh;
  let iw = i32(p.uw * params.in_step) + bw;
  let inside = p.valid && ih >= 0 && ih < i32(params.in_h) && iw >= 0 && iw < i32(params.in_w);
  let base = i32(p.n * params.r_count * params.in_h * params.in_w) + ih * i32(params.in_w) + iw;
  return select(-1, base, inside);
}

fn gather_load(offset: i32, r_offset: u32) -> f32 {
  let v = gather_in[u32(max(offset, 0)) + r_offset];
  return select(0.0, v, offset >= 0);
}

fn gather_store(p: Pos, q0: u32, lo: vec4f, hi: vec4f) {
  if (!p.valid) {
    return;
  }
  let plane = params.out_h * params.out_w;
  let base = p.n * params.q_count * plane + p.oh * params.out_w + p.ow;
  let acc = array<f32, 8>(lo.x, lo.y, lo.z, lo.w, hi.x, hi.y, hi.z, hi.w);
  for (var j = 0u; j < 8u; j++) {
    let q = q0 + j;
    if (q < params.q_count) {
      var v = acc[j];
      if (params.use_bias != 0u) {
        v += gather_bias[q];
      }
      gather_out[base + q * plane] = v;
    }
  }
}

@compute @workgroup_size(WORKGROUP)
fn gather(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
          @builtin(num_workgroups) nwg: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  let q_block = g % params.blocks_q;
  let rest = g / params.blocks_q;
  let m_block = rest % params.blocks_m;
  let phase = rest / params.blocks_m;
  if (phase >= params.phase_stride * params.phase_stride) {
    return;
  }
  let ph = phase / params.phase_stride;
  let pw = phase % params.phase_stride;
  let q0 = q_block * 16u;
  let m0 = m_block * WORKGROUP * TILE_M + lid;
  let p0 = gather_pos(m0 + 0u * WORKGROUP, ph, pw);
  let p1 = gather_pos(m0 + 1u * WORKGROUP, ph, pw);
  let p2 = gather_pos(m0 + 2u * WORKGROUP, ph, pw);
  let p3 = gather_pos(m0 + 3u * WORKGROUP, ph, pw);
  let p4 = gather_pos(m0 + 4u * WORKGROUP, ph, pw);
  let p5 = gather_pos(m0 + 5u * WORKGROUP, ph, pw);
  let p6 = gather_pos(m0 + 6u * WORKGROUP, ph, pw);
  let p7 = gather_pos(m0 + 7u * WORKGROUP, ph, pw);
  var a0_0 = vec4f(0.0);
  var a0_1 = vec4f(0.0);
  var a0_2 = vec4f(0.0);
  var a0_3 = vec4f(0.0);
  var a1_0 = vec4f(0.0);
  var a1_1 = vec4f(0.0);
  var a1_2 = vec4f(0.0);
  var a1_3 = vec4f(0.0);
  var a2_0 = vec4f(0.0);
  var a2_1 = vec4f(0.0);
  var a2_2 = vec4f(0.0);
  var a2_3 = vec4f(0.0);
  var a3_0 = vec4f(0.0);
  var a3_1 = vec4f(0.0);
  var a3_2 = vec4f(0.0);
  var a3_3 = vec4f(0.0);
  var a4_0 = vec4f(0.0);
  var a4_1 = vec4f(0.0);
  var a4_2 = vec4f(0.0);
  var a4_3 = vec4f(0.0);
  var a5_0 = vec4f(0.0);
  var a5_1 = vec4f(0.0);
  var a5_2 = vec4f(0.0);
  var a5_3 = vec4f(0.0);
  var a6_0 = vec4f(0.0);
  var a6_1 = vec4f(0.0);
  var a6_2 = vec4f(0.0);
  var a6_3 = vec4f(0.0);
  var a7_0 = vec4f(0.0);
  var a7_1 = vec4f(0.0);
  var a7_2 = vec4f(0.0);
  var a7_3 = vec4f(0.0);
  let in_plane = params.in_h * params.in_w;
  for (var kh = 0u; kh < params.kernel_h; kh++) {
    let nh = i32(ph) + params.tap_sign * i32(kh) + params.tap_offset;
    if (nh % params.tap_div != 0) {
      continue;
    }
    let bh = nh / params.tap_div;
    for (var kw = 0u; kw < params.kernel_w; kw++) {
      let nw = i32(pw) + params.tap_sign * i32(kw) + params.tap_offset;
      if (nw % params.tap_div != 0) {
        continue;
      }
      let bw = nw / params.tap_div;
      let o0 = gather_offset(p0, bh, bw);
      let o1 = gather_offset(p1, bh, bw);
      let o2 = gather_offset(p2, bh, bw);
      let o3 = gather_offset(p3, bh, bw);
      let o4 = gather_offset(p4, bh, bw);
      let o5 = gather_offset(p5, bh, bw);
      let o6 = gather_offset(p6, bh, bw);
      let o7 = gather_offset(p7, bh, bw);
      let taps = params.kernel_h * params.kernel_w;
      let qv = params.w_q_stride;
      var wi = (kh * params.kernel_w + kw) * qv + q0 / 4u;
      let wstep = taps * qv;
      var ri = 0u;
      for (var r = 0u; r < params.r_count; r++) {
        let w0 = gather_w[wi + 0u];
        let w1 = gather_w[wi + 1u];
        let w2 = gather_w[wi + 2u];
        let w3 = gather_w[wi + 3u];
        let x0 = gather_load(o0, ri);
        let x1 = gather_load(o1, ri);
        let x2 = gather_load(o2, ri);
        let x3 = gather_load(o3, ri);
        let x4 = gather_load(o4, ri);
        let x5 = gather_load(o5, ri);
        let x6 = gather_load(o6, ri);
        let x7 = gather_load(o7, ri);
        a0_0 += x0 * w0;
        a0_1 += x0 * w1;
        a0_2 += x0 * w2;
        a0_3 += x0 * w3;
        a1_0 += x1 * w0;
        a1_1 += x1 * w1;
        a1_2 += x1 * w2;
        a1_3 += x1 * w3;
        a2_0 += x2 * w0;
        a2_1 += x2 * w1;
        a2_2 += x2 * w2;
        a2_3 += x2 * w3;
        a3_0 += x3 * w0;
        a3_1 += x3 * w1;
        a3_2 += x3 * w2;
        a3_3 += x3 * w3;
        a4_0 += x4 * w0;
        a4_1 += x4 * w1;
        a4_2 += x4 * w2;
        a4_3 += x4 * w3;
        a5_0 += x5 * w0;
        a5_1 += x5 * w1;
        a5_2 += x5 * w2;
        a5_3 += x5 * w3;
        a6_0 += x6 * w0;
        a6_1 += x6 * w1;
        a6_2 += x6 * w2;
        a6_3 += x6 * w3;
        a7_0 += x7 * w0;
        a7_1 += x7 * w1;
        a7_2 += x7 * w2;
        a7_3 += x7 * w3;
        wi += wstep;
        ri += in_plane;
      }
    }
  }
  gather_store(p0, q0 + 0u, a0_0, a0_1);
  gather_store(p0, q0 + 8u, a0_2, a0_3);
  gather_store(p1, q0 + 0u, a1_0, a1_1);
  gather_store(p1, q0 + 8u, a1_2, a1_3);
  gather_store(p2, q0 + 0u, a2_0, a2_1);
  gather_store(p2, q0 + 8u, a2_2, a2_3);
  gather_store(p3, q0 + 0u, a3_0, a3_1);
  gather_store(p3, q0 + 8u, a3_2, a3_3);
  gather_store(p4, q0 + 0u, a4_0, a4_1);
  gather_store(p4, q0 + 8u, a4_2, a4_3);
  gather_store(p5, q0 + 0u, a5_0, a5_1);
  gather_store(p5, q0 + 8u, a5_2, a5_3);
  gather_store(p6, q0 + 0u, a6_0, a6_1);
  gather_store(p6, q0 + 8u, a6_2, a6_3);
  gather_store(p7, q0 + 0u, a7_0, a7_1);
  gather_store(p7, q0 + 8u, a7_2, a7_3);
}
