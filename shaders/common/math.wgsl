// erf for f32 (Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7), used by the exact GELU.
fn erf_f32(x: f32) -> f32 {
  let s = sign(x);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return s * y;
}

// GELU(x) = x * Phi(x) with the erf form (PyTorch's default gelu).
fn gelu_f32(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_f32(x * 0.7071067811865476));
}

fn gelu_grad_f32(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_f32(x * 0.7071067811865476));
  let pdf = 0.3989422804014327 * exp(-0.5 * x * x);
  return cdf + x * pdf;
}

// NaN, read from the bits: WGSL lets a compiler assume floats are never NaN, so `x != x` may fold.
fn is_nan_f32(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// A quiet NaN built at run time (WGSL rejects NaN constants); `x` only defeats constant folding.
fn nan_f32(x: f32) -> f32 {
  return bitcast<f32>(0x7fc00000u | select(0u, 1u, x != x));
}
