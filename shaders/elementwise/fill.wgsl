// out[i] = value, grid-stride. The value is f32 for float T (converted) and T itself for i32/u32,
// so that integers beyond 2^24 are exact.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var i = linear_id(gid, nwg, WG); i < params.n; i += step) {
    out[i] = T(params.value);
  }
}
