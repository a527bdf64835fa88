// Entry point of row kernels written once for both launch styles as `fn row_body(row, lane)`; this
// one runs a workgroup per row (include after row_reduce.wgsl), row_lanes_thread.wgsl one thread
// per row. A body loops `for (var j = lane; j < len; j += lanes())` and combines the lanes with
// row_sum / row_sum2, which every lane of the row must reach (they hold barriers here).
fn lanes() -> u32 { return WG; }
fn row_sum(lane: u32, v: f32) -> f32 { return wg_sum(lane, v); }
fn row_sum2(lane: u32, v: vec2<f32>) -> vec2<f32> { return wg_sum2(lane, v); }

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = row_of(wid, nwg);
  if (row < params.rows) { row_body(row, lid.x); }
}
