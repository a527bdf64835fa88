// GPU form of lora_grad_a.wgsl: dA[j, k] = Σ_n g[n, j] · dropout(x)[n, k], dA [r, K], the dropout
// mask regenerated from (seed, n·K + k) as there. A workgroup of KC×NS threads computes KC
// consecutive columns k for 4 ranks (workgroup y): thread (c, s) sums the tokens n ≡ s (mod NS) in
// increasing n, so at each step the NS thread rows read NS consecutive rows of x (KC-float runs);
// thread row 0 then adds the NS partials in order s = 0, 1, …, NS-1. The summation order is fixed
// by the sizes alone (deterministic), unlike an atomic or cross-workgroup split.
var<workgroup> part: array<vec4<f32>, KC * NS>;

@compute @workgroup_size(KC, NS)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let K = params.K;
  let r = params.r;
  let k = wid.x * KC + lid.x;
  let j0 = wid.y * 4u;
  let j1 = min(j0 + 1u, r - 1u);
  let j2 = min(j0 + 2u, r - 1u);
  let j3 = min(j0 + 3u, r - 1u);
  var acc = vec4<f32>();
  // No early return: every thread must reach the barrier.
  if (k < K) {
    for (var n = lid.y; n < params.rows; n += NS) { acc = grad_a_term(n, k, vec4<u32>(j0, j1, j2, j3), acc); }
  }
  part[lid.y * KC + lid.x] = acc;
  workgroupBarrier();
  if (lid.y != 0u || k >= K) { return; }
  var s = part[lid.x];
  for (var t = 1u; t < NS; t++) { s += part[t * KC + lid.x]; }
  for (var t = 0u; t < 4u; t++) {
    if (j0 + t < r) { out[(j0 + t) * K + k] = s[t]; }
  }
}
