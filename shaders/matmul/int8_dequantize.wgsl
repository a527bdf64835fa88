// W_deq[o, i] = CB[o, i] · SCB[o] / 127 (one invocation per element).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = linear_id(gid, nwg, WG);
  if (e >= params.rows * params.cols) { return; }
  let o = e / params.cols;
  let i = e % params.cols;
  let word = cb[o * params.words + i / 4u];
  let q = (i32(word << (24u - 8u * (i % 4u)))) >> 24u;
  w[e] = f32(q) * scb[o] / 127.0;
}
