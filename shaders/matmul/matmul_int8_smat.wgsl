// LLM.int8 forward on tensor cores (Dawn's chromium_experimental_subgroup_matrix): the same exact
// i32 C = xq·cbᵀ as matmul_int8_tiled8.wgsl, then the same int8_common.wgsl epilogue per output, so
// y is bit-identical to the other int8 kernels. Experimental (int8GemmTuning.kernel = 'smat').
// Workgroup: NSG = 4 subgroups of SG invocations (SG = the adapter's subgroupMaxSize: the extension
// requires workgroup_size.x to be a multiple of it; subgroup s = local index / SG, which assumes the
// hardware runs full subgroups of SG, as NVIDIA does), 2×2 subgroups over a 128×128 tile of y, each
// subgroup 4×4 result tiles of 16×16 (i8 16×16×32 MMAs, i32 accumulators in 16 named matrices).
// Per K stage, TK words (4·TK int8, TK % 8 == 0) of 128 rows of xq and of cb are staged in workgroup
// memory as i32 (the i8 matrices' shader scalar type) rows of RS = TK + PAD words; xq rows load as
// the row-major left operand, cb rows as the column-major right operand (B[k, o] = cb[o, k]).
// Offsets and strides of i8 loads count i32 words (I8_BYTES: bytes, for Dawn versions that count i8).
// SmatL / SmatR / SmatC are aliases from the kernel declaration (int8.ts), so the order of the type
// parameters (which changed between Dawn versions) is chosen on the host.
// After the K loop each subgroup stores one result tile at a time into As (now free) and the whole
// workgroup runs the epilogue on the four tiles.
// NSG (subgroups per workgroup) and TILE (rows of xq and columns of cb per workgroup tile) are
// override constants set from SMAT_NSG / SMAT_TILE in src/backend/webgpu/int8.ts, which also sizes
// the grid and checks workgroup memory with them. The layout below is fixed (2×2 subgroups, each
// 4×4 result tiles of 16: TILE = 2 × 4 × 16 = 128, NSG = 4); they are overrides so that the host and
// this file read one value, not to be tuned.
var<workgroup> As: array<i32, TILE * (TK + PAD)>;
var<workgroup> Bs: array<i32, TILE * (TK + PAD)>;

// Stages words 4·t4 .. 4·t4 + TK - 1 of the tile's 128 rows of xq and cb (zero past N, O and words).
fn stage(tid: u32, t4: u32, row0: u32, col0: u32) {
  let KQ = TK / 4u;
  let RS = TK + PAD;
  let W4 = params.words / 4u;
  for (var e = tid; e < TILE * KQ; e += NSG * SG) {
    let m = e / KQ; let q = e % KQ; let k4 = t4 + q;
    var a = vec4<u32>();
    var b = vec4<u32>();
    if (row0 + m < params.N && k4 < W4) { a = act4[(row0 + m) * W4 + k4]; }
    if (col0 + m < params.O && k4 < W4) { b = cb4[(col0 + m) * W4 + k4]; }
    let s = m * RS + q * 4u;
    let ai = bitcast<vec4<i32>>(a);
    let bi = bitcast<vec4<i32>>(b);
    As[s] = ai.x; As[s + 1u] = ai.y; As[s + 2u] = ai.z; As[s + 3u] = ai.w;
    Bs[s] = bi.x; Bs[s + 1u] = bi.y; Bs[s + 2u] = bi.z; Bs[s + 3u] = bi.w;
  }
}


// Result tile (ti, tj) of every subgroup s is in As[s·256 ..] (16×16 i32, row-major): the whole
// workgroup writes its 4 × 256 outputs, four consecutive ones per step.
fn epilogue_tile(ti: u32, tj: u32, tid: u32, row0: u32, col0: u32) {
  workgroupBarrier();
  for (var q = tid; q < NSG * 64u; q += NSG * SG) {
    let s = q / 64u; let e = q % 64u;
    let r = e / 4u; let c = (e % 4u) * 4u;
    let b = s * 256u + r * 16u + c;
    let n = row0 + (s / 2u) * 64u + ti * 16u + r;
    let o0 = col0 + (s % 2u) * 64u + tj * 16u + c;
    store4(n, o0, vec4<i32>(As[b], As[b + 1u], As[b + 2u], As[b + 3u]));
  }
  workgroupBarrier();
}

// Offsets of subgroup matrices depend on the subgroup index, which the (workgroup-level) uniformity
// analysis cannot prove subgroup-uniform (Dawn's rule name; the proposal's bare name is unknown to
// it). The subgroup-matrix calls are all in main, where this attribute applies.
@compute @workgroup_size(NSG * SG)
@diagnostic(off, chromium.subgroup_matrix_uniformity)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wid: vec3<u32>) {
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  let sg = tid / SG;
  let RS = TK + PAD;
  let U = select(1u, 4u, I8_BYTES);
  let a0 = (sg / 2u) * 64u * RS; // first staged xq row of this subgroup
  let b0 = (sg % 2u) * 64u * RS; // first staged cb row
  var c00: SmatC; var c01: SmatC; var c02: SmatC; var c03: SmatC;
  var c10: SmatC; var c11: SmatC; var c12: SmatC; var c13: SmatC;
  var c20: SmatC; var c21: SmatC; var c22: SmatC; var c23: SmatC;
  var c30: SmatC; var c31: SmatC; var c32: SmatC; var c33: SmatC;
  for (var t = 0u; t < params.words; t += TK) {
    stage(tid, t / 4u, row0, col0);
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk += 8u) { // 8 words = 32 int8 = one MMA deep
      let l0 = subgroupMatrixLoad<SmatL, row_major>(&As, (a0 + 0u * RS + kk) * U, RS * U);
      let l1 = subgroupMatrixLoad<SmatL, row_major>(&As, (a0 + 16u * RS + kk) * U, RS * U);
      let l2 = subgroupMatrixLoad<SmatL, row_major>(&As, (a0 + 32u * RS + kk) * U, RS * U);
      let l3 = subgroupMatrixLoad<SmatL, row_major>(&As, (a0 + 48u * RS + kk) * U, RS * U);
      let r0 = subgroupMatrixLoad<SmatR, col_major>(&Bs, (b0 + 0u * RS + kk) * U, RS * U);
      let r1 = subgroupMatrixLoad<SmatR, col_major>(&Bs, (b0 + 16u * RS + kk) * U, RS * U);
      let r2 = subgroupMatrixLoad<SmatR, col_major>(&Bs, (b0 + 32u * RS + kk) * U, RS * U);
      let r3 = subgroupMatrixLoad<SmatR, col_major>(&Bs, (b0 + 48u * RS + kk) * U, RS * U);
      c00 = subgroupMatrixMultiplyAccumulate(l0, r0, c00);
      c01 = subgroupMatrixMultiplyAccumulate(l0, r1, c01);
      c02 = subgroupMatrixMultiplyAccumulate(l0, r2, c02);
      c03 = subgroupMatrixMultiplyAccumulate(l0, r3, c03);
      c10 = subgroupMatrixMultiplyAccumulate(l1, r0, c10);
      c11 = subgroupMatrixMultiplyAccumulate(l1, r1, c11);
      c12 = subgroupMatrixMultiplyAccumulate(l1, r2, c12);
      c13 = subgroupMatrixMultiplyAccumulate(l1, r3, c13);
      c20 = subgroupMatrixMultiplyAccumulate(l2, r0, c20);
      c21 = subgroupMatrixMultiplyAccumulate(l2, r1, c21);
      c22 = subgroupMatrixMultiplyAccumulate(l2, r2, c22);
      c23 = subgroupMatrixMultiplyAccumulate(l2, r3, c23);
      c30 = subgroupMatrixMultiplyAccumulate(l3, r0, c30);
      c31 = subgroupMatrixMultiplyAccumulate(l3, r1, c31);
      c32 = subgroupMatrixMultiplyAccumulate(l3, r2, c32);
      c33 = subgroupMatrixMultiplyAccumulate(l3, r3, c33);
    }
    workgroupBarrier();
  }
  subgroupMatrixStore<row_major>(&As, sg * 256u, c00, 16u); epilogue_tile(0u, 0u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c01, 16u); epilogue_tile(0u, 1u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c02, 16u); epilogue_tile(0u, 2u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c03, 16u); epilogue_tile(0u, 3u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c10, 16u); epilogue_tile(1u, 0u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c11, 16u); epilogue_tile(1u, 1u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c12, 16u); epilogue_tile(1u, 2u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c13, 16u); epilogue_tile(1u, 3u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c20, 16u); epilogue_tile(2u, 0u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c21, 16u); epilogue_tile(2u, 1u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c22, 16u); epilogue_tile(2u, 2u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c23, 16u); epilogue_tile(2u, 3u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c30, 16u); epilogue_tile(3u, 0u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c31, 16u); epilogue_tile(3u, 1u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c32, 16u); epilogue_tile(3u, 2u, tid, row0, col0);
  subgroupMatrixStore<row_major>(&As, sg * 256u, c33, 16u); epilogue_tile(3u, 3u, tid, row0, col0);
}
