// dq_part() of the one-pass backward (flash_bwd_kv_blocked.wgsl with this file): the key block's
// share of dQ for query block ib, dQ_part = scale·dS·K, added into dq with float atomics, so
// dQ's sums run in no fixed order; dq must be zero beforehand. Square blocks (WY = HD/4, BKR =
// BQC = HD): the thread's dS (4 keys × 8 queries) is written again as [key][query] over P's
// region (the dK product read it as [query][key] and ended on a barrier), and dQ_part takes
// TK-key slices of K.
fn dq_part(ds: ptr<function, array<vec4<f32>, 8>>, k0: u32, ib: u32, base: u32, tid: u32, lid: vec3<u32>) {
  let fa = fetch_rows(&k, base, k0, 1.0, tid);
  for (var i = 0u; i < 4u; i++) {
    for (var h = 0u; h < 2u; h++) { Sh[P_OFF + (4u * lid.y + i) * WY + h * WX + lid.x] = ds[i * 2u + h]; }
  }
  workgroupBarrier();
  var acc: array<vec4<f32>, 8>;
  for (var e = 0u; e < 8u; e++) { acc[e] = vec4<f32>(0.0); }
  row_product4(&acc, fa, &k, k0, BKR, 1.0, false, base, tid, lid);
  for (var i = 0u; i < 4u; i++) {
    let row = ib + 4u * lid.y + i;
    if (row >= params.T) { continue; }
    for (var h = 0u; h < 2u; h++) {
      let at = base + row * HD + h * 4u * WX + 4u * lid.x;
      for (var c = 0u; c < 4u; c++) { add_dq(at + c, acc[i * 2u + h][c] * params.scale); }
    }
  }
}

// dq[i] += x (f32 bits in atomic<u32>: WGSL has no float atomics, so a compare-exchange loop);
// skipped for 0 (masked rows and blocks).
fn add_dq(i: u32, x: f32) {
  if (x == 0.0) { return; }
  var old = atomicLoad(&dq[i]);
  loop {
    let r = atomicCompareExchangeWeak(&dq[i], old, bitcast<u32>(bitcast<f32>(old) + x));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
