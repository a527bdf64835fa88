// LLM.int8 forward for few rows (N ≤ ~16, token-by-token decoding): a GEMV-style kernel. The
// register and tiled kernels compute whole 64-row blocks, so at N = 1 they do up to 64× the needed
// work; here an invocation computes 4 outputs o0..o0+3 for ROWS rows (an override, 1..8, chosen
// from N at launch so unused accumulators fold away), and the grid's y covers N in groups of ROWS.
// Like matmul_skinny.wgsl, KS invocations of a workgroup split the packed words of K between them
// (word k ≡ lid.x mod KS, so neighbouring invocations read neighbouring words of a weight row) and
// add their exact i32 partial sums through workgroup memory; with KS = 1 there is no workgroup
// memory traffic or barrier. WN output groups share a workgroup. Same algorithm and operands as
// matmul_int8_regs.wgsl (C = Σ xq·cb in i32 via dot4, then int8_epilogue of int8_common.wgsl);
// rows/outputs past the edge are clamped on load and never stored.

var<workgroup> part: array<vec4<i32>, KS * WN * 8u>;

fn d4(a: u32, w0: u32, w1: u32, w2: u32, w3: u32) -> vec4<i32> {
  return vec4<i32>(dot4(a, w0), dot4(a, w1), dot4(a, w2), dot4(a, w3));
}

@compute @workgroup_size(KS, WN)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let W = params.words;
  let o0 = (wid.x * WN + lid.y) * 4u;
  let n0 = wid.y * ROWS;
  let nl = params.N - 1u;
  let ol = params.O - 1u;
  let a0 = min(n0, nl) * W; let a1 = min(n0 + 1u, nl) * W; let a2 = min(n0 + 2u, nl) * W; let a3 = min(n0 + 3u, nl) * W;
  let a4 = min(n0 + 4u, nl) * W; let a5 = min(n0 + 5u, nl) * W; let a6 = min(n0 + 6u, nl) * W; let a7 = min(n0 + 7u, nl) * W;
  let b0 = min(o0, ol) * W; let b1 = min(o0 + 1u, ol) * W; let b2 = min(o0 + 2u, ol) * W; let b3 = min(o0 + 3u, ol) * W;
  var c0 = vec4<i32>(); var c1 = vec4<i32>(); var c2 = vec4<i32>(); var c3 = vec4<i32>();
  var c4 = vec4<i32>(); var c5 = vec4<i32>(); var c6 = vec4<i32>(); var c7 = vec4<i32>();
  for (var k = lid.x; k < W; k += KS) {
    let w0 = cb[b0 + k]; let w1 = cb[b1 + k]; let w2 = cb[b2 + k]; let w3 = cb[b3 + k];
    // ROWS is an override: the untaken branches are removed when the pipeline is compiled.
    c0 += d4(act[a0 + k], w0, w1, w2, w3);
    if (ROWS > 1u) { c1 += d4(act[a1 + k], w0, w1, w2, w3); }
    if (ROWS > 2u) { c2 += d4(act[a2 + k], w0, w1, w2, w3); }
    if (ROWS > 3u) { c3 += d4(act[a3 + k], w0, w1, w2, w3); }
    if (ROWS > 4u) { c4 += d4(act[a4 + k], w0, w1, w2, w3); }
    if (ROWS > 5u) { c5 += d4(act[a5 + k], w0, w1, w2, w3); }
    if (ROWS > 6u) { c6 += d4(act[a6 + k], w0, w1, w2, w3); }
    if (ROWS > 7u) { c7 += d4(act[a7 + k], w0, w1, w2, w3); }
  }
  if (KS == 1u) {
    // One store loop over a private array instead of ROWS inlined epilogues (the epilogue is large,
    // and lavapipe's compile time grows with every inlined copy).
    let rows = array<vec4<i32>, 8>(c0, c1, c2, c3, c4, c5, c6, c7);
    for (var i = 0u; i < ROWS; i++) { store4(n0 + i, o0, rows[i]); }
  } else {
    // Partial sums [output group][k slice][row]; invocation x < ROWS of an output group adds row x.
    let s = (lid.y * KS + lid.x) * 8u;
    part[s] = c0; part[s + 1u] = c1; part[s + 2u] = c2; part[s + 3u] = c3;
    part[s + 4u] = c4; part[s + 5u] = c5; part[s + 6u] = c6; part[s + 7u] = c7;
    workgroupBarrier();
    for (var r = lid.x; r < ROWS; r += KS) {
      var v = vec4<i32>();
      for (var x = 0u; x < KS; x++) { v += part[(lid.y * KS + x) * 8u + r]; }
      store4(n0 + r, o0, v);
    }
  }
}
