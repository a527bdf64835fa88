/** Int8 forward kernels of the GEMM sweep (bench/gemm_sweep.bench.ts) at n³. */
import { alternatingMs } from './timing.js';
import { tidy } from '../src/tensor/scope.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { matmulInt8, quantizeWeight, disposeQuantized } from '../src/ops/matmul_int8.js';

type Row = Record<string, string | number>;

/** x·Wᵀ through matmulInt8 (threshold 0: no outlier columns; the activation quantisation included). */
export async function int8Sweep(a: Tensor, b: Tensor, n: number): Promise<Row[]> {
  const flops = 2 * n * n * n;
  const q = quantizeWeight(b);
  const variants = [{ kernel: 'int8 auto', fn: () => tidy(() => void matmulInt8(a, q, null, { threshold: 0 })) }];
  const ms = await alternatingMs(variants.map((v) => v.fn));
  disposeQuantized(q);
  const best = Math.min(...ms);
  return variants.map((v, i) => ({ product: `int8 x·Wᵀ ${n}³`, kernel: v.kernel, ms: ms[i]!, 'TFLOP/s|TOP/s': flops / ms[i]! / 1e9, 'vs best': best / ms[i]! }));
}
