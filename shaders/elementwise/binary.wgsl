// out[i] = pair(a[ia], b[ib]) with numpy broadcasting (BCAST) or the same-shape fast path,
// grid-stride over the elements (layout in span.wgsl). pair() comes from binary_pair.wgsl (floats,
// the ops of binary_ops.wgsl) or binary_int_ops.wgsl (i32/u32, in their own type).
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
    out[i] = pair(a[ia], b[ib]);
  }
}
