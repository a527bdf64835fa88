/**
 * Int8 forward kernels of the GEMM sweep (bench/gemm_sweep.bench.ts) at n³: matmul_int8.wgsl
 * (4×4 per thread) against matmul_int8_tiled8.wgsl over WX×WY×TK and prefetch choices
 * (int8GemmTuning), all through matmulInt8 (threshold 0: no outlier columns; the activation
 * quantisation pass is included in the time).
 */
import { alternatingMs } from './timing.js';
import { gpu } from '../src/gpu/device.js';
import { tidy } from '../src/tensor/scope.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { matmulInt8, quantizeWeight, disposeQuantized } from '../src/ops/matmul_int8.js';
import { int8GemmKernel, int8GemmTuning, prepareInt8Smat } from '../src/backend/webgpu/int8.js';
import { INT8_SMAT_TK, INT8_TILED8_CANDIDATES } from '../src/backend/webgpu/autotune.js';

type Row = Record<string, string | number>;
type Int8Choice = Pick<typeof int8GemmTuning, 'kernel' | 'WX' | 'WY' | 'TK' | 'prefetch'>;

const DEFAULT: Int8Choice = { ...int8GemmTuning };

/**
 * Kernel and tile choices: the 4×4 kernel, then the autotuner's tiled8 and tensor-core choices (the
 * experimental smat kernel falls back to tiled8 where the adapter lacks subgroup matrices; the label
 * then says so). Ones this adapter rejects are reported as errors.
 */
export const INT8_SWEEP: Int8Choice[] = [
  { ...DEFAULT, kernel: 'tiled' },
  ...INT8_TILED8_CANDIDATES.map((t) => ({ ...DEFAULT, kernel: 'tiled8' as const, ...t })),
  ...INT8_SMAT_TK.map((TK) => ({ ...DEFAULT, kernel: 'smat' as const, TK })),
];

export async function int8Sweep(a: Tensor, b: Tensor, n: number): Promise<Row[]> {
  const flops = 2 * n * n * n;
  const q = quantizeWeight(b);
  const rows: Row[] = [];
  const ok: Array<{ label: string; fn: () => void }> = [];
  // Settles the smat kernel's matrix type order for this Dawn (a no-op without the feature).
  if (INT8_SWEEP.some((c) => c.kernel === 'smat')) await prepareInt8Smat(gpu());
  for (const c of INT8_SWEEP) {
    const fn = () => {
      Object.assign(int8GemmTuning, c);
      try {
        tidy(() => void matmulInt8(a, q, null, { threshold: 0 }));
      } finally {
        Object.assign(int8GemmTuning, DEFAULT);
      }
    };
    Object.assign(int8GemmTuning, c);
    const runs = int8GemmKernel(gpu(), n);
    Object.assign(int8GemmTuning, DEFAULT);
    const label = `${runs}${runs === 'tiled8' ? ` ${c.WX}×${c.WY} thr TK ${c.TK}${c.prefetch ? '' : ' no prefetch'}` : runs === 'smat' ? ` TK ${c.TK}` : ''}${c.kernel === 'smat' && runs !== 'smat' ? ' (smat unavailable)' : ''}`;
    try {
      fn(); // a choice the adapter rejects throws here, before it is timed
      ok.push({ label, fn });
    } catch (e) {
      rows.push({ product: `int8 x·Wᵀ ${n}³`, kernel: label, error: (e as Error).message.slice(0, 80) });
    }
  }
  const ms = await alternatingMs(ok.map((v) => v.fn));
  disposeQuantized(q);
  const best = Math.min(...ms);
  return [...ok.map((v, i) => ({ product: `int8 x·Wᵀ ${n}³`, kernel: v.label, ms: ms[i]!, 'TFLOP/s|TOP/s': flops / ms[i]! / 1e9, speedup_vs_best: best / ms[i]! })), ...rows];
}
