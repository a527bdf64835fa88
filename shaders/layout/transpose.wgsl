// dst[b] = src[b]ᵀ for a batch of [rows, cols] matrices (batch along z). Each invocation moves a
// 4×4 block: four reads of 4 consecutive elements of a src row and four writes of 4 consecutive
// elements of a dst row, so both sides touch whole 16-byte runs instead of the one-element strided
// accesses of strided_copy.wgsl (which also pays a div/mod per dimension per element). Blocks past
// the edge are clipped element by element.
@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let rows = params.rows;
  let cols = params.cols;
  let j0 = gid.x * 4u;
  let i0 = gid.y * 4u;
  if (j0 >= cols || i0 >= rows) { return; }
  let base = gid.z * rows * cols;
  let ni = min(4u, rows - i0);
  let nj = min(4u, cols - j0);
  var v: array<array<T, 4>, 4>;
  for (var i = 0u; i < ni; i++) {
    let s = base + (i0 + i) * cols + j0;
    for (var j = 0u; j < nj; j++) { v[j][i] = src[s + j]; }
  }
  for (var j = 0u; j < nj; j++) {
    let d = base + (j0 + j) * rows + i0;
    for (var i = 0u; i < ni; i++) { dst[d + i] = v[j][i]; }
  }
}
