// Index helpers for strided kernels: shapes and strides come as 8 dims packed in two vec4<u32>.
fn dim8(v: array<vec4<u32>, 2>, k: u32) -> u32 {
  return v[k / 4u][k % 4u];
}

// Element offset of the i-th element (row-major over `shape`) in a tensor with `strides`.
fn strided_offset(i: u32, rank: u32, shape: array<vec4<u32>, 2>, strides: array<vec4<u32>, 2>) -> u32 {
  var rem = i;
  var off = 0u;
  for (var k = i32(rank) - 1; k >= 0; k--) {
    let d = dim8(shape, u32(k));
    off += (rem % d) * dim8(strides, u32(k));
    rem = rem / d;
  }
  return off;
}

// Linear thread index for grids split over x and y (see grid1d in src/gpu/kernel.ts).
fn linear_id(gid: vec3<u32>, nwg: vec3<u32>, wg: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg;
}

// Total threads of a 1-D grid split over x and y: the step of grid-stride loops, which let a
// kernel run with fewer workgroups than items (see strideGrid in src/backend/webgpu/common.ts).
fn grid_threads(nwg: vec3<u32>, wg: u32) -> u32 {
  return nwg.x * nwg.y * wg;
}
