// The reduction OP of the reduce kernels (an override: 0 sum 1 mean 2 max 3 min; mean sums, the
// kernel divides by params.div at the end): its identity and how two partial results combine.
fn identity() -> f32 {
  switch OP {
    case 2u: { return -3.4028234663852886e38; }
    case 3u: { return 3.4028234663852886e38; }
    default: { return 0.0; }
  }
}

// max and min propagate NaN as torch does (WGSL leaves max(NaN, x) unspecified): a + b is NaN there
// (is_nan_f32 from common/math.wgsl reads the bits, since a compiler may fold `a != a`).
fn combine(a: f32, b: f32) -> f32 {
  switch OP {
    case 2u: { return select(max(a, b), a + b, is_nan_f32(a) || is_nan_f32(b)); }
    case 3u: { return select(min(a, b), a + b, is_nan_f32(a) || is_nan_f32(b)); }
    default: { return a + b; }
  }
}

// combine, lane by lane.
fn combine4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  switch OP {
    case 2u, 3u: {
      return vec4<f32>(combine(a.x, b.x), combine(a.y, b.y), combine(a.z, b.z), combine(a.w, b.w));
    }
    default: { return a + b; }
  }
}
