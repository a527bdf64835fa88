// Outlier columns of LLM.int8: flag[c] = 1 when |x[t, c]| >= threshold for any row t of the batch.
// One invocation per column walking down the rows: neighbouring invocations read neighbouring
// addresses, and no atomics are needed.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.cols) { return; }
  var hit = 0u;
  for (var t = 0u; t < params.rows; t++) {
    if (abs(x[t * params.cols + c]) >= params.threshold) { hit = 1u; break; }
  }
  flags[c] = hit;
}
