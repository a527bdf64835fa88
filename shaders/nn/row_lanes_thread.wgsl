// row_lanes.wgsl for CPU adapters: the same row_body run by one thread per row (grid-stride over
// rows), so its lane loops are serial loops over the whole row and row sums need no barriers or
// workgroup memory (which lavapipe emulates slowly).
fn lanes() -> u32 { return 1u; }
fn row_sum(lane: u32, v: f32) -> f32 { return v; }
fn row_sum2(lane: u32, v: vec2<f32>) -> vec2<f32> { return v; }

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var row = linear_id(gid, nwg, WG); row < params.rows; row += step) { row_body(row, 0u); }
}
