// Fused attention backward, dK/dV pass, workgroup-blocked for GPUs (see blocked_common.wgsl): a
// workgroup of WX×WY threads (WX = HD/8) owns BKR = 4·WY keys of one (batch, head), each thread 4
// keys × 8 columns (4 rows, not 8: the thread holds dK, dV and one score block at once), and walks
// query blocks of BQC = HD queries: from its own key block on (causal), or all of them starting at
// its own block and wrapping. Per query block:
//   Sᵀ = K·(scale·Q)ᵀ, P = exp(S - lse_i) (0 where masked), stored in workgroup memory as
//   [query][key] with the sign carrying the dropout draw (-P where dropped);
//   dV += (Z·P)ᵀ·dO over TK-query slices of dO (max(·, 0) reads the kept P; ·drop_scale at the end);
//   dPᵀ = V·dOᵀ, dS = P·(Z·dP - D_i) written over P (and kept in registers);
//   dK += dSᵀ·(scale·Q) over TK-query slices of Q;
//   dq_part(): nothing in the two-pass backward (flash_dq_none.wgsl, dQ has its own pass), the
//   block's share of dQ in the one-pass backward (flash_dq_atomic.wgsl).
// Writes dK to out1 and dV to out2; padding keys get zero gradients.
override WX: u32 = HD / 8u;
override BKR: u32 = 4u * WY;
override BQC: u32 = HD;
override NT: u32 = WX * WY;
// Workgroup memory: [stage: K and Q, V and dO, dO, Q or K slices][P, then dS: BQC × BKR].
override P_OFF: u32 = TK * (BKR + BQC) / 4u;
var<workgroup> Sh: array<vec4<f32>, P_OFF + BQC * BKR / 4u>;

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let T = params.T;
  let bh = wid.y;
  let b = bh / params.H;
  let k0 = wid.x * BKR;
  let base = bh * T * HD;
  let tid = lid.y * WX + lid.x;
  let key = seed_key();
  var fa: Fetched; // the first row slice of the next row product, in flight
  let keys = vec4<u32>(k0 + 4u * lid.y) + vec4<u32>(0u, 1u, 2u, 3u);
  let kok = keys_ok(b, keys);
  var dk: array<vec4<f32>, 8>;
  var dv: array<vec4<f32>, 8>;
  for (var e = 0u; e < 8u; e++) { dk[e] = vec4<f32>(0.0); dv[e] = dk[e]; }
  // Query blocks: causal, from the workgroup's first key on; otherwise all of them, starting at its
  // own position and wrapping, so the workgroups of one head read (one-pass: add into) other rows.
  let nq = (T + BQC - 1u) / BQC;
  var nb = nq;
  if (params.causal != 0u) { nb = (T - k0 + BQC - 1u) / BQC; }
  for (var t = 0u; t < nb; t++) {
    var ib = (wid.x % nq + t) % nq * BQC;
    if (params.causal != 0u) { ib = k0 + t * BQC; }
    var s: array<vec4<f32>, 8>;
    for (var e = 0u; e < 8u; e++) { s[e] = vec4<f32>(0.0); }
    head_product4(&s, &k, k0, 1.0, &q, ib, params.scale, base, tid, lid);
    fa = fetch_rows(&dout, base, ib, 1.0, tid);
    // Per column half h: the queries, their lse and D_i (clamped reads past T; masked).
    var qs: array<vec4<u32>, 2>;
    var dd: array<vec4<f32>, 2>;
    for (var h = 0u; h < 2u; h++) {
      qs[h] = cols_of(ib, h, lid.x);
      let at = vec4<u32>(bh * T) + min(qs[h], vec4<u32>(T - 1u));
      let li = vec4<f32>(lse[at.x], lse[at.y], lse[at.z], lse[at.w]);
      dd[h] = vec4<f32>(di[at.x], di[at.y], di[at.z], di[at.w]);
      for (var i = 0u; i < 4u; i++) {
        let e = i * 2u + h;
        let ok = vec4<bool>(kok[i]) & (qs[h] < vec4<u32>(T)) & causal_ok(qs[h], vec4<u32>(keys[i]));
        let p = select(vec4<f32>(0.0), exp(s[e] - li), ok);
        let z = keep4(key, (vec4<u32>(bh * T) + qs[h]) * T + vec4<u32>(keys[i]));
        s[e] = select(-p, p, z > vec4<f32>(0.0));
      }
    }
    // Signed P as [query][key] (the thread's own cells; read back below).
    for (var h = 0u; h < 2u; h++) {
      for (var c = 0u; c < 4u; c++) {
        Sh[P_OFF + (h * BQC / 2u + 4u * lid.x + c) * WY + lid.y] = column4_of4(&s, h, c);
      }
    }
    workgroupBarrier();
    row_product4(&dv, fa, &dout, ib, BQC, 1.0, true, base, tid, lid);
    // dPᵀ = V·dOᵀ into s.
    for (var e = 0u; e < 8u; e++) { s[e] = vec4<f32>(0.0); }
    head_product4(&s, &v, k0, 1.0, &dout, ib, 1.0, base, tid, lid);
    fa = fetch_rows(&q, base, ib, params.scale, tid);
    // dS = P·(Z·dP - D_i) over P and over dP in s (in place: each column is read, then written), a
    // query column (4 keys) at a time; kept iff the sign is +.
    for (var h = 0u; h < 2u; h++) {
      for (var c = 0u; c < 4u; c++) {
        let at = P_OFF + (h * BQC / 2u + 4u * lid.x + c) * WY + lid.y;
        let sp = Sh[at];
        let z = select(vec4<f32>(0.0), vec4<f32>(params.drop_scale), sp > vec4<f32>(0.0));
        let ds = abs(sp) * (z * column4_of4(&s, h, c) - vec4<f32>(dd[h][c]));
        Sh[at] = ds;
        for (var i = 0u; i < 4u; i++) { s[i * 2u + h][c] = ds[i]; }
      }
    }
    workgroupBarrier();
    row_product4(&dk, fa, &q, ib, BQC, params.scale, false, base, tid, lid);
    dq_part(&s, k0, ib, base, tid, lid);
  }
  for (var i = 0u; i < 4u; i++) {
    let j = keys[i];
    if (j >= T) { continue; }
    let at = (base + j * HD) / 4u;
    out1[at + lid.x] = dk[i * 2u];
    out1[at + WX + lid.x] = dk[i * 2u + 1u];
    out2[at + lid.x] = dv[i * 2u] * params.drop_scale;
    out2[at + WX + lid.x] = dv[i * 2u + 1u] * params.drop_scale;
  }
}
