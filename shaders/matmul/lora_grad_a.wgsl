// Gradient of the LoRA down-projection: dA[j, k] = Σ_n g[n, j] · dropout(x)[n, k], dA [r, K], with
// g = scale·dy·B [rows, r] and the dropout mask regenerated from (seed, n·K + k) as in
// lora_project.wgsl (never materialised). One invocation per (column k, 4 ranks); consecutive
// invocations take consecutive k, so the reads of x rows are contiguous across a workgroup.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = linear_id(gid, nwg, WG);
  let K = params.K;
  let r = params.r;
  let nb = (r + 3u) / 4u;
  if (id >= K * nb) { return; }
  let k = id % K;
  let j0 = (id / K) * 4u;
  let j1 = min(j0 + 1u, r - 1u);
  let j2 = min(j0 + 2u, r - 1u);
  let j3 = min(j0 + 3u, r - 1u);
  var acc = vec4<f32>();
  for (var n = 0u; n < params.rows; n++) { acc = grad_a_term(n, k, vec4<u32>(j0, j1, j2, j3), acc); }
  for (var t = 0u; t < 4u; t++) {
    if (j0 + t < r) { out[(j0 + t) * K + k] = acc[t]; }
  }
}
