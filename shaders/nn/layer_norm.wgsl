// Layer norm over rows: y = (x - mean) * rstd * w + b with rstd = 1 / sqrt(var + eps) (biased
// variance), saving mean and rstd (f32) per row for backward. One workgroup per row; two passes
// (mean, then Σ (x - mean)²) rather than Σx² - mean², which cancels badly in f32.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= params.rows) { return; }
  let len = params.len;
  let base = row * len;
  var s = 0.0;
  for (var j = lid.x; j < len; j += WG) { s += f32(x[base + j]); }
  let mu = wg_sum(lid.x, s) / f32(len);
  var v = 0.0;
  for (var j = lid.x; j < len; j += WG) {
    let d = f32(x[base + j]) - mu;
    v += d * d;
  }
  let rs = 1.0 / sqrt(wg_sum(lid.x, v) / f32(len) + params.eps);
  for (var j = lid.x; j < len; j += WG) {
    var o = (f32(x[base + j]) - mu) * rs;
    if (HAS_W) { o *= f32(w[j]); }
    if (HAS_B) { o += f32(b[j]); }
    y[base + j] = T(o);
  }
  if (lid.x == 0u) {
    mean[row] = mu;
    rstd[row] = rs;
  }
}
