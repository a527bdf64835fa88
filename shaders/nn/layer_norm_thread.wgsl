// layer_norm.wgsl for CPU adapters: one thread per row (grid-stride), no barriers. Same shifted
// two-pass statistics (d = x - x0; mean of d, then Σ (d - mean_d)²), x - mean formed as
// d - mean_d, and the same saved f32 mean / rstd. The shift also keeps this serial f32 sum from
// losing the mean of a row far from 0 (mean 1e3, spread 0.1). len >= 1.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  let len = params.len;
  for (var row = linear_id(gid, nwg, WG); row < params.rows; row += step) {
    let base = row * len;
    let x0 = f32(x[base]);
    var s = 0.0;
    for (var j = 1u; j < len; j++) { s += f32(x[base + j]) - x0; }
    let md = s / f32(len);
    var v = 0.0;
    for (var j = 0u; j < len; j++) {
      let d = (f32(x[base + j]) - x0) - md;
      v += d * d;
    }
    let rs = 1.0 / sqrt(v / f32(len) + params.eps);
    for (var j = 0u; j < len; j++) {
      var o = ((f32(x[base + j]) - x0) - md) * rs;
      if (HAS_W) { o *= f32(w[j]); }
      if (HAS_B) { o += f32(b[j]); }
      y[base + j] = T(o);
    }
    mean[row] = x0 + md;
    rstd[row] = rs;
  }
}
