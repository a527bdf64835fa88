// c[m, n] = epilogue(m, n, base[m, n]) (lora_epilogue.wgsl) as one elementwise pass: the LoRA term
// added to an output computed by a kernel without the fused epilogue (the int8 linear and its
// backward), instead of a low-rank product, a scale and an add as separate passes.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.M * params.N) { return; }
  c[i] = epilogue(i / params.N, i % params.N, base[i]);
}
