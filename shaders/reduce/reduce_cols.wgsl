// out[o, k] = REDUCE over j of x[o, j, k] for x viewed as [outer, len, inner]: one thread per
// (o, k), reading consecutive k across threads (coalesced), grid-stride over (o, k).
// OP: 0 sum 1 mean 2 max 3 min (reduce_op.wgsl).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var i = linear_id(gid, nwg, WG); i < params.outer * params.inner; i += step) {
    let o = i / params.inner;
    let k = i % params.inner;
    let base = o * params.len * params.inner + k;
    var acc = identity();
    for (var j = 0u; j < params.len; j++) {
      acc = combine(acc, f32(x[base + j * params.inner]));
    }
    if (OP == 1u) { acc = acc / f32(params.len); }
    out[i] = T(acc);
  }
}
