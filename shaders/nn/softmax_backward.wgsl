// Backward of softmax over rows (y = softmax output): dx = y * (dy - Σ dy*y).
// LOG (y = log_softmax output): dx = dy - exp(y) * Σ dy. One workgroup per row.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= params.rows) { return; }
  let base = row * params.len;
  var acc = 0.0;
  for (var j = lid.x; j < params.len; j += WG) {
    let d = f32(dy[base + j]);
    if (LOG) { acc += d; } else { acc += d * f32(y[base + j]); }
  }
  let s = wg_sum(lid.x, acc);
  for (var j = lid.x; j < params.len; j += WG) {
    let d = f32(dy[base + j]);
    let v = f32(y[base + j]);
    if (LOG) { dx[base + j] = T(d - exp(v) * s); } else { dx[base + j] = T(v * (d - s)); }
  }
}
