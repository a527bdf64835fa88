// Stage 2 of two-stage column sums: out[c] = Σ_k part[k, c] over params.parts partial rows,
// summed in a fixed order (deterministic), converted to T.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let c = linear_id(gid, nwg, WG);
  if (c >= params.len) { return; }
  var s = 0.0;
  for (var k = 0u; k < params.parts; k++) { s += part[k * params.len + c]; }
  out[c] = T(s);
}
