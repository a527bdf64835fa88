// Test fixture for test/gpu (not used by the library): out[i] = alpha * x[i] + y[i].
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  out[i] = params.alpha * x[i] + y[i];
}
