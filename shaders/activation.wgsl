// Pointwise activations, forward and backward: sigmoid, tanh, LeakyReLU, and GELU in its exact
// erf form or PyTorch's tanh approximation. The `MODE` override constant picks the function, so
// each activation is its own specialised pipeline of the same two entry points.
// Each thread handles PER_THREAD elements WORKGROUP apart; a 2-D grid of workgroups for large
// tensors. Bindings: 0 params, then the read-only inputs, then the read-write output.
//
// tanh and erfc are written out here: lavapipe's builtin tanh loses its relative precision near
// 0 (1 % at 1e-6), and WGSL has no erf.

struct Params {
  count: u32, // elements
  slope: f32, // LeakyReLU: negative_slope
}

@group(0) @binding(0) var<uniform> params: Params;

override WORKGROUP: u32 = 256u;
override PER_THREAD: u32 = 8u;
// 0 sigmoid, 1 tanh, 2 LeakyReLU, 3 GELU (erf), 4 GELU (tanh approximation).
override MODE: u32 = 0u;

const SQRT_HALF: f32 = 0.70710678118654752;
const INV_SQRT_2PI: f32 = 0.39894228040143268;
const SQRT_2_OVER_PI: f32 = 0.79788456080286536;
const GELU_KAPPA: f32 = 0.044715;

// The first element of thread lid in the linear workgroup of a 2-D grid.
fn first(lid: u32, wid: vec3u, nwg: vec3u) -> u32 {
  return (wid.x + wid.y * nwg.x) * WORKGROUP * PER_THREAD + lid;
}

// The end of the elements first, first + WORKGROUP, ... of one thread.
fn end(first: u32) -> u32 {
  return min(first + PER_THREAD * WORKGROUP, params.count);
}

// tanh with f32 relative precision everywhere: Cephes' odd polynomial below 0.625, else
// 1 − 2/(e^{2|v|} + 1), which saturates to ±1 without overflow.
fn tanhAccurate(v: f32) -> f32 {
  let a = abs(v);
  if (a < 0.625) {
    let z = v * v;
    let p = (((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z +
      1.33314422036e-1) * z - 3.33332819422e-1;
    return v + v * z * p;
  }
  return sign(v) * (1.0 - 2.0 / (exp(2.0 * a) + 1.0));
}

// erfc with relative error below 1.2e-7 (Numerical Recipes' Chebyshev fit), so the far left tail
// of the normal CDF keeps its precision.
fn erfc(z: f32) -> f32 {
  let a = abs(z);
  let t = 1.0 / (1.0 + 0.5 * a);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 +
    t * 0.17087277))))))));
  let r = t * exp(-a * a + p);
  return select(2.0 - r, r, z >= 0.0);
}

// σ(v) = 1/(1 + e^−v): saturates to 0 and 1 without overflow.
fn logistic(v: f32) -> f32 {
  return 1.0 / (1.0 + exp(-v));
}

// GELU's tanh argument u = √(2/π)·(v + 0.044715·v³). The approximation x/2·(1 + tanh(u)) is
// computed as x·σ(2u), the same function without the cancellation of 1 + tanh(u) for v < 0.
fn geluTanhInner(v: f32) -> f32 {
  return SQRT_2_OVER_PI * (v + GELU_KAPPA * v * v * v);
}

// The standard normal CDF Φ(v) = erfc(−v/√2)/2.
fn normalCdf(v: f32) -> f32 {
  return 0.5 * erfc(-v * SQRT_HALF);
}

// The activation of one element.
fn activate(v: f32) -> f32 {
  switch MODE {
    case 0u: {
      return logistic(v);
    }
    case 1u: {
      return tanhAccurate(v);
    }
    case 2u: {
      return select(params.slope * v, v, v > 0.0);
    }
    case 3u: {
      return v * normalCdf(v);
    }
    default: {
      return v * logistic(2.0 * geluTanhInner(v));
    }
  }
}

// The derivative at one element, from what the backward saves: the output y for sigmoid and
// tanh, the input x for the others (as PyTorch's kernels).
fn derivative(s: f32) -> f32 {
  switch MODE {
    case 0u: {
      return s * (1.0 - s);
    }
    case 1u: {
      return 1.0 - s * s;
    }
    case 2u: {
      return select(params.slope, 1.0, s > 0.0);
    }
    case 3u: {
      return normalCdf(s) + s * INV_SQRT_2PI * exp(-0.5 * s * s);
    }
    default: {
      // (1 + t)/2 = σ(2u) and (1 − t²)/4 = σ(2u)·σ(−2u), each computed directly.
      let u = geluTanhInner(s);
      let p = logistic(2.0 * u);
      let dInner = SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_KAPPA * s * s);
      return p + 2.0 * s * p * logistic(-2.0 * u) * dInner;
    }
  }
}

// forward: y = f(x).  x, y: [count]
@group(0) @binding(1) var<storage, read> fwd_x: array<f32>;
@group(0) @binding(2) var<storage, read_write> fwd_y: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn forward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    fwd_y[i] = activate(fwd_x[i]);
  }
}

// backward: dx = dy·f'(x), computed from saved = y (sigmoid, tanh) or x (the others); dx
// overwritten.  dy, saved, dx: [count]
@group(0) @binding(1) var<storage, read> bwd_dy: array<f32>;
@group(0) @binding(2) var<storage, read> bwd_saved: array<f32>;
@group(0) @binding(3) var<storage, read_write> bwd_dx: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn backward(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
            @builtin(num_workgroups) nwg: vec3u) {
  let i0 = first(lid, wid, nwg);
  for (var i = i0; i < end(i0); i += WORKGROUP) {
    bwd_dx[i] = bwd_dy[i] * derivative(bwd_saved[i]);
  }
}
