// Fused attention backward, dK/dV pass, register-tiled (CPU adapters; see tile_common.wgsl): a
// thread owns 8 key rows and streams queries in blocks of 8 (from the workgroup's first key on when
// causal), recomputing Sᵀ and dPᵀ for the 8×8 block in registers, then P = exp(S - lse_i),
// Z = dropout keep-scale, dS = P·(Z·dP - D_i), dV += (Z·P)ᵀ·dO and dK += dSᵀ·Q (8 rows × HD each
// in private memory). Writes dK·scale to out1 and dV to out2. Padding keys get zero gradients.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let T = params.T;
  let bh = wid.y;
  let b = bh / params.H;
  let j0 = gid.x * 8u;
  let base = bh * T * HD;
  let key = seed_key();
  var ko: array<u32, 8>;
  var kok: array<bool, 8>;
  for (var r = 0u; r < 8u; r++) {
    ko[r] = row_off(base, j0 + r);
    kok[r] = key_ok(b, j0 + r);
  }
  let jl = vec4<u32>(j0) + vec4<u32>(0u, 1u, 2u, 3u);
  let jh = jl + vec4<u32>(4u);
  let kol = vec4<bool>(kok[0], kok[1], kok[2], kok[3]);
  let koh = vec4<bool>(kok[4], kok[5], kok[6], kok[7]);
  var dk: AccD;
  var dv: AccD;
  for (var d = 0u; d < 2u * HD; d++) { dk[d] = vec4<f32>(0.0); dv[d] = dk[d]; }
  let c = params.causal != 0u;
  var start = 0u;
  if (c) { start = wid.x * WG * 8u; }
  for (var ib = start; ib < T; ib += 8u) {
    var qo: array<u32, 8>;
    for (var i = 0u; i < 8u; i++) { qo[i] = row_off(base, ib + i); }
    var sl: array<vec4<f32>, 8>;
    var sh: array<vec4<f32>, 8>;
    var pl: array<vec4<f32>, 8>;
    var ph: array<vec4<f32>, 8>;
    for (var i = 0u; i < 8u; i++) { sl[i] = vec4<f32>(0.0); sh[i] = sl[i]; pl[i] = sl[i]; ph[i] = sl[i]; }
    for (var d = 0u; d < HD; d++) {
      let kd = lanes8(&k, &ko, d);
      let vd = lanes8(&v, &ko, d);
      for (var i = 0u; i < 8u; i++) {
        let qv = vec4<f32>(q[qo[i] + d]);
        let gv = vec4<f32>(dout[qo[i] + d]);
        sl[i] = fma(kd.lo, qv, sl[i]);
        sh[i] = fma(kd.hi, qv, sh[i]);
        pl[i] = fma(vd.lo, gv, pl[i]);
        ph[i] = fma(vd.hi, gv, ph[i]);
      }
    }
    // sl/sh become Z·P (for dV), pl/ph become dS (for dK).
    for (var i = 0u; i < 8u; i++) {
      let row = ib + i;
      let ok = row < T;
      let r = bh * T + min(row, T - 1u);
      let li = lse[r];
      let dd = di[r];
      let ii = vec4<u32>(row);
      let okl = kol & vec4<bool>(ok) & (vec4<bool>(!c) | (jl <= ii));
      let okh = koh & vec4<bool>(ok) & (vec4<bool>(!c) | (jh <= ii));
      let el = select(vec4<f32>(0.0), exp(sl[i] * params.scale - li), okl);
      let eh = select(vec4<f32>(0.0), exp(sh[i] * params.scale - li), okh);
      let zl = keep4(key, vec4<u32>(r * T) + jl);
      let zh = keep4(key, vec4<u32>(r * T) + jh);
      sl[i] = el * zl;
      sh[i] = eh * zh;
      pl[i] = el * (zl * pl[i] - dd);
      ph[i] = eh * (zh * ph[i] - dd);
    }
    for (var d = 0u; d < HD; d++) {
      var vl = dv[2u * d];
      var vh = dv[2u * d + 1u];
      var kl = dk[2u * d];
      var kh = dk[2u * d + 1u];
      for (var i = 0u; i < 8u; i++) {
        let gv = vec4<f32>(dout[qo[i] + d]);
        let qv = vec4<f32>(q[qo[i] + d]);
        vl = fma(sl[i], gv, vl);
        vh = fma(sh[i], gv, vh);
        kl = fma(pl[i], qv, kl);
        kh = fma(ph[i], qv, kh);
      }
      dv[2u * d] = vl;
      dv[2u * d + 1u] = vh;
      dk[2u * d] = kl;
      dk[2u * d + 1u] = kh;
    }
  }
  for (var r = 0u; r < 8u; r++) {
    if (j0 + r >= T) { break; }
    let hi = select(1u, 0u, r < 4u);
    for (var d = 0u; d < HD; d++) {
      out1[ko[r] + d] = dk[2u * d + hi][r & 3u] * params.scale;
      out2[ko[r] + d] = dv[2u * d + hi][r & 3u];
    }
  }
}
