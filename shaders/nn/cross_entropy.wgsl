// Per-row cross-entropy: lse[r] = logsumexp(logits[r, :]), loss[r] = lse[r] - logits[r, t] with
// t = targets[r]; rows with t == ignore_index get loss 0, targets outside [0, len) get NaN (a GPU
// kernel cannot throw; NaN makes the bad row visible in the loss). One workgroup per row, one
// online max/sum pass, so huge logits (±1e4) stay finite.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row >= params.rows) { return; }
  let base = row * params.len;
  var acc = vec2<f32>(F32_LOWEST, 0.0);
  for (var j = lid.x; j < params.len; j += WG) {
    acc = lse_push(acc, f32(logits[base + j]));
  }
  let ms = wg_lse(lid.x, acc);
  if (lid.x == 0u) {
    let ls = log(ms.y);
    lse[row] = ms.x + ls;
    let t = targets[row];
    if (t == params.ignore_index) {
      loss[row] = 0.0;
    } else if (t < 0 || u32(t) >= params.len) {
      loss[row] = nan_f32();
    } else {
      // (m - x_t) + log(s) keeps log(s) when |logits| are large (see softmax.wgsl).
      loss[row] = (ms.x - f32(logits[base + u32(t)])) + ls;
    }
  }
}

// A quiet NaN made at run time: WGSL rejects NaN in constant expressions.
fn nan_f32() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}
