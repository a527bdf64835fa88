// out[o, c, k] = REDUCE over j in chunk c of x[o, j, k], for x viewed as [outer, len, inner] and
// len cut into `chunks` chunks of `chunk` (cols_layout.wgsl): one thread per (o, c, k),
// reading consecutive k across threads (coalesced), grid-stride. With chunks = 1 it is the whole
// reduction; with more it is the first pass of a long one (reduce.ts): each thread then adds at
// most `chunk` values in sequence, which keeps f32 sums accurate and the GPU busy.
// OP: 0 sum 1 mean 2 max 3 min (reduce_op.wgsl); mean divides by params.div.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var i = linear_id(gid, nwg, WG); i < col_cells(); i += step) {
    let cell = col_cell(i);
    var acc = identity();
    for (var j = cell.j0; j < cell.j1; j++) {
      acc = combine(acc, f32(x[cell.base + j * params.inner]));
    }
    if (OP == 1u) { acc = acc / params.div; }
    out[i] = T(acc);
  }
}
