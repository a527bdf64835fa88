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
    var x: array<f32, 8>;
    for (var n = 0u; n < 8u; n++) { x[n] = acc[i * 2u + n / 4u][n % 4u] * params.scale; }
    add_dq8(base + row * HD + 4u * lid.x, x);
  }
}

// dq[at + h·4·WX + c] += x[h·4 + c] (h 0..1, c 0..3: the thread's 8 columns of one row). WGSL has no
// float atomics, so each add is a compare-exchange loop on the f32 bits in atomic<u32>. The 8 loads,
// then the 8 first exchanges, are issued before any result is used, so they are in flight together
// (one round trip each instead of 8 in a row); only exchanges that lost a race retry, one at a time.
// Zeros (masked rows and blocks) are skipped.
fn add_dq8(at: u32, x: array<f32, 8>) {
  var old: array<u32, 8>;
  for (var n = 0u; n < 8u; n++) {
    if (x[n] != 0.0) { old[n] = atomicLoad(&dq[at + (n / 4u) * 4u * WX + n % 4u]); }
  }
  var retry: array<bool, 8>;
  for (var n = 0u; n < 8u; n++) {
    retry[n] = false;
    if (x[n] == 0.0) { continue; }
    let r = atomicCompareExchangeWeak(&dq[at + (n / 4u) * 4u * WX + n % 4u], old[n], bitcast<u32>(bitcast<f32>(old[n]) + x[n]));
    retry[n] = !r.exchanged;
    old[n] = r.old_value;
  }
  for (var n = 0u; n < 8u; n++) {
    if (!retry[n]) { continue; }
    let i = at + (n / 4u) * 4u * WX + n % 4u;
    loop {
      let r = atomicCompareExchangeWeak(&dq[i], old[n], bitcast<u32>(bitcast<f32>(old[n]) + x[n]));
      if (r.exchanged) { break; }
      old[n] = r.old_value;
    }
  }
}
