// Shared by the int8 forward kernels (matmul_int8.wgsl, matmul_int8_regs.wgsl): byte unpacking, the
// 4-way dot product, and the dequantising epilogue. `act` holds the packed activation codes
// [N, words], then SCA [N] as f32 bits at sca_off, then the outlier list [count, c0, c1, ...] at
// list_off (one buffer keeps the kernel within 8 storage bindings with the LoRA operands).
// Bias, outliers and the LoRA addend are switched by uniforms (flags, rank), not overrides: they
// only touch the epilogue, and one pipeline per dot path saves many slow compiles on lavapipe.
const FLAG_BIAS = 1u;
const FLAG_OUTLIERS = 2u;

fn has_flag(f: u32) -> bool {
  return (params.flags & f) != 0u;
}

// Sign-extends byte j of a packed word.
fn byte_i8(w: u32, j: u32) -> i32 {
  return i32(w << (24u - 8u * j)) >> 24u;
}

fn dot4_unpacked(a: u32, b: u32) -> i32 {
  return byte_i8(a, 0u) * byte_i8(b, 0u) + byte_i8(a, 1u) * byte_i8(b, 1u)
       + byte_i8(a, 2u) * byte_i8(b, 2u) + byte_i8(a, 3u) * byte_i8(b, 3u);
}

fn dot4(a: u32, b: u32) -> i32 {
  if (USE_DOT4) { return dot4_native(a, b); }
  return dot4_unpacked(a, b);
}

// Σ_j lu[n, j]·lb[o, j] for the four outputs o0..o0+3 (clamped to O-1: callers never store those).
fn lowrank4(n: u32, o0: u32) -> vec4<f32> {
  var s = vec4<f32>();
  let r = params.rank;
  if (r == 0u) { return s; }
  let last = params.O - 1u;
  let u0 = n * r;
  let b0 = min(o0, last) * r; let b1 = min(o0 + 1u, last) * r;
  let b2 = min(o0 + 2u, last) * r; let b3 = min(o0 + 3u, last) * r;
  for (var j = 0u; j < r; j++) {
    s = fma(vec4<f32>(lu[u0 + j]), vec4<f32>(lb[b0 + j], lb[b1 + j], lb[b2 + j], lb[b3 + j]), s);
  }
  return s;
}

// Word k (input columns 4k..4k+3) of weight row o: cb is [O][words], or [words][O] where the
// host transposed it for the register kernel (override W_T; int8.ts, int8GemmTuning.transposeW).
fn cb_word(o: u32, k: u32) -> u32 {
  if (W_T) { return cb[k * params.O + o]; }
  return cb[o * params.words + k];
}

// y[n, o] = C·SCA[n]·SCB[o]/127² + (Σ_{c outlier} x[n, c]·CB[o, c])·SCB[o]/127 + bias[o]
//           + lr_scale·(u·bᵀ)[n, o]  (lr = that low-rank dot product; rank 0: none).
fn int8_epilogue(n: u32, o: u32, acc: i32, lr: f32) -> f32 {
  let sa = bitcast<f32>(act[params.sca_off + n]) * (1.0 / 16129.0);
  let sb = scb[o];
  var v = f32(acc) * sa * sb;
  if (has_flag(FLAG_OUTLIERS)) {
    // Few columns, so the global reads are cheap next to the int8 product.
    let n_out = act[params.list_off];
    var outl = 0.0;
    for (var q = 0u; q < n_out; q++) {
      let c = act[params.list_off + 1u + q];
      outl += x[n * params.I + c] * f32(byte_i8(cb_word(o, c / 4u), c % 4u));
    }
    v += outl * sb * (1.0 / 127.0);
  }
  if (has_flag(FLAG_BIAS)) { v += bias[o]; }
  if (params.rank != 0u) { v += params.lr_scale * lr; }
  return v;
}

// Outputs o0..o0+3 of row n through the epilogue (the GEMM kernels' and the skinny kernel's store).
fn store4(n: u32, o0: u32, a: vec4<i32>) {
  if (n >= params.N || o0 >= params.O) { return; }
  let lr = lowrank4(n, o0);
  for (var j = 0u; j < 4u; j++) {
    let o = o0 + j;
    if (o < params.O) { y[n * params.O + o] = int8_epilogue(n, o, a[j], lr[j]); }
  }
}
