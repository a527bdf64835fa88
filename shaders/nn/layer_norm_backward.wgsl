// dx of layer norm per row (both launch styles, as layer_norm.wgsl): with xhat = (x - mean) * rstd
// and g = dy * w, dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). Both means come from one
// paired reduction. x - mean is formed as in the forward, (x - x0) - mean_d, with mean_d summed
// again by the forward's code (the saved f32 mean has lost the digits that matter for nearly equal
// values); mean_d goes to `shift` for the dweight kernel (layer_norm_param_grad.wgsl).
fn row_body(row: u32, lane: u32) {
  let len = params.len;
  let base = row * len;
  let x0 = ln_x(base);
  let md = shifted_mean(lane, base, len, x0);
  let rs = rstd[row];
  var acc = vec2<f32>(0.0, 0.0);
  for (var j = lane; j < len; j += lanes()) {
    var g = f32(dy[base + j]);
    if (HAS_W) { g *= f32(w[j]); }
    let xh = centered(base + j, x0, md) * rs;
    acc += vec2<f32>(g, g * xh);
  }
  let m = row_sum2(lane, acc) / f32(len);
  for (var j = lane; j < len; j += lanes()) {
    var g = f32(dy[base + j]);
    if (HAS_W) { g *= f32(w[j]); }
    let xh = centered(base + j, x0, md) * rs;
    dx[base + j] = T(rs * (g - m.x - xh * m.y));
  }
  if (lane == 0u) { shift[row] = md; }
}
