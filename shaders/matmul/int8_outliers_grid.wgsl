// Partial outlier flags for many rows (GPU adapters): invocation (c, k) ORs |x[t, c]| >= threshold
// over the rows t of chunk k into part[(k + 1)·cols + c] (flags[0..cols) is left to
// int8_outlier_scan.wgsl, which ORs the chunks). No early break: a whole grid of columns × row
// chunks runs in parallel instead of one serial walk per column (int8_outliers.wgsl). The OR of the
// same comparisons gives exactly that kernel's 0/1 flag.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let k = gid.y;
  if (c >= params.cols) { return; }
  let t0 = k * params.chunk;
  let t1 = min(t0 + params.chunk, params.rows);
  var hit = 0u;
  for (var t = t0; t < t1; t++) {
    hit |= select(0u, 1u, abs(x[t * params.cols + c]) >= params.threshold);
  }
  part[(k + 1u) * params.cols + c] = hit;
}
