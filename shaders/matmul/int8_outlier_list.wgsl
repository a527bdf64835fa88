// Compacts the outlier flags into list[off..] = [count, c0, c1, ...] in increasing column order.
// A single invocation keeps the order (and so the f32 summation order of the outlier pass) deterministic;
// it is a scan over `cols` (≤ a few thousand) words, negligible next to the matmul.
@compute @workgroup_size(1)
fn main() {
  var n = 0u;
  for (var c = 0u; c < params.cols; c++) {
    if (flags[c] != 0u) {
      list[params.off + 1u + n] = c;
      n++;
    }
  }
  list[params.off] = n;
}
