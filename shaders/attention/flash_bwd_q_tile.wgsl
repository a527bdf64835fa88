// Fused attention backward, dQ pass, register-tiled (CPU adapters; see tile_common.wgsl): a thread
// owns 8 query rows and streams keys in blocks of 8, recomputing S and dP = dO·Vᵀ for the 8×8 block
// in registers (one pass over d), then P = exp(S - lse), Z = dropout keep-scale,
// dS = P·(Z·dP - D_i) and dQ += dS·K (dQ: 8 rows × HD in private memory). Writes dQ·scale.
// The key range is workgroup-uniform; causal blocks past the workgroup's last row are skipped,
// and so are blocks whose keys are all padding.
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
  let rl = bh * T + min(il, vec4<u32>(T - 1u));
  let rh = bh * T + min(ih, vec4<u32>(T - 1u));
  let lsel = vec4<f32>(lse[rl.x], lse[rl.y], lse[rl.z], lse[rl.w]);
  let lseh = vec4<f32>(lse[rh.x], lse[rh.y], lse[rh.z], lse[rh.w]);
  let dil = vec4<f32>(di[rl.x], di[rl.y], di[rl.z], di[rl.w]);
  let dih = vec4<f32>(di[rh.x], di[rh.y], di[rh.z], di[rh.w]);
  var acc: AccD;
  for (var d = 0u; d < 2u * HD; d++) { acc[d] = vec4<f32>(0.0); }
  let kend = key_end(wid.x);
  for (var kb = 0u; kb < kend; kb += 8u) {
    var kok: array<bool, 8>;
    var ko: array<u32, 8>;
    if (!key_block(b, base, kb, &ko, &kok)) { continue; }
    var sl: array<vec4<f32>, 8>;
    var sh: array<vec4<f32>, 8>;
    var pl: array<vec4<f32>, 8>;
    var ph: array<vec4<f32>, 8>;
    for (var j = 0u; j < 8u; j++) { sl[j] = vec4<f32>(0.0); sh[j] = sl[j]; pl[j] = sl[j]; ph[j] = sl[j]; }
    for (var d = 0u; d < HD; d++) {
      let qd = lanes8(&q, &qo, d);
      let gd = lanes8(&dout, &qo, d);
      for (var j = 0u; j < 8u; j++) {
        let kv = vec4<f32>(k[ko[j] + d]);
        let vv = vec4<f32>(v[ko[j] + d]);
        sl[j] = fma(qd.lo, kv, sl[j]);
        sh[j] = fma(qd.hi, kv, sh[j]);
        pl[j] = fma(gd.lo, vv, pl[j]);
        ph[j] = fma(gd.hi, vv, ph[j]);
      }
    }
    for (var j = 0u; j < 8u; j++) {
      let jj = vec4<u32>(kb + j);
      let okl = visible(kok[j], kb + j, il);
      let okh = visible(kok[j], kb + j, ih);
      let el = select(vec4<f32>(0.0), exp(sl[j] * params.scale - lsel), okl);
      let eh = select(vec4<f32>(0.0), exp(sh[j] * params.scale - lseh), okh);
      sl[j] = el * (keep4(key, (bh * T + il) * T + jj) * pl[j] - dil);
      sh[j] = eh * (keep4(key, (bh * T + ih) * T + jj) * ph[j] - dih);
    }
    for (var d = 0u; d < HD; d++) {
      var al = acc[2u * d];
      var ah = acc[2u * d + 1u];
      for (var j = 0u; j < 8u; j++) {
        let kv = vec4<f32>(k[ko[j] + d]);
        al = fma(sl[j], kv, al);
        ah = fma(sh[j], kv, ah);
      }
      acc[2u * d] = al;
      acc[2u * d + 1u] = ah;
    }
  }
  for (var r = 0u; r < 8u; r++) {
    if (i0 + r >= T) { break; }
    let hi = select(1u, 0u, r < 4u);
    for (var d = 0u; d < HD; d++) { out1[qo[r] + d] = acc[2u * d + hi][r & 3u] * params.scale; }
  }
}
