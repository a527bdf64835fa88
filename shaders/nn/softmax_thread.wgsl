// softmax.wgsl for CPU adapters: one thread per row, grid-stride over rows, no barriers or
// workgroup memory (which lavapipe emulates slowly). Same math: an online (max, sum) pass, then
// one write pass. LOG: y = log_softmax(x).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var row = linear_id(gid, nwg, WG); row < params.rows; row += step) {
    let base = row * params.len;
    var acc = vec2<f32>(F32_LOWEST, 0.0);
    for (var j = 0u; j < params.len; j++) {
      acc = lse_push(acc, f32(x[base + j]));
    }
    if (LOG) {
      // (x - m) - log(s), not x - (m + log(s)): see softmax.wgsl.
      let ls = log(acc.y);
      for (var j = 0u; j < params.len; j++) {
        y[base + j] = T((f32(x[base + j]) - acc.x) - ls);
      }
    } else {
      let inv = 1.0 / acc.y;
      for (var j = 0u; j < params.len; j++) {
        y[base + j] = T(exp(f32(x[base + j]) - acc.x) * inv);
      }
    }
  }
}
