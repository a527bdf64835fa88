/**
 * linear3 (src/backend/kernels.ts): the q, k and v projections of a decode step in one launch of
 * matmul_skinny_vec4.wgsl with the three-weight operand include (matmul_skinny_vec4_linear3.wgsl):
 * workgroup_id.z picks the weight and bias, x is shared (batch stride 0). The kernel body, tiles
 * and grid (per weight) are those of the one-weight skinny launch in matmul.ts, so each result has
 * the bits of its own matmul(x, W, {transB, bias}). The three results are windows of one
 * [3, slot] buffer (slot = M·N rounded up to the binding offset alignment) that own it together.
 */
import type { GpuContext } from '../../gpu/device.js';
import { bindingOffsetAlignment, maxBindingBytes } from '../../gpu/buffer_pool.js';
import { linear3Dims, type Linear3Backend } from '../kernels.js';
import { alloc, bufferOf, launch, sharedWindows, variants, vec4Bindable } from './common.js';
import { MATMUL_BINDINGS, MATMUL_SKINNY, MATMUL_UNIFORMS, matmulOps, skinnyLaunch, skinnyTiles, useSkinny } from './matmul.js';

const read = (name: string, type = 'T') => ({ name, type, access: 'read' as const });

const linear3Kernel = variants((t: 'f32') => ({
  name: `matmul_skinny_vec4_${t}_linear3`, family: 'matmul', file: 'matmul_skinny_vec4',
  overrides: {
    ROWS: { type: 'u32' as const, value: 1 }, KS: { type: 'u32' as const, value: MATMUL_SKINNY.gpu.KS },
    WN: { type: 'u32' as const, value: MATMUL_SKINNY.gpu.WN }, CN: { type: 'u32' as const, value: 4 },
  },
  aliases: { T: t, V: `vec4<${t}>` },
  bindings: [read('a', 'V'), read('b', 'V'), read('b_1', 'V'), read('b_2', 'V'), MATMUL_BINDINGS[2]!, read('bias'), read('bias_1'), read('bias_2')],
  uniforms: { ...MATMUL_UNIFORMS, c_stride: 'u32' as const },
  includes: ['matmul/matmul_skinny_vec4_linear3.wgsl'],
}));

export function linear3Ops(ctx: GpuContext): Linear3Backend {
  const mm = matmulOps(ctx).matmul;
  return {
    linear3(x, weights, biases) {
      const { M, N, K } = linear3Dims(x, weights, biases);
      const align = bindingOffsetAlignment(ctx) / 4;
      const slot = Math.ceil((M * N) / align) * align;
      const fused = M * N > 0 && K % 4 === 0 && useSkinny(ctx, M) && vec4Bindable(x, ...weights) && 3 * slot * 4 <= maxBindingBytes(ctx);
      if (!fused) return [0, 1, 2].map((i) => mm(x, weights[i]!, { transB: true, bias: biases[i]! })) as [never, never, never];
      const out = alloc(ctx, [3, slot], 'f32', 'linear3');
      const st = skinnyTiles(ctx);
      const { rows, cn, workgroups } = skinnyLaunch(st, M, N, 3, true);
      launch(ctx, linear3Kernel('f32'), {
        bindings: {
          a: bufferOf(x), b: bufferOf(weights[0]), b_1: bufferOf(weights[1]), b_2: bufferOf(weights[2]), c: bufferOf(out),
          bias: bufferOf(biases[0]), bias_1: bufferOf(biases[1]), bias_2: bufferOf(biases[2]),
        },
        uniforms: { M, N, K, a_batch_stride: 0, b_batch_stride: 0, c_stride: slot },
        constants: { CN: cn, ROWS: rows, KS: st.KS, WN: st.WN },
        workgroups,
      });
      return sharedWindows(ctx, out, [0, 1, 2].map((i) => ({ start: i * slot, shape: [M, N] }))) as [never, never, never];
    },
  };
}
