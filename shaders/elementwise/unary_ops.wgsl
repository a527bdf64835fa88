// apply(v) = OP(v) for the unary kernels; alpha/beta parametrise affine, pow, max/min with a scalar.
// OP: 0 neg 1 exp 2 log 3 sqrt 4 rsqrt 5 tanh 6 relu 7 gelu 8 sigmoid 9 abs 10 square 11 recip
//     12 sin 13 cos 14 sign 15 affine 16 pow_scalar 17 max_scalar 18 min_scalar
fn apply(v: f32) -> f32 {
  let alpha = params.alpha;
  switch OP {
    case 0u: { return -v; }
    case 1u: { return exp(v); }
    case 2u: { return log(v); }
    case 3u: { return sqrt(v); }
    case 4u: { return inverseSqrt(v); }
    // tanh through exp of a clamped argument: some drivers return NaN for large |v|.
    case 5u: { let c = clamp(v, -15.0, 15.0); let e = exp(2.0 * c); return (e - 1.0) / (e + 1.0); }
    // relu, max_scalar and min_scalar keep NaN (as torch), which WGSL's max/min need not.
    case 6u: { return select(max(v, 0.0), v, is_nan_f32(v)); }
    case 7u: { return gelu_f32(v); }
    case 8u: { return 1.0 / (1.0 + exp(-v)); }
    case 9u: { return abs(v); }
    case 10u: { return v * v; }
    case 11u: { return 1.0 / v; }
    case 12u: { return sin(v); }
    case 13u: { return cos(v); }
    case 14u: { return sign(v); }
    case 15u: { return alpha * v + params.beta; }
    case 16u: {
      if (alpha == 0.0) { return 1.0; }
      if (v >= 0.0) { return pow(v, alpha); }
      if (alpha == round(alpha)) { let m = pow(-v, alpha); return select(m, -m, (i32(alpha) & 1) == 1); }
      return nan_f32(v);
    }
    case 17u: { return select(max(v, alpha), v, is_nan_f32(v)); }
    default: { return select(min(v, alpha), v, is_nan_f32(v)); }
  }
}
