// Operands of matmul_skinny_vec4.wgsl for three linears x·Wzᵀ + bias_z sharing x (the q, k and v
// projections of a decode step): z = workgroup_id.z in 0..2 selects the weight (b, b_1, b_2) and
// the bias (bias, bias_1, bias_2), uniform per workgroup; the uniforms' batch strides are 0 and
// output z starts at z·c_stride (a padded slot, so that each can be bound on its own). The bias
// add is the f32 add of matmul_linear_epilogue.wgsl, so the bits match three separate launches.
fn weight(z: u32, i: u32) -> V {
  switch z {
    case 0u: { return b[i]; }
    case 1u: { return b_1[i]; }
    default: { return b_2[i]; }
  }
}

fn out_base(z: u32) -> u32 {
  return z * params.c_stride;
}

fn out_epilogue(z: u32, m: u32, n: u32, v: f32) -> f32 {
  var y = v;
  switch z {
    case 0u: { y = y + f32(bias[n]); }
    case 1u: { y = y + f32(bias_1[n]); }
    default: { y = y + f32(bias_2[n]); }
  }
  return y;
}
