// Matrix products for Linear layers (and anyone else): c[M,N] (+)= op(a)·op(b), plus the two small
// helpers Linear needs around it (bias broadcast, column sums for the bias gradient).
// Bindings: 0 params (uniform), then read-only inputs, then outputs (hajime's order everywhere):
//   matmulNN/NT/TN/TT/Scalar/Tiled: 1 a, 2 b, 3 c        biasRows: 1 bias, 2 y
//   columnSumsAdd: 1 x, 2 sums
//
// The register tiles (matmulNN/NT/TN/TT/Scalar; matmulTiled, for hardware GPUs, has its own
// section below): each invocation computes one 8×16 register tile of c, held in 32 NAMED vec4
// accumulators (struct Acc) rather than an array indexed in a loop: software rasterizers
// (llvmpipe) keep named values in SIMD registers but spill indexed arrays to memory. The K loop reads a and b straight
// from storage four k at a time, with no workgroup memory and no barriers (llvmpipe runs a whole
// workgroup on one CPU thread, where barriers cost a coroutine switch each).
//
// The vec4 entry points (matmulNN, NT, TN, TT: N = plain, T = transposed, for a then b) read
// 4-element groups along each operand's rows, which must be contiguous and 16-byte aligned:
// K % 4 == 0, plus M % 4 == 0 when a is transposed ([K, M]) and N % 4 == 0 when b is not ([K, N]).
// The TypeScript wrapper checks, and otherwise uses matmulScalar, which reads single floats and
// zero-fills past K. c is written as single floats (a tile's 128 stores are nothing next to its
// K loop), so N needs no alignment. Tiles at the edges clamp their row/column indices into the
// matrix for loads (valid memory, results unused) and guard their stores, so any M and N work.

struct Params {
  M: u32,          // rows of c
  N: u32,          // columns of c
  K: u32,          // the contracted dimension
  accumulate: u32, // 1: c += product, 0: c = product
  transA: u32,     // matmulScalar and matmulTiled only: a is stored [K, M]
  transB: u32,     // matmulScalar and matmulTiled only: b is stored [N, K]
  groupsX: u32,    // workgroups along N (the 2-D grid of tiles is laid out row-major)
  groups: u32,     // workgroups in all; those past it (grid padding) return at once
}

@group(0) @binding(0) var<uniform> params: Params;

override WG_X: u32 = 16u; // invocations along N per workgroup (adjacent SIMD lanes on llvmpipe)
override WG_Y: u32 = 4u;  // invocations along M per workgroup

const TM = 8u;  // rows per invocation tile
const TN = 16u; // columns per invocation tile

// op(a)[row0 + i, k .. k + 3] as a<i>.
struct ATile { a0: vec4f, a1: vec4f, a2: vec4f, a3: vec4f, a4: vec4f, a5: vec4f, a6: vec4f, a7: vec4f }

// op(b)[k + kk, col0 + 4g .. col0 + 4g + 3] as b<kk><g>.
struct BTile {
  b00: vec4f, b01: vec4f, b02: vec4f, b03: vec4f,
  b10: vec4f, b11: vec4f, b12: vec4f, b13: vec4f,
  b20: vec4f, b21: vec4f, b22: vec4f, b23: vec4f,
  b30: vec4f, b31: vec4f, b32: vec4f, b33: vec4f,
}

// c[row0 + i, col0 + 4g .. col0 + 4g + 3] as c<i><g>.
struct Acc {
  c00: vec4f, c01: vec4f, c02: vec4f, c03: vec4f,
  c10: vec4f, c11: vec4f, c12: vec4f, c13: vec4f,
  c20: vec4f, c21: vec4f, c22: vec4f, c23: vec4f,
  c30: vec4f, c31: vec4f, c32: vec4f, c33: vec4f,
  c40: vec4f, c41: vec4f, c42: vec4f, c43: vec4f,
  c50: vec4f, c51: vec4f, c52: vec4f, c53: vec4f,
  c60: vec4f, c61: vec4f, c62: vec4f, c63: vec4f,
  c70: vec4f, c71: vec4f, c72: vec4f, c73: vec4f,
}

// c + a.x·b0 + a.y·b1 + a.z·b2 + a.w·b3: one row of a against four rows of b.
fn fma4(c: vec4f, a: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f) -> vec4f {
  return fma(vec4f(a.w), b3, fma(vec4f(a.z), b2, fma(vec4f(a.y), b1, fma(vec4f(a.x), b0, c))));
}

// acc += a·b over four k.
fn step(acc: ptr<function, Acc>, a: ATile, b: BTile) {
  (*acc).c00 = fma4((*acc).c00, a.a0, b.b00, b.b10, b.b20, b.b30);
  (*acc).c01 = fma4((*acc).c01, a.a0, b.b01, b.b11, b.b21, b.b31);
  (*acc).c02 = fma4((*acc).c02, a.a0, b.b02, b.b12, b.b22, b.b32);
  (*acc).c03 = fma4((*acc).c03, a.a0, b.b03, b.b13, b.b23, b.b33);
  (*acc).c10 = fma4((*acc).c10, a.a1, b.b00, b.b10, b.b20, b.b30);
  (*acc).c11 = fma4((*acc).c11, a.a1, b.b01, b.b11, b.b21, b.b31);
  (*acc).c12 = fma4((*acc).c12, a.a1, b.b02, b.b12, b.b22, b.b32);
  (*acc).c13 = fma4((*acc).c13, a.a1, b.b03, b.b13, b.b23, b.b33);
  (*acc).c20 = fma4((*acc).c20, a.a2, b.b00, b.b10, b.b20, b.b30);
  (*acc).c21 = fma4((*acc).c21, a.a2, b.b01, b.b11, b.b21, b.b31);
  (*acc).c22 = fma4((*acc).c22, a.a2, b.b02, b.b12, b.b22, b.b32);
  (*acc).c23 = fma4((*acc).c23, a.a2, b.b03, b.b13, b.b23, b.b33);
  (*acc).c30 = fma4((*acc).c30, a.a3, b.b00, b.b10, b.b20, b.b30);
  (*acc).c31 = fma4((*acc).c31, a.a3, b.b01, b.b11, b.b21, b.b31);
  (*acc).c32 = fma4((*acc).c32, a.a3, b.b02, b.b12, b.b22, b.b32);
  (*acc).c33 = fma4((*acc).c33, a.a3, b.b03, b.b13, b.b23, b.b33);
  (*acc).c40 = fma4((*acc).c40, a.a4, b.b00, b.b10, b.b20, b.b30);
  (*acc).c41 = fma4((*acc).c41, a.a4, b.b01, b.b11, b.b21, b.b31);
  (*acc).c42 = fma4((*acc).c42, a.a4, b.b02, b.b12, b.b22, b.b32);
  (*acc).c43 = fma4((*acc).c43, a.a4, b.b03, b.b13, b.b23, b.b33);
  (*acc).c50 = fma4((*acc).c50, a.a5, b.b00, b.b10, b.b20, b.b30);
  (*acc).c51 = fma4((*acc).c51, a.a5, b.b01, b.b11, b.b21, b.b31);
  (*acc).c52 = fma4((*acc).c52, a.a5, b.b02, b.b12, b.b22, b.b32);
  (*acc).c53 = fma4((*acc).c53, a.a5, b.b03, b.b13, b.b23, b.b33);
  (*acc).c60 = fma4((*acc).c60, a.a6, b.b00, b.b10, b.b20, b.b30);
  (*acc).c61 = fma4((*acc).c61, a.a6, b.b01, b.b11, b.b21, b.b31);
  (*acc).c62 = fma4((*acc).c62, a.a6, b.b02, b.b12, b.b22, b.b32);
  (*acc).c63 = fma4((*acc).c63, a.a6, b.b03, b.b13, b.b23, b.b33);
  (*acc).c70 = fma4((*acc).c70, a.a7, b.b00, b.b10, b.b20, b.b30);
  (*acc).c71 = fma4((*acc).c71, a.a7, b.b01, b.b11, b.b21, b.b31);
  (*acc).c72 = fma4((*acc).c72, a.a7, b.b02, b.b12, b.b22, b.b32);
  (*acc).c73 = fma4((*acc).c73, a.a7, b.b03, b.b13, b.b23, b.b33);
}

// The invocation's tile origin. Invalid past the edges of c (in workgroups that only pad the grid,
// or that overhang M or N), where the invocation returns at once rather than compute clamped
// duplicates: on llvmpipe a SIMD chunk with no live lane then skips the K loop.
struct Tile { row0: u32, col0: u32, valid: bool }

fn tile(lid: vec3u, wid: vec3u, nwg: vec3u) -> Tile {
  let w = wid.x + wid.y * nwg.x;
  let row0 = ((w / params.groupsX) * WG_Y + lid.y) * TM;
  let col0 = ((w % params.groupsX) * WG_X + lid.x) * TN;
  return Tile(row0, col0, w < params.groups && row0 < params.M && col0 < params.N);
}

// c: [M, N], written as single floats so that N needs no alignment.
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn store1(row: u32, col: u32, v: f32) {
  if (row < params.M && col < params.N) {
    let i = row * params.N + col;
    if (params.accumulate != 0u) {
      c[i] = c[i] + v;
    } else {
      c[i] = v;
    }
  }
}

fn store_row(row: u32, col0: u32, v: vec4f) {
  store1(row, col0, v.x);
  store1(row, col0 + 1u, v.y);
  store1(row, col0 + 2u, v.z);
  store1(row, col0 + 3u, v.w);
}

fn store_tile(t: Tile, acc: Acc) {
  store_row(t.row0, t.col0, acc.c00);
  store_row(t.row0, t.col0 + 4u, acc.c01);
  store_row(t.row0, t.col0 + 8u, acc.c02);
  store_row(t.row0, t.col0 + 12u, acc.c03);
  store_row(t.row0 + 1u, t.col0, acc.c10);
  store_row(t.row0 + 1u, t.col0 + 4u, acc.c11);
  store_row(t.row0 + 1u, t.col0 + 8u, acc.c12);
  store_row(t.row0 + 1u, t.col0 + 12u, acc.c13);
  store_row(t.row0 + 2u, t.col0, acc.c20);
  store_row(t.row0 + 2u, t.col0 + 4u, acc.c21);
  store_row(t.row0 + 2u, t.col0 + 8u, acc.c22);
  store_row(t.row0 + 2u, t.col0 + 12u, acc.c23);
  store_row(t.row0 + 3u, t.col0, acc.c30);
  store_row(t.row0 + 3u, t.col0 + 4u, acc.c31);
  store_row(t.row0 + 3u, t.col0 + 8u, acc.c32);
  store_row(t.row0 + 3u, t.col0 + 12u, acc.c33);
  store_row(t.row0 + 4u, t.col0, acc.c40);
  store_row(t.row0 + 4u, t.col0 + 4u, acc.c41);
  store_row(t.row0 + 4u, t.col0 + 8u, acc.c42);
  store_row(t.row0 + 4u, t.col0 + 12u, acc.c43);
  store_row(t.row0 + 5u, t.col0, acc.c50);
  store_row(t.row0 + 5u, t.col0 + 4u, acc.c51);
  store_row(t.row0 + 5u, t.col0 + 8u, acc.c52);
  store_row(t.row0 + 5u, t.col0 + 12u, acc.c53);
  store_row(t.row0 + 6u, t.col0, acc.c60);
  store_row(t.row0 + 6u, t.col0 + 4u, acc.c61);
  store_row(t.row0 + 6u, t.col0 + 8u, acc.c62);
  store_row(t.row0 + 6u, t.col0 + 12u, acc.c63);
  store_row(t.row0 + 7u, t.col0, acc.c70);
  store_row(t.row0 + 7u, t.col0 + 4u, acc.c71);
  store_row(t.row0 + 7u, t.col0 + 8u, acc.c72);
  store_row(t.row0 + 7u, t.col0 + 12u, acc.c73);
}

// ---- vec4 path.  a: [M, K] or [K, M] (transposed), b: [K, N] or [N, K], c: [M, N]

@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;

// a stored [M, K]: row i's four k are one vec4.
fn load_a_n(row0: u32, k: u32) -> ATile {
  let K4 = params.K / 4u;
  let k4 = k / 4u;
  let last = params.M - 1u;
  return ATile(
    a4[min(row0, last) * K4 + k4],
    a4[min(row0 + 1u, last) * K4 + k4],
    a4[min(row0 + 2u, last) * K4 + k4],
    a4[min(row0 + 3u, last) * K4 + k4],
    a4[min(row0 + 4u, last) * K4 + k4],
    a4[min(row0 + 5u, last) * K4 + k4],
    a4[min(row0 + 6u, last) * K4 + k4],
    a4[min(row0 + 7u, last) * K4 + k4]
  );
}

// a stored [K, M]: read four k-rows of 4 columns each, then transpose in registers.
fn load_a_t(row0: u32, k: u32) -> ATile {
  let M4 = params.M / 4u;
  let base = k * M4;
  let r0 = min(row0 / 4u, M4 - 1u);
  let r1 = min(row0 / 4u + 1u, M4 - 1u);
  let p00 = a4[base + r0];
  let p10 = a4[base + M4 + r0];
  let p20 = a4[base + 2u * M4 + r0];
  let p30 = a4[base + 3u * M4 + r0];
  let p01 = a4[base + r1];
  let p11 = a4[base + M4 + r1];
  let p21 = a4[base + 2u * M4 + r1];
  let p31 = a4[base + 3u * M4 + r1];
  return ATile(
    vec4f(p00.x, p10.x, p20.x, p30.x),
    vec4f(p00.y, p10.y, p20.y, p30.y),
    vec4f(p00.z, p10.z, p20.z, p30.z),
    vec4f(p00.w, p10.w, p20.w, p30.w),
    vec4f(p01.x, p11.x, p21.x, p31.x),
    vec4f(p01.y, p11.y, p21.y, p31.y),
    vec4f(p01.z, p11.z, p21.z, p31.z),
    vec4f(p01.w, p11.w, p21.w, p31.w)
  );
}

// b stored [K, N]: each k-row's 16 columns are four vec4.
fn load_b_n(col0: u32, k: u32) -> BTile {
  let N4 = params.N / 4u;
  let base = k * N4;
  let g0 = min(col0 / 4u, N4 - 1u);
  let g1 = min(col0 / 4u + 1u, N4 - 1u);
  let g2 = min(col0 / 4u + 2u, N4 - 1u);
  let g3 = min(col0 / 4u + 3u, N4 - 1u);
  return BTile(
    b4[base + g0], b4[base + g1],
    b4[base + g2], b4[base + g3],
    b4[base + N4 + g0], b4[base + N4 + g1],
    b4[base + N4 + g2], b4[base + N4 + g3],
    b4[base + 2u * N4 + g0], b4[base + 2u * N4 + g1],
    b4[base + 2u * N4 + g2], b4[base + 2u * N4 + g3],
    b4[base + 3u * N4 + g0], b4[base + 3u * N4 + g1],
    b4[base + 3u * N4 + g2], b4[base + 3u * N4 + g3]
  );
}

// b stored [N, K]: column j's four k are one vec4; transpose in registers.
fn load_b_t(col0: u32, k: u32) -> BTile {
  let K4 = params.K / 4u;
  let k4 = k / 4u;
  let last = params.N - 1u;
  let q0 = b4[min(col0, last) * K4 + k4];
  let q1 = b4[min(col0 + 1u, last) * K4 + k4];
  let q2 = b4[min(col0 + 2u, last) * K4 + k4];
  let q3 = b4[min(col0 + 3u, last) * K4 + k4];
  let q4 = b4[min(col0 + 4u, last) * K4 + k4];
  let q5 = b4[min(col0 + 5u, last) * K4 + k4];
  let q6 = b4[min(col0 + 6u, last) * K4 + k4];
  let q7 = b4[min(col0 + 7u, last) * K4 + k4];
  let q8 = b4[min(col0 + 8u, last) * K4 + k4];
  let q9 = b4[min(col0 + 9u, last) * K4 + k4];
  let q10 = b4[min(col0 + 10u, last) * K4 + k4];
  let q11 = b4[min(col0 + 11u, last) * K4 + k4];
  let q12 = b4[min(col0 + 12u, last) * K4 + k4];
  let q13 = b4[min(col0 + 13u, last) * K4 + k4];
  let q14 = b4[min(col0 + 14u, last) * K4 + k4];
  let q15 = b4[min(col0 + 15u, last) * K4 + k4];
  return BTile(
    vec4f(q0.x, q1.x, q2.x, q3.x),
    vec4f(q4.x, q5.x, q6.x, q7.x),
    vec4f(q8.x, q9.x, q10.x, q11.x),
    vec4f(q12.x, q13.x, q14.x, q15.x),
    vec4f(q0.y, q1.y, q2.y, q3.y),
    vec4f(q4.y, q5.y, q6.y, q7.y),
    vec4f(q8.y, q9.y, q10.y, q11.y),
    vec4f(q12.y, q13.y, q14.y, q15.y),
    vec4f(q0.z, q1.z, q2.z, q3.z),
    vec4f(q4.z, q5.z, q6.z, q7.z),
    vec4f(q8.z, q9.z, q10.z, q11.z),
    vec4f(q12.z, q13.z, q14.z, q15.z),
    vec4f(q0.w, q1.w, q2.w, q3.w),
    vec4f(q4.w, q5.w, q6.w, q7.w),
    vec4f(q8.w, q9.w, q10.w, q11.w),
    vec4f(q12.w, q13.w, q14.w, q15.w)
  );
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmulNN(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let t = tile(lid, wid, nwg);
  if (!t.valid) {
    return;
  }
  var acc: Acc;
  for (var k = 0u; k < params.K; k += 4u) {
    step(&acc, load_a_n(t.row0, k), load_b_n(t.col0, k));
  }
  store_tile(t, acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmulNT(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let t = tile(lid, wid, nwg);
  if (!t.valid) {
    return;
  }
  var acc: Acc;
  for (var k = 0u; k < params.K; k += 4u) {
    step(&acc, load_a_n(t.row0, k), load_b_t(t.col0, k));
  }
  store_tile(t, acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmulTN(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let t = tile(lid, wid, nwg);
  if (!t.valid) {
    return;
  }
  var acc: Acc;
  for (var k = 0u; k < params.K; k += 4u) {
    step(&acc, load_a_t(t.row0, k), load_b_n(t.col0, k));
  }
  store_tile(t, acc);
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmulTT(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let t = tile(lid, wid, nwg);
  if (!t.valid) {
    return;
  }
  var acc: Acc;
  for (var k = 0u; k < params.K; k += 4u) {
    step(&acc, load_a_t(t.row0, k), load_b_t(t.col0, k));
  }
  store_tile(t, acc);
}

// ---- scalar path, any shapes.  Same tile, single-float loads; k past K reads as 0.

@group(0) @binding(1) var<storage, read> a1: array<f32>;
@group(0) @binding(2) var<storage, read> b1: array<f32>;

// op(a)[r, k], or 0 past K; r is clamped into the matrix (rows past M are computed, not stored).
fn a_at(r: u32, k: u32) -> f32 {
  let rr = min(r, params.M - 1u);
  let kk = min(k, params.K - 1u);
  let i = select(rr * params.K + kk, kk * params.M + rr, params.transA != 0u);
  return select(0.0, a1[i], k < params.K);
}

// op(b)[k, col], or 0 past K. Both operands zero-fill, so that the clamped duplicate read there
// cannot turn into 0·∞ = NaN.
fn b_at(k: u32, col: u32) -> f32 {
  let cc = min(col, params.N - 1u);
  let kk = min(k, params.K - 1u);
  let i = select(kk * params.N + cc, cc * params.K + kk, params.transB != 0u);
  return select(0.0, b1[i], k < params.K);
}

fn a_row(r: u32, k: u32) -> vec4f {
  return vec4f(a_at(r, k), a_at(r, k + 1u), a_at(r, k + 2u), a_at(r, k + 3u));
}

fn b_row(k: u32, col: u32) -> vec4f {
  return vec4f(b_at(k, col), b_at(k, col + 1u), b_at(k, col + 2u), b_at(k, col + 3u));
}

fn load_a_scalar(row0: u32, k: u32) -> ATile {
  return ATile(
    a_row(row0, k),
    a_row(row0 + 1u, k),
    a_row(row0 + 2u, k),
    a_row(row0 + 3u, k),
    a_row(row0 + 4u, k),
    a_row(row0 + 5u, k),
    a_row(row0 + 6u, k),
    a_row(row0 + 7u, k)
  );
}

fn load_b_scalar(col0: u32, k: u32) -> BTile {
  return BTile(
    b_row(k, col0), b_row(k, col0 + 4u),
    b_row(k, col0 + 8u), b_row(k, col0 + 12u),
    b_row(k + 1u, col0), b_row(k + 1u, col0 + 4u),
    b_row(k + 1u, col0 + 8u), b_row(k + 1u, col0 + 12u),
    b_row(k + 2u, col0), b_row(k + 2u, col0 + 4u),
    b_row(k + 2u, col0 + 8u), b_row(k + 2u, col0 + 12u),
    b_row(k + 3u, col0), b_row(k + 3u, col0 + 4u),
    b_row(k + 3u, col0 + 8u), b_row(k + 3u, col0 + 12u)
  );
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmulScalar(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
                @builtin(num_workgroups) nwg: vec3u) {
  let t = tile(lid, wid, nwg);
  if (!t.valid) {
    return;
  }
  var acc: Acc;
  for (var k = 0u; k < params.K; k += 4u) {
    step(&acc, load_a_scalar(t.row0, k), load_b_scalar(t.col0, k));
  }
  store_tile(t, acc);
}

// ---- workgroup-tiled path (variant tiled64x64), any shapes and transpositions.
// A workgroup of 16 × 16 invocations computes a 64 × 64 block of c; invocation (x, y) holds the
// 4 × 4 outputs at rows y + 16i and columns x + 16j of the block (i, j < 4), so adjacent
// invocations read adjacent workgroup-memory words and write adjacent columns of c. K is walked in
// blocks of 16: each invocation loads 4 floats of op(a)'s 64 × 16 block and 4 of op(b)'s 16 × 64
// block from storage (single floats, 16 or 64 adjacent invocations on adjacent addresses whatever
// the layout; zero past the matrix), into registers while the block before is multiplied out of
// workgroup memory, then stores them into the other of two buffers: one barrier per block.
// Each output is fma(a[i, k], b[k, j], sum) over k = 0, 1, ..., K - 1 from 0 (no multiply-adds past
// K), the order and operations of the register tiles above, so the results are bit-identical.
// 2 buffers × (16 × 64 of a + 16 × 64 of b) × 4 bytes = 16384 bytes of workgroup memory, the
// WebGPU default maxComputeWorkgroupStorageSize; 256 invocations, its maxComputeInvocationsPerWorkgroup.

const BM = 64u; // rows of c per workgroup
const BN = 64u; // columns of c per workgroup
const BK = 16u; // k per block
const SIDE = 16u; // invocations along each side of the workgroup

// op(a)[row0 + m, k0 + kk] at tileA[buffer * BK + kk][m], op(b)[k0 + kk, col0 + n] at
// tileB[buffer * BK + kk][n].
var<workgroup> tileA: array<array<f32, BM>, 2u * BK>;
var<workgroup> tileB: array<array<f32, BN>, 2u * BK>;

// An invocation's share of one block: element e = lid + 256i of op(a)'s and of op(b)'s block.
struct Staged { a: vec4f, b: vec4f }

// Where element e of a 64 × 16 block lies, as (along the 64, along the 16): laid out along the 16
// (k) or along the 64, whichever the operand's storage makes contiguous.
fn block_pos(e: u32, along64: bool) -> vec2u {
  return select(vec2u(e / BK, e % BK), vec2u(e % BM, e / BM), along64);
}

// op(a)[r, k], or 0 outside [M, K].
fn tiled_a(r: u32, k: u32) -> f32 {
  if (r >= params.M || k >= params.K) {
    return 0.0;
  }
  return a1[select(r * params.K + k, k * params.M + r, params.transA != 0u)];
}

// op(b)[k, col], or 0 outside [K, N].
fn tiled_b(k: u32, col: u32) -> f32 {
  if (k >= params.K || col >= params.N) {
    return 0.0;
  }
  return b1[select(k * params.N + col, col * params.K + k, params.transB != 0u)];
}

fn load_block(lid: u32, row0: u32, col0: u32, k0: u32) -> Staged {
  var s: Staged;
  for (var i = 0u; i < 4u; i++) {
    let pa = block_pos(lid + 256u * i, params.transA != 0u);
    let pb = block_pos(lid + 256u * i, params.transB == 0u);
    s.a[i] = tiled_a(row0 + pa.x, k0 + pa.y);
    s.b[i] = tiled_b(k0 + pb.y, col0 + pb.x);
  }
  return s;
}

fn stage_block(lid: u32, buffer: u32, s: Staged) {
  for (var i = 0u; i < 4u; i++) {
    let pa = block_pos(lid + 256u * i, params.transA != 0u);
    let pb = block_pos(lid + 256u * i, params.transB == 0u);
    tileA[buffer * BK + pa.y][pa.x] = s.a[i];
    tileB[buffer * BK + pb.y][pb.x] = s.b[i];
  }
}

@compute @workgroup_size(SIDE, SIDE)
fn matmulTiled(@builtin(local_invocation_id) lid: vec3u,
               @builtin(local_invocation_index) index: u32,
               @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= params.groups) {
    return; // the whole workgroup pads the grid
  }
  let row0 = (w / params.groupsX) * BM;
  let col0 = (w % params.groupsX) * BN;
  let blocks = (params.K + BK - 1u) / BK;
  // acc<i>[j]: c[row0 + lid.y + 16i, col0 + lid.x + 16j].
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  stage_block(index, 0u, load_block(index, row0, col0, 0u));
  workgroupBarrier();
  for (var blk = 0u; blk < blocks; blk++) {
    let k0 = blk * BK;
    let cur = blk % 2u;
    let more = blk + 1u < blocks;
    var next: Staged;
    if (more) {
      next = load_block(index, row0, col0, k0 + BK);
    }
    let kn = min(BK, params.K - k0);
    for (var kk = 0u; kk < kn; kk++) {
      let r = cur * BK + kk;
      let av = vec4f(tileA[r][lid.y], tileA[r][lid.y + 16u], tileA[r][lid.y + 32u],
                     tileA[r][lid.y + 48u]);
      let bv = vec4f(tileB[r][lid.x], tileB[r][lid.x + 16u], tileB[r][lid.x + 32u],
                     tileB[r][lid.x + 48u]);
      acc0 = fma(vec4f(av.x), bv, acc0);
      acc1 = fma(vec4f(av.y), bv, acc1);
      acc2 = fma(vec4f(av.z), bv, acc2);
      acc3 = fma(vec4f(av.w), bv, acc3);
    }
    if (more) {
      stage_block(index, 1u - cur, next);
    }
    workgroupBarrier();
  }
  let row = row0 + lid.y;
  let col = col0 + lid.x;
  let accs = array<vec4f, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      store1(row + 16u * i, col + 16u * j, accs[i][j]);
    }
  }
}

// ---- Linear's helpers: a broadcast of the bias over rows, and column sums for its gradient.

struct RowParams {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> rowParams: RowParams;

override WG_1D: u32 = 256u;

// biasRows: y[r, c] = bias[c].  bias: [cols], y: [rows, cols]
@group(0) @binding(1) var<storage, read> bias_bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias_y: array<f32>;

@compute @workgroup_size(WG_1D)
fn biasRows(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * WG_1D + lid;
  if (i < rowParams.rows * rowParams.cols) {
    bias_y[i] = bias_bias[i % rowParams.cols];
  }
}

// columnSumsAdd: sums[c] += Σ_r x[r, c], one invocation per column.  x: [rows, cols], sums: [cols]
@group(0) @binding(1) var<storage, read> colsum_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> colsum_sums: array<f32>;

@compute @workgroup_size(WG_1D)
fn columnSumsAdd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                 @builtin(num_workgroups) nwg: vec3u) {
  let c = (wid.x + wid.y * nwg.x) * WG_1D + lid;
  if (c < rowParams.cols) {
    var s = 0.0;
    for (var r = 0u; r < rowParams.rows; r++) {
      s += colsum_x[r * rowParams.cols + c];
    }
    colsum_sums[c] += s;
  }
}
