// Row values of the fused residual layer norm (f32 only): s = x + r, the same f32 add as the binary
// add kernel, so y and s are bit-identical to add() followed by layerNorm(). Recomputed in each pass
// instead of read back from s (no barrier between a lane's write and another lane's read needed).
fn ln_x(i: u32) -> f32 { return x[i] + r[i]; }
fn ln_keep(i: u32) { s[i] = x[i] + r[i]; }
