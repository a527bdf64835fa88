// Batched C[b] = op(A[b]) @ op(B[b]) without workgroup memory or barriers: each thread computes an
// 8×8 block of C in registers (16 vec4 accumulators), reading A and B straight from storage. On
// CPU adapters (lavapipe) barriers and workgroup memory are emulated and dominate the tiled kernel,
// while the CPU caches serve these repeated reads; this kernel is several times faster there.
// Rows/columns past the edge are clamped to the last one on load (their results are never
// stored), so the inner loop has no branches; element (i, k) of op(A) is at oa_i + k * sa and
// (k, j) of op(B) at ob_j + k * sb, which covers both layouts of each operand. Stores go through
// epilogue(m, n, v) (identity, or a fused epilogue such as lora_epilogue.wgsl).

fn store_row(base: u32, m: u32, n0: u32, v0: vec4<f32>, v1: vec4<f32>) {
  if (m >= params.M) { return; }
  let r = base + m * params.N;
  for (var j = 0u; j < 4u; j++) {
    if (n0 + j < params.N) { c[r + n0 + j] = T(epilogue(m, n0 + j, v0[j])); }
    if (n0 + 4u + j < params.N) { c[r + n0 + 4u + j] = T(epilogue(m, n0 + 4u + j, v1[j])); }
  }
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  // 8×8 outputs per thread (unrolled below); the host's copy is MATMUL_THREAD_BLOCK.regs (matmul.ts).
  let n0 = gid.x * 8u;
  let m0 = gid.y * 8u;
  if (n0 >= params.N || m0 >= params.M) { return; }
  let batch = wid.z;
  let M = params.M;
  let N = params.N;
  let K = params.K;
  // Offsets of the 8 rows of op(A) and the 8 columns of op(B), and their steps along k.
  var oa: array<u32, 8>;
  var ob: array<u32, 8>;
  for (var i = 0u; i < 8u; i++) {
    let m = min(m0 + i, M - 1u);
    let n = min(n0 + i, N - 1u);
    oa[i] = batch * params.a_batch_stride + select(m * K, m, TRANS_A);
    ob[i] = batch * params.b_batch_stride + select(n, n * K, TRANS_B);
  }
  let sa = select(1u, M, TRANS_A);
  let sb = select(N, 1u, TRANS_B);
  let a0 = oa[0]; let a1 = oa[1]; let a2 = oa[2]; let a3 = oa[3]; let a4 = oa[4]; let a5 = oa[5]; let a6 = oa[6]; let a7 = oa[7];
  let b0 = ob[0]; let b1 = ob[1]; let b2 = ob[2]; let b3 = ob[3]; let b4 = ob[4]; let b5 = ob[5]; let b6 = ob[6]; let b7 = ob[7];
  var c00 = vec4<f32>(); var c01 = vec4<f32>(); var c10 = vec4<f32>(); var c11 = vec4<f32>();
  var c20 = vec4<f32>(); var c21 = vec4<f32>(); var c30 = vec4<f32>(); var c31 = vec4<f32>();
  var c40 = vec4<f32>(); var c41 = vec4<f32>(); var c50 = vec4<f32>(); var c51 = vec4<f32>();
  var c60 = vec4<f32>(); var c61 = vec4<f32>(); var c70 = vec4<f32>(); var c71 = vec4<f32>();
  var ka = 0u;
  var kb = 0u;
  for (var k = 0u; k < K; k++) {
    let bl = vec4<f32>(f32(b[b0 + kb]), f32(b[b1 + kb]), f32(b[b2 + kb]), f32(b[b3 + kb]));
    let bh = vec4<f32>(f32(b[b4 + kb]), f32(b[b5 + kb]), f32(b[b6 + kb]), f32(b[b7 + kb]));
    var av = vec4<f32>(f32(a[a0 + ka])); c00 = fma(av, bl, c00); c01 = fma(av, bh, c01);
    av = vec4<f32>(f32(a[a1 + ka])); c10 = fma(av, bl, c10); c11 = fma(av, bh, c11);
    av = vec4<f32>(f32(a[a2 + ka])); c20 = fma(av, bl, c20); c21 = fma(av, bh, c21);
    av = vec4<f32>(f32(a[a3 + ka])); c30 = fma(av, bl, c30); c31 = fma(av, bh, c31);
    av = vec4<f32>(f32(a[a4 + ka])); c40 = fma(av, bl, c40); c41 = fma(av, bh, c41);
    av = vec4<f32>(f32(a[a5 + ka])); c50 = fma(av, bl, c50); c51 = fma(av, bh, c51);
    av = vec4<f32>(f32(a[a6 + ka])); c60 = fma(av, bl, c60); c61 = fma(av, bh, c61);
    av = vec4<f32>(f32(a[a7 + ka])); c70 = fma(av, bl, c70); c71 = fma(av, bh, c71);
    ka += sa;
    kb += sb;
  }
  let cb = batch * M * N;
  store_row(cb, m0, n0, c00, c01);
  store_row(cb, m0 + 1u, n0, c10, c11);
  store_row(cb, m0 + 2u, n0, c20, c21);
  store_row(cb, m0 + 3u, n0, c30, c31);
  store_row(cb, m0 + 4u, n0, c40, c41);
  store_row(cb, m0 + 5u, n0, c50, c51);
  store_row(cb, m0 + 6u, n0, c60, c61);
  store_row(cb, m0 + 7u, n0, c70, c71);
}
