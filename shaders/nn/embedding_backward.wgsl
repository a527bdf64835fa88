// Stage 2 of the deterministic embedding backward (no float atomics): the invocation for
// (head position i, column c) walks the chain of positions holding ids[i] (built by
// embedding_links) in increasing order and writes out[ids[i], c] = Σ dy[j, c] once. The output
// is zero-filled before; rows of the padding id and out-of-range ids are skipped, so they stay 0.
// Summation order is position order, the same as the CPU reference. `out` holds rows
// [row_start, row_start + chunk_rows) only (a gradient over the binding limit is made in chunks).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = linear_id(gid, nwg, WG);
  if (t >= params.total) { return; }
  let i = t / params.dim;
  let c = t % params.dim;
  if ((link[i] & 0x80000000u) != 0u) { return; }
  let id = ids[i];
  if (id == params.padding_idx || id < 0 || u32(id) >= params.num_rows) { return; }
  let local = u32(id) - params.row_start;
  if (local >= params.chunk_rows) { return; }
  var s = 0.0;
  var j = i;
  loop {
    s += f32(dy[j * params.dim + c]);
    let nx = link[j] & 0x7fffffffu;
    if (nx >= params.n) { break; }
    j = nx;
  }
  out[local * params.dim + c] = T(s);
}
