// Plain matmul epilogue: the accumulated value is stored as it is. Fused variants (LoRA,
// shaders/matmul/lora_epilogue.wgsl) supply their own epilogue(m, n, v) with the same signature.
fn epilogue(m: u32, n: u32, v: f32) -> f32 {
  return v;
}
