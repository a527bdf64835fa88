// Counter-based RNG: every random number is a pure function of (seed, index), so any element can
// be regenerated independently (dropout recomputes its mask; no RNG state is stored) and kernels
// stay embarrassingly parallel. Mirrored bit for bit by src/backend/rng.ts (hashU32, uniform01):
// only u32 wrapping multiply, add, xor and logical shifts are used, which Math.imul reproduces.
// Not cryptographic.

// lowbias32 (C. Wellons): an invertible 32-bit mixer with full avalanche.
fn rng_mix(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

// 32 random bits for element `index` of the stream `seed`. Two keyed rounds: the second one keeps
// streams of different seeds from being shifted copies of one another.
fn hash_u32(seed: u32, index: u32) -> u32 {
  let k = rng_mix(seed ^ 0x9e3779b9u);
  return rng_mix(rng_mix(index ^ k) + k);
}

// Uniform in [0, 1) with 24 random bits: k / 2^24 is exact in f32 (and in f64 on the CPU side).
fn uniform01(seed: u32, index: u32) -> f32 {
  return f32(hash_u32(seed, index) >> 8u) * (1.0 / 16777216.0);
}
