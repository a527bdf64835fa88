// reduce_rows_thread.wgsl for f32 rows whose length is a multiple of 4, reading vec4s (len4 =
// len / 4 vectors per row). OP: 0 sum 1 mean 2 max 3 min (reduce_op.wgsl).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  let len4 = params.len / 4u;
  for (var row = linear_id(gid, nwg, WG); row < params.rows; row += step) {
    let base = row * len4;
    var acc = vec4<f32>(identity());
    for (var j = 0u; j < len4; j++) {
      acc = combine4(acc, x[base + j]);
    }
    var r = combine(combine(acc.x, acc.y), combine(acc.z, acc.w));
    if (OP == 1u) { r = r / params.div; }
    out[row] = r;
  }
}
