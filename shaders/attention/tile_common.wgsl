// Helpers of the register-tiled attention kernels (flash_*_tile.wgsl, after attn_common.wgsl). A
// thread owns 8 rows (queries or keys), held as two vec4 lanes (rows 0-3, 4-7), so scores,
// probabilities and their gradients for an 8×8 block live in 16 vec4 registers and every column
// load feeds 16 vec4 FMAs, as in the register-blocked GEMM. Loops over the other side run in
// workgroup-uniform steps so their loads are the same address for all threads of a SIMD group.

struct Pair { lo: vec4<f32>, hi: vec4<f32> }

// Row r (0..7) of an 8-row tile starting at row0 is used iff row0 + r < T; rows past the edge are
// clamped onto the last row for loads (their results are never stored).
fn row_off(base: u32, row: u32) -> u32 { return base + min(row, params.T - 1u) * HD; }

// Element d of the 8 rows at offsets ro of buf, as the two vec4 lanes (rows 0-3, 4-7).
fn lanes8(buf: ptr<storage, array<f32>, read>, ro: ptr<function, array<u32, 8>>, d: u32) -> Pair {
  return Pair(vec4<f32>(buf[ro[0] + d], buf[ro[1] + d], buf[ro[2] + d], buf[ro[3] + d]),
              vec4<f32>(buf[ro[4] + d], buf[ro[5] + d], buf[ro[6] + d], buf[ro[7] + d]));
}

// Row offsets ko and padding mask kok of keys kb..kb+7; false when all 8 are padding (skip the block).
fn key_block(b: u32, base: u32, kb: u32, ko: ptr<function, array<u32, 8>>, kok: ptr<function, array<bool, 8>>) -> bool {
  var any = false;
  for (var j = 0u; j < 8u; j++) {
    kok[j] = key_ok(b, kb + j);
    any = any || kok[j];
    ko[j] = row_off(base, kb + j);
  }
  return any;
}

// End of the workgroup-uniform key range of query-tiled kernels: up to the workgroup's last query
// row when causal.
fn key_end(wg: u32) -> u32 {
  if (params.causal != 0u) { return min(params.T, (wg + 1u) * WG * 8u); }
  return params.T;
}

// Which of query rows `rows` see key j: the key is not padding and, when causal, j <= row.
fn visible(kok: bool, j: u32, rows: vec4<u32>) -> vec4<bool> {
  return vec4<bool>(kok) & (vec4<bool>(params.causal == 0u) | (vec4<u32>(j) <= rows));
}
