// The LoRA down-projection's gradient term of token n and column k: dropout(x)[n, k] (the mask
// regenerated from (seed, n·K + k) as lora_project.wgsl draws it) times the 4 ranks j0..j3 of
// g[n] = scale·dy·B, added to acc. Shared by lora_grad_a.wgsl and lora_grad_a_split.wgsl so both
// draw the same mask.
fn grad_a_term(n: u32, k: u32, j: vec4<u32>, acc: vec4<f32>) -> vec4<f32> {
  let K = params.K;
  var xv = x[n * K + k];
  if (MASKED) {
    let drop = (hash_u32(params.seed, n * K + k) >> 8u) < params.threshold;
    xv = select(xv * params.keep_scale, 0.0, drop);
  }
  let gb = n * params.r;
  return fma(vec4<f32>(xv), vec4<f32>(g[gb + j.x], g[gb + j.y], g[gb + j.z], g[gb + j.w]), acc);
}
