// packed_4x8_integer_dot_product is available: the 4-way signed byte dot product is one builtin.
fn dot4_native(a: u32, b: u32) -> i32 {
  return dot4I8Packed(a, b);
}
