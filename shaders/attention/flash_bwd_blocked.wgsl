// Fused attention backward in one pass, workgroup-blocked for GPUs: the dK/dV pass
// (flash_bwd_kv_blocked.wgsl) that also adds each key block's share of dQ, so the probabilities
// are recomputed once instead of twice (5 block products per block pair instead of 9 over the
// two passes). Square blocks: WY = HD/4, so a workgroup's BKR = 4·WY keys and each query block's
// BQC = HD queries are both HD. Per query block, after dK and dV as in the dK/dV pass:
//   dS is written again as [key][query] (the dK product read it as [query][key]);
//   dQ_part = dS·K over TK-key slices of K, added to dq with float atomics (a compare-exchange
//   loop: WGSL has none for f32), so dQ's sums run in no fixed order. dq must be zero beforehand.
// Writes dK to out1 and dV to out2; padding keys get zero gradients.
override WX: u32 = HD / 8u;
override BKR: u32 = 4u * WY;
override BQC: u32 = HD;
override NT: u32 = WX * WY;
// Workgroup memory: [stage: K and Q, V and dO, dO, Q or K slices][P, then dS: BQC × BKR].
override P_OFF: u32 = TK * (BKR + BQC) / 4u;
var<workgroup> Sh: array<vec4<f32>, P_OFF + BQC * BKR / 4u>;

// dq[i] += x (f32 bits in atomic<u32>); skipped for 0 (masked rows and blocks).
fn add_dq(i: u32, x: f32) {
  if (x == 0.0) { return; }
  var old = atomicLoad(&dq[i]);
  loop {
    let r = atomicCompareExchangeWeak(&dq[i], old, bitcast<u32>(bitcast<f32>(old) + x));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
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
  // Causal: query blocks from the workgroup's own to the last. Otherwise all of them, starting at its
  // own and wrapping, so the workgroups of one head add into different dQ rows at a time.
  var nb = nwg.x;
  if (params.causal != 0u) { nb = nwg.x - wid.x; }
  for (var t = 0u; t < nb; t++) {
    let ib = (wid.x + t) % nwg.x * BQC;
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
    // dS again as [key][query] (row_product4 ended on a barrier: P's region is free), then dQ_part.
    fa = fetch_rows(&k, base, k0, 1.0, tid);
    for (var i = 0u; i < 4u; i++) {
      for (var h = 0u; h < 2u; h++) { Sh[P_OFF + (4u * lid.y + i) * WY + h * WX + lid.x] = s[i * 2u + h]; }
    }
    workgroupBarrier();
    for (var e = 0u; e < 8u; e++) { s[e] = vec4<f32>(0.0); }
    row_product4(&s, fa, &k, k0, BKR, 1.0, false, base, tid, lid);
    for (var i = 0u; i < 4u; i++) {
      let row = ib + 4u * lid.y + i;
      if (row >= T) { continue; }
      for (var h = 0u; h < 2u; h++) {
        let at = base + row * HD + h * 4u * WX + 4u * lid.x;
        for (var c = 0u; c < 4u; c++) { add_dq(at + c, s[i * 2u + h][c] * params.scale); }
      }
    }
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
