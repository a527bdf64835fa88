// LoRA epilogue of a [M, N] product (included by matmul.wgsl / matmul_regs.wgsl /
// matmul_regs_nt.wgsl and lora_add.wgsl):
//   v + bias[n] + mask(m, n) · Σ_j u[m, j] · lw(n, j)
// Forward: u = scale·dropout(x)·Aᵀ [M, r], lw = B [N, r] (LW_T false), bias the base bias, no mask.
// Backward to x: u = scale·dy·B [M, r], lw = A [r, N] (LW_T true), and the dropout mask of x
// regenerated from (seed, m·N + n): the same element index, hash and integer threshold as
// shaders/nn/dropout.wgsl, so the mask is bit-identical to the unfused dropout op's.
fn epilogue(m: u32, n: u32, v: f32) -> f32 {
  let r = params.r;
  var s = 0.0;
  for (var j = 0u; j < r; j++) {
    var w: f32;
    if (LW_T) { w = lw[j * params.N + n]; } else { w = lw[n * r + j]; }
    s = fma(u[m * r + j], w, s);
  }
  if (MASKED) {
    let drop = (hash_u32(params.seed, m * params.N + n) >> 8u) < params.threshold;
    s = select(s * params.keep_scale, 0.0, drop);
  }
  var b = 0.0;
  if (params.has_bias != 0u) { b = bias[n]; }
  return v + b + s;
}
