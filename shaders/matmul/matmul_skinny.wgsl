// Skinny batched C[b] = op(A[b]) @ op(B[b]) for few rows (M ≤ ~16, token-by-token decoding): a
// GEMV-style kernel. The register and tiled kernels compute whole 64-row tiles, so with M = 1 they
// do up to 64× the needed work; here an invocation computes 4 columns of C for ROWS rows (an
// override, 1..8, chosen from M at launch so unused accumulators fold away), and the grid's y
// covers M in groups of ROWS. KS invocations of a workgroup split K between them (k ≡ lid.x mod
// KS, so with TRANS_B consecutive invocations read consecutive elements of a row of B) and add
// their partial sums through workgroup memory; with KS = 1 (CPU adapters, where barriers are
// emulated) there is no workgroup memory traffic or barrier. WN column groups share a workgroup.
// Element (i, k) of op(A) is at oa_i + k·sa and (k, j) of op(B) at ob_j + k·sb, covering both
// layouts of each operand; rows/columns past the edge are clamped on load and never stored. Stores
// go through epilogue(m, n, v) like the other matmul kernels.

var<workgroup> part: array<vec4<f32>, KS * WN * 8u>;

fn store4(base: u32, m: u32, n0: u32, v: vec4<f32>) {
  if (m >= params.M) { return; }
  let r = base + m * params.N;
  for (var j = 0u; j < 4u; j++) {
    if (n0 + j < params.N) { c[r + n0 + j] = T(epilogue(m, n0 + j, v[j])); }
  }
}

@compute @workgroup_size(KS, WN)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let batch = wid.z;
  let n0 = (wid.x * WN + lid.y) * 4u;
  let m0 = wid.y * ROWS;
  var oa: array<u32, 8>;
  for (var i = 0u; i < 8u; i++) {
    let m = min(m0 + i, M - 1u);
    oa[i] = batch * params.a_batch_stride + select(m * K, m, TRANS_A);
  }
  var ob: array<u32, 4>;
  for (var j = 0u; j < 4u; j++) {
    let n = min(n0 + j, N - 1u);
    ob[j] = batch * params.b_batch_stride + select(n, n * K, TRANS_B);
  }
  let sa = select(1u, M, TRANS_A);
  let sb = select(N, 1u, TRANS_B);
  let a0 = oa[0]; let a1 = oa[1]; let a2 = oa[2]; let a3 = oa[3]; let a4 = oa[4]; let a5 = oa[5]; let a6 = oa[6]; let a7 = oa[7];
  let b0 = ob[0]; let b1 = ob[1]; let b2 = ob[2]; let b3 = ob[3];
  var c0 = vec4<f32>(); var c1 = vec4<f32>(); var c2 = vec4<f32>(); var c3 = vec4<f32>();
  var c4 = vec4<f32>(); var c5 = vec4<f32>(); var c6 = vec4<f32>(); var c7 = vec4<f32>();
  var ka = lid.x * sa;
  var kb = lid.x * sb;
  let da = KS * sa;
  let db = KS * sb;
  for (var k = lid.x; k < K; k += KS) {
    let bv = vec4<f32>(f32(b[b0 + kb]), f32(b[b1 + kb]), f32(b[b2 + kb]), f32(b[b3 + kb]));
    // ROWS is an override: the untaken branches are removed when the pipeline is compiled.
    c0 = fma(vec4<f32>(f32(a[a0 + ka])), bv, c0);
    if (ROWS > 1u) { c1 = fma(vec4<f32>(f32(a[a1 + ka])), bv, c1); }
    if (ROWS > 2u) { c2 = fma(vec4<f32>(f32(a[a2 + ka])), bv, c2); }
    if (ROWS > 3u) { c3 = fma(vec4<f32>(f32(a[a3 + ka])), bv, c3); }
    if (ROWS > 4u) { c4 = fma(vec4<f32>(f32(a[a4 + ka])), bv, c4); }
    if (ROWS > 5u) { c5 = fma(vec4<f32>(f32(a[a5 + ka])), bv, c5); }
    if (ROWS > 6u) { c6 = fma(vec4<f32>(f32(a[a6 + ka])), bv, c6); }
    if (ROWS > 7u) { c7 = fma(vec4<f32>(f32(a[a7 + ka])), bv, c7); }
    ka += da;
    kb += db;
  }
  let cb = batch * M * N;
  if (KS == 1u) {
    store4(cb, m0, n0, c0);
    if (ROWS > 1u) { store4(cb, m0 + 1u, n0, c1); }
    if (ROWS > 2u) { store4(cb, m0 + 2u, n0, c2); }
    if (ROWS > 3u) { store4(cb, m0 + 3u, n0, c3); }
    if (ROWS > 4u) { store4(cb, m0 + 4u, n0, c4); }
    if (ROWS > 5u) { store4(cb, m0 + 5u, n0, c5); }
    if (ROWS > 6u) { store4(cb, m0 + 6u, n0, c6); }
    if (ROWS > 7u) { store4(cb, m0 + 7u, n0, c7); }
  } else {
    // Partial sums [column group][k slice][row]; invocation x < ROWS of a column group adds row x.
    let s = (lid.y * KS + lid.x) * 8u;
    part[s] = c0; part[s + 1u] = c1; part[s + 2u] = c2; part[s + 3u] = c3;
    part[s + 4u] = c4; part[s + 5u] = c5; part[s + 6u] = c6; part[s + 7u] = c7;
    workgroupBarrier();
    for (var r = lid.x; r < ROWS; r += KS) {
      var v = vec4<f32>();
      for (var x = 0u; x < KS; x++) { v += part[(lid.y * KS + x) * 8u + r]; }
      store4(cb, m0 + r, n0, v);
    }
  }
}
