// out[o, c, k] = sum over j in chunk c of x[o, j, k] for integer T (i32/u32), added in T itself:
// exact, wrapping around modulo 2^32 (WGSL integer arithmetic), so neither the chunking nor the
// order changes the result. Layout and chunks in cols_layout.wgsl, as reduce_cols.wgsl; one thread per (o, c, k).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let step = grid_threads(nwg, WG);
  for (var i = linear_id(gid, nwg, WG); i < col_cells(); i += step) {
    let cell = col_cell(i);
    var acc = T(0);
    for (var j = cell.j0; j < cell.j1; j++) {
      acc = acc + x[cell.base + j * params.inner];
    }
    out[i] = acc;
  }
}
