// Experiment 1 (see bench/README_conv2d.md): the gather GEMM (forward mode) with a 4 positions ×
// 8 channels register tile in named vec4s, weights read in their own [O, C, KH, KW] layout with
// scalar uniform loads. Driven by bench/kernels/conv2d_explore.ts.
// Bindings: 0 params, 1 input, 2 weights, 3 bias, 4 output.

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
const TILE_M: u32 = 4u;

@group(0) @binding(1) var<storage, read> gather_in: array<f32>;
@group(0) @binding(2) var<storage, read> gather_w: array<f32>;
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
  let q0 = q_block * 8u;
  let m0 = m_block * WORKGROUP * TILE_M + lid;
  let p0 = gather_pos(m0, ph, pw);
  let p1 = gather_pos(m0 + WORKGROUP, ph, pw);
  let p2 = gather_pos(m0 + 2u * WORKGROUP, ph, pw);
  let p3 = gather_pos(m0 + 3u * WORKGROUP, ph, pw);

  // Weight rows of the 8 channels, clamped so a tail block reads valid memory.
  let last = params.q_count - 1u;
  let wq0 = min(q0, last) * params.w_q_stride;
  let wq1 = min(q0 + 1u, last) * params.w_q_stride;
  let wq2 = min(q0 + 2u, last) * params.w_q_stride;
  let wq3 = min(q0 + 3u, last) * params.w_q_stride;
  let wq4 = min(q0 + 4u, last) * params.w_q_stride;
  let wq5 = min(q0 + 5u, last) * params.w_q_stride;
  let wq6 = min(q0 + 6u, last) * params.w_q_stride;
  let wq7 = min(q0 + 7u, last) * params.w_q_stride;

  var a0l = vec4f(0.0);
  var a0h = vec4f(0.0);
  var a1l = vec4f(0.0);
  var a1h = vec4f(0.0);
  var a2l = vec4f(0.0);
  var a2h = vec4f(0.0);
  var a3l = vec4f(0.0);
  var a3h = vec4f(0.0);

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
      var wi = kh * params.kernel_w + kw;
      var ri = 0u;
      for (var r = 0u; r < params.r_count; r++) {
        let wl = vec4f(gather_w[wq0 + wi], gather_w[wq1 + wi], gather_w[wq2 + wi], gather_w[wq3 + wi]);
        let wh = vec4f(gather_w[wq4 + wi], gather_w[wq5 + wi], gather_w[wq6 + wi], gather_w[wq7 + wi]);
        let x0 = gather_load(o0, ri);
        let x1 = gather_load(o1, ri);
        let x2 = gather_load(o2, ri);
        let x3 = gather_load(o3, ri);
        a0l += x0 * wl;
        a0h += x0 * wh;
        a1l += x1 * wl;
        a1h += x1 * wh;
        a2l += x2 * wl;
        a2h += x2 * wh;
        a3l += x3 * wl;
        a3h += x3 * wh;
        wi += params.w_r_stride;
        ri += in_plane;
      }
    }
  }
  gather_store(p0, q0, a0l, a0h);
  gather_store(p1, q0, a1l, a1h);
  gather_store(p2, q0, a2l, a2h);
  gather_store(p3, q0, a3l, a3h);
}
