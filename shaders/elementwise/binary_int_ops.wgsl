// binary.wgsl's pair() for integer operands (T = i32 or u32), computed in T itself: add, sub and
// mul give T, exact and wrapping around modulo 2^32 (WGSL integer arithmetic); the comparisons give
// f32 1.0/0.0 and compare exactly, beyond 2^24 too. OUT is T or f32 accordingly (one variant per
// dtype and kind).
// OP: 0 add 1 sub 2 mul 9 eq 10 ne 11 lt 12 le 13 gt 14 ge (the codes of binary_ops.wgsl).
fn pair(x: T, y: T) -> OUT {
  switch OP {
    case 0u: { return OUT(x + y); }
    case 1u: { return OUT(x - y); }
    case 2u: { return OUT(x * y); }
    case 9u: { return OUT(x == y); }
    case 10u: { return OUT(x != y); }
    case 11u: { return OUT(x < y); }
    case 12u: { return OUT(x <= y); }
    case 13u: { return OUT(x > y); }
    default: { return OUT(x >= y); }
  }
}
