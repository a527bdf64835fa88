// out[i] = lo + (hi - lo) * uniform01(seed, i): a pure function of (seed, i), the same stream as
// src/backend/rng.ts, so the CPU reference draws identical numbers.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let li = linear_id(gid, nwg, WG);
  if (li >= params.n) { return; }
  // base: the element index of out[0] when a tensor over the binding limit is filled in chunks.
  let i = params.base + li;
  let u = uniform01(params.seed, i);
  let span = params.hi - params.lo;
  out[li] = params.lo + span * u;
}
