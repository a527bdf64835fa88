/**
 * Counter-based RNG shared by the backends: every value is a pure function of (seed, index), so
 * masks can be regenerated instead of stored and GPU and CPU produce identical streams. This file
 * mirrors shaders/common/rng.wgsl bit for bit (Math.imul for wrapping u32 multiplies, >>> for
 * logical shifts); change both or neither. Not cryptographic.
 */

/** lowbias32 (C. Wellons): invertible 32-bit mixer with full avalanche. */
function mix(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Seeds are used modulo 2^32 (the WGSL side receives a u32 uniform). */
export function seedU32(seed: number): number {
  return Math.trunc(seed) >>> 0;
}

/** 32 random bits (as an unsigned number) for element `index` of stream `seed` = WGSL hash_u32. */
export function hashU32(seed: number, index: number): number {
  const k = mix((seed >>> 0) ^ 0x9e3779b9);
  return mix((mix((index >>> 0) ^ k) + k) >>> 0);
}

/** Uniform in [0, 1) with 24 random bits (exact in f32 and f64) = WGSL uniform01. */
export function uniform01(seed: number, index: number): number {
  return (hashU32(seed, index) >>> 8) / 16777216;
}

/**
 * The integer threshold t with `uniform01(seed, i) < p  ⇔  (hashU32(seed, i) >>> 8) < t`, so GPU
 * kernels can compare integers instead of an f32-rounded p (p * 2^24 is exact in f64).
 */
export function threshold24(p: number): number {
  return Math.min(16777216, Math.max(0, Math.ceil(p * 16777216)));
}
