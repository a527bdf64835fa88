// Fused attention backward from the saved log-sum-exp, recomputing probabilities blockwise:
//   P_ij = exp(s_ij - lse_i), Z_ij = dropout keep / (1 - p), dP_ij = Z_ij·(dO_i·V_j),
//   dS_ij = P_ij·(dP_ij - D_i), dQ_i = scale·Σ_j dS_ij K_j, dK_j = scale·Σ_i dS_ij Q_i, dV_j = Σ_i Z_ij P_ij dO_i.
// Two passes with the same bindings so no float atomics are needed: KV_PASS = false gives one
// invocation per query row streaming K/V blocks (writes dQ to out1); KV_PASS = true one invocation
// per key row streaming Q/dO blocks (writes dK to out1, dV to out2). Masking, causality and the
// dropout index are those of flash_fwd.wgsl.
const F32_LOWEST = -3.4028234663852886e38;
var<workgroup> As: array<f32, BK * HD>; // K (query pass) or Q (key pass) block
var<workgroup> Bs: array<f32, BK * HD>; // V (query pass) or dO (key pass) block
var<workgroup> rs: array<vec2<f32>, BK>; // key pass: (lse_i, D_i) of the streamed query rows

fn key_ok(b: u32, j: u32) -> bool {
  if (params.has_mask == 0u) { return true; }
  return mask[b * params.T + j] != 0.0;
}

fn keep_scale(bh: u32, i: u32, j: u32) -> f32 {
  if (params.drop_threshold == 0u) { return 1.0; }
  let idx = (bh * params.T + i) * params.T + j;
  return select(params.drop_scale, 0.0, (hash_u32(params.seed, idx) >> 8u) < params.drop_threshold);
}

@compute @workgroup_size(BQ)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let T = params.T;
  let bh = wid.y;
  let b = bh / params.H;
  let r = wid.x * BQ + lid.x; // this invocation's query row (query pass) or key row (key pass)
  let valid = r < T;
  let base = bh * T * HD;
  let causal = params.causal != 0u;
  var ra: VecD; // q_i·scale (query pass) or k_j (key pass)
  var rb: VecD; // dO_i (query pass) or v_j (key pass)
  var acc1: VecD;
  var acc2: VecD;
  for (var d = 0u; d < HD; d++) {
    ra[d] = 0.0;
    rb[d] = 0.0;
    if (valid && KV_PASS) { ra[d] = k[base + r * HD + d]; rb[d] = v[base + r * HD + d]; }
    if (valid && !KV_PASS) { ra[d] = q[base + r * HD + d] * params.scale; rb[d] = dout[base + r * HD + d]; }
    acc1[d] = 0.0;
    acc2[d] = 0.0;
  }
  var lse_i = 0.0;
  var d_i = 0.0;
  if (!KV_PASS && valid) { lse_i = lse[bh * T + r]; d_i = di[bh * T + r]; }
  let kok_r = valid && key_ok(b, r);
  // Range of streamed rows: keys 0..end of this query block, or queries from this key block on.
  var start = 0u;
  var end = T;
  if (causal && !KV_PASS) { end = min(T, (wid.x + 1u) * BQ); }
  if (causal && KV_PASS) { start = wid.x * BQ; }
  for (var sb = start; sb < end; sb += BK) {
    for (var e = lid.x; e < BK * HD; e += BQ) {
      let s = sb + e / HD;
      let inb = s < T;
      var av = 0.0;
      var bv = 0.0;
      if (inb && KV_PASS) { av = q[base + sb * HD + e]; bv = dout[base + sb * HD + e]; }
      if (inb && !KV_PASS) { av = k[base + sb * HD + e]; bv = v[base + sb * HD + e]; }
      As[e] = av;
      Bs[e] = bv;
    }
    if (KV_PASS) {
      for (var ss = lid.x; ss < BK; ss += BQ) {
        let s = sb + ss;
        var st = vec2<f32>(0.0, 0.0);
        if (s < T) { st = vec2<f32>(lse[bh * T + s], di[bh * T + s]); }
        rs[ss] = st;
      }
    }
    workgroupBarrier();
    if (valid) {
      for (var ss = 0u; ss < BK; ss++) {
        let s = sb + ss;
        if (s >= T) { break; }
        if (KV_PASS) {
          // r = key j, s = query i
          if (!kok_r || (causal && r > s)) { continue; }
          var sc = 0.0;
          var dpd = 0.0;
          for (var d = 0u; d < HD; d++) {
            sc = fma(As[ss * HD + d], ra[d], sc);
            dpd = fma(Bs[ss * HD + d], rb[d], dpd);
          }
          let p = exp(sc * params.scale - rs[ss].x);
          let z = keep_scale(bh, s, r);
          let ds = p * (z * dpd - rs[ss].y);
          let pz = p * z;
          for (var d = 0u; d < HD; d++) {
            acc1[d] = fma(ds, As[ss * HD + d], acc1[d]);
            acc2[d] = fma(pz, Bs[ss * HD + d], acc2[d]);
          }
        } else {
          // r = query i, s = key j
          if (!key_ok(b, s) || (causal && s > r)) { continue; }
          var sc = 0.0;
          var dpd = 0.0;
          for (var d = 0u; d < HD; d++) {
            sc = fma(ra[d], As[ss * HD + d], sc);
            dpd = fma(rb[d], Bs[ss * HD + d], dpd);
          }
          let p = exp(sc - lse_i);
          let ds = p * (keep_scale(bh, r, s) * dpd - d_i);
          for (var d = 0u; d < HD; d++) { acc1[d] = fma(ds, As[ss * HD + d], acc1[d]); }
        }
      }
    }
    workgroupBarrier();
  }
  if (valid) {
    for (var d = 0u; d < HD; d++) {
      out1[base + r * HD + d] = acc1[d] * params.scale;
      if (KV_PASS) { out2[base + r * HD + d] = acc2[d]; }
    }
  }
}
