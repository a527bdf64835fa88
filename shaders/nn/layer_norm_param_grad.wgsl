// Stage 1 of dweight/dbias (column sums over rows, done in two deterministic stages instead of
// atomics): workgroup (cx, chunk) sums rows [chunk * rows_per_chunk, ...) of columns
// cx * WG + lid for dweight (dy * xhat) and dbias (dy) into f32 partials [chunks, len].
// Threads own consecutive columns, so every row read is coalesced. xhat is formed as in the
// forward, ((x - x0) - mean_d) * rstd, with x0 the row's first element and mean_d = shift[r] from
// the dx kernel.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = wid.x * WG + lid.x;
  if (c >= params.len) { return; }
  let r0 = wid.y * params.rows_per_chunk;
  let r1 = min(params.rows, r0 + params.rows_per_chunk);
  var sw = 0.0;
  var sb = 0.0;
  for (var r = r0; r < r1; r++) {
    let d = f32(dy[r * params.len + c]);
    let xh = ((f32(x[r * params.len + c]) - f32(x[r * params.len])) - shift[r]) * rstd[r];
    sw += d * xh;
    sb += d;
  }
  pw[wid.y * params.len + c] = sw;
  pb[wid.y * params.len + c] = sb;
}
