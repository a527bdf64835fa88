/** Seeded random tensors from the counter-based RNG of shaders/common/rng.wgsl (= src/backend/rng.ts). */
import type { GpuContext } from '../../gpu/device.js';
import { seedU32 } from '../rng.js';
import { alloc, bufferOf, forRowChunks, grid, launch, WG } from './common.js';
import type { Backend } from '../types.js';
import { checkRandomSize } from '../shape_checks.js';

const includes = ['common/strided.wgsl', 'common/rng.wgsl'];

const uniformKernel = {
  name: 'random_uniform', family: 'random', file: 'uniform',
  bindings: [{ name: 'out', type: 'f32', access: 'read_write' as const }],
  uniforms: { n: 'u32' as const, base: 'u32' as const, seed: 'u32' as const, lo: 'f32' as const, hi: 'f32' as const },
  overrides: { WG: { type: 'u32' as const, value: WG } },
  includes,
};

const normalKernel = {
  name: 'random_normal', family: 'random', file: 'normal',
  bindings: [{ name: 'out', type: 'f32', access: 'read_write' as const }],
  uniforms: { n: 'u32' as const, base: 'u32' as const, seed: 'u32' as const, mu: 'f32' as const, sigma: 'f32' as const },
  overrides: { WG: { type: 'u32' as const, value: WG } },
  includes,
};

export function randomOps(ctx: GpuContext): Pick<Backend, 'randomUniform' | 'randomNormal'> {
  return {
    randomUniform(shape, seed, lo, hi) {
      const n = checkRandomSize('randomUniform', shape);
      const out = alloc(ctx, shape, 'f32', 'randomUniform');
      // Chunks of a tensor over the binding limit pass the index of their first element (base).
      forRowChunks(ctx, 'randomUniform', n, [{ x: out, per: 1 }], (base, c, [o]) => {
        launch(ctx, uniformKernel, { bindings: { out: bufferOf(o!) }, uniforms: { n: c, base, seed: seedU32(seed), lo, hi }, workgroups: grid(c) });
      });
      return out;
    },
    randomNormal(shape, seed, mean, std) {
      const n = checkRandomSize('randomNormal', shape);
      const out = alloc(ctx, shape, 'f32', 'randomNormal');
      forRowChunks(ctx, 'randomNormal', n, [{ x: out, per: 1 }], (base, c, [o]) => {
        launch(ctx, normalKernel, { bindings: { out: bufferOf(o!) }, uniforms: { n: c, base, seed: seedU32(seed), mu: mean, sigma: std }, workgroups: grid(c) });
      });
      return out;
    },
  };
}
