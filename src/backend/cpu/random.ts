/**
 * CPU reference of the seeded random tensors: the same counter-based stream as the WGSL kernels
 * (src/backend/rng.ts). Uniform values are rounded like the f32 kernel (span, product and sum each
 * to f32), so CPU and GPU agree bit for bit; normal values are computed in float64 and differ from
 * the GPU only by f32 rounding of log/sqrt/sin/cos.
 */
import { seedU32, uniform01 } from '../rng.js';
import { checkRandomSize } from '../shape_checks.js';
import type { Backend } from '../types.js';
import { dataOf, make } from './common.js';

const f32 = Math.fround;

export function cpuRandomOps(): Pick<Backend, 'randomUniform' | 'randomNormal'> {
  return {
    randomUniform(shape, seed, lo, hi) {
      const n = checkRandomSize('randomUniform', shape);
      const out = make(shape, 'f32');
      const d = dataOf(out);
      const s = seedU32(seed);
      const lo32 = f32(lo);
      const span = f32(f32(hi) - lo32);
      for (let i = 0; i < n; i++) d[i] = f32(lo32 + f32(span * uniform01(s, i)));
      return out;
    },
    randomNormal(shape, seed, mean, std) {
      const n = checkRandomSize('randomNormal', shape);
      const out = make(shape, 'f32');
      const d = dataOf(out);
      const s = seedU32(seed);
      for (let i = 0; i < n; i++) {
        const j = i - (i & 1);
        // Same pairing and angle range as shaders/random/normal.wgsl (θ in [-π, π)).
        const r = Math.sqrt(-2 * Math.log1p(-uniform01(s, j)));
        const theta = 2 * Math.PI * (uniform01(s, j + 1) - 0.5);
        d[i] = mean + std * (i & 1 ? r * Math.sin(theta) : r * Math.cos(theta));
      }
      return out;
    },
  };
}
