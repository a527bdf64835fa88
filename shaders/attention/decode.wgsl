// Attention of one new query per (batch, head) against a KV cache [B, H, S, D] with a key padding
// mask [B, S] (one workgroup per (b, h)). Keys are taken in chunks of WG: each invocation scores
// one key, the chunk max / sum come from workgroup reductions and update the online softmax state,
// then invocations switch to output dimensions (d = lid, lid + WG, ...) and accumulate Σ_j p_j V[j, d]
// with coalesced reads of V rows. No key allowed → output 0.
const F32_LOWEST = -3.4028234663852886e38;
const DPT = 4u; // output dims per invocation: D ≤ 4·WG
var<workgroup> p_s: array<f32, WG>;
var<workgroup> red: array<f32, WG>;

fn wg_reduce(lid: u32, v: f32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), is_max); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lid3.x;
  let bh = wid.x;
  let b = bh / params.H;
  let S = params.S;
  let D = params.D;
  let qbase = bh * D;
  let kbase = bh * S * D;
  var m = F32_LOWEST;
  var l = 0.0;
  var acc: array<f32, DPT>;
  for (var t = 0u; t < DPT; t++) { acc[t] = 0.0; }
  for (var kb = 0u; kb < S; kb += WG) {
    let j = kb + lid;
    var ok = j < S;
    if (ok && params.has_mask != 0u) { ok = mask[b * S + j] != 0.0; }
    var s = F32_LOWEST;
    if (ok) {
      var acc_s = 0.0;
      for (var d = 0u; d < D; d++) { acc_s = fma(q[qbase + d], k[kbase + j * D + d], acc_s); }
      s = acc_s * params.scale;
    }
    let bm = wg_reduce(lid, s, true);
    // bm is workgroup-uniform; a chunk with no allowed key changes nothing.
    let mn = max(m, bm);
    let p = select(0.0, exp(s - mn), ok);
    p_s[lid] = p;
    let psum = wg_reduce(lid, p, false);
    let corr = select(0.0, exp(m - mn), l > 0.0);
    l = l * corr + psum;
    m = mn;
    let n = min(WG, S - kb);
    for (var t = 0u; t < DPT; t++) {
      let d = lid + t * WG;
      if (d >= D) { break; }
      var a = acc[t] * corr;
      for (var jj = 0u; jj < n; jj++) {
        let pj = p_s[jj];
        if (pj != 0.0) { a = fma(pj, v[kbase + (kb + jj) * D + d], a); }
      }
      acc[t] = a;
    }
    workgroupBarrier();
  }
  let inv = select(0.0, 1.0 / l, l > 0.0);
  for (var t = 0u; t < DPT; t++) {
    let d = lid + t * WG;
    if (d < D) { o[qbase + d] = acc[t] * inv; }
  }
}
