// Stage 1 of the deterministic embedding backward: for each position i, link[i] = the next
// position j > i with ids[j] == ids[i] (or n when none), with bit 31 set when an earlier position
// holds the same id (i is then not the head of its chain). All invocations scan ids in the same
// order, so the loads are broadcasts from cache. O(n²) id compares, which is small next to the
// n * dim gradient traffic for token batches (n = batch * seq of a few thousand).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = linear_id(gid, nwg, WG);
  if (i >= params.n) { return; }
  let id = ids[i];
  var has_prev = 0u;
  for (var j = 0u; j < i; j++) {
    if (ids[j] == id) { has_prev = 0x80000000u; break; }
  }
  var next = params.n;
  for (var j = i + 1u; j < params.n; j++) {
    if (ids[j] == id) { next = j; break; }
  }
  link[i] = next | has_prev;
}
