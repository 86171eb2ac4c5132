// Pooling and channel plumbing on [N, C, H, W] tensors, forward and backward: max pooling
// (floor mode, no padding), average pooling (floor mode, zero padding), adaptive average / max
// pooling to any output size (global pooling to 1×1 has its own kernels), the shifted stride
// subsampling of Shake-Shake's shortcut, and channel concatenation / splitting.
// Bindings: 0 params, then the read-only inputs, then the read-write outputs (per entry point
// below, in that order). One thread per element written; a 2-D grid of workgroups.
// argmax values are indices within an H×W plane (h·W + w), as PyTorch's return_indices.

struct Params {
  count: u32,     // elements written by the dispatch
  height: u32,    // H of the [N, C, H, W] side
  width: u32,     // W
  outHeight: u32, // OH of the pooled / subsampled side
  outWidth: u32,  // OW
  kernel: u32,    // maxPool2dForward: window size
  stride: u32,    // maxPool2dForward, shiftSubsample*: step between windows / samples
  shift: i32,     // shiftSubsample*: offset of the first sample
  channelsA: u32, // concatChannels, splitChannels: channels of a
  channelsB: u32, // concatChannels, splitChannels: channels of b
  windowH: u32,   // avgPool2d*: window height
  windowW: u32,   // avgPool2d*: window width
  strideH: u32,   // avgPool2d*: step between windows, down
  strideW: u32,   // avgPool2d*: step between windows, across
  padH: u32,      // avgPool2d*: zeros above and below
  padW: u32,      // avgPool2d*: zeros left and right
  includePad: u32, // avgPool2d*: 1 = divide by the window size (count_include_pad), 0 = by the
                   // positions inside x
  reluInput: u32, // maxPool2dForward: 1 = pool relu(x) (a ReLU in front fused in)
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 256u;

fn index(lid: u32, wid: vec3u, nwg: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
}

// maxPool2dForward: y = max over each kernel×kernel window (first maximum wins ties). With
// reluInput = 1, y = relu(max) (= max of relu(x): relu is monotone), and argmax is −1 where
// y is not > 0, so the scatter routes nothing there: the gradient relu's backward would mask.
// x: [N, C, H, W]; y, argmax: [N, C, OH, OW]
@group(0) @binding(1) var<storage, read> mp_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> mp_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> mp_argmax: array<i32>;

@compute @workgroup_size(WORKGROUP)
fn maxPool2dForward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let outPlane = params.outHeight * params.outWidth;
  let p = i / outPlane;
  let r = i - p * outPlane;
  let oh = r / params.outWidth;
  let ow = r - oh * params.outWidth;
  let base = p * params.height * params.width;
  let first = oh * params.stride * params.width + ow * params.stride;
  var best = mp_x[base + first];
  var arg = first;
  for (var kh = 0u; kh < params.kernel; kh++) {
    for (var kw = 0u; kw < params.kernel; kw++) {
      let j = first + kh * params.width + kw;
      let v = mp_x[base + j];
      if (v > best) {
        best = v;
        arg = j;
      }
    }
  }
  if (params.reluInput == 1u) {
    best = select(best, 0.0, best <= 0.0); // relu's own select: NaN stays NaN
    mp_y[i] = best;
    mp_argmax[i] = select(-1, i32(arg), best > 0.0);
    return;
  }
  mp_y[i] = best;
  mp_argmax[i] = i32(arg);
}

// maxPool2dScatter: dx[argmax] += dy, after dx was zeroed. The add is atomic (a compare-exchange
// loop on the f32 bits) because overlapping windows (kernel > stride) can route to one input.
// dy, argmax: [N, C, OH, OW]; dx: [N, C, H, W]
@group(0) @binding(1) var<storage, read> mps_dy: array<f32>;
@group(0) @binding(2) var<storage, read> mps_argmax: array<i32>;
@group(0) @binding(3) var<storage, read_write> mps_dx: array<atomic<u32>>;

@compute @workgroup_size(WORKGROUP)
fn maxPool2dScatter(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  let arg = u32(mps_argmax[i]);
  if (arg >= plane) {
    return; // −1: a fused ReLU's zero, which gets no gradient
  }
  let j = (i / (params.outHeight * params.outWidth)) * plane + arg;
  let g = mps_dy[i];
  var old = atomicLoad(&mps_dx[j]);
  loop {
    let r = atomicCompareExchangeWeak(&mps_dx[j], old, bitcast<u32>(bitcast<f32>(old) + g));
    if (r.exchanged) {
      break;
    }
    old = r.old_value;
  }
}

// The rows [start, end) of avg-pool window o along one axis, clipped to x, and the divisor's
// factor for that axis: the window size (count_include_pad) or the rows inside x.
fn avgWindow(o: u32, stride: u32, pad: u32, window: u32, size: u32) -> vec3u {
  let first = i32(o * stride) - i32(pad);
  let start = u32(max(first, 0));
  let end = u32(min(first + i32(window), i32(size)));
  return vec3u(start, end, select(end - start, window, params.includePad == 1u));
}

// avgPool2dForward: y = Σ x over the windowH×windowW window at (oh·strideH − padH,
// ow·strideW − padW), zeros outside x, / the divisor.  x: [N, C, H, W]; y: [N, C, OH, OW]
@group(0) @binding(1) var<storage, read> ap_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ap_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn avgPool2dForward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let outPlane = params.outHeight * params.outWidth;
  let p = i / outPlane;
  let r = i - p * outPlane;
  let oh = r / params.outWidth;
  let rows = avgWindow(oh, params.strideH, params.padH, params.windowH, params.height);
  let cols = avgWindow(r - oh * params.outWidth, params.strideW, params.padW, params.windowW,
                       params.width);
  let base = p * params.height * params.width;
  var s = 0.0;
  for (var h = rows.x; h < rows.y; h++) {
    for (var w = cols.x; w < cols.y; w++) {
      s += ap_x[base + h * params.width + w];
    }
  }
  ap_y[i] = s / f32(rows.z * cols.z);
}

// The windows o (along one axis) of an avg pool that hold input row h: [first, last + 1) ∩
// [0, outSize), from o·stride − pad ≤ h < o·stride − pad + window.
fn avgWindowsOf(h: u32, stride: u32, pad: u32, window: u32, outSize: u32) -> vec2u {
  let low = i32(h + pad) - i32(window) + 1;
  let first = select(0u, u32((low + i32(stride) - 1) / i32(stride)), low > 0);
  let last = min((h + pad) / stride + 1u, outSize);
  return vec2u(first, max(first, last));
}

// avgPool2dBackward: dx[h, w] = Σ over the windows holding (h, w) of dy / their divisor
// (gathered, no atomics; overwritten).  dy: [N, C, OH, OW]; dx: [N, C, H, W]
@group(0) @binding(1) var<storage, read> apb_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> apb_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn avgPool2dBackward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                     @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  let p = i / plane;
  let r = i - p * plane;
  let h = r / params.width;
  let ohs = avgWindowsOf(h, params.strideH, params.padH, params.windowH, params.outHeight);
  let ows = avgWindowsOf(r - h * params.width, params.strideW, params.padW, params.windowW,
                         params.outWidth);
  let base = p * params.outHeight * params.outWidth;
  var g = 0.0;
  for (var oh = ohs.x; oh < ohs.y; oh++) {
    let rows = avgWindow(oh, params.strideH, params.padH, params.windowH, params.height).z;
    for (var ow = ows.x; ow < ows.y; ow++) {
      let cols = avgWindow(ow, params.strideW, params.padW, params.windowW, params.width).z;
      g += apb_dy[base + oh * params.outWidth + ow] / f32(rows * cols);
    }
  }
  apb_dx[i] = g;
}

// PyTorch's adaptive window o of an axis: [⌊o·size/outSize⌋, ⌈(o + 1)·size/outSize⌉).
fn adaptiveWindow(o: u32, size: u32, outSize: u32) -> vec2u {
  return vec2u(o * size / outSize, ((o + 1u) * size + outSize - 1u) / outSize);
}

// The adaptive windows o holding row h: [⌊h·outSize/size⌋, ⌈(h + 1)·outSize/size⌉).
fn adaptiveWindowsOf(h: u32, size: u32, outSize: u32) -> vec2u {
  return vec2u(h * outSize / size, ((h + 1u) * outSize + size - 1u) / size);
}

// adaptiveAvgPool2dForward: y[n, c, i, j] = mean of x over PyTorch's adaptive window (i, j).
// x: [N, C, H, W]; y: [N, C, OH, OW]
@group(0) @binding(1) var<storage, read> aapg_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> aapg_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn adaptiveAvgPool2dForward(@builtin(local_invocation_index) lid: u32,
                            @builtin(workgroup_id) wid: vec3u,
                            @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let outPlane = params.outHeight * params.outWidth;
  let p = i / outPlane;
  let r = i - p * outPlane;
  let oh = r / params.outWidth;
  let rows = adaptiveWindow(oh, params.height, params.outHeight);
  let cols = adaptiveWindow(r - oh * params.outWidth, params.width, params.outWidth);
  let base = p * params.height * params.width;
  var s = 0.0;
  for (var h = rows.x; h < rows.y; h++) {
    for (var w = cols.x; w < cols.y; w++) {
      s += aapg_x[base + h * params.width + w];
    }
  }
  aapg_y[i] = s / f32((rows.y - rows.x) * (cols.y - cols.x));
}

// adaptiveAvgPool2dBackward: dx[h, w] = Σ over the windows holding (h, w) of dy / their size
// (gathered; overwritten).  dy: [N, C, OH, OW]; dx: [N, C, H, W]
@group(0) @binding(1) var<storage, read> aapgb_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> aapgb_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn adaptiveAvgPool2dBackward(@builtin(local_invocation_index) lid: u32,
                             @builtin(workgroup_id) wid: vec3u,
                             @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  let p = i / plane;
  let r = i - p * plane;
  let h = r / params.width;
  let ohs = adaptiveWindowsOf(h, params.height, params.outHeight);
  let ows = adaptiveWindowsOf(r - h * params.width, params.width, params.outWidth);
  let base = p * params.outHeight * params.outWidth;
  var g = 0.0;
  for (var oh = ohs.x; oh < ohs.y; oh++) {
    let rows = adaptiveWindow(oh, params.height, params.outHeight);
    for (var ow = ows.x; ow < ows.y; ow++) {
      let cols = adaptiveWindow(ow, params.width, params.outWidth);
      g += aapgb_dy[base + oh * params.outWidth + ow] / f32((rows.y - rows.x) * (cols.y - cols.x));
    }
  }
  aapgb_dx[i] = g;
}

// adaptiveMaxPool2dForward: y[n, c, i, j] = max of x over PyTorch's adaptive window (i, j), the
// first maximum winning ties; argmax its position h·W + w (maxPool2dScatter's backward input).
// x: [N, C, H, W]; y, argmax: [N, C, OH, OW]
@group(0) @binding(1) var<storage, read> ampg_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ampg_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> ampg_argmax: array<i32>;

@compute @workgroup_size(WORKGROUP)
fn adaptiveMaxPool2dForward(@builtin(local_invocation_index) lid: u32,
                            @builtin(workgroup_id) wid: vec3u,
                            @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let outPlane = params.outHeight * params.outWidth;
  let p = i / outPlane;
  let r = i - p * outPlane;
  let oh = r / params.outWidth;
  let rows = adaptiveWindow(oh, params.height, params.outHeight);
  let cols = adaptiveWindow(r - oh * params.outWidth, params.width, params.outWidth);
  let base = p * params.height * params.width;
  var arg = rows.x * params.width + cols.x;
  var best = ampg_x[base + arg];
  for (var h = rows.x; h < rows.y; h++) {
    for (var w = cols.x; w < cols.y; w++) {
      let j = h * params.width + w;
      let v = ampg_x[base + j];
      if (v > best) {
        best = v;
        arg = j;
      }
    }
  }
  ampg_y[i] = best;
  ampg_argmax[i] = i32(arg);
}

// adaptiveAvgPool1Forward: y[n, c] = mean over the plane.  x: [N, C, H, W]; y: [N, C]
@group(0) @binding(1) var<storage, read> aap_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> aap_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn adaptiveAvgPool1Forward(@builtin(local_invocation_index) lid: u32,
                           @builtin(workgroup_id) wid: vec3u,
                           @builtin(num_workgroups) nwg: vec3u) {
  let p = index(lid, wid, nwg);
  if (p >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  var s = 0.0;
  for (var j = 0u; j < plane; j++) {
    s += aap_x[p * plane + j];
  }
  aap_y[p] = s / f32(plane);
}

// adaptiveAvgPool1Backward: dx = dy[n, c] / (H·W).  dy: [N, C]; dx: [N, C, H, W]
@group(0) @binding(1) var<storage, read> aapb_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> aapb_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn adaptiveAvgPool1Backward(@builtin(local_invocation_index) lid: u32,
                            @builtin(workgroup_id) wid: vec3u,
                            @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  aapb_dx[i] = aapb_dy[i / plane] / f32(plane);
}

// adaptiveMaxPool1Forward: y[n, c] = max over the plane (first maximum wins ties).
// x: [N, C, H, W]; y, argmax: [N, C]
@group(0) @binding(1) var<storage, read> amp_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> amp_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> amp_argmax: array<i32>;

@compute @workgroup_size(WORKGROUP)
fn adaptiveMaxPool1Forward(@builtin(local_invocation_index) lid: u32,
                           @builtin(workgroup_id) wid: vec3u,
                           @builtin(num_workgroups) nwg: vec3u) {
  let p = index(lid, wid, nwg);
  if (p >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  var best = amp_x[p * plane];
  var arg = 0u;
  for (var j = 1u; j < plane; j++) {
    let v = amp_x[p * plane + j];
    if (v > best) {
      best = v;
      arg = j;
    }
  }
  amp_y[p] = best;
  amp_argmax[p] = i32(arg);
}

// adaptiveMaxPool1Backward: dx = dy[n, c] at the argmax of the plane, else 0.
// dy, argmax: [N, C]; dx: [N, C, H, W]
@group(0) @binding(1) var<storage, read> ampb_dy: array<f32>;
@group(0) @binding(2) var<storage, read> ampb_argmax: array<i32>;
@group(0) @binding(3) var<storage, read_write> ampb_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn adaptiveMaxPool1Backward(@builtin(local_invocation_index) lid: u32,
                            @builtin(workgroup_id) wid: vec3u,
                            @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  let p = i / plane;
  ampb_dx[i] = select(0.0, ampb_dy[p], i32(i - p * plane) == ampb_argmax[p]);
}

// shiftSubsample: y[n, c, i, j] = x[n, c, i·stride + shift, j·stride + shift], 0 outside x
// (Shake-Shake's second shortcut flow: shift 1 as the PyTorch ports, −1 as the Torch code).
// x: [N, C, H, W]; y: [N, C, OH, OW]
@group(0) @binding(1) var<storage, read> ss_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ss_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn shiftSubsample(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                  @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let outPlane = params.outHeight * params.outWidth;
  let p = i / outPlane;
  let r = i - p * outPlane;
  let oh = r / params.outWidth;
  let h = i32(oh * params.stride) + params.shift;
  let w = i32((r - oh * params.outWidth) * params.stride) + params.shift;
  var v = 0.0;
  if (h >= 0 && h < i32(params.height) && w >= 0 && w < i32(params.width)) {
    v = ss_x[(p * params.height + u32(h)) * params.width + u32(w)];
  }
  ss_y[i] = v;
}

// shiftSubsampleBackward: dx[h, w] = dy[(h − shift)/stride, (w − shift)/stride] where that is a
// sample position, else 0.  dy: [N, C, OH, OW]; dx: [N, C, H, W]
@group(0) @binding(1) var<storage, read> ssb_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> ssb_dx: array<f32>;

// The output row/column sampling input position `pos`, or −1 when none does.
fn sampleOf(pos: u32, outSize: u32) -> i32 {
  let d = i32(pos) - params.shift;
  let s = i32(params.stride);
  if (d < 0 || d % s != 0 || d / s >= i32(outSize)) {
    return -1;
  }
  return d / s;
}

@compute @workgroup_size(WORKGROUP)
fn shiftSubsampleBackward(@builtin(local_invocation_index) lid: u32,
                          @builtin(workgroup_id) wid: vec3u,
                          @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  let p = i / plane;
  let r = i - p * plane;
  let h = r / params.width;
  let oh = sampleOf(h, params.outHeight);
  let ow = sampleOf(r - h * params.width, params.outWidth);
  var g = 0.0;
  if (oh >= 0 && ow >= 0) {
    g = ssb_dy[(p * params.outHeight + u32(oh)) * params.outWidth + u32(ow)];
  }
  ssb_dx[i] = g;
}

// concatChannels: y = [a, b] along channels.  a: [N, Ca, H, W]; b: [N, Cb, H, W];
// y: [N, Ca + Cb, H, W]
@group(0) @binding(1) var<storage, read> cat_a: array<f32>;
@group(0) @binding(2) var<storage, read> cat_b: array<f32>;
@group(0) @binding(3) var<storage, read_write> cat_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn concatChannels(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                  @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  let channels = params.channelsA + params.channelsB;
  let q = i / plane;
  let s = i - q * plane;
  let n = q / channels;
  let c = q - n * channels;
  if (c < params.channelsA) {
    cat_y[i] = cat_a[(n * params.channelsA + c) * plane + s];
  } else {
    cat_y[i] = cat_b[(n * params.channelsB + c - params.channelsA) * plane + s];
  }
}

// splitChannels: da, db = the first Ca and the last Cb channels of dy.
// dy: [N, Ca + Cb, H, W]; da: [N, Ca, H, W]; db: [N, Cb, H, W]
@group(0) @binding(1) var<storage, read> split_dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> split_da: array<f32>;
@group(0) @binding(3) var<storage, read_write> split_db: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn splitChannels(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                 @builtin(num_workgroups) nwg: vec3u) {
  let i = index(lid, wid, nwg);
  if (i >= params.count) {
    return;
  }
  let plane = params.height * params.width;
  let channels = params.channelsA + params.channelsB;
  let q = i / plane;
  let s = i - q * plane;
  let n = q / channels;
  let c = q - n * channels;
  if (c < params.channelsA) {
    split_da[(n * params.channelsA + c) * plane + s] = split_dy[i];
  } else {
    split_db[(n * params.channelsB + c - params.channelsA) * plane + s] = split_dy[i];
  }
}
