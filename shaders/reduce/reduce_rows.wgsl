// out[r] = REDUCE(x[r, 0..len)) for contiguous rows; one workgroup per row, tree reduction in
// workgroup memory. OP: 0 sum 1 mean 2 max 3 min (reduce_op.wgsl).
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= params.rows) { return; }
  let base = row * params.len;
  var acc = identity();
  for (var j = lid.x; j < params.len; j += WG) {
    acc = combine(acc, f32(x[base + j]));
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid.x < s) { partial[lid.x] = combine(partial[lid.x], partial[lid.x + s]); }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    var r = partial[0];
    if (OP == 1u) { r = r / params.div; }
    out[row] = T(r);
  }
}
