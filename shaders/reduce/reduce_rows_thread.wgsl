// out[r] = REDUCE(x[r, 0..len)) with one thread per row and no barriers (grid-stride over rows):
// the row reduction for CPU adapters, where reduce_rows.wgsl's barrier tree is emulated slowly.
// OP: 0 sum 1 mean 2 max 3 min (reduce_op.wgsl); mean divides by params.div.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var row = linear_id(gid, nwg, WG); row < params.rows; row += step) {
    let base = row * params.len;
    var acc = identity();
    for (var j = 0u; j < params.len; j++) {
      acc = combine(acc, f32(x[base + j]));
    }
    if (OP == 1u) { acc = acc / params.div; }
    out[row] = T(acc);
  }
}
