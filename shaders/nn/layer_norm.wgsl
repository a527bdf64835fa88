// Layer norm over rows: y = (x - mean) * rstd * w + b with rstd = 1 / sqrt(var + eps) (biased
// variance), saving mean and rstd (f32) per row for backward. One body for both launch styles: a
// workgroup per row, or one thread per row on CPU adapters (entry points: row_lanes*.wgsl).
// The statistics are taken of the row shifted by its first element, d = x - x0, in two passes (mean
// of d, then Σ (d - mean_d)²; never Σx² - mean²), and x - mean is formed as d - mean_d. Both stay
// accurate when a row's values are nearly equal, where x - fl(mean) loses the digits that rounding
// the mean dropped (row [a, a + 1e-3], eps 1e-5: dx was 4e-4 off). The shift is a sample of the
// row, so |mean_d| <= sqrt(len) * std and the shifted terms stay on the scale of the spread; it
// also keeps the thread kernel's serial f32 sum from losing the mean of a row far from 0 (mean
// 1e3, spread 0.1). len >= 1. The fused residual variant normalises x + r and also stores that sum
// (ln_x / ln_keep: layer_norm_x*.wgsl).
fn row_body(row: u32, lane: u32) {
  let len = params.len;
  let base = row * len;
  let x0 = ln_x(base);
  let md = shifted_mean(lane, base, len, x0);
  var v = 0.0;
  for (var j = lane; j < len; j += lanes()) {
    let d = centered(base + j, x0, md);
    v += d * d;
  }
  let rs = 1.0 / sqrt(row_sum(lane, v) / f32(len) + params.eps);
  for (var j = lane; j < len; j += lanes()) {
    var o = centered(base + j, x0, md) * rs;
    if (HAS_W) { o *= f32(w[j]); }
    if (HAS_B) { o += f32(b[j]); }
    y[base + j] = T(o);
    ln_keep(base + j);
  }
  if (lane == 0u) {
    mean[row] = x0 + md;
    rstd[row] = rs;
  }
}
