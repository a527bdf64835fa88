// out[i, c] = table[ids[i], c]: one invocation per output element, consecutive c per thread so
// reads and writes are coalesced. Ids outside [0, num_rows) give NaN (a kernel cannot throw).
// `table` holds rows [row_start, row_start + chunk_rows) only: a table over the binding limit is
// gathered in several launches, each writing the outputs whose id falls in its rows.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let r = i / params.dim;
  let c = i % params.dim;
  let id = ids[r];
  if (id < 0 || u32(id) >= params.num_rows) {
    if (params.row_start == 0u) { out[i] = T(nan_f32()); }
    return;
  }
  let local = u32(id) - params.row_start; // wraps to a huge value for ids below the chunk
  if (local >= params.chunk_rows) { return; }
  out[i] = table[local * params.dim + c];
}

// A quiet NaN made at run time: WGSL rejects NaN in constant expressions.
fn nan_f32() -> f32 {
  var bits = 0x7fc00000u;
  return bitcast<f32>(bits);
}
