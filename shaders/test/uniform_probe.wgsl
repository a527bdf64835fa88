// Test fixture for test/gpu (not used by the library): copies every uniform field to `out` as
// f32, so the test can check that packUniforms wrote each field where WGSL reads it.
@compute @workgroup_size(1)
fn main() {
  out[0] = f32(params.n);
  out[1] = params.scale;
  for (var k = 0u; k < 8u; k++) { out[2u + k] = f32(params.shape[k / 4u][k % 4u]); }
  out[10] = f32(params.k);
  for (var k = 0u; k < 4u; k++) { out[11u + k] = params.weights[0][k]; }
  out[15] = f32(params.last);
}
