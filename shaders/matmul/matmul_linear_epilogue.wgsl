// Linear epilogue (x·Wᵀ + b, optionally GELU) of the plain matmul kernels: the bias of column n
// joins the f32 accumulator and the exact-erf GELU (common/math.wgsl, as the unary op) follows,
// before the single store. For f32 storage this is the same f32 arithmetic as the separate add
// and gelu passes over the stored product, so the fused result is bit-identical; f16 storage
// rounds once instead of after each pass. Without a bias the `bias` binding is a dummy.
fn epilogue(m: u32, n: u32, v: f32) -> f32 {
  var y = v;
  if (HAS_BIAS) { y = y + f32(bias[n]); }
  if (GELU) { y = gelu_f32(y); }
  return y;
}
