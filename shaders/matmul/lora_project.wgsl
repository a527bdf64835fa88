// Rank-r projection of the LoRA branch: out[n, j] = scale · Σ_k x'(n, k) · w(j, k), out [rows, r].
// Forward: x' = dropout(x) with the mask regenerated from (seed, n·K + k) exactly as
// shaders/nn/dropout.wgsl draws it (same index, hash, integer threshold and f32 x·keep_scale), so
// dropout(x) is never materialised; w = A [r, K] (W_KMAJOR false). Backward: x' = dy, w = B [K, r]
// (W_KMAJOR true). One invocation per (row, 4 outputs): r is small (8–64), so reading x dominates
// and each element is read (and hashed) ceil(r / 4) times.
fn w_at(j: u32, k: u32) -> f32 {
  let jj = min(j, params.r - 1u); // past r: clamped read, never stored
  if (W_KMAJOR) { return w[k * params.r + jj]; }
  return w[jj * params.K + k];
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  let nb = (params.r + 3u) / 4u;
  if (id >= params.rows * nb) { return; }
  let n = id / nb;
  let j0 = (id % nb) * 4u;
  let K = params.K;
  let row = n * K;
  var acc = vec4<f32>();
  for (var k = 0u; k < K; k++) {
    var xv = x[row + k];
    if (MASKED) {
      let drop = (hash_u32(params.seed, row + k) >> 8u) < params.threshold;
      xv = select(xv * params.keep_scale, 0.0, drop);
    }
    acc = fma(vec4<f32>(xv), vec4<f32>(w_at(j0, k), w_at(j0 + 1u, k), w_at(j0 + 2u, k), w_at(j0 + 3u, k)), acc);
  }
  for (var t = 0u; t < 4u; t++) {
    if (j0 + t < params.r) { out[n * params.r + j0 + t] = acc[t] * params.scale; }
  }
}
