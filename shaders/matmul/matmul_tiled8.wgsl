// Batched C[b] = op(A[b]) @ op(B[b]) for GPUs, with vec4 operands: a workgroup of WX×WY threads
// computes a (WY·8)×(WX·8) tile of C, each thread an 8×8 block held in 16 vec4 accumulators.
// A and B are bound as vec4 along their contiguous dimension (K for A, N for B, swapped by the
// transposes; the caller checks it is a multiple of 4), so every global load is 16 bytes. TK-deep
// slices are staged in workgroup memory as vec4 rows along m and n: a thread's 8 rows are two
// vec4s TM/2 apart (and likewise its columns), so neighbouring threads read neighbouring vec4s in
// the inner loop. The next slice is loaded into registers while the current one is multiplied
// (one slice of workgroup memory, two barriers per slice). Each output is the f32 fma chain over
// k in order, as in matmul.wgsl, so both kernels give the same bits. Stores go through
// epilogue(m, n, v) (identity, or the fused linear epilogue).
// RM, RN: the host's copy is MATMUL_THREAD_BLOCK.tiled8 (src/backend/webgpu/matmul.ts), used for the grid.
const RM = 8u;
const RN = 8u;
// Most vec4 loads per thread per operand and slice (the caller checks TM·TK/4 ≤ 4·WX·WY).
const MAXL = 4u;
var<workgroup> As: array<vec4<f32>, TK * WY * 2u>; // [TK][TM/4]
var<workgroup> Bs: array<vec4<f32>, TK * WX * 2u>; // [TK][TN/4]

// The idx-th vec4 of A's slice at k0 (idx < TM·TK/4): its position in As and its value. The vec4
// runs along k (A is [M, K]: four k of one row, scattered into As) or along m (TRANS_A: one As vec4).
fn load_a(base: u32, row0: u32, k0: u32, idx: u32) -> vec4<f32> {
  let TM = WY * RM;
  if (TRANS_A) {
    let kk = idx / (TM / 4u); let mq = idx % (TM / 4u);
    let k = k0 + kk; let m = row0 + mq * 4u;
    if (k >= params.K || m >= params.M) { return vec4<f32>(0.0); }
    return vec4<f32>(a[(base + k * params.M + m) / 4u]);
  }
  let mm = idx / (TK / 4u); let kq = idx % (TK / 4u);
  let m = row0 + mm; let k = k0 + kq * 4u;
  if (m >= params.M || k >= params.K) { return vec4<f32>(0.0); }
  return vec4<f32>(a[(base + m * params.K + k) / 4u]);
}

fn store_a(idx: u32, v: vec4<f32>) {
  let TM = WY * RM;
  if (TRANS_A) { As[idx] = v; return; }
  let mm = idx / (TK / 4u); let kq = idx % (TK / 4u);
  for (var c = 0u; c < 4u; c++) { As[(kq * 4u + c) * (TM / 4u) + mm / 4u][mm % 4u] = v[c]; }
}

fn load_b(base: u32, col0: u32, k0: u32, idx: u32) -> vec4<f32> {
  let TN = WX * RN;
  if (TRANS_B) {
    let nn = idx / (TK / 4u); let kq = idx % (TK / 4u);
    let n = col0 + nn; let k = k0 + kq * 4u;
    if (n >= params.N || k >= params.K) { return vec4<f32>(0.0); }
    return vec4<f32>(b[(base + n * params.K + k) / 4u]);
  }
  let kk = idx / (TN / 4u); let nq = idx % (TN / 4u);
  let k = k0 + kk; let n = col0 + nq * 4u;
  if (k >= params.K || n >= params.N) { return vec4<f32>(0.0); }
  return vec4<f32>(b[(base + k * params.N + n) / 4u]);
}

fn store_b(idx: u32, v: vec4<f32>) {
  let TN = WX * RN;
  if (!TRANS_B) { Bs[idx] = v; return; }
  let nn = idx / (TK / 4u); let kq = idx % (TK / 4u);
  for (var c = 0u; c < 4u; c++) { Bs[(kq * 4u + c) * (TN / 4u) + nn / 4u][nn % 4u] = v[c]; }
}

fn store_c(base: u32, m: u32, n: u32, v: vec4<f32>) {
  if (m >= params.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (n + j < params.N) { c[base + m * params.N + n + j] = T(epilogue(m, n + j, v[j])); }
  }
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let TM = WY * RM;
  let TN = WX * RN;
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let a_base = wid.z * params.a_batch_stride;
  let b_base = wid.z * params.b_batch_stride;
  let tid = lid.y * WX + lid.x;
  let nthreads = WX * WY;
  let LA = (TM * TK / 4u) / nthreads; // vec4 loads per thread and slice
  let LB = (TN * TK / 4u) / nthreads;
  var acc: array<vec4<f32>, 16>; // rows i (0..7) × column halves h: acc[i * 2 + h]
  for (var i = 0u; i < 16u; i++) { acc[i] = vec4<f32>(0.0); }
  var pa: array<vec4<f32>, MAXL>;
  var pb: array<vec4<f32>, MAXL>;
  for (var l = 0u; l < LA; l++) { pa[l] = load_a(a_base, row0, 0u, tid + l * nthreads); }
  for (var l = 0u; l < LB; l++) { pb[l] = load_b(b_base, col0, 0u, tid + l * nthreads); }

  for (var t = 0u; t < params.K; t += TK) {
    for (var l = 0u; l < LA; l++) { store_a(tid + l * nthreads, pa[l]); }
    for (var l = 0u; l < LB; l++) { store_b(tid + l * nthreads, pb[l]); }
    workgroupBarrier();
    // The next slice's global loads are issued before this slice's arithmetic.
    let next = t + TK;
    if (next < params.K) {
      for (var l = 0u; l < LA; l++) { pa[l] = load_a(a_base, row0, next, tid + l * nthreads); }
      for (var l = 0u; l < LB; l++) { pb[l] = load_b(b_base, col0, next, tid + l * nthreads); }
    }
    for (var kk = 0u; kk < TK; kk++) {
      let a0 = As[kk * (TM / 4u) + lid.y];
      let a1 = As[kk * (TM / 4u) + WY + lid.y];
      let b0 = Bs[kk * (TN / 4u) + lid.x];
      let b1 = Bs[kk * (TN / 4u) + WX + lid.x];
      for (var i = 0u; i < 4u; i++) {
        acc[i * 2u] = fma(vec4<f32>(a0[i]), b0, acc[i * 2u]);
        acc[i * 2u + 1u] = fma(vec4<f32>(a0[i]), b1, acc[i * 2u + 1u]);
        acc[8u + i * 2u] = fma(vec4<f32>(a1[i]), b0, acc[8u + i * 2u]);
        acc[8u + i * 2u + 1u] = fma(vec4<f32>(a1[i]), b1, acc[8u + i * 2u + 1u]);
      }
    }
    workgroupBarrier();
  }
  let c_base = wid.z * params.M * params.N;
  for (var i = 0u; i < 4u; i++) {
    let m0 = row0 + lid.y * 4u + i;
    let m1 = row0 + TM / 2u + lid.y * 4u + i;
    let n0 = col0 + lid.x * 4u;
    let n1 = col0 + TN / 2u + lid.x * 4u;
    store_c(c_base, m0, n0, acc[i * 2u]);
    store_c(c_base, m0, n1, acc[i * 2u + 1u]);
    store_c(c_base, m1, n0, acc[8u + i * 2u]);
    store_c(c_base, m1, n1, acc[8u + i * 2u + 1u]);
  }
}
