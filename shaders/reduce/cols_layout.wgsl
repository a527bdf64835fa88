// The cell of reduce_cols.wgsl / reduce_cols_int.wgsl that output i stands for: x viewed as
// [outer, len, inner], len cut into `chunks` chunks of `chunk` (the last may be shorter), output
// [outer, chunks, inner]. The cell's values are x[base + j·inner] for j in [j0, j1).
struct ColCell {
  base: u32,
  j0: u32,
  j1: u32,
}

fn col_cell(i: u32) -> ColCell {
  let o = i / (params.chunks * params.inner);
  let c = i / params.inner % params.chunks;
  let k = i % params.inner;
  let j0 = c * params.chunk;
  return ColCell(o * params.len * params.inner + k, j0, min(j0 + params.chunk, params.len));
}

fn col_cells() -> u32 {
  return params.outer * params.chunks * params.inner;
}
