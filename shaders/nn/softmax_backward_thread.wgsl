// softmax_backward.wgsl for CPU adapters: one thread per row (grid-stride), no barriers.
// Softmax: dx = y * (dy - Σ dy*y); LOG (y = log_softmax output): dx = dy - exp(y) * Σ dy.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var row = linear_id(gid, nwg, WG); row < params.rows; row += step) {
    let base = row * params.len;
    var s = 0.0;
    for (var j = 0u; j < params.len; j++) {
      let d = f32(dy[base + j]);
      if (LOG) { s += d; } else { s += d * f32(y[base + j]); }
    }
    for (var j = 0u; j < params.len; j++) {
      let d = f32(dy[base + j]);
      let v = f32(y[base + j]);
      if (LOG) { dx[base + j] = T(d - exp(v) * s); } else { dx[base + j] = T(v * (d - s)); }
    }
  }
}
