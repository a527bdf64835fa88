// The reduction OP of the reduce kernels (an override: 0 sum 1 mean 2 max 3 min; mean sums, the
// kernel divides at the end): its identity and how two partial results combine.
fn identity() -> f32 {
  switch OP {
    case 2u: { return -3.4028234663852886e38; }
    case 3u: { return 3.4028234663852886e38; }
    default: { return 0.0; }
  }
}

fn combine(a: f32, b: f32) -> f32 {
  switch OP {
    case 2u: { return max(a, b); }
    case 3u: { return min(a, b); }
    default: { return a + b; }
  }
}

// combine, lane by lane.
fn combine4(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  switch OP {
    case 2u: { return max(a, b); }
    case 3u: { return min(a, b); }
    default: { return a + b; }
  }
}
