// out[o, c, k] = sum over j in chunk c of x[o, j, k] for integer T (i32/u32), added in T itself:
// exact, wrapping around modulo 2^32 (WGSL integer arithmetic), so neither the chunking nor the
// order changes the result. Layout and chunks as reduce_cols.wgsl; one thread per (o, c, k).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var i = linear_id(gid, nwg, WG); i < params.outer * params.chunks * params.inner; i += step) {
    let o = i / (params.chunks * params.inner);
    let c = i / params.inner % params.chunks;
    let k = i % params.inner;
    let j0 = c * params.chunk;
    let j1 = min(j0 + params.chunk, params.len);
    let base = o * params.len * params.inner + k;
    var acc = T(0);
    for (var j = j0; j < j1; j++) {
      acc = acc + x[base + j * params.inner];
    }
    out[i] = acc;
  }
}
