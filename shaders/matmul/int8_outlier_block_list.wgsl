// The ordered outlier list written by one workgroup: invocation lid owns the contiguous column
// block [c0, c1) (blocks in invocation order cover 0..cols), counts the outliers in it (n), and
// writes them at the exclusive prefix sum of the counts, so the list is [count, c0, c1, ...] in
// increasing column order, as int8_outlier_list.wgsl writes it. The including kernel supplies
// list_put(i, v) (entry i of its list) and reads flags; shared by the fused decode kernel
// (int8_quantize_outliers.wgsl) and the GPU list pass (int8_outlier_scan.wgsl).
var<workgroup> cnt: array<u32, WG>;

fn column_block(lid: u32) -> vec2<u32> {
  let per = (params.cols + WG - 1u) / WG;
  let c0 = min(lid * per, params.cols);
  return vec2<u32>(c0, min(c0 + per, params.cols));
}

fn write_outlier_list(lid: u32, block: vec2<u32>, n: u32) {
  cnt[lid] = n;
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0u;
    for (var i = 0u; i < WG; i++) {
      let v = cnt[i];
      cnt[i] = s;
      s += v;
    }
    list_put(0u, s);
  }
  workgroupBarrier();
  // Only this invocation's own flags are read back here.
  var at = 1u + cnt[lid];
  for (var c = block.x; c < block.y; c++) {
    if (flags[c] != 0u) {
      list_put(at, c);
      at++;
    }
  }
}
