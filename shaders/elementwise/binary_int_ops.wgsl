// out[i] = OP(a[ia], b[ib]) for integer operands (T = i32 or u32), computed in T itself: add, sub
// and mul give T, exact and wrapping around modulo 2^32 (WGSL integer arithmetic); the comparisons
// give f32 1.0/0.0 and compare exactly, beyond 2^24 too. OUT is T or f32 accordingly (one variant
// per dtype and kind). numpy broadcasting (BCAST) or the same-shape fast path, grid-stride over the
// elements (layout in span.wgsl).
// OP: 0 add 1 sub 2 mul 9 eq 10 ne 11 lt 12 le 13 gt 14 ge (the codes of binary_ops.wgsl).
fn apply_int(x: T, y: T) -> OUT {
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

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = span(gid, nwg, params.n);
  for (var i = s.first; i < s.end; i += s.step) {
    var ia = i;
    var ib = i;
    if (BCAST) {
      ia = strided_offset(i, params.rank, params.shape, params.a_strides);
      ib = strided_offset(i, params.rank, params.shape, params.b_strides);
    }
    out[i] = apply_int(a[ia], b[ib]);
  }
}
