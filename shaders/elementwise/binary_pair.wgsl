// binary.wgsl's pair() for float operands: apply() of binary_ops.wgsl, computed in f32.
fn pair(x: T, y: T) -> T {
  return T(apply(f32(x), f32(y)));
}
