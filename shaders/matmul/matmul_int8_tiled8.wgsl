// LLM.int8 forward for discrete GPUs, same result as matmul_int8.wgsl (exact i32 C, then the shared
// int8_common.wgsl epilogue per output) but with a larger register block: WX×WY threads, each an
// 8×8 block of y, so a default 16×16 workgroup covers a 128×128 tile and every word read from
// workgroup memory feeds 8 dot4s instead of 4. The 8 is structural here; the host's copy is
// INT8_THREAD_BLOCK.tiled8 (src/backend/webgpu/int8.ts), used for the grid and the load check.
// Requires words % 4 == 0 and TK % 4 == 0 (int8.ts checks): act4 / cb4 are the same buffers as act
// / cb viewed as vec4<u32>, so a global load brings 4 words (16 int8 along k) of one row.
// Workgroup memory holds [TK][TM] words as vec4 rows of 4 consecutive m (or n). A thread's 8 rows
// are two groups of 4 (lid.y·4 and TM/2 + lid.y·4), so its inner-loop reads are two vec4s per
// operand and neighbouring threads read neighbouring vec4s.
// PREFETCH (override) loads the next stage into registers while this one is computed (at most 4
// vec4 loads per thread and operand, int8.ts checks).
// Accumulators and prefetch registers are only indexed by constants: a private array indexed at run
// time may be placed in (slow) local memory by GPU compilers.
var<workgroup> As: array<vec4<u32>, TK * WY * 2u>; // [TK][TM/4]: As[kk·TM/4 + m/4][m % 4]
var<workgroup> Bs: array<vec4<u32>, TK * WX * 2u>; // [TK][TN/4] likewise for cb

// Element e of a stage of xq: row e / KQ of the tile, vec4 e % KQ of the stage (zero past the edges;
// e past the stage: nothing).
fn load_a(e: u32, t4: u32, row0: u32) -> vec4<u32> {
  let KQ = TK / 4u;
  let r = row0 + e / KQ; let k4 = t4 + e % KQ;
  let W4 = params.words / 4u;
  if (e < KQ * WY * 8u && r < params.N && k4 < W4) { return act4[r * W4 + k4]; }
  return vec4<u32>();
}

fn load_b(e: u32, t4: u32, col0: u32) -> vec4<u32> {
  let KQ = TK / 4u;
  let o = col0 + e / KQ; let k4 = t4 + e % KQ;
  let W4 = params.words / 4u;
  if (e < KQ * WX * 8u && o < params.O && k4 < W4) { return cb4[o * W4 + k4]; }
  return vec4<u32>();
}

// Stores the 4 words of element e at k-rows 4·kq..4·kq+3 of the transposed stage.
fn put_a(e: u32, v: vec4<u32>) {
  let KQ = TK / 4u; let TM4 = WY * 2u;
  if (e >= KQ * WY * 8u) { return; }
  let mm = e / KQ; let base = 4u * (e % KQ) * TM4 + mm / 4u; let c = mm % 4u;
  As[base][c] = v.x; As[base + TM4][c] = v.y; As[base + 2u * TM4][c] = v.z; As[base + 3u * TM4][c] = v.w;
}

fn put_b(e: u32, v: vec4<u32>) {
  let KQ = TK / 4u; let TN4 = WX * 2u;
  if (e >= KQ * WX * 8u) { return; }
  let nn = e / KQ; let base = 4u * (e % KQ) * TN4 + nn / 4u; let c = nn % 4u;
  Bs[base][c] = v.x; Bs[base + TN4][c] = v.y; Bs[base + 2u * TN4][c] = v.z; Bs[base + 3u * TN4][c] = v.w;
}

fn d4x4(a: u32, b: vec4<u32>) -> vec4<i32> {
  return vec4<i32>(dot4(a, b.x), dot4(a, b.y), dot4(a, b.z), dot4(a, b.w));
}


@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let TM = WY * 8u;
  let TN = WX * 8u;
  let TM4 = WY * 2u; // vec4s per k-row of As
  let TN4 = WX * 2u;
  let KQ = TK / 4u; // vec4 loads per row and stage
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let tid = lid.y * WX + lid.x;
  let nt = WX * WY;
  let W = params.words;
  // acc[2i + g]: row i of the thread (0..7), column group g (4 outputs each); zero-initialised.
  var acc: array<vec4<i32>, 16>;

  var pa0: vec4<u32>; var pa1: vec4<u32>; var pa2: vec4<u32>; var pa3: vec4<u32>;
  var pb0: vec4<u32>; var pb1: vec4<u32>; var pb2: vec4<u32>; var pb3: vec4<u32>;
  if (PREFETCH) {
    pa0 = load_a(tid, 0u, row0); pa1 = load_a(tid + nt, 0u, row0); pa2 = load_a(tid + 2u * nt, 0u, row0); pa3 = load_a(tid + 3u * nt, 0u, row0);
    pb0 = load_b(tid, 0u, col0); pb1 = load_b(tid + nt, 0u, col0); pb2 = load_b(tid + 2u * nt, 0u, col0); pb3 = load_b(tid + 3u * nt, 0u, col0);
  }
  for (var t = 0u; t < W; t += TK) {
    if (PREFETCH) {
      put_a(tid, pa0); put_a(tid + nt, pa1); put_a(tid + 2u * nt, pa2); put_a(tid + 3u * nt, pa3);
      put_b(tid, pb0); put_b(tid + nt, pb1); put_b(tid + 2u * nt, pb2); put_b(tid + 3u * nt, pb3);
    } else {
      // kq fastest: neighbouring threads read neighbouring 16-byte pieces of a row.
      for (var e = tid; e < KQ * TM; e += nt) { put_a(e, load_a(e, t / 4u, row0)); }
      for (var e = tid; e < KQ * TN; e += nt) { put_b(e, load_b(e, t / 4u, col0)); }
    }
    workgroupBarrier();
    if (PREFETCH) {
      let n4 = (t + TK) / 4u; // past the end: zeros, never used
      pa0 = load_a(tid, n4, row0); pa1 = load_a(tid + nt, n4, row0); pa2 = load_a(tid + 2u * nt, n4, row0); pa3 = load_a(tid + 3u * nt, n4, row0);
      pb0 = load_b(tid, n4, col0); pb1 = load_b(tid + nt, n4, col0); pb2 = load_b(tid + 2u * nt, n4, col0); pb3 = load_b(tid + 3u * nt, n4, col0);
    }
    for (var kk = 0u; kk < TK; kk++) {
      let a0 = As[kk * TM4 + lid.y];
      let a1 = As[kk * TM4 + WY + lid.y];
      let b0 = Bs[kk * TN4 + lid.x];
      let b1 = Bs[kk * TN4 + WX + lid.x];
      acc[0] += d4x4(a0.x, b0); acc[1] += d4x4(a0.x, b1);
      acc[2] += d4x4(a0.y, b0); acc[3] += d4x4(a0.y, b1);
      acc[4] += d4x4(a0.z, b0); acc[5] += d4x4(a0.z, b1);
      acc[6] += d4x4(a0.w, b0); acc[7] += d4x4(a0.w, b1);
      acc[8] += d4x4(a1.x, b0); acc[9] += d4x4(a1.x, b1);
      acc[10] += d4x4(a1.y, b0); acc[11] += d4x4(a1.y, b1);
      acc[12] += d4x4(a1.z, b0); acc[13] += d4x4(a1.z, b1);
      acc[14] += d4x4(a1.w, b0); acc[15] += d4x4(a1.w, b1);
    }
    workgroupBarrier();
  }
  let n0 = row0 + lid.y * 4u; let n1 = n0 + TM / 2u;
  let o0 = col0 + lid.x * 4u; let o1 = o0 + TN / 2u;
  store4(n0, o0, acc[0]); store4(n0, o1, acc[1]);
  store4(n0 + 1u, o0, acc[2]); store4(n0 + 1u, o1, acc[3]);
  store4(n0 + 2u, o0, acc[4]); store4(n0 + 2u, o1, acc[5]);
  store4(n0 + 3u, o0, acc[6]); store4(n0 + 3u, o1, acc[7]);
  store4(n1, o0, acc[8]); store4(n1, o1, acc[9]);
  store4(n1 + 1u, o0, acc[10]); store4(n1 + 1u, o1, acc[11]);
  store4(n1 + 2u, o0, acc[12]); store4(n1 + 2u, o1, acc[13]);
  store4(n1 + 3u, o0, acc[14]); store4(n1 + 3u, o1, acc[15]);
}
