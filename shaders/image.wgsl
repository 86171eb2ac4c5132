// Image batches on the GPU: packed u8 HWC to normalised f32 NCHW (ToTensor + Normalize), fused
// with an optional zero-padded random crop and horizontal flip; the crop and flip alone on f32
// tensors; and Cutout. The random choices are drawn on the CPU and arrive as i32 tensors, so
// these kernels are deterministic.
// Bindings: 0 params, then inputs, then outputs (hajime's order everywhere).

struct Params {
  n: u32,       // images
  c: u32,       // channels
  h: u32,       // height
  w: u32,       // width
  padding: u32, // crop: zero padding on every side
  size: u32,    // cutout: side of the square
  crop: u32,    // augmentImages*: 1 when crop params are bound, 0 for no crop or flip
  mean0: f32,   // augmentImages*: per-channel mean and std (channels 0..3)
  mean1: f32,
  mean2: f32,
  mean3: f32,
  std0: f32,
  std1: f32,
  std2: f32,
  std3: f32,
}

@group(0) @binding(0) var<uniform> params: Params;

// One thread per element (randomCropFlip, cutout).
override WORKGROUP: u32 = 256u;
// augmentImages*: a workgroup covers AUG_ROWS output rows of one image; its AUG_LANES threads per
// row walk along the row. A row is one SIMD group on llvmpipe (8 lanes), so row-level branches
// do not diverge, and the image and row come from the workgroup, with no per-element division.
override AUG_LANES: u32 = 8u;
override AUG_ROWS: u32 = 8u;

fn linear_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
}

// augmentImages*: y[n, c, i, j] = xpad[n, c, i + oy, j' + ox] with j' = W − 1 − j when the image
// is flipped, else j, where x = (images[n, :, :, c] / 255 − mean[c]) / std[c] and xpad is x with
// `padding` zeros (after normalisation) on every side: ToTensor + Normalize, then RandomCrop and
// RandomHorizontalFlip, in one pass. Without crop params (params.crop = 0) it is ToTensor +
// Normalize alone. images: [N, H, W, C] u8 packed four to a word, crop: [N, 3] i32 (oy, ox,
// flip; any stand-in buffer when params.crop = 0), y: [N, C, H, W]
@group(0) @binding(1) var<storage, read> aug_images: array<u32>;
@group(0) @binding(2) var<storage, read> aug_crop: array<i32>;
@group(0) @binding(3) var<storage, read_write> aug_y: array<f32>;
// augmentImagesRgb4 writes four columns at once (C = 3, W % 4 == 0).
@group(0) @binding(3) var<storage, read_write> aug_y4: array<vec4f>;

// The one normalisation formula, shared by both entry points so they agree bit for bit.
fn to_unit(byte: u32, mean: f32, sd: f32) -> f32 {
  return (f32(byte) / 255.0 - mean) / sd;
}

// offset − padding limited to [−size, size]: beyond that every read is a zero anyway, and the
// limit keeps far-out offsets from overflowing i32.
fn crop_shift(offset: i32, size: u32) -> i32 {
  let pad = i32(params.padding);
  return clamp(offset, -i32(size), i32(size) + 2 * pad) - pad;
}

// The output row an augment thread writes and where its pixels come from.
struct AugmentRow {
  valid: bool, // inside the batch
  n: u32,      // image
  i: u32,      // output row
  si: i32,     // source row (outside [0, H): zeros)
  ox: i32,     // source column of output column j (before the flip) is j + ox
  flip: bool,
}

fn augment_row(wid: vec3u, nwg: vec3u, lid_y: u32) -> AugmentRow {
  let blocks = (params.h + AUG_ROWS - 1u) / AUG_ROWS;
  let g = wid.x + wid.y * nwg.x;
  let n = g / blocks;
  let i = (g - n * blocks) * AUG_ROWS + lid_y;
  var row = AugmentRow(n < params.n && i < params.h, n, i, i32(i), 0, false);
  if (row.valid && params.crop != 0u) {
    row.si += crop_shift(aug_crop[n * 3u], params.h);
    row.ox = crop_shift(aug_crop[n * 3u + 1u], params.w);
    row.flip = aug_crop[n * 3u + 2u] != 0;
  }
  return row;
}

fn image_byte(b: u32) -> u32 {
  return (aug_images[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
}

// Any C ≤ 4 and W: per pixel, one byte load per channel.
@compute @workgroup_size(AUG_LANES, AUG_ROWS)
fn augmentImages(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
                 @builtin(num_workgroups) nwg: vec3u) {
  let row = augment_row(wid, nwg, lid.y);
  if (!row.valid) {
    return;
  }
  let c = params.c;
  let w = params.w;
  let plane = params.h * w;
  let out = row.n * c * plane + row.i * w;
  let row_inside = row.si >= 0 && row.si < i32(params.h);
  let src = (row.n * params.h + u32(row.si)) * w; // used only when row_inside
  var means = array<f32, 4>(params.mean0, params.mean1, params.mean2, params.mean3);
  var stds = array<f32, 4>(params.std0, params.std1, params.std2, params.std3);
  for (var j = lid.x; j < w; j += AUG_LANES) {
    var sj = i32(j) + row.ox;
    if (row.flip) {
      sj = i32(w - 1u - j) + row.ox;
    }
    let inside = row_inside && sj >= 0 && sj < i32(w);
    let b = (src + u32(sj)) * c;
    for (var ch = 0u; ch < c; ch++) {
      var value = 0.0;
      if (inside) {
        value = to_unit(image_byte(b + ch), means[ch], stds[ch]);
      }
      aug_y[out + ch * plane + j] = value;
    }
  }
}

// Word k of the images, clamped into the buffer: the words at either end of a span may lie
// outside it, and their bytes belong to columns that read zeros.
fn image_word(k: i32) -> u32 {
  return aug_images[u32(clamp(k, 0, i32(arrayLength(&aug_images)) - 1))];
}

fn rgb(bits: u32) -> vec3f {
  return vec3f(to_unit(bits & 0xffu, params.mean0, params.std0),
               to_unit((bits >> 8u) & 0xffu, params.mean1, params.std1),
               to_unit((bits >> 16u) & 0xffu, params.mean2, params.std2));
}

// C = 3 and W % 4 == 0 (CIFAR): a thread makes four adjacent output columns. Their source pixels
// are 4 adjacent columns (mirrored when flipped), 12 contiguous bytes: 3 or 4 word loads, funnel
// shifted into place, instead of 12 byte loads; each channel is then one vec4 store.
@compute @workgroup_size(AUG_LANES, AUG_ROWS)
fn augmentImagesRgb4(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
                     @builtin(num_workgroups) nwg: vec3u) {
  let row = augment_row(wid, nwg, lid.y);
  if (!row.valid) {
    return;
  }
  let w = i32(params.w);
  let quads = params.w / 4u;
  let plane4 = params.h * quads;
  let out = row.n * 3u * plane4 + row.i * quads;
  if (row.si < 0 || row.si >= i32(params.h)) {
    for (var q = lid.x; q < quads; q += AUG_LANES) {
      aug_y4[out + q] = vec4f(0.0);
      aug_y4[out + plane4 + q] = vec4f(0.0);
      aug_y4[out + 2u * plane4 + q] = vec4f(0.0);
    }
    return;
  }
  let src = i32(row.n * params.h) * w + row.si * w;
  for (var q = lid.x; q < quads; q += AUG_LANES) {
    // Source columns [c0, c0 + 4); output column 4q + t reads span position t, or 3 − t flipped.
    var c0 = i32(q * 4u) + row.ox;
    if (row.flip) {
      c0 = w - 4 - i32(q * 4u) + row.ox;
    }
    let b = (src + c0) * 3; // negative only left of the batch's first pixel
    let k = b >> 2u;
    let shift = u32(b & 3) * 8u;
    var a0 = image_word(k);
    var a1 = image_word(k + 1);
    var a2 = image_word(k + 2);
    if (shift != 0u) {
      let a3 = image_word(k + 3);
      a0 = (a0 >> shift) | (a1 << (32u - shift));
      a1 = (a1 >> shift) | (a2 << (32u - shift));
      a2 = (a2 >> shift) | (a3 << (32u - shift));
    }
    // Bytes 0..11 of a0 a1 a2 are r g b of span positions 0..3.
    var p0 = rgb(a0);
    var p1 = rgb((a0 >> 24u) | (a1 << 8u));
    var p2 = rgb((a1 >> 16u) | (a2 << 16u));
    var p3 = rgb(a2 >> 8u);
    if (c0 < 0 || c0 + 4 > w) {
      let zero = vec3f(0.0);
      p0 = select(zero, p0, c0 >= 0 && c0 < w);
      p1 = select(zero, p1, c0 >= -1 && c0 + 1 < w);
      p2 = select(zero, p2, c0 >= -2 && c0 + 2 < w);
      p3 = select(zero, p3, c0 >= -3 && c0 + 3 < w);
    }
    if (row.flip) {
      let t = p0;
      p0 = p3;
      p3 = t;
      let u = p1;
      p1 = p2;
      p2 = u;
    }
    aug_y4[out + q] = vec4f(p0.x, p1.x, p2.x, p3.x);
    aug_y4[out + plane4 + q] = vec4f(p0.y, p1.y, p2.y, p3.y);
    aug_y4[out + 2u * plane4 + q] = vec4f(p0.z, p1.z, p2.z, p3.z);
  }
}

// randomCropFlip: y[n, c, i, j] = xpad[n, c, i + oy, j' + ox] with j' = W − 1 − j when the
// image is flipped, else j; xpad is x with `padding` zeros on every side. Offsets outside
// [0, 2·padding] only read more zeros. x, y: [N, C, H, W], crop: [N, 3] i32 (oy, ox, flip)
@group(0) @binding(1) var<storage, read> rcf_x: array<f32>;
@group(0) @binding(2) var<storage, read> rcf_crop: array<i32>;
@group(0) @binding(3) var<storage, read_write> rcf_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn randomCropFlip(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
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
