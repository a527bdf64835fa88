// dx = dy·dequant(W) for CPU adapters, barrier-free like matmul_regs.wgsl: each thread computes an
// 8×8 block of dx (8 rows n, 8 columns i = two packed words of CB) in 16 vec4<f32> accumulators.
// Per k-step o it reads 8 values of dy, two words of CB[o, :] and SCB[o], and dequantises the 8
// bytes in registers (SCB[o]/127 folded into them), so the f32 weight is never materialised.
// Rows past the edge are clamped on load and never stored; the zero padding of the last word of
// each CB row keeps columns past I at 0.

fn deq4(w: u32, s: f32) -> vec4<f32> {
  let b = bitcast<vec4<i32>>(vec4<u32>(w) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u);
  return vec4<f32>(b) * s;
}

fn store_row(n: u32, i0: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (n >= params.N) { return; }
  let r = n * params.I;
  for (var j = 0u; j < 4u; j++) {
    if (i0 + j < params.I) { dx[r + i0 + j] = lo[j]; }
    if (i0 + 4u + j < params.I) { dx[r + i0 + 4u + j] = hi[j]; }
  }
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // 8×8 outputs per thread (unrolled); the host's copy is INT8_REGS.R (src/backend/webgpu/int8.ts).
  let i0 = gid.x * 8u;
  let n0 = gid.y * 8u;
  if (i0 >= params.I || n0 >= params.N) { return; }
  let O = params.O;
  let W = params.words;
  let wl = i0 / 4u;
  let wh = min(wl + 1u, W - 1u);
  let nl = params.N - 1u;
  let d0 = min(n0, nl) * O; let d1 = min(n0 + 1u, nl) * O; let d2 = min(n0 + 2u, nl) * O; let d3 = min(n0 + 3u, nl) * O;
  let d4 = min(n0 + 4u, nl) * O; let d5 = min(n0 + 5u, nl) * O; let d6 = min(n0 + 6u, nl) * O; let d7 = min(n0 + 7u, nl) * O;
  var c00 = vec4<f32>(); var c01 = vec4<f32>(); var c10 = vec4<f32>(); var c11 = vec4<f32>();
  var c20 = vec4<f32>(); var c21 = vec4<f32>(); var c30 = vec4<f32>(); var c31 = vec4<f32>();
  var c40 = vec4<f32>(); var c41 = vec4<f32>(); var c50 = vec4<f32>(); var c51 = vec4<f32>();
  var c60 = vec4<f32>(); var c61 = vec4<f32>(); var c70 = vec4<f32>(); var c71 = vec4<f32>();
  var row = 0u;
  for (var o = 0u; o < O; o++) {
    let s = scb[o] * (1.0 / 127.0);
    let bl = deq4(cb[row + wl], s);
    let bh = deq4(cb[row + wh], s);
    row += W;
    var g = vec4<f32>(dy[d0 + o]); c00 = fma(g, bl, c00); c01 = fma(g, bh, c01);
    g = vec4<f32>(dy[d1 + o]); c10 = fma(g, bl, c10); c11 = fma(g, bh, c11);
    g = vec4<f32>(dy[d2 + o]); c20 = fma(g, bl, c20); c21 = fma(g, bh, c21);
    g = vec4<f32>(dy[d3 + o]); c30 = fma(g, bl, c30); c31 = fma(g, bh, c31);
    g = vec4<f32>(dy[d4 + o]); c40 = fma(g, bl, c40); c41 = fma(g, bh, c41);
    g = vec4<f32>(dy[d5 + o]); c50 = fma(g, bl, c50); c51 = fma(g, bh, c51);
    g = vec4<f32>(dy[d6 + o]); c60 = fma(g, bl, c60); c61 = fma(g, bh, c61);
    g = vec4<f32>(dy[d7 + o]); c70 = fma(g, bl, c70); c71 = fma(g, bh, c71);
  }
  store_row(n0, i0, c00, c01);
  store_row(n0 + 1u, i0, c10, c11);
  store_row(n0 + 2u, i0, c20, c21);
  store_row(n0 + 3u, i0, c30, c31);
  store_row(n0 + 4u, i0, c40, c41);
  store_row(n0 + 5u, i0, c50, c51);
  store_row(n0 + 6u, i0, c60, c61);
  store_row(n0 + 7u, i0, c70, c71);
}
