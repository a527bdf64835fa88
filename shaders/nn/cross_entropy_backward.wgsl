// dlogits[r, j] = (exp(logits[r, j] - lse[r]) - [j == t]) * dloss[r], zero on ignored rows (and
// NaN for out-of-range targets, as in forward). One invocation per element; the saved lse makes
// this a single pass without any reduction.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let r = i / params.len;
  let j = i % params.len;
  let t = targets[r];
  var g = 0.0;
  if (t != params.ignore_index) {
    if (t < 0 || u32(t) >= params.len) {
      g = nan_f32();
    } else {
      let p = exp(f32(logits[i]) - lse[r]);
      g = (p - select(0.0, 1.0, u32(t) == j)) * f32(dloss[r]);
    }
  }
  dx[i] = T(g);
}

// A quiet NaN made at run time: WGSL rejects NaN in constant expressions.
fn nan_f32() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}
