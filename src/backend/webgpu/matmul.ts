/** Batched matmul with transposed operands through the register-blocked tiled kernel. */
import type { GpuContext } from '../../gpu/device.js';
import { ShapeError, OpArgumentError } from '../../errors.js';
import { alloc, bufferOf, cpuStyle, launch, release, requireFloat, variants } from './common.js';
import { broadcastShapes, broadcastStrides, contiguousStrides, numel, type Backend, type DType, type RawTensor } from '../types.js';
import { layoutOps } from './layout.js';

export const MATMUL_TILE = { WX: 16, WY: 16, TK: 16 };

// Both matmul kernels (tiled and register-only) read the same operands and sizes.
const MATMUL_BINDINGS = [
  { name: 'a', type: 'T', access: 'read' as const },
  { name: 'b', type: 'T', access: 'read' as const },
  { name: 'c', type: 'T', access: 'read_write' as const },
];
const MATMUL_UNIFORMS = { M: 'u32' as const, N: 'u32' as const, K: 'u32' as const, a_batch_stride: 'u32' as const, b_batch_stride: 'u32' as const };

const matmulKernel = variants((t: DType) => ({
  name: `matmul_${t}`, family: 'matmul', file: 'matmul',
  bindings: MATMUL_BINDINGS,
  uniforms: MATMUL_UNIFORMS,
  overrides: {
    WX: { type: 'u32' as const, value: MATMUL_TILE.WX }, WY: { type: 'u32' as const, value: MATMUL_TILE.WY },
    TK: { type: 'u32' as const, value: MATMUL_TILE.TK },
    TRANS_A: { type: 'bool' as const, value: false }, TRANS_B: { type: 'bool' as const, value: false },
  },
  aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [],
}));

/**
 * The register-blocked kernel without workgroup memory (shaders/matmul/matmul_regs.wgsl): each
 * thread computes 8×8 outputs. Chosen on CPU adapters, where it is several times faster than the
 * tiled kernel (barriers and workgroup memory are emulated there).
 */
export const MATMUL_REGS = { WX: 8, WY: 8, RM: 8, RN: 8 };

const matmulRegsKernel = variants((t: DType) => ({
  name: `matmul_regs_${t}`, family: 'matmul', file: 'matmul_regs',
  bindings: MATMUL_BINDINGS,
  uniforms: MATMUL_UNIFORMS,
  overrides: {
    WX: { type: 'u32' as const, value: MATMUL_REGS.WX }, WY: { type: 'u32' as const, value: MATMUL_REGS.WY },
    TRANS_A: { type: 'bool' as const, value: false }, TRANS_B: { type: 'bool' as const, value: false },
  },
  aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [],
}));

export function matmulOps(ctx: GpuContext): Pick<Backend, 'matmul'> {
  const layout = layoutOps(ctx);
  /** Materialises x broadcast to batch shape `batch` (only when its batch is neither full nor 1). */
  const expandBatch = (x: RawTensor, batch: number[]): { t: RawTensor; stride: number; owned: boolean } => {
    const xb = x.shape.slice(0, -2);
    const mat = x.shape.slice(-2);
    const bn = numel(batch);
    if (numel(xb) === bn && xb.length === batch.length) return { t: x, stride: numel(mat), owned: false };
    if (numel(xb) === 1) return { t: x, stride: 0, owned: false };
    const full = [...batch, ...mat];
    const strides = [...broadcastStrides(xb, batch).map((s) => s * numel(mat)), ...contiguousStrides(mat)];
    return { t: layout.stridedCopy(x, { offset: 0, strides }, full), stride: numel(mat), owned: true };
  };
  return {
    matmul(a, b, opts = {}) {
      requireFloat('matmul', 'a', a);
      if (a.dtype !== b.dtype) throw new OpArgumentError('matmul', 'b', `dtype ${a.dtype}`, b.dtype);
      if (a.shape.length < 2 || b.shape.length < 2) throw new ShapeError('matmul', 'a/b', 'rank >= 2', `[${a.shape}] and [${b.shape}]`);
      const ta = !!opts.transA;
      const tb = !!opts.transB;
      const [ar, ac] = a.shape.slice(-2) as [number, number];
      const [br, bc] = b.shape.slice(-2) as [number, number];
      const M = ta ? ac : ar;
      const K = ta ? ar : ac;
      const Kb = tb ? bc : br;
      const N = tb ? br : bc;
      if (K !== Kb) throw new ShapeError('matmul', 'b', `inner dimension ${K} (a is [${a.shape}]${ta ? 'ᵀ' : ''})`, `${Kb} (b is [${b.shape}]${tb ? 'ᵀ' : ''})`);
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      if (!batch) throw new ShapeError('matmul', 'b', `batch dims broadcastable with [${a.shape.slice(0, -2)}]`, `[${b.shape.slice(0, -2)}]`);
      const ea = expandBatch(a, batch);
      const eb = expandBatch(b, batch);
      const out = alloc(ctx, [...batch, M, N], a.dtype, 'matmul');
      const TM = MATMUL_TILE.WY * 4;
      const TN = MATMUL_TILE.WX * 4;
      const nb = numel(batch);
      if (M * N > 0 && cpuStyle(ctx)) {
        launch(ctx, matmulRegsKernel(a.dtype), {
          bindings: { a: bufferOf(ea.t), b: bufferOf(eb.t), c: bufferOf(out) },
          uniforms: { M, N, K, a_batch_stride: ea.stride, b_batch_stride: eb.stride },
          constants: { TRANS_A: ta, TRANS_B: tb },
          workgroups: [Math.ceil(N / (MATMUL_REGS.WX * MATMUL_REGS.RN)), Math.ceil(M / (MATMUL_REGS.WY * MATMUL_REGS.RM)), nb],
        });
      } else if (M * N > 0) {
        launch(ctx, matmulKernel(a.dtype), {
          bindings: { a: bufferOf(ea.t), b: bufferOf(eb.t), c: bufferOf(out) },
          uniforms: { M, N, K, a_batch_stride: ea.stride, b_batch_stride: eb.stride },
          constants: { TRANS_A: ta, TRANS_B: tb },
          workgroups: [Math.ceil(N / TN), Math.ceil(M / TM), nb],
        });
      }
      if (ea.owned) release(ctx, ea.t);
      if (eb.owned) release(ctx, eb.t);
      return out;
    },
  };
}
