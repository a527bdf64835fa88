// out[o, c, k] = REDUCE over j in chunk c of x[o, j, k], for x viewed as [outer, len, inner] and
// len cut into `chunks` chunks of `chunk` (the last may be shorter): one thread per (o, c, k),
// reading consecutive k across threads (coalesced), grid-stride. With chunks = 1 it is the whole
// reduction; with more it is the first pass of a long one (reduce.ts): each thread then adds at
// most `chunk` values in sequence, which keeps f32 sums accurate and the GPU busy.
// OP: 0 sum 1 mean 2 max 3 min (reduce_op.wgsl); mean divides by params.div.
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
    var acc = identity();
    for (var j = j0; j < j1; j++) {
      acc = combine(acc, f32(x[base + j * params.inner]));
    }
    if (OP == 1u) { acc = acc / params.div; }
    out[i] = T(acc);
  }
}
