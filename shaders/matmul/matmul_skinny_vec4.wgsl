// Skinny C[b] = A[b] @ B[b]ᵀ (the x·Wᵀ linear) for few rows, with K a multiple of 4: A and B are
// bound as vec4 arrays along K, so each invocation reads 16 contiguous bytes per row of B per step
// and accumulates dot products. Otherwise as matmul_skinny.wgsl (ROWS rows per invocation, KS
// invocations splitting K, WN column groups per workgroup), plus CN = 4 or 8 columns per
// invocation: with 8, each loaded row of A serves twice the columns (worth it when ROWS is large,
// as the A loads then rival the B loads).
// The weight reads, the output base and the epilogue go through weight(), out_base() and
// out_epilogue() of an operand include (matmul_skinny_vec4_one.wgsl: one weight, z = batch;
// matmul_skinny_vec4_linear3.wgsl: z selects one of three weights and biases), so the fused q/k/v
// projection runs this same body and keeps the bits of three separate launches.

var<workgroup> part: array<vec4<f32>, KS * WN * 16u>;

fn store4(z: u32, base: u32, m: u32, n0: u32, v: vec4<f32>) {
  if (m >= params.M) { return; }
  let r = base + m * params.N;
  for (var j = 0u; j < 4u; j++) {
    if (n0 + j < params.N) { c[r + n0 + j] = T(out_epilogue(z, m, n0 + j, v[j])); }
  }
}

fn store8(z: u32, base: u32, m: u32, n0: u32, v: vec4<f32>, u: vec4<f32>) {
  store4(z, base, m, n0, v);
  if (CN > 4u) { store4(z, base, m, n0 + 4u, u); }
}

fn dot4(x: vec4<f32>, w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(dot(x, w0), dot(x, w1), dot(x, w2), dot(x, w3));
}

@compute @workgroup_size(KS, WN)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K4 = params.K / 4u;
  let batch = wid.z;
  let n0 = (wid.x * WN + lid.y) * CN;
  let m0 = wid.y * ROWS;
  var oa: array<u32, 8>;
  for (var i = 0u; i < 8u; i++) { oa[i] = (batch * params.a_batch_stride) / 4u + min(m0 + i, M - 1u) * K4; }
  var ob: array<u32, 8>;
  for (var j = 0u; j < 8u; j++) { ob[j] = (batch * params.b_batch_stride) / 4u + min(n0 + j, N - 1u) * K4; }
  let a0 = oa[0]; let a1 = oa[1]; let a2 = oa[2]; let a3 = oa[3]; let a4 = oa[4]; let a5 = oa[5]; let a6 = oa[6]; let a7 = oa[7];
  let b0 = ob[0]; let b1 = ob[1]; let b2 = ob[2]; let b3 = ob[3]; let b4 = ob[4]; let b5 = ob[5]; let b6 = ob[6]; let b7 = ob[7];
  // c: columns n0..n0+3 of each row, d: n0+4..n0+7 (CN = 8 only; folded away otherwise).
  var c0 = vec4<f32>(); var c1 = vec4<f32>(); var c2 = vec4<f32>(); var c3 = vec4<f32>();
  var c4 = vec4<f32>(); var c5 = vec4<f32>(); var c6 = vec4<f32>(); var c7 = vec4<f32>();
  var d0 = vec4<f32>(); var d1 = vec4<f32>(); var d2 = vec4<f32>(); var d3 = vec4<f32>();
  var d4 = vec4<f32>(); var d5 = vec4<f32>(); var d6 = vec4<f32>(); var d7 = vec4<f32>();
  for (var k = lid.x; k < K4; k += KS) {
    let w0 = vec4<f32>(weight(batch, b0 + k)); let w1 = vec4<f32>(weight(batch, b1 + k)); let w2 = vec4<f32>(weight(batch, b2 + k)); let w3 = vec4<f32>(weight(batch, b3 + k));
    var w4 = vec4<f32>(); var w5 = vec4<f32>(); var w6 = vec4<f32>(); var w7 = vec4<f32>();
    if (CN > 4u) { w4 = vec4<f32>(weight(batch, b4 + k)); w5 = vec4<f32>(weight(batch, b5 + k)); w6 = vec4<f32>(weight(batch, b6 + k)); w7 = vec4<f32>(weight(batch, b7 + k)); }
    { let x = vec4<f32>(a[a0 + k]); c0 += dot4(x, w0, w1, w2, w3); if (CN > 4u) { d0 += dot4(x, w4, w5, w6, w7); } }
    if (ROWS > 1u) { let x = vec4<f32>(a[a1 + k]); c1 += dot4(x, w0, w1, w2, w3); if (CN > 4u) { d1 += dot4(x, w4, w5, w6, w7); } }
    if (ROWS > 2u) { let x = vec4<f32>(a[a2 + k]); c2 += dot4(x, w0, w1, w2, w3); if (CN > 4u) { d2 += dot4(x, w4, w5, w6, w7); } }
    if (ROWS > 3u) { let x = vec4<f32>(a[a3 + k]); c3 += dot4(x, w0, w1, w2, w3); if (CN > 4u) { d3 += dot4(x, w4, w5, w6, w7); } }
    if (ROWS > 4u) { let x = vec4<f32>(a[a4 + k]); c4 += dot4(x, w0, w1, w2, w3); if (CN > 4u) { d4 += dot4(x, w4, w5, w6, w7); } }
    if (ROWS > 5u) { let x = vec4<f32>(a[a5 + k]); c5 += dot4(x, w0, w1, w2, w3); if (CN > 4u) { d5 += dot4(x, w4, w5, w6, w7); } }
    if (ROWS > 6u) { let x = vec4<f32>(a[a6 + k]); c6 += dot4(x, w0, w1, w2, w3); if (CN > 4u) { d6 += dot4(x, w4, w5, w6, w7); } }
    if (ROWS > 7u) { let x = vec4<f32>(a[a7 + k]); c7 += dot4(x, w0, w1, w2, w3); if (CN > 4u) { d7 += dot4(x, w4, w5, w6, w7); } }
  }
  let cb = out_base(batch);
  if (KS == 1u) {
    store8(batch, cb, m0, n0, c0, d0);
    if (ROWS > 1u) { store8(batch, cb, m0 + 1u, n0, c1, d1); }
    if (ROWS > 2u) { store8(batch, cb, m0 + 2u, n0, c2, d2); }
    if (ROWS > 3u) { store8(batch, cb, m0 + 3u, n0, c3, d3); }
    if (ROWS > 4u) { store8(batch, cb, m0 + 4u, n0, c4, d4); }
    if (ROWS > 5u) { store8(batch, cb, m0 + 5u, n0, c5, d5); }
    if (ROWS > 6u) { store8(batch, cb, m0 + 6u, n0, c6, d6); }
    if (ROWS > 7u) { store8(batch, cb, m0 + 7u, n0, c7, d7); }
  } else {
    // Partial sums [column group][k slice][c rows 0..7, d rows 0..7]; invocation x < ROWS adds row x.
    let s = (lid.y * KS + lid.x) * 16u;
    part[s] = c0; part[s + 1u] = c1; part[s + 2u] = c2; part[s + 3u] = c3;
    part[s + 4u] = c4; part[s + 5u] = c5; part[s + 6u] = c6; part[s + 7u] = c7;
    part[s + 8u] = d0; part[s + 9u] = d1; part[s + 10u] = d2; part[s + 11u] = d3;
    part[s + 12u] = d4; part[s + 13u] = d5; part[s + 14u] = d6; part[s + 15u] = d7;
    workgroupBarrier();
    for (var r = lid.x; r < ROWS; r += KS) {
      var v = vec4<f32>();
      var u = vec4<f32>();
      for (var x = 0u; x < KS; x++) {
        v += part[(lid.y * KS + x) * 16u + r];
        u += part[(lid.y * KS + x) * 16u + 8u + r];
      }
      store8(batch, cb, m0 + r, n0, v, u);
    }
  }
}
