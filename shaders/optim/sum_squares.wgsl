// Per-tensor partial sums of x² for global-norm clipping: workgroup w grid-strides over
// x[w*WG + lid, ... step WG*groups] and writes one partial to partials[params.offset + w].
// Partials of all tensors land in one buffer; optim_sum_partials adds them up afterwards, so no
// atomics (WGSL has no float atomics) and the result does not depend on scheduling order.
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  var acc = 0.0;
  let stride = WG * params.groups;
  for (var i = wid.x * WG + lid.x; i < params.n; i += stride) {
    let v = f32(x[i]);
    acc += v * v;
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid.x < s) { partial[lid.x] += partial[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { partials[params.offset + wid.x] = partial[0]; }
}
