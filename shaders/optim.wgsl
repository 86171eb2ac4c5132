// Optimizer updates, one thread per parameter element (adam4: per vec4 of them, where the count
// is a multiple of 4), following torch.optim exactly.
// Bindings: 0 params, then inputs (grad), then outputs (param and optimizer state).
// Scalar coefficients (1 − dampening, Adam's bias corrections, ...) are computed on the CPU in
// double precision, as PyTorch computes them in Python, and arrive in the params.

struct Params {
  n: u32,              // elements
  lr: f32,
  weight_decay: f32,
  momentum: f32,       // sgd
  grad_scale: f32,     // sgd: 1 − dampening
  nesterov: u32,       // sgd: 1 = Nesterov momentum
  first_step: u32,     // sgd: 1 = the momentum buffer is initialised with the gradient
  avg_weight: f32,     // adam: 1 − beta1
  beta2: f32,          // adam
  sq_weight: f32,      // adam: 1 − beta2
  eps: f32,            // adam
  step_size: f32,      // adam: lr / (1 − beta1^step)
  bc2_sqrt: f32,       // adam: sqrt(1 − beta2^step)
  decay: f32,          // adam: AdamW's factor 1 − lr·weight_decay
  decoupled: u32,      // adam: 1 = AdamW (param *= decay), 0 = L2 (grad += weight_decay·param)
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 256u;

fn linear_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WORKGROUP + lid;
}

// sgd (momentum 0, no buffer): param −= lr·(grad + wd·param).  grad, param: [n]
@group(0) @binding(1) var<storage, read> sgd_grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> sgd_param: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn sgd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
       @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.n) {
    return;
  }
  let p = sgd_param[i];
  var d = sgd_grad[i];
  if (params.weight_decay != 0.0) {
    d += params.weight_decay * p;
  }
  sgd_param[i] = p - params.lr * d;
}

// sgdMomentum: buf = grad on the first step, else momentum·buf + (1 − dampening)·grad (after
// weight decay); the step is buf, or grad + momentum·buf with Nesterov.
// grad, param, buf: [n]
@group(0) @binding(3) var<storage, read_write> sgd_buf: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn sgdMomentum(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.n) {
    return;
  }
  let p = sgd_param[i];
  var d = sgd_grad[i];
  if (params.weight_decay != 0.0) {
    d += params.weight_decay * p;
  }
  var b = d;
  if (params.first_step == 0u) {
    b = params.momentum * sgd_buf[i] + params.grad_scale * d;
  }
  sgd_buf[i] = b;
  if (params.nesterov == 1u) {
    d += params.momentum * b;
  } else {
    d = b;
  }
  sgd_param[i] = p - params.lr * d;
}

// adam: torch.optim.Adam / AdamW (no amsgrad).
// m = lerp(m, g, 1 − beta1); v = beta2·v + (1 − beta2)·g²;
// param −= step_size · m / (sqrt(v) / bc2_sqrt + eps).  grad, param, exp_avg, exp_avg_sq: [n]
@group(0) @binding(1) var<storage, read> adam_grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> adam_param: array<f32>;
@group(0) @binding(3) var<storage, read_write> adam_m: array<f32>;
@group(0) @binding(4) var<storage, read_write> adam_v: array<f32>;

// One Adam update of a unit (the scalar kernel passes vec4f(x) and keeps `.x`).
struct AdamUnit {
  param: vec4f,
  m: vec4f,
  v: vec4f,
}

fn adamUpdate(param: vec4f, grad: vec4f, m0: vec4f, v0: vec4f) -> AdamUnit {
  var p = param;
  var g = grad;
  if (params.weight_decay != 0.0) {
    if (params.decoupled == 1u) {
      p *= params.decay;
    } else {
      g += params.weight_decay * p;
    }
  }
  // torch's lerp with weight 1 − beta1: m + w·(g − m) for w < 0.5 (the usual betas).
  let w = params.avg_weight;
  var m = m0;
  if (w < 0.5) {
    m = m + w * (g - m);
  } else {
    m = g - (g - m) * (1.0 - w);
  }
  let v = params.beta2 * v0 + params.sq_weight * g * g;
  let denom = sqrt(v) / params.bc2_sqrt + params.eps;
  return AdamUnit(p - params.step_size * (m / denom), m, v);
}

@compute @workgroup_size(WORKGROUP)
fn adam(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.n) {
    return;
  }
  let u = adamUpdate(vec4f(adam_param[i]), vec4f(adam_grad[i]), vec4f(adam_m[i]), vec4f(adam_v[i]));
  adam_m[i] = u.m.x;
  adam_v[i] = u.v.x;
  adam_param[i] = u.param.x;
}

// adam4: adam over vec4 units, n/4 of them (n a multiple of 4): a quarter of the loads, which are
// what llvmpipe pays for. grad, param, exp_avg, exp_avg_sq: [n / 4] vec4.
@group(0) @binding(1) var<storage, read> adam4_grad: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> adam4_param: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> adam4_m: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> adam4_v: array<vec4f>;

@compute @workgroup_size(WORKGROUP)
fn adam4(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
         @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(wid, nwg, lid);
  if (i >= params.n / 4u) {
    return;
  }
  let u = adamUpdate(adam4_param[i], adam4_grad[i], adam4_m[i], adam4_v[i]);
  adam4_m[i] = u.m;
  adam4_v[i] = u.v;
  adam4_param[i] = u.param;
}
