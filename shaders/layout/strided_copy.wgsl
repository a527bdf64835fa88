// dst[dst_offset + dst_strides·idx] = src[src_offset + src_strides·idx] for every index of `shape`.
// Covers permute/transpose, slice, expand (stride 0), concat pieces and slice-backward writes.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let s = params.src_offset + strided_offset(i, params.rank, params.shape, params.src_strides);
  let d = params.dst_offset + strided_offset(i, params.rank, params.shape, params.dst_strides);
  dst[d] = src[s];
}
