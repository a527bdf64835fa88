// Test fixture for test/gpu (not used by the library): x[i] += delta, so that N dependent
// dispatches of it leave N * delta behind (ordering within one submit).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  x[i] = x[i] + params.delta;
}
