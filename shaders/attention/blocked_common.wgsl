// Helpers of the workgroup-blocked attention kernels for GPUs (flash_*_blocked.wgsl, after
// attn_common.wgsl). Each block product (S = Q·Kᵀ, dP = dO·Vᵀ, O += P·V, dQ += dS·K, dV += Pᵀ·dO,
// dK += dSᵀ·Q) is a small GEMM: a workgroup of WX×WY threads stages TK-deep slices of both operands
// in workgroup memory as vec4 rows (Sh, declared by each kernel with its own regions), and every
// thread keeps an RM×8 block of the result in vec4 registers, as in matmul_tiled8.wgsl. A thread's
// rows are two vec4s WY apart (lo: rows 4·ly..+3, hi: rows BM/2 + 4·ly..+3; only lo when RM is 4)
// and its columns two vec4s WX apart, so the row and column blocks are 8·WY (or 4·WY) and 8·WX.
// head_product* and row_product* run whole block products (the loops over slices).
// q, k, v, dO and o are bound as vec4 along the head dim HD (a multiple of 8); the kernels define
// NT (threads per workgroup) and Sh. Sizes past T load as 0 and are never stored.

// Slices are staged in two halves so that the next slice's global loads are in flight while the
// current one is multiplied (few workgroups fit an SM, so little else hides their latency): fetch_*
// loads a thread's share (at most PF vec4s: the caller's geometry guarantees it) into registers,
// put_* stores it into Sh after the previous slice's last use. Rows past T load as 0.
const PF = 4u;
alias Fetched = array<vec4<f32>, PF>;

// Rows row0..row0+R-1 (R a multiple of 4) of src, head-dim slice d0..d0+TK-1, times mul, for
// put_t: stored transposed, [TK][R/4] vec4 along the rows (an operand of a block product whose
// depth is the head dim). Each thread takes one 4 × 4 block (rows 4·rb.., head dims 4·kq..; rb
// fastest across threads): 4 vec4 loads, one per row, transposed in registers into 4 vec4 stores,
// one per head dim, which neighbouring threads make to neighbouring vec4s (no bank conflicts; the
// scalar stores of a row-per-thread split hit 8 banks per warp, 4 ways). A warp's loads cover the
// same rows and head dims either way. Needs (R/4)·(TK/4) ≤ NT (blockedGeometry sees to it).
fn fetch_t(src: ptr<storage, array<vec4<f32>>, read>, base: u32, row0: u32, d0: u32, R: u32, mul: f32, tid: u32) -> Fetched {
  var x: Fetched;
  let rb = tid % (R / 4u);
  let kq = tid / (R / 4u);
  for (var l = 0u; l < 4u; l++) {
    let row = row0 + 4u * rb + l;
    x[l] = vec4<f32>(0.0);
    if (kq < TK / 4u && row < params.T) { x[l] = src[(base + row * HD + d0) / 4u + kq] * mul; }
  }
  return x;
}

fn put_t(x: Fetched, off: u32, R: u32, tid: u32) {
  let rb = tid % (R / 4u);
  let kq = tid / (R / 4u);
  if (kq >= TK / 4u) { return; }
  for (var c = 0u; c < 4u; c++) {
    Sh[off + (kq * 4u + c) * (R / 4u) + rb] = vec4<f32>(x[0][c], x[1][c], x[2][c], x[3][c]);
  }
}

// Rows row0..row0+TK-1 of src, whole, times mul, for put_rows: stored as they are, [TK][HD/4] (the
// B operand of a block product whose depth runs over rows: keys for P·V and dS·K, queries for
// Pᵀ·dO and dSᵀ·Q).
fn fetch_rows(src: ptr<storage, array<vec4<f32>>, read>, base: u32, row0: u32, mul: f32, tid: u32) -> Fetched {
  var x: Fetched;
  for (var l = 0u; l < PF; l++) {
    let e = tid + l * NT;
    x[l] = vec4<f32>(0.0);
    if (e < TK * HD / 4u && row0 + e / (HD / 4u) < params.T) { x[l] = src[(base + row0 * HD) / 4u + e] * mul; }
  }
  return x;
}

fn put_rows(x: Fetched, off: u32, tid: u32) {
  for (var l = 0u; l < PF; l++) {
    let e = tid + l * NT;
    if (e >= TK * HD / 4u) { break; }
    Sh[off + e] = x[l];
  }
}

// acc (8 rows × 8 columns: acc[i·2 + h] is row i of lo, column half h; acc[8 + i·2 + h] row i of hi)
// += Σ_kk A[kk]ᵀ·B[kk] over n steps, A at Sh[a..] as [n][BM/4] (a_stride = BM/4 = 2·WY) and B at
// Sh[b..] as [n][b_stride] (two vec4 WX apart).
fn mma8(acc: ptr<function, array<vec4<f32>, 16>>, a: u32, b: u32, b_stride: u32, n: u32, lid: vec3<u32>) {
  for (var kk = 0u; kk < n; kk++) {
    let a0 = Sh[a + kk * 2u * WY + lid.y];
    let a1 = Sh[a + kk * 2u * WY + WY + lid.y];
    let b0 = Sh[b + kk * b_stride + lid.x];
    let b1 = Sh[b + kk * b_stride + WX + lid.x];
    for (var i = 0u; i < 4u; i++) {
      acc[i * 2u] = fma(vec4<f32>(a0[i]), b0, acc[i * 2u]);
      acc[i * 2u + 1u] = fma(vec4<f32>(a0[i]), b1, acc[i * 2u + 1u]);
      acc[8u + i * 2u] = fma(vec4<f32>(a1[i]), b0, acc[8u + i * 2u]);
      acc[8u + i * 2u + 1u] = fma(vec4<f32>(a1[i]), b1, acc[8u + i * 2u + 1u]);
    }
  }
}

// The 4-row form (rows 4·ly..+3 only; A as [n][WY]): acc[i·2 + h]. relu clamps A at 0 (the signed
// probabilities of flash_bwd_kv_blocked.wgsl).
fn mma4(acc: ptr<function, array<vec4<f32>, 8>>, a: u32, b: u32, b_stride: u32, n: u32, relu: bool, lid: vec3<u32>) {
  for (var kk = 0u; kk < n; kk++) {
    var a0 = Sh[a + kk * WY + lid.y];
    if (relu) { a0 = max(a0, vec4<f32>(0.0)); }
    let b0 = Sh[b + kk * b_stride + lid.x];
    let b1 = Sh[b + kk * b_stride + WX + lid.x];
    for (var i = 0u; i < 4u; i++) {
      acc[i * 2u] = fma(vec4<f32>(a0[i]), b0, acc[i * 2u]);
      acc[i * 2u + 1u] = fma(vec4<f32>(a0[i]), b1, acc[i * 2u + 1u]);
    }
  }
}

// Columns (keys or queries) of the thread's column half h in a block starting at c0: c0 + h·4·WX + 4·lx.
fn cols_of(c0: u32, h: u32, lx: u32) -> vec4<u32> {
  return vec4<u32>(c0 + h * 4u * WX + lx * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
}

// The 8-row forms' query rows of the thread: half r (0 = lo, 1 = hi) holds 4 query indices.
fn query_rows(q0: u32, ly: u32) -> array<vec4<u32>, 2> {
  return array<vec4<u32>, 2>(vec4<u32>(q0 + 4u * ly) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(q0 + 4u * WY + 4u * ly) + vec4<u32>(0u, 1u, 2u, 3u));
}

// The thread's 8×8 block (queries × keys of the block at P_OFF) stored as [key][query], the A
// operand of the following row product.
fn put_block8(s: ptr<function, array<vec4<f32>, 16>>, lid: vec3<u32>) {
  for (var h = 0u; h < 2u; h++) {
    for (var c = 0u; c < 4u; c++) {
      let at = P_OFF + (h * 4u * WX + 4u * lid.x + c) * 2u * WY;
      Sh[at + lid.y] = column4(s, h, c);
      Sh[at + WY + lid.y] = column4(s, 8u + h, c);
    }
  }
}

// Padding mask of 4 keys.
fn keys_ok(b: u32, j: vec4<u32>) -> vec4<bool> {
  return vec4<bool>(key_ok(b, j.x), key_ok(b, j.y), key_ok(b, j.z), key_ok(b, j.w));
}

// Causal visibility of (query i, key j) pairs, elementwise.
fn causal_ok(i: vec4<u32>, j: vec4<u32>) -> vec4<bool> {
  return vec4<bool>(params.causal == 0u) | (j <= i);
}

// Component c of the 4 row vectors rows[base + i·2] (i = 0..3): one column of a 4-row block as a
// vec4 (rows of an 8-row block at base h (lo) or 8 + h (hi), of a 4-row block at h).
fn column4(rows: ptr<function, array<vec4<f32>, 16>>, base: u32, c: u32) -> vec4<f32> {
  return vec4<f32>(rows[base][c], rows[base + 2u][c], rows[base + 4u][c], rows[base + 6u][c]);
}

fn column4_of4(rows: ptr<function, array<vec4<f32>, 8>>, base: u32, c: u32) -> vec4<f32> {
  return vec4<f32>(rows[base][c], rows[base + 2u][c], rows[base + 4u][c], rows[base + 6u][c]);
}

// acc += (rows ra.. of a, times ma)·(rows rb.. of b, times mb)ᵀ over the head dim, with A = 8·WY
// rows (4·WY in the 4-row form) and B = 8·WX rows: slices staged at Sh[0..] (A) and after it (B),
// the next slice in flight.
fn head_product8(acc: ptr<function, array<vec4<f32>, 16>>, a: ptr<storage, array<vec4<f32>>, read>, ra: u32, ma: f32,
                 b: ptr<storage, array<vec4<f32>>, read>, rb: u32, mb: f32, base: u32, tid: u32, lid: vec3<u32>) {
  var fa = fetch_t(a, base, ra, 0u, 8u * WY, ma, tid);
  var fb = fetch_t(b, base, rb, 0u, 8u * WX, mb, tid);
  for (var d0 = 0u; d0 < HD; d0 += TK) {
    put_t(fa, 0u, 8u * WY, tid);
    put_t(fb, TK * 2u * WY, 8u * WX, tid);
    workgroupBarrier();
    if (d0 + TK < HD) {
      fa = fetch_t(a, base, ra, d0 + TK, 8u * WY, ma, tid);
      fb = fetch_t(b, base, rb, d0 + TK, 8u * WX, mb, tid);
    }
    mma8(acc, 0u, TK * 2u * WY, 2u * WX, TK, lid);
    workgroupBarrier();
  }
}

fn head_product4(acc: ptr<function, array<vec4<f32>, 8>>, a: ptr<storage, array<vec4<f32>>, read>, ra: u32, ma: f32,
                 b: ptr<storage, array<vec4<f32>>, read>, rb: u32, mb: f32, base: u32, tid: u32, lid: vec3<u32>) {
  var fa = fetch_t(a, base, ra, 0u, 4u * WY, ma, tid);
  var fb = fetch_t(b, base, rb, 0u, 8u * WX, mb, tid);
  for (var d0 = 0u; d0 < HD; d0 += TK) {
    put_t(fa, 0u, 4u * WY, tid);
    put_t(fb, TK * WY, 8u * WX, tid);
    workgroupBarrier();
    if (d0 + TK < HD) {
      fa = fetch_t(a, base, ra, d0 + TK, 4u * WY, ma, tid);
      fb = fetch_t(b, base, rb, d0 + TK, 8u * WX, mb, tid);
    }
    mma4(acc, 0u, TK * WY, 2u * WX, TK, false, lid);
    workgroupBarrier();
  }
}

// acc += P·(rows r0..r0+n-1 of src, times mul), P at Sh[P_OFF..] as [n][A rows/4], the row slices
// staged at Sh[0..]; `first` holds the first slice, fetched by the caller ahead of its other work.
fn row_product8(acc: ptr<function, array<vec4<f32>, 16>>, first: Fetched, src: ptr<storage, array<vec4<f32>>, read>, r0: u32, n: u32,
                mul: f32, base: u32, tid: u32, lid: vec3<u32>) {
  var f = first;
  for (var j0 = 0u; j0 < n; j0 += TK) {
    put_rows(f, 0u, tid);
    workgroupBarrier();
    if (j0 + TK < n) { f = fetch_rows(src, base, r0 + j0 + TK, mul, tid); }
    mma8(acc, P_OFF + j0 * 2u * WY, 0u, HD / 4u, TK, lid);
    workgroupBarrier();
  }
}

fn row_product4(acc: ptr<function, array<vec4<f32>, 8>>, first: Fetched, src: ptr<storage, array<vec4<f32>>, read>, r0: u32, n: u32,
                mul: f32, relu: bool, base: u32, tid: u32, lid: vec3<u32>) {
  var f = first;
  for (var j0 = 0u; j0 < n; j0 += TK) {
    put_rows(f, 0u, tid);
    workgroupBarrier();
    if (j0 + TK < n) { f = fetch_rows(src, base, r0 + j0 + TK, mul, tid); }
    mma4(acc, P_OFF + j0 * WY, 0u, HD / 4u, TK, relu, lid);
    workgroupBarrier();
  }
}
