// Combines the partial flags of int8_outliers_grid.wgsl (chunks rows of `cols` words after the
// flags) into flags[c] and writes list[off..] = [count, c0, c1, ...] in increasing column order,
// the values of int8_outlier_list.wgsl, in one workgroup (int8_outlier_block_list.wgsl).
fn list_put(i: u32, v: u32) {
  list[params.off + i] = v;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let cols = params.cols;
  let block = column_block(lid);
  var n = 0u;
  for (var c = block.x; c < block.y; c++) {
    var hit = 0u;
    for (var k = 1u; k <= params.chunks; k++) { hit |= flags[k * cols + c]; }
    flags[c] = hit;
    n += hit;
  }
  write_outlier_list(lid, block, n);
}
