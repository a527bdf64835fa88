// out[li] = mu + sigma * z_i by Box-Muller on the pair j = i / 2: u1 = uniform01(seed, 2j),
// u2 = uniform01(seed, 2j + 1), r = sqrt(-2 ln(1 - u1)), θ = 2π (u2 - 1/2), z = r cos θ for even
// i and r sin θ for odd i. Each element recomputes its pair instead of one thread writing two
// outputs, keeping the kernel one-thread-per-element and any element independently reproducible.
// Mirrored by src/backend/cpu/random.ts.
const TWO_PI: f32 = 6.283185307179586;

// -ln(1 - u) for u in [0, 1 - 2^-24]. WGSL only promises an absolute error of 2^-21 for log near
// 1, which would be a large relative error of r for small u, so small u use the series
// u + u²/2 + ... + u⁷/7 (truncation < 1e-9 relative for u < 1/16).
fn neg_log1m(u: f32) -> f32 {
  if (u < 0.0625) {
    return u * (1.0 + u * (0.5 + u * (0.33333333 + u * (0.25 + u * (0.2 + u * (0.16666667 + u * 0.14285714))))));
  }
  return -log(1.0 - u);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let li = linear_id(gid, nwg, WG);
  if (li >= params.n) { return; }
  // base: the element index of out[0] when a tensor over the binding limit is filled in chunks.
  let i = params.base + li;
  let j = i & ~1u;
  let r = sqrt(2.0 * neg_log1m(uniform01(params.seed, j)));
  // θ in [-π, π): the range where WGSL bounds the error of sin and cos.
  let theta = TWO_PI * (uniform01(params.seed, j + 1u) - 0.5);
  let z = select(r * cos(theta), r * sin(theta), (i & 1u) == 1u);
  out[li] = params.mu + params.sigma * z;
}
