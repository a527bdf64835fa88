// out[i] = OP(x[i]) (apply() in unary_ops.wgsl), grid-stride over the elements (layout in span.wgsl).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = span(gid, nwg, params.n);
  for (var i = s.first; i < s.end; i += s.step) {
    out[i] = T(apply(f32(x[i])));
  }
}
