// The three activation passes of LLM.int8 in one workgroup, for few rows (decoding): outlier flags
// (int8_outliers.wgsl), the ordered outlier list (int8_outlier_list.wgsl) and the row-wise
// quantisation with outlier columns zeroed and the scale in q8 (int8_quantize.wgsl with
// HAS_OUTLIERS and SCALE_IN_Q8). One launch instead of three; the values written are the same
// (same comparisons, same max, same rounding expression), and the list stays in increasing
// column order: each invocation scans a contiguous block of columns and writes its outliers at
// the exclusive prefix sum of the blocks' counts.
var<workgroup> red: array<f32, WG>;
var<workgroup> cnt: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  let cols = params.cols;
  let chunk = (cols + WG - 1u) / WG;
  let c0 = min(lid * chunk, cols);
  let c1 = min(c0 + chunk, cols);
  var n = 0u;
  for (var c = c0; c < c1; c++) {
    var hit = 0u;
    for (var t = 0u; t < params.rows; t++) {
      if (abs(x[t * cols + c]) >= params.threshold) { hit = 1u; break; }
    }
    flags[c] = hit;
    n += hit;
  }
  cnt[lid] = n;
  workgroupBarrier();
  if (lid == 0u) {
    var s = 0u;
    for (var i = 0u; i < WG; i++) {
      let v = cnt[i];
      cnt[i] = s;
      s += v;
    }
    q8[params.list_off] = s;
  }
  workgroupBarrier();
  var at = params.list_off + 1u + cnt[lid];
  for (var c = c0; c < c1; c++) {
    if (flags[c] != 0u) {
      q8[at] = c;
      at++;
    }
  }
  // Every invocation's flags are read below.
  storageBarrier();
  for (var row = 0u; row < params.rows; row++) {
    let base = row * cols;
    var m = 0.0;
    for (var c = lid; c < cols; c += WG) {
      if (flags[c] == 0u) { m = max(m, abs(x[base + c])); }
    }
    red[lid] = m;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
      if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
      workgroupBarrier();
    }
    let sc = red[0];
    if (lid == 0u) { q8[params.scale_off + row] = bitcast<u32>(sc); }
    for (var w = lid; w < params.words; w += WG) {
      var packed = 0u;
      for (var j = 0u; j < 4u; j++) {
        let c = 4u * w + j;
        var q = 0i;
        if (c < cols && sc > 0.0 && flags[c] == 0u) {
          q = clamp(i32(round(div_rn(x[base + c] * 127.0, sc))), -127i, 127i);
        }
        packed |= (u32(q) & 0xffu) << (8u * j);
      }
      q8[row * params.words + w] = packed;
    }
    // red[0] is read above before the next row overwrites red.
    workgroupBarrier();
  }
}
