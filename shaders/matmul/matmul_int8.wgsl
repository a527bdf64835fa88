// LLM.int8 forward: y[n, o] = C[n, o]·SCA[n]·SCB[o]/127² + Σ_{c outlier} x[n, c]·W_deq[o, c] + bias[o],
// C = Σ_k xq[n, k]·cb[o, k] in exact i32 (|C| ≤ 127²·I < 2³¹ for I < 133 000). Both int8 operands
// are packed four per u32 along k, so a k-step is one word and one dot4I8Packed (or four unpacked
// products with USE_DOT4 = false). Register-blocked like shaders/matmul/matmul.wgsl: WX×WY threads,
// each a 4×4 block of y, TK-word slices of xq and cb staged in workgroup memory.
const RM = 4u;
const RN = 4u;
var<workgroup> As: array<u32, TK * WY * 4u>; // [TK][TM] words of xq
var<workgroup> Bs: array<u32, TK * WX * 4u>; // [TK][TN] words of cb

// Sign-extends byte j of a packed word.
fn byte_i8(w: u32, j: u32) -> i32 {
  return i32(w << (24u - 8u * j)) >> 24u;
}

fn dot4_unpacked(a: u32, b: u32) -> i32 {
  return byte_i8(a, 0u) * byte_i8(b, 0u) + byte_i8(a, 1u) * byte_i8(b, 1u)
       + byte_i8(a, 2u) * byte_i8(b, 2u) + byte_i8(a, 3u) * byte_i8(b, 3u);
}

fn dot4(a: u32, b: u32) -> i32 {
  if (USE_DOT4) { return dot4_native(a, b); }
  return dot4_unpacked(a, b);
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let TM = WY * RM;
  let TN = WX * RN;
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let tid = lid.y * WX + lid.x;
  let nthreads = WX * WY;
  let W = params.words;
  var acc: array<i32, 16>;
  for (var i = 0u; i < 16u; i++) { acc[i] = 0i; }

  for (var t = 0u; t < W; t += TK) {
    // k is the fastest index in both operands: consecutive threads read consecutive words.
    for (var e = tid; e < TK * TM; e += nthreads) {
      let mm = e / TK; let kk = e % TK;
      let r = row0 + mm; let k = t + kk;
      As[kk * TM + mm] = select(0u, xq[r * W + k], r < params.N && k < W);
    }
    for (var e = tid; e < TK * TN; e += nthreads) {
      let nn = e / TK; let kk = e % TK;
      let o = col0 + nn; let k = t + kk;
      Bs[kk * TN + nn] = select(0u, cb[o * W + k], o < params.O && k < W);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var ar: array<u32, 4>;
      var br: array<u32, 4>;
      for (var i = 0u; i < RM; i++) { ar[i] = As[kk * TM + lid.y * RM + i]; }
      for (var j = 0u; j < RN; j++) { br[j] = Bs[kk * TN + lid.x * RN + j]; }
      for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) { acc[i * RN + j] += dot4(ar[i], br[j]); }
      }
    }
    workgroupBarrier();
  }
  var n_out = 0u;
  if (HAS_OUTLIERS) { n_out = olist[0]; }
  for (var i = 0u; i < RM; i++) {
    let n = row0 + lid.y * RM + i;
    if (n >= params.N) { continue; }
    let sa = sca[n] * (1.0 / 16129.0);
    for (var j = 0u; j < RN; j++) {
      let o = col0 + lid.x * RN + j;
      if (o >= params.O) { continue; }
      let sb = scb[o];
      var v = f32(acc[i * RN + j]) * sa * sb;
      // Outlier columns in f32 against the dequantised weight column (few columns, so the global
      // reads are cheap next to the int8 product).
      var outl = 0.0;
      for (var q = 0u; q < n_out; q++) {
        let c = olist[1u + q];
        outl += x[n * params.I + c] * f32(byte_i8(cb[o * W + c / 4u], c % 4u));
      }
      v += outl * sb * (1.0 / 127.0);
      if (HAS_BIAS) { v += bias[o]; }
      y[n * params.O + o] = v;
    }
  }
}
