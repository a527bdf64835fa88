// Inverted dropout: element i is dropped iff (hash_u32(seed, i) >> 8) < threshold, where the host
// passes threshold = ceil(p * 2^24) (src/backend/rng.ts threshold24), i.e. iff uniform01(seed, i)
// < p exactly; kept elements are scaled by 1 / (1 - p). The integer compare makes the mask
// bit-identical to the CPU reference, and regenerating it from (seed, i) needs no stored mask.
// params.base is the element index of x[0] when a tensor over the binding limit runs in chunks.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let drop = (hash_u32(params.seed, params.base + i) >> 8u) < params.threshold;
  out[i] = select(T(f32(x[i]) * params.scale), T(0.0), drop);
}
