// The three activation passes of LLM.int8 in one workgroup, for few rows (decoding): outlier flags
// (int8_outliers.wgsl), the ordered outlier list (int8_outlier_list.wgsl) and the row-wise
// quantisation with outlier columns zeroed and the scale in q8 (int8_quantize.wgsl with
// HAS_OUTLIERS and SCALE_IN_Q8). One launch instead of three; the values written are the same
// (same comparisons, same max, same rounding expression: int8_quantize_row.wgsl), and the list
// stays in increasing column order (int8_outlier_block_list.wgsl).

fn is_outlier(c: u32) -> bool {
  return flags[c] != 0u;
}

fn store_scale(row: u32, sc: f32) {
  q8[params.scale_off + row] = bitcast<u32>(sc);
}

fn list_put(i: u32, v: u32) {
  q8[params.list_off + i] = v;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let cols = params.cols;
  let block = column_block(lid);
  var n = 0u;
  for (var c = block.x; c < block.y; c++) {
    var hit = 0u;
    for (var t = 0u; t < params.rows; t++) {
      if (abs(x[t * cols + c]) >= params.threshold) { hit = 1u; break; }
    }
    flags[c] = hit;
    n += hit;
  }
  write_outlier_list(lid, block, n);
  // Every invocation's flags are read below.
  storageBarrier();
  for (var row = 0u; row < params.rows; row++) { quantize_row(lid, row); }
}
