// Layer norm over rows: y = (x - mean) * rstd * w + b with rstd = 1 / sqrt(var + eps) (biased
// variance), saving mean and rstd (f32) per row for backward. One workgroup per row.
// The statistics are taken of the row shifted by its first element, d = x - x0, in two passes (mean
// of d, then Σ (d - mean_d)²; never Σx² - mean²), and x - mean is formed as d - mean_d. Both stay
// accurate when a row's values are nearly equal, where x - fl(mean) loses the digits that rounding
// the mean dropped (row [a, a + 1e-3], eps 1e-5: dx was 4e-4 off). The shift is a sample of the
// row, so |mean_d| <= sqrt(len) * std and the shifted terms stay on the scale of the spread.
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
  var v = 0.0;
  for (var j = lid.x; j < len; j += WG) {
    let d = (f32(x[base + j]) - x0) - md;
    v += d * d;
  }
  let rs = 1.0 / sqrt(wg_sum(lid.x, v) / f32(len) + params.eps);
  for (var j = lid.x; j < len; j += WG) {
    var o = ((f32(x[base + j]) - x0) - md) * rs;
    if (HAS_W) { o *= f32(w[j]); }
    if (HAS_B) { o += f32(b[j]); }
    y[base + j] = T(o);
  }
  if (lid.x == 0u) {
    mean[row] = x0 + md;
    rstd[row] = rs;
  }
}
