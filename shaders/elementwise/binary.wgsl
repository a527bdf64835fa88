// out[i] = OP(a[ia], b[ib]) (apply() in binary_ops.wgsl) with numpy broadcasting (BCAST) or the
// same-shape fast path, grid-stride over the elements (layout in span.wgsl).
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
    out[i] = T(apply(f32(a[ia]), f32(b[ib])));
  }
}
