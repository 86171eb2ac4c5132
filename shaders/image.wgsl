// Image batches on the GPU: packed u8 HWC to normalised f32 NCHW, random crop with zero padding
// plus horizontal flip, and Cutout. The random choices are drawn on the CPU and arrive as i32
// tensors, so these kernels are deterministic. One thread per output element.
// Bindings: 0 params, then inputs, then outputs (hajime's order everywhere).

struct Params {
  n: u32,       // images
  c: u32,       // channels
  h: u32,       // height
  w: u32,       // width
  padding: u32, // random_crop_flip: zero padding on every side
  size: u32,    // cutout: side of the square
  mean0: f32,   // images_to_tensor: per-channel mean and std (channels 0..3)
  mean1: f32,
  mean2: f32,
  mean3: f32,
  std0: f32,
  std1: f32,
  std2: f32,
  std3: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 256u;

fn linear_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
}

// images_to_tensor: y[n, c, i, j] = (images[n, i, j, c] / 255 − mean[c]) / std[c].
// images: [N, H, W, C] u8 packed four to a word, y: [N, C, H, W]
@group(0) @binding(1) var<storage, read> itt_images: array<u32>;
@group(0) @binding(2) var<storage, read_write> itt_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn images_to_tensor(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let o = linear_index(wid, nwg, lid);
  let plane = params.h * params.w;
  if (o >= params.n * params.c * plane) {
    return;
  }
  let pixel = o % plane;
  let c = (o / plane) % params.c;
  let n = o / (plane * params.c);
  let b = (n * plane + pixel) * params.c + c;
  let byte = (itt_images[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
  var means = array<f32, 4>(params.mean0, params.mean1, params.mean2, params.mean3);
  var stds = array<f32, 4>(params.std0, params.std1, params.std2, params.std3);
  itt_y[o] = (f32(byte) / 255.0 - means[c]) / stds[c];
}

// random_crop_flip: y[n, c, i, j] = xpad[n, c, i + oy, j' + ox] with j' = W − 1 − j when the
// image is flipped, else j; xpad is x with `padding` zeros on every side. Offsets outside
// [0, 2·padding] only read more zeros. x, y: [N, C, H, W], crop: [N, 3] i32 (oy, ox, flip)
@group(0) @binding(1) var<storage, read> rcf_x: array<f32>;
@group(0) @binding(2) var<storage, read> rcf_crop: array<i32>;
@group(0) @binding(3) var<storage, read_write> rcf_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn random_crop_flip(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let o = linear_index(wid, nwg, lid);
  let plane = params.h * params.w;
  if (o >= params.n * params.c * plane) {
    return;
  }
  let j = o % params.w;
  let i = (o / params.w) % params.h;
  let n = o / (plane * params.c);
  let oy = rcf_crop[n * 3u];
  let ox = rcf_crop[n * 3u + 1u];
  var jj = j;
  if (rcf_crop[n * 3u + 2u] != 0) {
    jj = params.w - 1u - j;
  }
  let pad = i32(params.padding);
  let si = i32(i) + oy - pad;
  let sj = i32(jj) + ox - pad;
  var value = 0.0;
  if (si >= 0 && si < i32(params.h) && sj >= 0 && sj < i32(params.w)) {
    let plane_start = o - i * params.w - j;
    value = rcf_x[plane_start + u32(si) * params.w + u32(sj)];
  }
  rcf_y[o] = value;
}

// cutout: zero rows [cy − size/2, cy − size/2 + size) × the same columns around (cy, cx),
// clipped at the borders, in every channel. One thread per element of the square.
// centers: [N, 2] i32 (cy, cx), x: [N, C, H, W] (in place)
@group(0) @binding(1) var<storage, read> cut_centers: array<i32>;
@group(0) @binding(2) var<storage, read_write> cut_x: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn cutout(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
          @builtin(num_workgroups) nwg: vec3u) {
  let t = linear_index(wid, nwg, lid);
  let square = params.size * params.size;
  if (t >= params.n * params.c * square) {
    return;
  }
  let nc = t / square;
  let n = nc / params.c;
  let half = i32(params.size / 2u);
  let i = cut_centers[n * 2u] - half + i32((t % square) / params.size);
  let j = cut_centers[n * 2u + 1u] - half + i32(t % params.size);
  if (i >= 0 && i < i32(params.h) && j >= 0 && j < i32(params.w)) {
    cut_x[(nc * params.h + u32(i)) * params.w + u32(j)] = 0.0;
  }
}
