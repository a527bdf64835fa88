// One row of the row-wise absmax int8 quantisation, run by a whole workgroup (LLM.int8
// "vector-wise"): s = max|x[row, c]| over the columns that are not outliers (workgroup max), then
// q = round(x·127/s) (WGSL round() is half-to-even, like torch.round; div_rn is the correctly
// rounded quotient) packed four per u32 into q8 [rows, words], byte j of word w holding column 4w+j.
// Outlier columns and the padding past `cols` are packed as 0, so the int8 product skips them and
// the f32 outlier pass adds them exactly once. A zero row gives s = 0 and q = 0. The including
// kernel supplies is_outlier(c) and store_scale(row, s); shared by int8_quantize.wgsl and the fused
// int8_quantize_outliers.wgsl, so both write the same codes.
var<workgroup> red: array<f32, WG>;

fn quantize_row(lid: u32, row: u32) {
  let base = row * params.cols;
  var m = 0.0;
  for (var c = lid; c < params.cols; c += WG) {
    if (!is_outlier(c)) { m = max(m, abs(x[base + c])); }
  }
  red[lid] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let sc = red[0];
  // Every invocation has read red[0] before a next row (fused kernel) overwrites red.
  workgroupBarrier();
  if (lid == 0u) { store_scale(row, sc); }
  for (var w = lid; w < params.words; w += WG) {
    var packed = 0u;
    for (var j = 0u; j < 4u; j++) {
      let c = 4u * w + j;
      var q = 0i;
      if (c < params.cols && sc > 0.0 && !is_outlier(c)) {
        q = clamp(i32(round(div_rn(x[base + c] * 127.0, sc))), -127i, 127i);
      }
      packed |= (u32(q) & 0xffu) << (8u * j);
    }
    q8[row * params.words + w] = packed;
  }
}
