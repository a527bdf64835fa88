// Batched C[b] = op(A[b]) @ op(B[b]) (float accumulation), register-blocked: a workgroup of
// WX×WY threads computes a (WY·4)×(WX·4) tile of C, each thread a 4×4 block, staging TK-deep
// slices of A and B in workgroup memory. Sizes that are not multiples of the tile are handled by
// zero-filled loads and guarded stores. A is [M,K] ([K,M] if TRANS_A), B is [K,N] ([N,K] if TRANS_B).
// Stores go through epilogue(m, n, v) (identity, or a fused epilogue such as lora_epilogue.wgsl).
// RM, RN: the host's copy is MATMUL_THREAD_BLOCK.tiled (src/backend/webgpu/matmul.ts), used for the grid.
const RM = 4u;
const RN = 4u;
// Tiles are staged as S (f32, or f16 for f16 storage: half the workgroup memory per element, so a
// deeper TK fits); products are always accumulated in f32.
var<workgroup> As: array<S, TK * WY * 4u>; // [TK][TM]
var<workgroup> Bs: array<S, TK * WX * 4u>; // [TK][TN]

fn load_a(base: u32, m: u32, k: u32) -> f32 {
  if (m >= params.M || k >= params.K) { return 0.0; }
  if (TRANS_A) { return f32(a[base + k * params.M + m]); }
  return f32(a[base + m * params.K + k]);
}

fn load_b(base: u32, k: u32, n: u32) -> f32 {
  if (k >= params.K || n >= params.N) { return 0.0; }
  if (TRANS_B) { return f32(b[base + n * params.K + k]); }
  return f32(b[base + k * params.N + n]);
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let TM = WY * RM;
  let TN = WX * RN;
  let batch = wid.z;
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let a_base = batch * params.a_batch_stride;
  let b_base = batch * params.b_batch_stride;
  let tid = lid.y * WX + lid.x;
  let nthreads = WX * WY;
  var acc: array<f32, 16>;
  for (var i = 0u; i < 16u; i++) { acc[i] = 0.0; }

  for (var t = 0u; t < params.K; t += TK) {
    // Map threads so that consecutive threads read consecutive global addresses.
    for (var e = tid; e < TK * TM; e += nthreads) {
      var kk: u32; var mm: u32;
      if (TRANS_A) { kk = e / TM; mm = e % TM; } else { mm = e / TK; kk = e % TK; }
      As[kk * TM + mm] = S(load_a(a_base, row0 + mm, t + kk));
    }
    for (var e = tid; e < TK * TN; e += nthreads) {
      var kk: u32; var nn: u32;
      if (TRANS_B) { nn = e / TK; kk = e % TK; } else { kk = e / TN; nn = e % TN; }
      Bs[kk * TN + nn] = S(load_b(b_base, t + kk, col0 + nn));
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var ar: array<f32, 4>;
      var br: array<f32, 4>;
      for (var i = 0u; i < RM; i++) { ar[i] = f32(As[kk * TM + lid.y * RM + i]); }
      for (var j = 0u; j < RN; j++) { br[j] = f32(Bs[kk * TN + lid.x * RN + j]); }
      for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) { acc[i * RN + j] = fma(ar[i], br[j], acc[i * RN + j]); }
      }
    }
    workgroupBarrier();
  }
  let c_base = batch * params.M * params.N;
  for (var i = 0u; i < RM; i++) {
    let m = row0 + lid.y * RM + i;
    if (m >= params.M) { continue; }
    for (var j = 0u; j < RN; j++) {
      let n = col0 + lid.x * RN + j;
      if (n < params.N) { c[c_base + m * params.N + n] = T(epilogue(m, n, acc[i * RN + j])); }
    }
  }
}
