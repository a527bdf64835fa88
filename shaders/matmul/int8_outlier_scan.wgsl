// Combines the partial flags of int8_outliers_grid.wgsl (chunks rows of `cols` words after the
// flags) into flags[c] and writes list[off..] = [count, c0, c1, ...] in increasing column order,
// the values of int8_outlier_list.wgsl, in one workgroup: each invocation owns a contiguous block
// of columns, counts its outliers, and writes them at the exclusive prefix sum of the counts.
var<workgroup> cnt: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let cols = params.cols;
  let per = (cols + WG - 1u) / WG;
  let c0 = min(lid * per, cols);
  let c1 = min(c0 + per, cols);
  var n = 0u;
  for (var c = c0; c < c1; c++) {
    var hit = 0u;
    for (var k = 1u; k <= params.chunks; k++) { hit |= flags[k * cols + c]; }
    flags[c] = hit;
    n += hit;
  }
  // Inclusive Hillis–Steele scan of the counts.
  cnt[lid] = n;
  workgroupBarrier();
  for (var d = 1u; d < WG; d <<= 1u) {
    var v = 0u;
    if (lid >= d) { v = cnt[lid - d]; }
    workgroupBarrier();
    cnt[lid] += v;
    workgroupBarrier();
  }
  if (lid == WG - 1u) { list[params.off] = cnt[lid]; }
  // Only this invocation's own flags are read back: no storage barrier needed.
  var at = params.off + 1u + cnt[lid] - n;
  for (var c = c0; c < c1; c++) {
    if (flags[c] != 0u) {
      list[at] = c;
      at++;
    }
  }
}
