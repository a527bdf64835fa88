// dx of layer norm, one workgroup per row: with xhat = (x - mean) * rstd and g = dy * w,
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). Both means come from one paired reduction.
// x - mean is formed as in the forward, (x - x0) - mean_d, with mean_d summed again here in the
// forward's order (the saved f32 mean has lost the digits that matter for nearly equal values);
// mean_d goes to `shift` for the dweight kernel (layer_norm_param_grad.wgsl).
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= params.rows) { return; }
  let len = params.len;
  let base = row * len;
  let x0 = f32(x[base]);
  var s = 0.0;
  for (var j = lid.x; j < len; j += WG) { s += f32(x[base + j]) - x0; }
  let md = wg_sum(lid.x, s) / f32(len);
  let rs = rstd[row];
  var acc = vec2<f32>(0.0, 0.0);
  for (var j = lid.x; j < len; j += WG) {
    var g = f32(dy[base + j]);
    if (HAS_W) { g *= f32(w[j]); }
    let xh = ((f32(x[base + j]) - x0) - md) * rs;
    acc += vec2<f32>(g, g * xh);
  }
  let m = wg_sum2(lid.x, acc) / f32(len);
  for (var j = lid.x; j < len; j += WG) {
    var g = f32(dy[base + j]);
    if (HAS_W) { g *= f32(w[j]); }
    let xh = ((f32(x[base + j]) - x0) - md) * rs;
    dx[base + j] = T(rs * (g - m.x - xh * m.y));
  }
  if (lid.x == 0u) { shift[row] = md; }
}
