// Fused causal attention forward for GPUs, workgroup-blocked (see blocked_common.wgsl): a workgroup
// of WX×WY threads (WX = HD/8) owns BQ = 8·WY query rows of one (batch, head) and walks the key
// blocks of BK = HD keys up to its diagonal. Per key block:
//   S = (scale·Q)·Kᵀ over TK-deep head-dim slices (each thread an 8×8 block of S in registers);
//   the row maxima are combined across the WX threads sharing rows through workgroup memory, the
//   accumulator rescaled by exp(m_old - m_new), P = exp(S - m_new) (0 where masked);
//   the dropped probabilities Z·P go to workgroup memory as [key][row], and O += (Z·P)·V runs over
//   TK-key slices of V, each thread an 8×8 block of O.
// Row sums l stay per thread (over its own keys, all at the common maximum) and are combined once
// at the end: O = acc / l, lse = m + log l (F32_MAX, with O = 0, for rows with no allowed key).
// Dropout draws the same mask as the composite path (keep4, element ((b·H + h)·T + i)·T + j).
override WX: u32 = HD / 8u;
override BQ: u32 = 8u * WY;
override BK: u32 = HD;
override NT: u32 = WX * WY;
// Workgroup memory: [stage: Q and K slices, or V slices][P: BK × BQ][row partials: WX × BQ].
override P_OFF: u32 = TK * (BQ + BK) / 4u;
override RED_OFF: u32 = P_OFF + BK * BQ / 4u;
var<workgroup> Sh: array<vec4<f32>, RED_OFF + WX * BQ / 4u>;

// Combines the per-thread row partials x (rows lo, hi) across the WX threads sharing them: max or sum.
fn combine_rows(lo: vec4<f32>, hi: vec4<f32>, lid: vec3<u32>, is_max: bool) -> array<vec4<f32>, 2> {
  Sh[RED_OFF + lid.x * 2u * WY + lid.y] = lo;
  Sh[RED_OFF + lid.x * 2u * WY + WY + lid.y] = hi;
  workgroupBarrier();
  var r = array<vec4<f32>, 2>(Sh[RED_OFF + lid.y], Sh[RED_OFF + WY + lid.y]);
  for (var x = 1u; x < WX; x++) {
    let a = Sh[RED_OFF + x * 2u * WY + lid.y];
    let b = Sh[RED_OFF + x * 2u * WY + WY + lid.y];
    if (is_max) { r[0] = max(r[0], a); r[1] = max(r[1], b); } else { r[0] += a; r[1] += b; }
  }
  return r;
}

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
  var acc: array<vec4<f32>, 16>;
  for (var e = 0u; e < 16u; e++) { acc[e] = vec4<f32>(0.0); }
  var m = array<vec4<f32>, 2>(vec4<f32>(F32_LOWEST), vec4<f32>(F32_LOWEST));
  var l = array<vec4<f32>, 2>(vec4<f32>(0.0), vec4<f32>(0.0));
  var kend = T;
  if (params.causal != 0u) { kend = min(T, q0 + BQ); }
  for (var kb = 0u; kb < kend; kb += BK) {
    var s: array<vec4<f32>, 16>;
    for (var e = 0u; e < 16u; e++) { s[e] = vec4<f32>(0.0); }
    head_product8(&s, &q, q0, params.scale, &k, kb, 1.0, base, tid, lid);
    fa = fetch_rows(&v, base, kb, 1.0, tid);
    // Mask, then the block's row maxima.
    let cols = array<vec4<u32>, 2>(cols_of(kb, 0u, lid.x), cols_of(kb, 1u, lid.x));
    let kok = array<vec4<bool>, 2>(keys_ok(b, cols[0]), keys_ok(b, cols[1]));
    var bm = array<vec4<f32>, 2>(vec4<f32>(F32_LOWEST), vec4<f32>(F32_LOWEST));
    for (var r = 0u; r < 2u; r++) {
      for (var i = 0u; i < 4u; i++) {
        for (var h = 0u; h < 2u; h++) {
          let e = r * 8u + i * 2u + h;
          s[e] = select(vec4<f32>(F32_LOWEST), s[e], kok[h] & causal_ok(vec4<u32>(rows[r][i]), cols[h]));
          bm[r][i] = max(bm[r][i], max(max(s[e].x, s[e].y), max(s[e].z, s[e].w)));
        }
      }
    }
    let mb = combine_rows(max(m[0], bm[0]), max(m[1], bm[1]), lid, true);
    for (var r = 0u; r < 2u; r++) {
      let corr = exp(m[r] - mb[r]);
      l[r] *= corr;
      m[r] = mb[r];
      for (var i = 0u; i < 4u; i++) {
        for (var h = 0u; h < 2u; h++) {
          let e = r * 8u + i * 2u + h;
          acc[e] *= corr[i];
          let p = select(vec4<f32>(0.0), exp(s[e] - vec4<f32>(m[r][i])), s[e] > vec4<f32>(F32_LOWEST));
          l[r][i] += dot(p, vec4<f32>(1.0));
          s[e] = p * keep4(key, vec4<u32>((bh * T + rows[r][i]) * T) + cols[h]);
        }
      }
    }
    // Z·P as [key][row] for O += (Z·P)·V.
    put_block8(&s, lid);
    workgroupBarrier();
    row_product8(&acc, fa, &v, kb, BK, 1.0, base, tid, lid);
  }
  let lt = combine_rows(l[0], l[1], lid, false);
  for (var r = 0u; r < 2u; r++) {
    let inv = select(vec4<f32>(0.0), 1.0 / lt[r], lt[r] > vec4<f32>(0.0));
    for (var i = 0u; i < 4u; i++) {
      let row = rows[r][i];
      if (row >= T) { continue; }
      let at = (base + row * HD) / 4u;
      o[at + lid.x] = acc[r * 8u + i * 2u] * inv[i];
      o[at + WX + lid.x] = acc[r * 8u + i * 2u + 1u] * inv[i];
      if (lid.x == 0u) { lse[bh * T + row] = select(F32_MAX, m[r][i] + log(lt[r][i]), lt[r][i] > 0.0); }
    }
  }
}
