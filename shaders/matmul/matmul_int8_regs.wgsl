// LLM.int8 forward for CPU adapters (lavapipe), without workgroup memory or barriers, like
// matmul_regs.wgsl: each thread computes an 8×8 block of C = xq·cbᵀ (exact i32, 16 vec4<i32>
// accumulators) reading both packed operands straight from storage, one word (4 int8) of each of
// its 8 activation rows and 8 weight rows per k-step; the per-row streams are sequential, so the
// CPU caches serve them. Rows past the edge are clamped to the last one on load (never stored).
// Without dot4I8Packed the bytes go to f32 and fma in exact 256-word chunks (same i32 result).
// The epilogue (int8_common.wgsl) dequantises, adds the outlier columns, bias and LoRA addend.

fn d4(a: u32, w0: u32, w1: u32, w2: u32, w3: u32) -> vec4<i32> {
  return vec4<i32>(dot4(a, w0), dot4(a, w1), dot4(a, w2), dot4(a, w3));
}

// Words per exact f32 chunk of the unpacked path (4·KC·127² < 2²⁴).
const KC = 256u;

// Signed byte m of each of four words, as f32.
fn bytes_f32(w: vec4<u32>, m: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(w << vec4<u32>(24u - 8u * m)) >> vec4<u32>(24u));
}

// The four signed bytes of one word, as f32.
fn row_f32(w: u32) -> vec4<f32> {
  return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}

// acc[j] += Σ_m a[m]·w_m[j]: one word of an activation row against four weight rows.
fn mac(a: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>, acc: vec4<f32>) -> vec4<f32> {
  return fma(vec4<f32>(a.w), w3, fma(vec4<f32>(a.z), w2, fma(vec4<f32>(a.y), w1, fma(vec4<f32>(a.x), w0, acc))));
}

// The thread's 8×8 block of u·bᵀ (LoRA addend), register-blocked like the main loop: per j, 8
// values of u and 8 of b (a per-output loop would re-read b for every row).
fn lowrank_block(n0: u32, o0: u32) -> array<vec4<f32>, 16> {
  let r = params.rank;
  let nl = params.N - 1u;
  let ol = params.O - 1u;
  let u0 = min(n0, nl) * r; let u1 = min(n0 + 1u, nl) * r; let u2 = min(n0 + 2u, nl) * r; let u3 = min(n0 + 3u, nl) * r;
  let u4 = min(n0 + 4u, nl) * r; let u5 = min(n0 + 5u, nl) * r; let u6 = min(n0 + 6u, nl) * r; let u7 = min(n0 + 7u, nl) * r;
  let b0 = min(o0, ol) * r; let b1 = min(o0 + 1u, ol) * r; let b2 = min(o0 + 2u, ol) * r; let b3 = min(o0 + 3u, ol) * r;
  let b4 = min(o0 + 4u, ol) * r; let b5 = min(o0 + 5u, ol) * r; let b6 = min(o0 + 6u, ol) * r; let b7 = min(o0 + 7u, ol) * r;
  var l00 = vec4<f32>(); var l01 = vec4<f32>(); var l10 = vec4<f32>(); var l11 = vec4<f32>();
  var l20 = vec4<f32>(); var l21 = vec4<f32>(); var l30 = vec4<f32>(); var l31 = vec4<f32>();
  var l40 = vec4<f32>(); var l41 = vec4<f32>(); var l50 = vec4<f32>(); var l51 = vec4<f32>();
  var l60 = vec4<f32>(); var l61 = vec4<f32>(); var l70 = vec4<f32>(); var l71 = vec4<f32>();
  for (var j = 0u; j < r; j++) {
    let bl = vec4<f32>(lb[b0 + j], lb[b1 + j], lb[b2 + j], lb[b3 + j]);
    let bh = vec4<f32>(lb[b4 + j], lb[b5 + j], lb[b6 + j], lb[b7 + j]);
    var g = vec4<f32>(lu[u0 + j]); l00 = fma(g, bl, l00); l01 = fma(g, bh, l01);
    g = vec4<f32>(lu[u1 + j]); l10 = fma(g, bl, l10); l11 = fma(g, bh, l11);
    g = vec4<f32>(lu[u2 + j]); l20 = fma(g, bl, l20); l21 = fma(g, bh, l21);
    g = vec4<f32>(lu[u3 + j]); l30 = fma(g, bl, l30); l31 = fma(g, bh, l31);
    g = vec4<f32>(lu[u4 + j]); l40 = fma(g, bl, l40); l41 = fma(g, bh, l41);
    g = vec4<f32>(lu[u5 + j]); l50 = fma(g, bl, l50); l51 = fma(g, bh, l51);
    g = vec4<f32>(lu[u6 + j]); l60 = fma(g, bl, l60); l61 = fma(g, bh, l61);
    g = vec4<f32>(lu[u7 + j]); l70 = fma(g, bl, l70); l71 = fma(g, bh, l71);
  }
  return array<vec4<f32>, 16>(l00, l01, l10, l11, l20, l21, l30, l31, l40, l41, l50, l51, l60, l61, l70, l71);
}

fn store_row(n: u32, o0: u32, lo: vec4<i32>, hi: vec4<i32>, lrl: vec4<f32>, lrh: vec4<f32>) {
  if (n >= params.N) { return; }
  let acc = array<vec4<i32>, 2>(lo, hi);
  let lr = array<vec4<f32>, 2>(lrl, lrh);
  let r = n * params.O;
  for (var h = 0u; h < 2u; h++) {
    for (var j = 0u; j < 4u; j++) {
      let o = o0 + 4u * h + j;
      if (o < params.O) { y[r + o] = int8_epilogue(n, o, acc[h][j], lr[h][j]); }
    }
  }
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // 8×8 outputs per thread (unrolled); the host's copy is INT8_REGS.R (src/backend/webgpu/int8.ts).
  let o0 = gid.x * 8u;
  let n0 = gid.y * 8u;
  if (o0 >= params.O || n0 >= params.N) { return; }
  let W = params.words;
  let nl = params.N - 1u;
  let ol = params.O - 1u;
  let a0 = min(n0, nl) * W; let a1 = min(n0 + 1u, nl) * W; let a2 = min(n0 + 2u, nl) * W; let a3 = min(n0 + 3u, nl) * W;
  let a4 = min(n0 + 4u, nl) * W; let a5 = min(n0 + 5u, nl) * W; let a6 = min(n0 + 6u, nl) * W; let a7 = min(n0 + 7u, nl) * W;
  // Weight word k of row o is at cb[o·W + k], or at cb[k·O + o] when the host transposed cb (W_T):
  // then the 8 rows' words of one k are neighbours, and neighbouring lanes read neighbouring runs.
  let bs = select(W, 1u, W_T);
  let ks = select(1u, params.O, W_T);
  let b0 = min(o0, ol) * bs; let b1 = min(o0 + 1u, ol) * bs; let b2 = min(o0 + 2u, ol) * bs; let b3 = min(o0 + 3u, ol) * bs;
  let b4 = min(o0 + 4u, ol) * bs; let b5 = min(o0 + 5u, ol) * bs; let b6 = min(o0 + 6u, ol) * bs; let b7 = min(o0 + 7u, ol) * bs;
  var c00 = vec4<i32>(); var c01 = vec4<i32>(); var c10 = vec4<i32>(); var c11 = vec4<i32>();
  var c20 = vec4<i32>(); var c21 = vec4<i32>(); var c30 = vec4<i32>(); var c31 = vec4<i32>();
  var c40 = vec4<i32>(); var c41 = vec4<i32>(); var c50 = vec4<i32>(); var c51 = vec4<i32>();
  var c60 = vec4<i32>(); var c61 = vec4<i32>(); var c70 = vec4<i32>(); var c71 = vec4<i32>();
  if (USE_DOT4) {
    for (var k = 0u; k < W; k++) {
      let kw = k * ks;
      let w0 = cb[b0 + kw]; let w1 = cb[b1 + kw]; let w2 = cb[b2 + kw]; let w3 = cb[b3 + kw];
      let w4 = cb[b4 + kw]; let w5 = cb[b5 + kw]; let w6 = cb[b6 + kw]; let w7 = cb[b7 + kw];
      var a = act[a0 + k]; c00 += d4(a, w0, w1, w2, w3); c01 += d4(a, w4, w5, w6, w7);
      a = act[a1 + k]; c10 += d4(a, w0, w1, w2, w3); c11 += d4(a, w4, w5, w6, w7);
      a = act[a2 + k]; c20 += d4(a, w0, w1, w2, w3); c21 += d4(a, w4, w5, w6, w7);
      a = act[a3 + k]; c30 += d4(a, w0, w1, w2, w3); c31 += d4(a, w4, w5, w6, w7);
      a = act[a4 + k]; c40 += d4(a, w0, w1, w2, w3); c41 += d4(a, w4, w5, w6, w7);
      a = act[a5 + k]; c50 += d4(a, w0, w1, w2, w3); c51 += d4(a, w4, w5, w6, w7);
      a = act[a6 + k]; c60 += d4(a, w0, w1, w2, w3); c61 += d4(a, w4, w5, w6, w7);
      a = act[a7 + k]; c70 += d4(a, w0, w1, w2, w3); c71 += d4(a, w4, w5, w6, w7);
    }
  } else {
    // Unpacked: bytes to f32 and fma. Exact: a chunk of KC words sums 4·KC products of magnitude
    // ≤ 127², ≤ 16 516 096 < 2²⁴ for KC = 256, so every partial sum is an exactly representable
    // integer; each chunk is then added to the i32 accumulators.
    for (var k0 = 0u; k0 < W; k0 += KC) {
      var f00 = vec4<f32>(); var f01 = vec4<f32>(); var f10 = vec4<f32>(); var f11 = vec4<f32>();
      var f20 = vec4<f32>(); var f21 = vec4<f32>(); var f30 = vec4<f32>(); var f31 = vec4<f32>();
      var f40 = vec4<f32>(); var f41 = vec4<f32>(); var f50 = vec4<f32>(); var f51 = vec4<f32>();
      var f60 = vec4<f32>(); var f61 = vec4<f32>(); var f70 = vec4<f32>(); var f71 = vec4<f32>();
      let k1 = min(k0 + KC, W);
      for (var k = k0; k < k1; k++) {
        // Byte m of the 8 weight words, as two vec4 (outputs o0..o0+3 and o0+4..o0+7).
        let kw = k * ks;
        let wl = vec4<u32>(cb[b0 + kw], cb[b1 + kw], cb[b2 + kw], cb[b3 + kw]);
        let wh = vec4<u32>(cb[b4 + kw], cb[b5 + kw], cb[b6 + kw], cb[b7 + kw]);
        let l0 = bytes_f32(wl, 0u); let l1 = bytes_f32(wl, 1u); let l2 = bytes_f32(wl, 2u); let l3 = bytes_f32(wl, 3u);
        let h0 = bytes_f32(wh, 0u); let h1 = bytes_f32(wh, 1u); let h2 = bytes_f32(wh, 2u); let h3 = bytes_f32(wh, 3u);
        var a = row_f32(act[a0 + k]); f00 = mac(a, l0, l1, l2, l3, f00); f01 = mac(a, h0, h1, h2, h3, f01);
        a = row_f32(act[a1 + k]); f10 = mac(a, l0, l1, l2, l3, f10); f11 = mac(a, h0, h1, h2, h3, f11);
        a = row_f32(act[a2 + k]); f20 = mac(a, l0, l1, l2, l3, f20); f21 = mac(a, h0, h1, h2, h3, f21);
        a = row_f32(act[a3 + k]); f30 = mac(a, l0, l1, l2, l3, f30); f31 = mac(a, h0, h1, h2, h3, f31);
        a = row_f32(act[a4 + k]); f40 = mac(a, l0, l1, l2, l3, f40); f41 = mac(a, h0, h1, h2, h3, f41);
        a = row_f32(act[a5 + k]); f50 = mac(a, l0, l1, l2, l3, f50); f51 = mac(a, h0, h1, h2, h3, f51);
        a = row_f32(act[a6 + k]); f60 = mac(a, l0, l1, l2, l3, f60); f61 = mac(a, h0, h1, h2, h3, f61);
        a = row_f32(act[a7 + k]); f70 = mac(a, l0, l1, l2, l3, f70); f71 = mac(a, h0, h1, h2, h3, f71);
      }
      c00 += vec4<i32>(f00); c01 += vec4<i32>(f01); c10 += vec4<i32>(f10); c11 += vec4<i32>(f11);
      c20 += vec4<i32>(f20); c21 += vec4<i32>(f21); c30 += vec4<i32>(f30); c31 += vec4<i32>(f31);
      c40 += vec4<i32>(f40); c41 += vec4<i32>(f41); c50 += vec4<i32>(f50); c51 += vec4<i32>(f51);
      c60 += vec4<i32>(f60); c61 += vec4<i32>(f61); c70 += vec4<i32>(f70); c71 += vec4<i32>(f71);
    }
  }
  // One store loop over a private array instead of eight inlined epilogues: the epilogue is
  // large (outliers, bias, LoRA), and lavapipe's compile time grows with every inlined copy.
  let rows = array<vec4<i32>, 16>(c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71);
  var lr = array<vec4<f32>, 16>();
  if (params.rank != 0u) { lr = lowrank_block(n0, o0); }
  for (var i = 0u; i < 8u; i++) { store_row(n0 + i, o0, rows[2u * i], rows[2u * i + 1u], lr[2u * i], lr[2u * i + 1u]); }
}
