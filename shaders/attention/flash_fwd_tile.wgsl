// Fused attention forward, register-tiled (CPU adapters; see tile_common.wgsl): a thread owns 8
// query rows of one (batch, head) and streams keys in blocks of 8 with an online softmax. Per block
// S = q·kᵀ (8×8, one key column load per 16 vec4 FMAs), then the accumulator O (8 rows × HD, private
// memory) is rescaled and accumulated from 8 V rows. No workgroup memory, no barriers. Masking,
// dropout index and the lse / fully-masked-row convention are those of flash_fwd.wgsl.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let T = params.T;
  let bh = wid.y;
  let b = bh / params.H;
  let i0 = gid.x * 8u;
  let base = bh * T * HD;
  let key = seed_key();
  var qo: array<u32, 8>;
  for (var r = 0u; r < 8u; r++) { qo[r] = row_off(base, i0 + r); }
  let il = vec4<u32>(i0) + vec4<u32>(0u, 1u, 2u, 3u);
  let ih = il + vec4<u32>(4u);
  var acc: AccD;
  for (var d = 0u; d < 2u * HD; d++) { acc[d] = vec4<f32>(0.0); }
  var ml = vec4<f32>(F32_LOWEST);
  var mh = ml;
  var ll = vec4<f32>(0.0);
  var lh = ll;
  let kend = key_end(wid.x);
  for (var kb = 0u; kb < kend; kb += 8u) {
    var kok: array<bool, 8>;
    var ko: array<u32, 8>;
    if (!key_block(b, base, kb, &ko, &kok)) { continue; }
    var sl: array<vec4<f32>, 8>;
    var sh: array<vec4<f32>, 8>;
    for (var j = 0u; j < 8u; j++) { sl[j] = vec4<f32>(0.0); sh[j] = vec4<f32>(0.0); }
    for (var d = 0u; d < HD; d++) {
      let qd = lanes8(&q, &qo, d);
      for (var j = 0u; j < 8u; j++) {
        let kv = vec4<f32>(k[ko[j] + d]);
        sl[j] = fma(qd.lo, kv, sl[j]);
        sh[j] = fma(qd.hi, kv, sh[j]);
      }
    }
    var okl: array<vec4<bool>, 8>;
    var okh: array<vec4<bool>, 8>;
    var bml = vec4<f32>(F32_LOWEST);
    var bmh = bml;
    for (var j = 0u; j < 8u; j++) {
      okl[j] = visible(kok[j], kb + j, il);
      okh[j] = visible(kok[j], kb + j, ih);
      sl[j] = select(vec4<f32>(F32_LOWEST), sl[j] * params.scale, okl[j]);
      sh[j] = select(vec4<f32>(F32_LOWEST), sh[j] * params.scale, okh[j]);
      bml = max(bml, sl[j]);
      bmh = max(bmh, sh[j]);
    }
    let nl = max(ml, bml);
    let nh = max(mh, bmh);
    let cl = exp(ml - nl);
    let ch = exp(mh - nh);
    ml = nl;
    mh = nh;
    ll *= cl;
    lh *= ch;
    for (var j = 0u; j < 8u; j++) {
      let pl = select(vec4<f32>(0.0), exp(sl[j] - nl), okl[j]);
      let ph = select(vec4<f32>(0.0), exp(sh[j] - nh), okh[j]);
      ll += pl;
      lh += ph;
      // dropout acts on the normalised probabilities; the common 1/l is applied at the end
      sl[j] = pl * keep4(key, (bh * T + il) * T + vec4<u32>(kb + j));
      sh[j] = ph * keep4(key, (bh * T + ih) * T + vec4<u32>(kb + j));
    }
    for (var d = 0u; d < HD; d++) {
      var al = acc[2u * d] * cl;
      var ah = acc[2u * d + 1u] * ch;
      for (var j = 0u; j < 8u; j++) {
        let vv = vec4<f32>(v[ko[j] + d]);
        al = fma(sl[j], vv, al);
        ah = fma(sh[j], vv, ah);
      }
      acc[2u * d] = al;
      acc[2u * d + 1u] = ah;
    }
  }
  let invl = select(vec4<f32>(0.0), 1.0 / ll, ll > vec4<f32>(0.0));
  let invh = select(vec4<f32>(0.0), 1.0 / lh, lh > vec4<f32>(0.0));
  let lsel = select(vec4<f32>(F32_MAX), ml + log(ll), ll > vec4<f32>(0.0));
  let lseh = select(vec4<f32>(F32_MAX), mh + log(lh), lh > vec4<f32>(0.0));
  for (var r = 0u; r < 8u; r++) {
    if (i0 + r >= T) { break; }
    let lo = r < 4u;
    let c = r & 3u;
    let inv = select(invh[c], invl[c], lo);
    for (var d = 0u; d < HD; d++) { o[qo[r] + d] = acc[2u * d + select(1u, 0u, lo)][c] * inv; }
    lse[bh * T + i0 + r] = select(lseh[c], lsel[c], lo);
  }
}
