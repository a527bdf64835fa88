// reduce_rows_thread.wgsl for f32 rows whose length is a multiple of 4, reading vec4s (len4 =
// len / 4 vectors per row). OP: 0 sum 1 mean 2 max 3 min.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  let len4 = params.len / 4u;
  for (var row = linear_id(gid, nwg, WG); row < params.rows; row += step) {
    let base = row * len4;
    var acc: vec4<f32>;
    switch OP {
      case 2u: { acc = vec4<f32>(-3.4028234663852886e38); }
      case 3u: { acc = vec4<f32>(3.4028234663852886e38); }
      default: { acc = vec4<f32>(0.0); }
    }
    for (var j = 0u; j < len4; j++) {
      let v = x[base + j];
      switch OP {
        case 2u: { acc = max(acc, v); }
        case 3u: { acc = min(acc, v); }
        default: { acc += v; }
      }
    }
    var r: f32;
    switch OP {
      case 2u: { r = max(max(acc.x, acc.y), max(acc.z, acc.w)); }
      case 3u: { r = min(min(acc.x, acc.y), min(acc.z, acc.w)); }
      default: { r = (acc.x + acc.y) + (acc.z + acc.w); }
    }
    if (OP == 1u) { r = r / f32(params.len); }
    out[row] = r;
  }
}
