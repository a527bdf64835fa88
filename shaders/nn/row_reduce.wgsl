// Workgroup-wide reductions for the one-workgroup-per-row nn kernels. WG must be a power of two.
// Every invocation of the workgroup must reach these calls (they hold barriers), and every one gets
// the result. Each ends with a barrier so the scratch arrays can be reused by the next call.
var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;

// Row handled by this workgroup (grids beyond 65535 rows are split over x and y, see grid1d).
fn row_of(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

fn wg_sum2(lid: u32, v: vec2<f32>) -> vec2<f32> {
  red_a[lid] = v.x;
  red_b[lid] = v.y;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      red_a[lid] += red_a[lid + s];
      red_b[lid] += red_b[lid + s];
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(red_a[0], red_b[0]);
  workgroupBarrier();
  return r;
}

fn wg_sum(lid: u32, v: f32) -> f32 {
  return wg_sum2(lid, vec2<f32>(v, 0.0)).x;
}

// Combines the per-invocation (m, s) states of the workgroup.
fn wg_lse(lid: u32, v: vec2<f32>) -> vec2<f32> {
  red_a[lid] = v.x;
  red_b[lid] = v.y;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let r = lse_merge(vec2<f32>(red_a[lid], red_b[lid]), vec2<f32>(red_a[lid + s], red_b[lid + s]));
      red_a[lid] = r.x;
      red_b[lid] = r.y;
    }
    workgroupBarrier();
  }
  let r = vec2<f32>(red_a[0], red_b[0]);
  workgroupBarrier();
  return r;
}
