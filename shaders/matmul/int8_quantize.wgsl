// Row-wise absmax int8 quantisation, one workgroup per row (the row body is int8_quantize_row.wgsl).
// Outlier columns are flag[c] != 0 (HAS_OUTLIERS). With SCALE_IN_Q8 (activations) s goes into q8
// itself, as f32 bits at scale_off + row; otherwise into scale[row] (weights).
fn is_outlier(c: u32) -> bool {
  if (!HAS_OUTLIERS) { return false; }
  return flags[c] != 0u;
}

fn store_scale(row: u32, sc: f32) {
  if (SCALE_IN_Q8) { q8[params.scale_off + row] = bitcast<u32>(sc); } else { scale[row] = sc; }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform control flow: every invocation of a workgroup shares `row`, so the early return is safe.
  if (row >= params.rows) { return; }
  quantize_row(lid3.x, row);
}
