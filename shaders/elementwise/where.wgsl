// out[i] = cond[ic] != 0 ? a[ia] : b[ib], all three broadcast to the output shape.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let ic = strided_offset(i, params.rank, params.shape, params.c_strides);
  let ia = strided_offset(i, params.rank, params.shape, params.a_strides);
  let ib = strided_offset(i, params.rank, params.shape, params.b_strides);
  out[i] = select(b[ib], a[ia], f32(cond[ic]) != 0.0);
}
