// dst[dst_offset + dst_strides·idx] = src[src_offset + src_strides·idx] for every index of `shape`.
// Covers permute/transpose, slice, expand (stride 0), concat pieces and slice-backward writes.
// Grid-stride over the elements.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var i = linear_id(gid, nwg, WG); i < params.n; i += step) {
    let s = params.src_offset + strided_offset(i, params.rank, params.shape, params.src_strides);
    let d = params.dst_offset + strided_offset(i, params.rank, params.shape, params.dst_strides);
    dst[d] = src[s];
  }
}
