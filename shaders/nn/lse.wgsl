// Log-sum-exp helpers shared by the workgroup-per-row (row_reduce.wgsl) and thread-per-row
// (*_thread.wgsl) nn kernels.
const F32_LOWEST = -3.4028234663852886e38;

// Online log-sum-exp state (m, s) with s = Σ exp(x - m): one pass over the row instead of a max
// pass and a sum pass. Starting from (F32_LOWEST, 0) rather than -inf keeps exp(m_old - m_new)
// finite; entries of -inf (masked logits) contribute exp(-inf) = 0.
fn lse_push(acc: vec2<f32>, x: f32) -> vec2<f32> {
  if (x > acc.x) {
    return vec2<f32>(x, acc.y * exp(acc.x - x) + 1.0);
  }
  return vec2<f32>(acc.x, acc.y + exp(x - acc.x));
}

fn lse_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}
