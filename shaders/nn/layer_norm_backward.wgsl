// dx of layer norm, one workgroup per row: with xhat = (x - mean) * rstd and g = dy * w,
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). Both means come from one paired reduction.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= params.rows) { return; }
  let len = params.len;
  let base = row * len;
  let mu = mean[row];
  let rs = rstd[row];
  var acc = vec2<f32>(0.0, 0.0);
  for (var j = lid.x; j < len; j += WG) {
    var g = f32(dy[base + j]);
    if (HAS_W) { g *= f32(w[j]); }
    let xh = (f32(x[base + j]) - mu) * rs;
    acc += vec2<f32>(g, g * xh);
  }
  let m = wg_sum2(lid.x, acc) / f32(len);
  for (var j = lid.x; j < len; j += WG) {
    var g = f32(dy[base + j]);
    if (HAS_W) { g *= f32(w[j]); }
    let xh = (f32(x[base + j]) - mu) * rs;
    dx[base + j] = T(rs * (g - m.x - xh * m.y));
  }
}
