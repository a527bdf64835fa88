// Fused causal attention forward (FlashAttention-style): a workgroup owns BQ query rows of one
// (batch, head), one invocation per row holding its scaled q, the output accumulator and the online
// softmax state (m, l) in registers; K and V are streamed through workgroup memory in blocks of BK
// keys, so the T×T scores never reach global memory. Per block the scores go to a private array,
// the accumulator is rescaled once by exp(m_old - m_new), then the block is accumulated.
// Dropout acts on the normalised probabilities: element (b, h, i, j) is dropped iff
// hash_u32(seed, ((b·H + h)·T + i)·T + j) >> 8 < threshold, the index the unfused dropout kernel
// gives the [B, H, T, T] probability tensor, so fused and composite paths draw the same mask.
// Rows with no allowed key output 0 and lse = F32_MAX (so exp(s - lse) = 0 in the backward).
const F32_LOWEST = -3.4028234663852886e38;
const F32_MAX = 3.4028234663852886e38;
var<workgroup> Ks: array<f32, BK * HD>;
var<workgroup> Vs: array<f32, BK * HD>;
var<workgroup> kok: array<u32, BK>;

@compute @workgroup_size(BQ)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let T = params.T;
  let bh = wid.y;
  let b = bh / params.H;
  let qi = wid.x * BQ + lid.x;
  let valid = qi < T;
  let base = bh * T * HD;
  var qr: VecD;
  var acc: VecD;
  for (var d = 0u; d < HD; d++) {
    qr[d] = 0.0;
    if (valid) { qr[d] = q[base + qi * HD + d] * params.scale; }
    acc[d] = 0.0;
  }
  var m = F32_LOWEST;
  var l = 0.0;
  var kend = T;
  if (params.causal != 0u) { kend = min(T, (wid.x + 1u) * BQ); }
  for (var kb = 0u; kb < kend; kb += BK) {
    for (var e = lid.x; e < BK * HD; e += BQ) {
      let j = kb + e / HD;
      var kv = 0.0;
      var vv = 0.0;
      if (j < T) { kv = k[base + kb * HD + e]; vv = v[base + kb * HD + e]; }
      Ks[e] = kv;
      Vs[e] = vv;
    }
    for (var jj = lid.x; jj < BK; jj += BQ) {
      let j = kb + jj;
      var ok = j < T;
      if (ok && params.has_mask != 0u) { ok = mask[b * T + j] != 0.0; }
      kok[jj] = select(0u, 1u, ok);
    }
    workgroupBarrier();
    if (valid) {
      var sc: VecK;
      var bm = F32_LOWEST;
      var any = false;
      for (var jj = 0u; jj < BK; jj++) {
        let j = kb + jj;
        let ok = kok[jj] != 0u && (params.causal == 0u || j <= qi);
        var s = 0.0;
        if (ok) {
          for (var d = 0u; d < HD; d++) { s = fma(qr[d], Ks[jj * HD + d], s); }
          bm = max(bm, s);
          any = true;
        }
        sc[jj] = select(F32_LOWEST, s, ok);
      }
      if (any) {
        let mn = max(m, bm);
        let corr = exp(m - mn);
        l *= corr;
        for (var d = 0u; d < HD; d++) { acc[d] *= corr; }
        m = mn;
        for (var jj = 0u; jj < BK; jj++) {
          if (sc[jj] == F32_LOWEST) { continue; }
          let p = exp(sc[jj] - m);
          l += p;
          var pv = p;
          if (params.drop_threshold != 0u) {
            let idx = (bh * T + qi) * T + kb + jj;
            pv = select(p * params.drop_scale, 0.0, (hash_u32(params.seed, idx) >> 8u) < params.drop_threshold);
          }
          if (pv != 0.0) {
            for (var d = 0u; d < HD; d++) { acc[d] = fma(pv, Vs[jj * HD + d], acc[d]); }
          }
        }
      }
    }
    workgroupBarrier();
  }
  if (valid) {
    let inv = select(0.0, 1.0 / l, l > 0.0);
    for (var d = 0u; d < HD; d++) { o[base + qi * HD + d] = acc[d] * inv; }
    lse[bh * T + qi] = select(F32_MAX, m + log(l), l > 0.0);
  }
}
