// out[i] = 1.0 if OP(a[ia], b[ib]) else 0.0 (f32) for integer operands (T = i32 or u32), compared
// in T itself, so values beyond 2^24 compare exactly; numpy broadcasting (BCAST) or the same-shape
// fast path, grid-stride over the elements (layout in span.wgsl).
// OP: 9 eq 10 ne 11 lt 12 le 13 gt 14 ge (the codes of binary_ops.wgsl).
fn holds(x: T, y: T) -> bool {
  switch OP {
    case 9u: { return x == y; }
    case 10u: { return x != y; }
    case 11u: { return x < y; }
    case 12u: { return x <= y; }
    case 13u: { return x > y; }
    default: { return x >= y; }
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
    out[i] = select(0.0, 1.0, holds(a[ia], b[ib]));
  }
}
