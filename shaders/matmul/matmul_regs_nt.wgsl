// Batched C[b] = A[b] @ B[b]ᵀ (the x·Wᵀ linear) for CPU adapters, K a multiple of 4: A and B are
// bound as vec4 arrays along K. Each invocation computes R rows × 4 columns in registers. The R
// rows come from the workgroup id alone, so every invocation of a workgroup reads the same A
// addresses: lavapipe's divergence analysis turns those into one scalar load broadcast to the SIMD
// lanes, and only the B reads (one vec4 per column per 4 k) are per-lane gathers. Row blocks run
// along x (dispatched first), so consecutive workgroups reuse the same 4·WG columns of B from cache.
// Rows/columns past the edge are clamped on load and skipped on store. Stores go through
// epilogue(m, n, v) (identity, or a fused epilogue such as lora_epilogue.wgsl).

const RMAX = 16u;

fn store4(base: u32, m: u32, n0: u32, v: vec4<f32>) {
  if (m >= params.M) { return; }
  let r = base + m * params.N;
  for (var j = 0u; j < 4u; j++) {
    if (n0 + j < params.N) { c[r + n0 + j] = T(epilogue(m, n0 + j, v[j])); }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K4 = params.K / 4u;
  let batch = wid.z;
  let m0 = wid.x * R;
  let n0 = (wid.y * WG + lid.x) * 4u;
  if (n0 >= N) { return; }
  let abase = (batch * params.a_batch_stride) / 4u;
  let bbase = (batch * params.b_batch_stride) / 4u;
  var oa: array<u32, RMAX>;
  for (var r = 0u; r < R; r++) { oa[r] = abase + min(m0 + r, M - 1u) * K4; }
  let b0 = bbase + min(n0, N - 1u) * K4;
  let b1 = bbase + min(n0 + 1u, N - 1u) * K4;
  let b2 = bbase + min(n0 + 2u, N - 1u) * K4;
  let b3 = bbase + min(n0 + 3u, N - 1u) * K4;
  var acc: array<vec4<f32>, RMAX>;
  for (var k = 0u; k < K4; k++) {
    let w0 = vec4<f32>(b[b0 + k]); let w1 = vec4<f32>(b[b1 + k]); let w2 = vec4<f32>(b[b2 + k]); let w3 = vec4<f32>(b[b3 + k]);
    for (var r = 0u; r < R; r++) {
      let x = vec4<f32>(a[oa[r] + k]);
      acc[r] += vec4<f32>(dot(x, w0), dot(x, w1), dot(x, w2), dot(x, w3));
    }
  }
  let cb = batch * M * N;
  for (var r = 0u; r < R; r++) { store4(cb, m0 + r, n0, acc[r]); }
}
