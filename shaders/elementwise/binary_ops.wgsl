// apply(x, y) = OP(x, y) for the binary kernels (binary.wgsl, binary_vec4.wgsl).
// OP: 0 add 1 sub 2 mul 3 div 4 pow 5 max 6 min 7 gelu_grad(x=a, dy=b) 8 relu_grad(x=a, dy=b)
//     9 eq 10 ne 11 lt 12 le 13 gt 14 ge
fn apply(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return pow_real(x, y); }
    // max/min propagate NaN as torch.maximum/minimum (WGSL leaves max(NaN, y) unspecified).
    case 5u: { return select(max(x, y), x + y, is_nan_f32(x) || is_nan_f32(y)); }
    case 6u: { return select(min(x, y), x + y, is_nan_f32(x) || is_nan_f32(y)); }
    case 7u: { return y * gelu_grad_f32(x); }
    // torch's threshold_backward: 0 where x <= 0, else dy (so NaN inputs pass dy on).
    case 8u: { return select(select(0.0, y, x > 0.0), y, is_nan_f32(x)); }
    case 9u: { return select(0.0, 1.0, x == y); }
    case 10u: { return select(0.0, 1.0, x != y); }
    case 11u: { return select(0.0, 1.0, x < y); }
    case 12u: { return select(0.0, 1.0, x <= y); }
    case 13u: { return select(0.0, 1.0, x > y); }
    default: { return select(0.0, 1.0, x >= y); }
  }
}

// pow with integer exponents on negative bases, as torch.pow.
fn pow_real(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (x >= 0.0) { return pow(x, y); }
  if (y == round(y)) {
    let m = pow(-x, y);
    return select(m, -m, (i32(y) & 1) == 1);
  }
  return nan_f32(x);
}
