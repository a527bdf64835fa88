// Shifted row statistics of the layer-norm kernels (why the shift: layer_norm.wgsl). Forward and
// backward both call these, so the backward re-forms x - mean in the forward's exact summation order.
// Row values come from ln_x(i): x itself (layer_norm_x.wgsl) or x + r (layer_norm_x_add.wgsl).

// mean_d = mean(x - x0) over the row at `base`, x0 being its first element.
fn shifted_mean(lane: u32, base: u32, len: u32, x0: f32) -> f32 {
  var s = 0.0;
  for (var j = lane; j < len; j += lanes()) { s += ln_x(base + j) - x0; }
  return row_sum(lane, s) / f32(len);
}

// x[i] - mean, formed as (x[i] - x0) - mean_d.
fn centered(i: u32, x0: f32, md: f32) -> f32 { return (ln_x(i) - x0) - md; }
