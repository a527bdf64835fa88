/**
 * Row labels naming the kernels a product really runs on this adapter, asked of the backend's own
 * choosers (gemmPath / useTiled8 / matmulTiles for f32 and f16, int8UsesSkinny / int8GemmKernel for
 * int8) with the tuning switches as they are when called, so a forced switch shows in the label.
 */
import { gpu } from '../src/gpu/device.js';
import { maxBindingBytes } from '../src/gpu/buffer_pool.js';
import { cpuStyle } from '../src/backend/webgpu/common.js';
import { gemmPath, matmulTiles, useTiled8 } from '../src/backend/webgpu/matmul.js';
import { INT8_FILES, INT8_TRANSPOSE_MIN_ROWS, int8GemmKernel, int8GemmTuning, int8UsesSkinny } from '../src/backend/webgpu/int8.js';

/**
 * The shader(s) ops.matmul runs for C = op(A)·op(B) with [M, K]·[K, N] sizes (operands freshly
 * allocated, so vec4-bindable); ', chunked' when an operand or C exceeds the binding limit (then
 * each block runs that kernel).
 */
export function gemmKernelName(ta: boolean, tb: boolean, M: number, N: number, K: number, dtype: 'f32' | 'f16' = 'f32'): string {
  const ctx = gpu();
  const path = gemmPath(ctx, ta, tb, M, K, true);
  let name: string;
  if (path === 'skinny') name = !ta && tb && K % 4 === 0 ? 'matmul_skinny_vec4' : 'matmul_skinny';
  else if (path === 'rows') name = 'matmul_regs_nt';
  else {
    const plain = matmulTiles(ctx, dtype).kernel === 'regs' ? 'matmul_regs' : 'matmul';
    name = path === 'relayout' ? `transpose + ${plain}` : useTiled8(ctx, ta, tb, M, N, K, true) ? 'matmul_tiled8' : plain;
  }
  const bytes = (dtype === 'f16' ? 2 : 4) * Math.max(M * K, N * K, M * N);
  return bytes > maxBindingBytes(ctx) ? `${name}, chunked` : name;
}

/** The shader and dot path of an Int8Linear forward of N rows and I in-features. */
export function int8KernelName(N: number, I: number, forceFallback = false): string {
  const ctx = gpu();
  const k = int8UsesSkinny(ctx, N) ? 'skinny' : int8GemmKernel(ctx, I);
  const dot = k === 'smat' ? 'subgroup matrices' : ctx.caps.dot4I8Packed && !forceFallback ? 'dot4I8Packed' : 'unpack';
  const tw = int8GemmTuning.transposeW;
  const transposed = k === 'regs' && (tw === 'auto' ? N >= INT8_TRANSPOSE_MIN_ROWS : tw);
  return `${transposed ? 'transpose cb + ' : ''}${INT8_FILES[k]}, ${dot}`;
}

/** The shader of Int8Linear's backward to x (CB dequantised in the GEMM). */
export function int8BackwardKernelName(): string {
  return cpuStyle(gpu()) ? 'matmul_int8_dequant_regs' : 'matmul_int8_dequant';
}
