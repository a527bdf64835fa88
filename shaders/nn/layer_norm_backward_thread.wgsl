// layer_norm_backward.wgsl for CPU adapters: one thread per row (grid-stride), no barriers.
// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * w, xhat = (x - mean) * rstd,
// x - mean formed as (x - x0) - mean_d with mean_d summed again as in the forward (written to
// `shift` for the dweight kernel).
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
    let rs = rstd[row];
    var acc = vec2<f32>(0.0, 0.0);
    for (var j = 0u; j < len; j++) {
      var g = f32(dy[base + j]);
      if (HAS_W) { g *= f32(w[j]); }
      let xh = ((f32(x[base + j]) - x0) - md) * rs;
      acc += vec2<f32>(g, g * xh);
    }
    let m = acc / f32(len);
    for (var j = 0u; j < len; j++) {
      var g = f32(dy[base + j]);
      if (HAS_W) { g *= f32(w[j]); }
      let xh = ((f32(x[base + j]) - x0) - md) * rs;
      dx[base + j] = T(rs * (g - m.x - xh * m.y));
    }
    shift[row] = md;
  }
}
