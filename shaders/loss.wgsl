// Losses. Over logits [N, K]: log-softmax and softmax with their backward, the batch-mean
// cross-entropy (with label smoothing) / NLL loss with its gradient, and the count of correct
// argmax predictions; rows are classes of one sample, so K is small (10 for CIFAR-10): one
// thread handles one row. Elementwise, over any shape: the mean squared error and the binary
// cross-entropy with logits, with their gradients.
// Bindings: 0 params, then inputs, then outputs (hajime's order everywhere).

struct Params {
  n: u32,         // rows (batch); pointwise_*: elements
  k: u32,         // columns (classes)
  mode: u32,      // loss_*: 0 = x holds logits (cross-entropy), 1 = x holds log-probabilities
                  // (NLL); pointwise_*: 0 = squared error, 1 = binary cross-entropy with logits
  nan_bits: u32,  // loss_*: NaN's bit pattern, given at run time since WGSL rejects NaN constants
  smoothing: f32, // loss_* mode 0: label smoothing ε, the target (1 − ε)·onehot + ε/K
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 256u; // a power of two (tree reductions)

fn linear_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
}

// logSoftmax: y[r, :] = (x[r, :] − max) − log Σ exp(x[r, :] − max).  x, y: [N, K]
@group(0) @binding(1) var<storage, read> ls_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> ls_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn logSoftmax(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
              @builtin(num_workgroups) nwg: vec3u) {
  let row = linear_index(wid, nwg, lid);
  if (row >= params.n) {
    return;
  }
  let base = row * params.k;
  var m = ls_x[base];
  for (var j = 1u; j < params.k; j++) {
    m = max(m, ls_x[base + j]);
  }
  var s = 0.0;
  for (var j = 0u; j < params.k; j++) {
    s += exp(ls_x[base + j] - m);
  }
  let log_s = log(s);
  for (var j = 0u; j < params.k; j++) {
    // (x − m) first: exact for nearby values, so large logits keep their precision.
    ls_y[base + j] = (ls_x[base + j] - m) - log_s;
  }
}

// logSoftmaxBackward: dx[r, :] = dy[r, :] − exp(y[r, :]) · Σ dy[r, :].  dy, y, dx: [N, K]
@group(0) @binding(1) var<storage, read> lsb_dy: array<f32>;
@group(0) @binding(2) var<storage, read> lsb_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> lsb_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn logSoftmaxBackward(@builtin(local_invocation_index) lid: u32,
                      @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = linear_index(wid, nwg, lid);
  if (row >= params.n) {
    return;
  }
  let base = row * params.k;
  var s = 0.0;
  for (var j = 0u; j < params.k; j++) {
    s += lsb_dy[base + j];
  }
  for (var j = 0u; j < params.k; j++) {
    lsb_dx[base + j] = lsb_dy[base + j] - exp(lsb_y[base + j]) * s;
  }
}

// softmax: y[r, :] = exp(x[r, :] − max) / Σ exp(x[r, :] − max).  x, y: [N, K]
@group(0) @binding(1) var<storage, read> sm_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> sm_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn softmax(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let row = linear_index(wid, nwg, lid);
  if (row >= params.n) {
    return;
  }
  let base = row * params.k;
  var m = sm_x[base];
  for (var j = 1u; j < params.k; j++) {
    m = max(m, sm_x[base + j]);
  }
  var s = 0.0;
  for (var j = 0u; j < params.k; j++) {
    s += exp(sm_x[base + j] - m);
  }
  let inv_s = 1.0 / s;
  for (var j = 0u; j < params.k; j++) {
    sm_y[base + j] = exp(sm_x[base + j] - m) * inv_s;
  }
}

// softmaxBackward: dx[r, :] = y[r, :] · (dy[r, :] − Σ dy[r, :]·y[r, :]).  dy, y, dx: [N, K]
@group(0) @binding(1) var<storage, read> smb_dy: array<f32>;
@group(0) @binding(2) var<storage, read> smb_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> smb_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn softmaxBackward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                   @builtin(num_workgroups) nwg: vec3u) {
  let row = linear_index(wid, nwg, lid);
  if (row >= params.n) {
    return;
  }
  let base = row * params.k;
  var s = 0.0;
  for (var j = 0u; j < params.k; j++) {
    s += smb_dy[base + j] * smb_y[base + j];
  }
  for (var j = 0u; j < params.k; j++) {
    smb_dx[base + j] = smb_y[base + j] * (smb_dy[base + j] - s);
  }
}

// mean / meanSum: loss[0] = mean over rows of −logSoftmax(x)[label] (mode 0; with
// label smoothing ε, (1 − ε)·that + ε·mean_j −logSoftmax(x)[j]) or of −x[label] (mode 1);
// meanSum also adds it into loss_sum[0]. One workgroup sums the whole
// batch in a fixed order, so the result is deterministic. A label outside [0, K) makes it NaN.
// x: [N, K], labels: [N] i32, loss: [1], loss_sum: [1]
@group(0) @binding(1) var<storage, read> loss_x: array<f32>;
@group(0) @binding(2) var<storage, read> loss_labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> loss_out: array<f32>;
@group(0) @binding(4) var<storage, read_write> loss_sum: array<f32>;

// Workgroup variables start zeroed at each dispatch.
var<workgroup> partial: array<f32, WORKGROUP>;
var<workgroup> bad_labels: atomic<u32>;

// −log p[label] of one row; false in the second field when the label is out of range.
fn row_loss(row: u32) -> vec2f {
  let label = loss_labels[row];
  if (label < 0 || u32(label) >= params.k) {
    return vec2f(0.0, 0.0);
  }
  let base = row * params.k;
  let picked = loss_x[base + u32(label)];
  if (params.mode == 1u) {
    return vec2f(-picked, 1.0);
  }
  var m = loss_x[base];
  for (var j = 1u; j < params.k; j++) {
    m = max(m, loss_x[base + j]);
  }
  var s = 0.0;
  var centred = 0.0; // Σ (x − m), for the smoothing term
  for (var j = 0u; j < params.k; j++) {
    let d = loss_x[base + j] - m;
    s += exp(d);
    centred += d;
  }
  let eps = params.smoothing;
  return vec2f(log(s) - (1.0 - eps) * (picked - m) - eps * centred / f32(params.k), 1.0);
}

// The batch mean, valid in every invocation of the (single) workgroup.
fn batch_mean(lid: u32) -> f32 {
  var total = 0.0;
  for (var row = lid; row < params.n; row += WORKGROUP) {
    let r = row_loss(row);
    total += r.x;
    if (r.y == 0.0) {
      atomicAdd(&bad_labels, 1u);
    }
  }
  partial[lid] = total;
  workgroupBarrier();
  for (var half = WORKGROUP / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      partial[lid] += partial[lid + half];
    }
    workgroupBarrier();
  }
  let value = partial[0] / f32(params.n);
  if (atomicLoad(&bad_labels) != 0u) {
    return bitcast<f32>(params.nan_bits);
  }
  return value;
}

@compute @workgroup_size(WORKGROUP)
fn mean(@builtin(local_invocation_index) lid: u32) {
  let value = batch_mean(lid);
  if (lid == 0u) {
    loss_out[0] = value;
  }
}

@compute @workgroup_size(WORKGROUP)
fn meanSum(@builtin(local_invocation_index) lid: u32) {
  let value = batch_mean(lid);
  if (lid == 0u) {
    loss_out[0] = value;
    loss_sum[0] += value;
  }
}

// grad: the gradient of the batch-mean loss, overwriting dx. Mode 0: (softmax(x) − target)/N
// with target = (1 − ε)·onehot + ε/K;
// mode 1: −1/N at the label, 0 elsewhere. A row whose label is out of range gets NaN.
// x: [N, K], labels: [N] i32, dx: [N, K]
@group(0) @binding(3) var<storage, read_write> grad_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn grad(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let row = linear_index(wid, nwg, lid);
  if (row >= params.n) {
    return;
  }
  let base = row * params.k;
  let label = loss_labels[row];
  if (label < 0 || u32(label) >= params.k) {
    let nan = bitcast<f32>(params.nan_bits);
    for (var j = 0u; j < params.k; j++) {
      grad_dx[base + j] = nan;
    }
    return;
  }
  let inv_n = 1.0 / f32(params.n);
  if (params.mode == 1u) {
    for (var j = 0u; j < params.k; j++) {
      grad_dx[base + j] = select(0.0, -inv_n, j == u32(label));
    }
    return;
  }
  var m = loss_x[base];
  for (var j = 1u; j < params.k; j++) {
    m = max(m, loss_x[base + j]);
  }
  var s = 0.0;
  for (var j = 0u; j < params.k; j++) {
    s += exp(loss_x[base + j] - m);
  }
  let inv_s = 1.0 / s;
  let eps = params.smoothing;
  let spread = eps / f32(params.k);
  for (var j = 0u; j < params.k; j++) {
    let p = exp(loss_x[base + j] - m) * inv_s;
    let wanted = select(0.0, 1.0 - eps, j == u32(label)) + spread;
    grad_dx[base + j] = (p - wanted) * inv_n;
  }
}

// countCorrect: correct[0] += number of rows whose argmax (first maximum on ties, as
// torch.argmax) equals the label.  logits: [N, K], labels: [N] i32, correct: [1] u32
@group(0) @binding(1) var<storage, read> cc_logits: array<f32>;
@group(0) @binding(2) var<storage, read> cc_labels: array<i32>;
@group(0) @binding(3) var<storage, read_write> cc_correct: array<atomic<u32>>;

var<workgroup> hits: atomic<u32>; // starts zeroed

@compute @workgroup_size(WORKGROUP)
fn countCorrect(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
                @builtin(num_workgroups) nwg: vec3u) {
  let row = linear_index(wid, nwg, lid);
  if (row < params.n) {
    let base = row * params.k;
    var best = cc_logits[base];
    var arg = 0u;
    for (var j = 1u; j < params.k; j++) {
      let v = cc_logits[base + j];
      if (v > best) {
        best = v;
        arg = j;
      }
    }
    let label = cc_labels[row];
    if (label >= 0 && u32(label) == arg) {
      atomicAdd(&hits, 1u);
    }
  }
  workgroupBarrier();
  if (lid == 0u) {
    let h = atomicLoad(&hits);
    if (h != 0u) {
      atomicAdd(&cc_correct[0], h);
    }
  }
}

// pointwiseMean: loss[0] = mean over the n elements of (x − t)² (mode 0) or of the binary
// cross-entropy with logits max(x, 0) − x·t + log(1 + exp(−|x|)) (mode 1), the stable form of
// −t·log σ(x) − (1 − t)·log(1 − σ(x)). One workgroup adds in a fixed order (deterministic).
// x, target: [n]; loss: [1]
@group(0) @binding(1) var<storage, read> pw_x: array<f32>;
@group(0) @binding(2) var<storage, read> pw_target: array<f32>;
@group(0) @binding(3) var<storage, read_write> pw_loss: array<f32>;

fn pointwise_term(x: f32, t: f32) -> f32 {
  if (params.mode == 0u) {
    let d = x - t;
    return d * d;
  }
  return max(x, 0.0) - x * t + log(1.0 + exp(-abs(x)));
}

@compute @workgroup_size(WORKGROUP)
fn pointwiseMean(@builtin(local_invocation_index) lid: u32) {
  var total = 0.0;
  for (var i = lid; i < params.n; i += WORKGROUP) {
    total += pointwise_term(pw_x[i], pw_target[i]);
  }
  partial[lid] = total;
  workgroupBarrier();
  for (var half = WORKGROUP / 2u; half > 0u; half >>= 1u) {
    if (lid < half) {
      partial[lid] += partial[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    pw_loss[0] = partial[0] / f32(params.n);
  }
}

// pointwiseGradInput / pointwiseGradTarget: the gradient of pointwiseMean times its output
// gradient dy[0], overwriting out: for x, 2·(x − t)/n (mode 0) or (σ(x) − t)/n (mode 1); for t,
// −2·(x − t)/n or −x/n.  x, target, out: [n]; dy: [1]
@group(0) @binding(3) var<storage, read> pwg_dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> pwg_out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn pointwiseGradInput(@builtin(local_invocation_index) lid: u32,
                      @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.n) {
    return;
  }
  let x = pw_x[i];
  let t = pw_target[i];
  let scale = pwg_dy[0] / f32(params.n);
  if (params.mode == 0u) {
    pwg_out[i] = 2.0 * (x - t) * scale;
  } else {
    pwg_out[i] = (1.0 / (1.0 + exp(-x)) - t) * scale;
  }
}

@compute @workgroup_size(WORKGROUP)
fn pointwiseGradTarget(@builtin(local_invocation_index) lid: u32,
                       @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.n) {
    return;
  }
  let x = pw_x[i];
  let scale = pwg_dy[0] / f32(params.n);
  if (params.mode == 0u) {
    pwg_out[i] = -2.0 * (x - pw_target[i]) * scale;
  } else {
    pwg_out[i] = -x * scale;
  }
}
