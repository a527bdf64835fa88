// Operands of matmul_skinny_vec4.wgsl for one weight: z is the batch index (batch strides in the
// uniforms), the output of batch z starts at z·M·N, and the store runs the kernel's epilogue
// (matmul_epilogue.wgsl or matmul_linear_epilogue.wgsl).
fn weight(z: u32, i: u32) -> V {
  return b[i];
}

fn out_base(z: u32) -> u32 {
  return z * params.M * params.N;
}

fn out_epilogue(z: u32, m: u32, n: u32, v: f32) -> f32 {
  return epilogue(m, n, v);
}
