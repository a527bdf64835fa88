// Without packed_4x8_integer_dot_product the builtin cannot even be named, so this stand-in keeps
// the kernel body compiling; USE_DOT4 is forced off on such adapters and it is never called.
fn dot4_native(a: u32, b: u32) -> i32 {
  return dot4_unpacked(a, b);
}
