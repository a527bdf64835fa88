// dx[n, i] = Σ_o dy[n, o]·W_deq[o, i] with W_deq = CB·SCB/127, dequantising the packed bytes while
// staging them (the f32 weight is never materialised). SCB[o]/127 is folded into the dy tile
// (it scales a whole k-row of W). Same register blocking as shaders/matmul/matmul.wgsl.
// RM, RN: the host's copy is INT8_THREAD_BLOCK.tiled (src/backend/webgpu/int8.ts), used for the grid.
const RM = 4u;
const RN = 4u;
var<workgroup> As: array<f32, TK * WY * 4u>; // [TK][TM]
var<workgroup> Bs: array<f32, TK * WX * 4u>; // [TK][TN]

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let TM = WY * RM;
  let TN = WX * RN;
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let tid = lid.y * WX + lid.x;
  let nthreads = WX * WY;
  var acc: array<f32, 16>;
  for (var i = 0u; i < 16u; i++) { acc[i] = 0.0; }
  for (var t = 0u; t < params.O; t += TK) {
    for (var e = tid; e < TK * TM; e += nthreads) {
      let mm = e / TK; let kk = e % TK;
      let n = row0 + mm; let o = t + kk;
      var v = 0.0;
      if (n < params.N && o < params.O) { v = dy[n * params.O + o] * scb[o] * (1.0 / 127.0); }
      As[kk * TM + mm] = v;
    }
    for (var e = tid; e < TK * TN; e += nthreads) {
      let kk = e / TN; let nn = e % TN;
      let o = t + kk; let i = col0 + nn;
      var v = 0.0;
      if (o < params.O && i < params.I) {
        let w = cb[o * params.words + i / 4u];
        v = f32(i32(w << (24u - 8u * (i % 4u))) >> 24u);
      }
      Bs[kk * TN + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var ar: array<f32, 4>;
      var br: array<f32, 4>;
      for (var i = 0u; i < RM; i++) { ar[i] = As[kk * TM + lid.y * RM + i]; }
      for (var j = 0u; j < RN; j++) { br[j] = Bs[kk * TN + lid.x * RN + j]; }
      for (var i = 0u; i < RM; i++) {
        for (var j = 0u; j < RN; j++) { acc[i * RN + j] = fma(ar[i], br[j], acc[i * RN + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < RM; i++) {
    let n = row0 + lid.y * RM + i;
    if (n >= params.N) { continue; }
    for (var j = 0u; j < RN; j++) {
      let c = col0 + lid.x * RN + j;
      if (c < params.I) { dx[n * params.I + c] = acc[i * RN + j]; }
    }
  }
}
