// The items of a grid-stride elementwise kernel that one invocation handles: first, first + step,
// ... below end. LANES == 0: classic grid-stride (thread t takes t, t + threads, ...), so that
// neighbouring GPU threads touch neighbouring items. LANES > 0 (CPU adapters): each group of LANES
// consecutive invocations walks its own contiguous chunk. llvmpipe runs a workgroup's SIMD vectors
// (8 invocations) one after another, each through its whole loop, so with the classic layout every
// vector streams the buffers with a stride of threads × 16 bytes; chunks make the accesses
// sequential (1M-element vec4 add: 1.1 ms instead of 1.6 ms). WG must be a multiple of LANES.
struct Span { first: u32, end: u32, step: u32 }

fn span(gid: vec3<u32>, nwg: vec3<u32>, n: u32) -> Span {
  let threads = grid_threads(nwg, WG);
  let id = linear_id(gid, nwg, WG);
  if (LANES == 0u) { return Span(id, n, threads); }
  let lanes = max(LANES, 1u); // a divisor that is an override evaluating to 0 fails pipeline creation
  let groups = threads / lanes;
  let per = ((n + groups - 1u) / groups + lanes - 1u) / lanes * lanes;
  let start = (id / lanes) * per;
  return Span(start + id % lanes, min(start + per, n), lanes);
}
