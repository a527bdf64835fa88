// Correctly rounded f32 division. WGSL allows 2.5 ULP of error for a / b, and NVIDIA's compilers
// use an approximate reciprocal, so round(a / b) could land on the other side of a .5 boundary than
// the IEEE quotient does (int8 codes 1 apart from bitsandbytes' and the reference's, about one in
// 25,000). The candidates a few ULP around the quotient are compared by their residual a − c·b,
// which fma gives exactly for these near-quotients; the smallest wins, an exact tie goes to the even
// significand (IEEE round-half-even). A candidate that is not a number compares false and is skipped.
fn div_rn(a: f32, b: f32) -> f32 {
  let q = a / b;
  let qb = bitcast<i32>(q);
  var best = q;
  var best_r = abs(fma(-q, b, a));
  for (var d = -3i; d <= 3i; d++) {
    if (d == 0i) { continue; }
    let c = bitcast<f32>(qb + d);
    let r = abs(fma(-c, b, a));
    if (r < best_r || (r == best_r && (bitcast<u32>(c) & 1u) == 0u && (bitcast<u32>(best) & 1u) == 1u)) {
      best = c;
      best_r = r;
    }
  }
  return best;
}
