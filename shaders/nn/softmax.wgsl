// y = softmax(x) over rows of length params.len (LOG: y = log_softmax(x) = x - logsumexp(x)).
// One workgroup per row: one online max/sum pass, a workgroup reduction, then one write pass, so
// long rows (vocabularies of 40k+) cost two reads and one write.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= params.rows) { return; }
  let base = row * params.len;
  var acc = vec2<f32>(F32_LOWEST, 0.0);
  for (var j = lid.x; j < params.len; j += WG) {
    acc = lse_push(acc, f32(x[base + j]));
  }
  let ms = wg_lse(lid.x, acc);
  if (LOG) {
    // (x - m) - log(s) rather than x - (m + log(s)): for |x| ~ 1e4 the sum m + log(s) would round
    // away log(s) (the f32 spacing at 1e4 is ~1e-3).
    let ls = log(ms.y);
    for (var j = lid.x; j < params.len; j += WG) {
      y[base + j] = T((f32(x[base + j]) - ms.x) - ls);
    }
  } else {
    let inv = 1.0 / ms.y;
    for (var j = lid.x; j < params.len; j += WG) {
      y[base + j] = T(exp(f32(x[base + j]) - ms.x) * inv);
    }
  }
}
