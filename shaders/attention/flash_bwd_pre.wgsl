// Backward preprocessing: Di[row] = Σ_d dO[row, d]·O[row, d] (= Σ_j P_ij·dP_ij, also with dropout,
// since O already holds the dropped, rescaled probabilities). One invocation per row.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = linear_id(gid, nwg, WG);
  if (r >= params.rows) { return; }
  var s = 0.0;
  for (var d = 0u; d < params.D; d++) { s = fma(dout[r * params.D + d], o[r * params.D + d], s); }
  di[r] = s;
}
