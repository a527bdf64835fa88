// KV-cache append for keys and values in one launch: out[b, h, s, d] = s < P ? past[b, h, s, d]
// : x[b, s - P, h, d], with x the projection rows [B, T, H·D] (their head split is folded into
// the read index, so no permute copy). Bits are copied. Grid-stride over B·H·S·D.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  let D = params.D;
  let S = params.S;
  let P = params.P;
  let H = params.H;
  for (var i = linear_id(gid, nwg, WG); i < params.n; i += step) {
    let d = i % D;
    let r = i / D;
    let s = r % S;
    let bh = r / S;
    if (s < P) {
      let src = (bh * P + s) * D + d;
      out_k[i] = past_k[src];
      out_v[i] = past_v[src];
    } else {
      let h = bh % H;
      let b = bh / H;
      let src = ((b * (S - P) + (s - P)) * H + h) * D + d;
      out_k[i] = xk[src];
      out_v[i] = xv[src];
    }
  }
}
