// Row-wise absmax int8 quantisation (LLM.int8 "vector-wise"): one workgroup per row computes
// s = max|x[row, c]| over the columns that are not outliers, then packs q = round(x·127/s) (WGSL
// round() is half-to-even, like torch.round) four per u32, byte j of word w holding column 4w+j.
// Outlier columns (flag[c] != 0) and the padding past `cols` are packed as 0, so the int8 product
// skips them and the f32 outlier pass adds them exactly once. A zero row gives s = 0 and q = 0.
// With SCALE_IN_Q8 (activations) s goes into q8 itself, as f32 bits at scale_off + row.
var<workgroup> red: array<f32, WG>;

fn is_outlier(c: u32) -> bool {
  if (!HAS_OUTLIERS) { return false; }
  return flags[c] != 0u;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let lid = lid3.x;
  let row = wid.x + wid.y * nwg.x;
  // Uniform control flow: every invocation of a workgroup shares `row`, so the early return is safe.
  if (row >= params.rows) { return; }
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
  if (lid == 0u) {
    if (SCALE_IN_Q8) { q8[params.scale_off + row] = bitcast<u32>(sc); } else { scale[row] = sc; }
  }
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
