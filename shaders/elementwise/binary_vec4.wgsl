// Same-shape f32 binary op four elements at a time (vec4 loads and stores), grid-stride (layout in
// span.wgsl). As in unary_vec4.wgsl, the last partial vector stays inside the (16-byte multiple)
// buffers.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = span(gid, nwg, (params.n + 3u) / 4u);
  for (var i = s.first; i < s.end; i += s.step) {
    let x = a[i];
    let y = b[i];
    out[i] = vec4<f32>(apply(x.x, y.x), apply(x.y, y.y), apply(x.z, y.z), apply(x.w, y.w));
  }
}
