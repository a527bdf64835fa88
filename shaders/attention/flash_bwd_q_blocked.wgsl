// Fused attention backward, dQ pass, workgroup-blocked for GPUs (see blocked_common.wgsl and
// flash_fwd_blocked.wgsl, whose geometry it shares: BQ = 8·WY query rows per workgroup, key
// blocks of BK = HD). Per key block, recomputing from the saved lse and D_i = rowsum(dO∘O):
//   S = (scale·Q)·Kᵀ, P = exp(S - lse) (0 where masked), kept in workgroup memory as [key][row];
//   dP = dO·Vᵀ, dS = P·(Z·dP - D_i) written over P;
//   dQ += dS·K over TK-key slices of K.
// Writes dQ·scale to out1.
override WX: u32 = HD / 8u;
override BQ: u32 = 8u * WY;
override BK: u32 = HD;
override NT: u32 = WX * WY;
// Workgroup memory: [stage: Q and K, dO and V, or K slices][P, then dS: BK × BQ].
override P_OFF: u32 = TK * (BQ + BK) / 4u;
var<workgroup> Sh: array<vec4<f32>, P_OFF + BK * BQ / 4u>;

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let T = params.T;
  let bh = wid.y;
  let b = bh / params.H;
  // Causal blocks near the end have the most keys: they go first, so the short ones fill the tail.
  let q0 = (nwg.x - 1u - wid.x) * BQ;
  let base = bh * T * HD;
  let tid = lid.y * WX + lid.x;
  let key = seed_key();
  var fa: Fetched; // the first row slice of the next row product, in flight
  let rows = query_rows(q0, lid.y);
  // lse and D_i of the thread's rows (rows past T read the last row; never stored).
  var lr: array<vec4<f32>, 2>;
  var dr: array<vec4<f32>, 2>;
  for (var r = 0u; r < 2u; r++) {
    let at = vec4<u32>(bh * T) + min(rows[r], vec4<u32>(T - 1u));
    lr[r] = vec4<f32>(lse[at.x], lse[at.y], lse[at.z], lse[at.w]);
    dr[r] = vec4<f32>(di[at.x], di[at.y], di[at.z], di[at.w]);
  }
  var dq: array<vec4<f32>, 16>;
  for (var e = 0u; e < 16u; e++) { dq[e] = vec4<f32>(0.0); }
  var kend = T;
  if (params.causal != 0u) { kend = min(T, q0 + BQ); }
  for (var kb = 0u; kb < kend; kb += BK) {
    var s: array<vec4<f32>, 16>;
    for (var e = 0u; e < 16u; e++) { s[e] = vec4<f32>(0.0); }
    head_product8(&s, &q, q0, params.scale, &k, kb, 1.0, base, tid, lid);
    let cols = array<vec4<u32>, 2>(cols_of(kb, 0u, lid.x), cols_of(kb, 1u, lid.x));
    let kok = array<vec4<bool>, 2>(keys_ok(b, cols[0]), keys_ok(b, cols[1]));
    for (var r = 0u; r < 2u; r++) {
      for (var i = 0u; i < 4u; i++) {
        for (var h = 0u; h < 2u; h++) {
          let e = r * 8u + i * 2u + h;
          let ok = kok[h] & causal_ok(vec4<u32>(rows[r][i]), cols[h]);
          s[e] = select(vec4<f32>(0.0), exp(s[e] - vec4<f32>(lr[r][i])), ok);
        }
      }
    }
    // P as [key][row] (the thread's own cells; read back below, so no barrier yet).
    put_block8(&s, lid);
    // dP = dO·Vᵀ into s.
    for (var e = 0u; e < 16u; e++) { s[e] = vec4<f32>(0.0); }
    head_product8(&s, &dout, q0, 1.0, &v, kb, 1.0, base, tid, lid);
    fa = fetch_rows(&k, base, kb, 1.0, tid);
    // dS = P·(Z·dP - D_i) over P, a key column (4 rows) at a time.
    for (var h = 0u; h < 2u; h++) {
      for (var c = 0u; c < 4u; c++) {
        let j = kb + h * BK / 2u + 4u * lid.x + c;
        let at = P_OFF + (h * BK / 2u + 4u * lid.x + c) * (BQ / 4u);
        for (var r = 0u; r < 2u; r++) {
          let z = keep4(key, (vec4<u32>(bh * T) + rows[r]) * T + vec4<u32>(j));
          let p = Sh[at + r * WY + lid.y];
          Sh[at + r * WY + lid.y] = p * (z * column4(&s, r * 8u + h, c) - dr[r]);
        }
      }
    }
    workgroupBarrier();
    row_product8(&dq, fa, &k, kb, BK, 1.0, base, tid, lid);
  }
  for (var r = 0u; r < 2u; r++) {
    for (var i = 0u; i < 4u; i++) {
      let row = rows[r][i];
      if (row >= T) { continue; }
      let at = (base + row * HD) / 4u;
      out1[at + lid.x] = dq[r * 8u + i * 2u] * params.scale;
      out1[at + WX + lid.x] = dq[r * 8u + i * 2u + 1u] * params.scale;
    }
  }
}
