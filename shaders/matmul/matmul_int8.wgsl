// LLM.int8 forward, tiled for GPUs: y[n, o] = C[n, o]·SCA[n]·SCB[o]/127² + outlier columns in f32
// + bias[o] (+ the LoRA addend), see int8_common.wgsl. C = Σ_k xq[n, k]·cb[o, k] in exact i32
// (|C| ≤ 127²·I < 2³¹ for I < 133 000). Both int8 operands are packed four per u32 along k, so a
// k-step is one word and one dot4I8Packed (or four unpacked products with USE_DOT4 = false).
// Register-blocked like shaders/matmul/matmul.wgsl: WX×WY threads, each a 4×4 block of y, TK-word
// slices of the codes staged in workgroup memory. CPU adapters use matmul_int8_regs.wgsl instead.
// RM, RN: the host's copy is INT8_THREAD_BLOCK.tiled (src/backend/webgpu/int8.ts), used for the grid.
const RM = 4u;
const RN = 4u;
var<workgroup> As: array<u32, TK * WY * 4u>; // [TK][TM] words of xq
var<workgroup> Bs: array<u32, TK * WX * 4u>; // [TK][TN] words of cb

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
      As[kk * TM + mm] = select(0u, act[r * W + k], r < params.N && k < W);
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
  for (var i = 0u; i < RM; i++) {
    let n = row0 + lid.y * RM + i;
    if (n >= params.N) { continue; }
    let o0 = col0 + lid.x * RN;
    let lr = lowrank4(n, o0);
    for (var j = 0u; j < RN; j++) {
      let o = o0 + j;
      if (o < params.O) { y[n * params.O + o] = int8_epilogue(n, o, acc[i * RN + j], lr[j]); }
    }
  }
}
