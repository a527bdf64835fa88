// f32 unary op four elements at a time (vec4 loads and stores), grid-stride (layout in span.wgsl).
// The buffers are bound whole and are multiples of 16 bytes, so the last partial vector stays
// inside them; lanes past n compute garbage that no reader sees.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let s = span(gid, nwg, (params.n + 3u) / 4u);
  for (var i = s.first; i < s.end; i += s.step) {
    let v = x[i];
    out[i] = vec4<f32>(apply(v.x), apply(v.y), apply(v.z), apply(v.w));
  }
}
