// Helpers shared by the fused attention kernels (register-tiled flash_*_tile.wgsl and workgroup-
// blocked flash_*_blocked.wgsl): masking constants, the key padding mask and the dropout keep-scale.
const F32_LOWEST = -3.4028234663852886e38;
const F32_MAX = 3.4028234663852886e38;

// Padding mask of key j (false past T).
fn key_ok(b: u32, j: u32) -> bool {
  if (j >= params.T) { return false; }
  if (params.has_mask == 0u) { return true; }
  return mask[b * params.T + j] != 0.0;
}

// Vectorised hash_u32 (shaders/common/rng.wgsl) with its seed key precomputed: same bits.
fn mix4(v: vec4<u32>) -> vec4<u32> {
  var x = v;
  x ^= x >> vec4<u32>(16u);
  x *= 0x7feb352du;
  x ^= x >> vec4<u32>(15u);
  x *= 0x846ca68bu;
  x ^= x >> vec4<u32>(16u);
  return x;
}

// Dropout keep-scale (0 or 1/(1-p)) of elements idx of the [B, H, T, T] probabilities, the index
// the unfused dropout kernel uses, so both paths draw the same mask.
fn keep4(key: u32, idx: vec4<u32>) -> vec4<f32> {
  if (params.drop_threshold == 0u) { return vec4<f32>(1.0); }
  let h = mix4(mix4(idx ^ vec4<u32>(key)) + vec4<u32>(key)) >> vec4<u32>(8u);
  return select(vec4<f32>(params.drop_scale), vec4<f32>(0.0), h < vec4<u32>(params.drop_threshold));
}

fn seed_key() -> u32 { return rng_mix(params.seed ^ 0x9e3779b9u); }
