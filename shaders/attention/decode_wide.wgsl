// Single-query attention against a KV cache [B, H, S, D] for discrete GPUs (one workgroup of WG per
// (b, h); HD = D, a multiple of 4; q, k, v, o bound as vec4). decode.wgsl does two 6-barrier
// reductions and scalar K loads per 64 keys, which leaves a GPU waiting on latency; here keys go in
// chunks of WG·KPT: (1) each invocation scores KPT keys (vec4 loads of its K rows, q in workgroup
// memory), (2) one two-level max reduction per chunk updates the online softmax (the running sum
// stays per invocation and is reduced once at the end), (3) invocations split into G = WG / (HD/4)
// groups, each owning one vec4 of output dims for every G-th key of the chunk (V rows read
// coalesced); the groups' partial outputs are summed through workgroup memory at the end.
// Masked keys get p = 0; no key allowed → output 0 (as decode.wgsl).
const F32_LOWEST = -3.4028234663852886e38;
const KPT = 4u; // keys per invocation per chunk
const R1 = 16u; // first reduction level: WG values folded into R1 slots (R1² = WG: equal serial steps)
var<workgroup> q_s: array<vec4<f32>, 64>; // HD ≤ 256
var<workgroup> p_s: array<f32, WG * KPT>;
var<workgroup> red: array<f32, WG>;
var<workgroup> red2: array<f32, R1>;
var<workgroup> acc_s: array<vec4<f32>, WG>;

// Two barriers: WG → R1 partials (R1 invocations), then every invocation folds the R1 partials.
// The next call's first barrier keeps its writes of red2 behind this call's reads.
fn wg_reduce(lid: u32, x: f32, is_max: bool) -> f32 {
  red[lid] = x;
  workgroupBarrier();
  if (lid < R1) {
    var r = red[lid];
    for (var i = lid + R1; i < WG; i += R1) { r = select(r + red[i], max(r, red[i]), is_max); }
    red2[lid] = r;
  }
  workgroupBarrier();
  var r = red2[0];
  for (var i = 1u; i < R1; i++) { r = select(r + red2[i], max(r, red2[i]), is_max); }
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lid3.x;
  let bh = wid.x;
  let b = bh / params.H;
  let S = params.S;
  let D4 = HD / 4u;
  let qbase = bh * D4;
  let kbase = bh * S * D4;
  let CH = WG * KPT;
  let G = WG / D4;
  let g = lid / D4;
  let d4 = lid % D4;
  if (lid < D4) { q_s[lid] = q[qbase + lid]; }
  workgroupBarrier();
  var m = F32_LOWEST;
  var l = 0.0; // this invocation's share of the softmax denominator, relative to m
  var acc = vec4<f32>(0.0);
  var sc: array<f32, KPT>;
  var okk: array<bool, KPT>;
  for (var kb = 0u; kb < S; kb += CH) {
    var tmax = F32_LOWEST;
    for (var r = 0u; r < KPT; r++) {
      let j = kb + r * WG + lid;
      var ok = j < S;
      if (ok && params.has_mask != 0u) { ok = mask[b * S + j] != 0.0; }
      var s = F32_LOWEST;
      if (ok) {
        let row = kbase + j * D4;
        var a = vec4<f32>(0.0);
        for (var t = 0u; t < D4; t++) { a = fma(q_s[t], k[row + t], a); }
        s = (a.x + a.y + a.z + a.w) * params.scale;
        tmax = max(tmax, s);
      }
      sc[r] = s;
      okk[r] = ok;
    }
    // Workgroup-uniform; stays F32_LOWEST (corr = 1, all p = 0) until some key is allowed.
    let mn = max(m, wg_reduce(lid, tmax, true));
    let corr = exp(m - mn);
    var ps = 0.0;
    for (var r = 0u; r < KPT; r++) {
      let p = select(0.0, exp(sc[r] - mn), okk[r]);
      p_s[r * WG + lid] = p;
      ps += p;
    }
    l = l * corr + ps;
    m = mn;
    workgroupBarrier();
    if (g < G) {
      let n = min(CH, S - kb);
      // Two keys per step, no branch on p = 0: independent loads the compiler can issue together.
      var a0 = acc * corr;
      var a1 = vec4<f32>(0.0);
      let vb = kbase + kb * D4 + d4;
      var jj = g;
      for (; jj + G < n; jj += 2u * G) {
        a0 = fma(vec4<f32>(p_s[jj]), v[vb + jj * D4], a0);
        a1 = fma(vec4<f32>(p_s[jj + G]), v[vb + (jj + G) * D4], a1);
      }
      if (jj < n) { a0 = fma(vec4<f32>(p_s[jj]), v[vb + jj * D4], a0); }
      acc = a0 + a1;
    }
    // No barrier here: the next chunk writes p_s only after wg_reduce's first barrier.
  }
  let lsum = wg_reduce(lid, l, false);
  acc_s[lid] = acc;
  workgroupBarrier();
  if (lid < D4) {
    var a = acc_s[lid];
    for (var gg = 1u; gg < G; gg++) { a += acc_s[gg * D4 + lid]; }
    o[qbase + lid] = a * select(0.0, 1.0 / lsum, lsum > 0.0);
  }
}
