/**
 * f32 GEMM on CPU adapters: the row-broadcast x·Wᵀ kernel (shaders/matmul/matmul_regs_nt.wgsl,
 * forced with gemmTuning.rows = true) vs the 8×8 register kernel (matmul_regs.wgsl, rows = false)
 * on the forward products y = x·Wᵀ of BioGPT-like training: [N,1024]·[4096,1024]ᵀ (fc1),
 * [N,4096]·[1024,4096]ᵀ (fc2), [N,1024]·[1024,1024]ᵀ (q/k/v/out), a K = 512 linear, the small
 * model's [N,256]·[1024,256]ᵀ and its 42384-vocab head [N,256]·[42384,256]ᵀ (chunked above
 * 128 MiB), and attention's batched q·kᵀ. `auto` says which kernel matmul picks by itself (the
 * row kernel only from K = MATMUL_ROWS.minK). The backward products dy·W and dyᵀ·x keep the
 * register kernel (a row kernel reading B as vec4 along N measured 0.7–0.9×), so they are not
 * timed here. Both variants alternate within each repetition, so load changes on a shared machine
 * hit them alike; GPU ms from timestamp queries, median of REPS after a warm-up of each.
 * Run: npm run bench -- matmul   (RADGRAD_BENCH_SCALE=full: N = 2048 tokens instead of 256;
 * RADGRAD_BENCH_REPS sets repetitions; BENCH_MATMUL=fc1,head picks shape groups by name; the
 * 4096³ f32 / f16 / int8 rows of the GPU targets run on GPU adapters, or with BENCH_MATMUL=gemm4096).
 */
import { alternatingMs, forcing } from './timing.js';
import { gpu } from '../src/gpu/device.js';
import { getBackend } from '../src/backend/registry.js';
import { tidy } from '../src/tensor/scope.js';
import * as ops from '../src/ops/index.js';
import { gemmTuning, useRowKernel } from '../src/backend/webgpu/matmul.js';
import { matmulInt8, quantizeWeight, disposeQuantized } from '../src/ops/matmul_int8.js';

type Row = Record<string, string | number>;

/** f run with the row kernel forced on or off. */
const withRows = (use: boolean, f: () => void) => forcing(gemmTuning, 'rows', use, f);

interface Case {
  group: string;
  /** Batch, rows, columns, inner size of C[b] = A[b]·B[b]ᵀ. */
  B: number;
  M: number;
  N: number;
  K: number;
}

function cases(T: number): Case[] {
  const C = 1024, F = 4096, V = 42384, c = 256;
  const S = Math.min(T, 512); // attention: (T / S) sequences × 16 heads of 64 over S positions
  return [
    { group: 'fc1', B: 1, M: T, N: F, K: C },
    { group: 'fc2', B: 1, M: T, N: C, K: F },
    { group: 'qkvo', B: 1, M: T, N: C, K: C },
    { group: 'mid', B: 1, M: T, N: 4 * 512, K: 512 },
    { group: 'small', B: 1, M: T, N: 4 * c, K: c },
    { group: 'head', B: 1, M: T, N: V, K: c },
    { group: 'attn', B: (T / S) * 16, M: S, N: S, K: 64 },
  ];
}

export async function bench(): Promise<Row[]> {
  const T = process.env.RADGRAD_BENCH_SCALE === 'full' ? 2048 : 256;
  const want = process.env.BENCH_MATMUL?.split(',').map((s) => s.trim()).filter(Boolean);
  const rows: Row[] = [];
  for (const c of cases(T)) {
    if (want && !want.includes(c.group)) continue;
    const batch = c.B > 1 ? [c.B] : [];
    const a = ops.randNormal([...batch, c.M, c.K], 1, 0, 1);
    const b = ops.randNormal([...batch, c.N, c.K], 2, 0, 0.02);
    const f = () => tidy(() => void ops.matmul(a, b, { transB: true }));
    const [rowsMs, regsMs] = await alternatingMs([withRows(true, f), withRows(false, f)]);
    const flops = 2 * c.B * c.M * c.N * c.K;
    rows.push({
      product: `${c.group} [${[...batch, c.M, c.K]}]·[${[...batch, c.N, c.K]}]ᵀ`, rows_ms: rowsMs, 'rows GFLOP/s': flops / rowsMs / 1e6,
      regs_ms: regsMs, 'regs GFLOP/s': flops / regsMs / 1e6, speedup: regsMs / rowsMs,
      auto: useRowKernel(gpu(), false, true, c.M, c.K, true) ? 'rows' : 'regs',
    });
    a.dispose();
    b.dispose();
  }
  if (want ? want.includes('gemm4096') : !gpu().adapterInfo.isCpu) rows.push(...(await gemm4096Rows()));
  return rows;
}

/**
 * The GPU targets at 4096³ (H100: f32 ≥ 35 TFLOP/s, int8 ≥ 100 TOP/s): what ops.matmul and
 * matmulInt8 pick by themselves on this adapter, f32, f16 storage (where shader-f16 exists) and int8
 * (threshold 0: no outlier columns; TOP/s counts the int8 products, the activation quantisation
 * passes included). Runs by default on GPU adapters only (≈ 10 s a repetition on lavapipe;
 * BENCH_MATMUL=gemm4096 forces it).
 */
async function gemm4096Rows(): Promise<Row[]> {
  const n = 4096;
  const flops = 2 * n * n * n;
  const a = ops.randNormal([n, n], 3, 0, 1);
  const b = ops.randNormal([n, n], 4, 0, 0.02);
  const rows: Row[] = [];
  const [f32] = await alternatingMs([() => tidy(() => void ops.matmul(a, b))]);
  rows.push({ product: 'GEMM f32 [4096,4096]·[4096,4096]', ms: f32, 'TFLOP/s|TOP/s': flops / f32 / 1e9 });
  if (gpu().caps.f16) {
    const [a16, b16] = [a, b].map((t) => ops.cast(t, 'f16'));
    const [f16] = await alternatingMs([() => tidy(() => void ops.matmul(a16!, b16!))]);
    rows.push({ product: 'GEMM f16 storage (f32 accumulate) 4096³', ms: f16, 'TFLOP/s|TOP/s': flops / f16 / 1e9 });
    a16!.dispose();
    b16!.dispose();
  }
  const q = quantizeWeight(b);
  const [i8] = await alternatingMs([() => tidy(() => void matmulInt8(a, q, null, { threshold: 0 }))]);
  rows.push({ product: 'Int8Linear x·Wᵀ 4096³ (dot4I8Packed, threshold 0)', ms: i8, 'TFLOP/s|TOP/s': flops / i8 / 1e9 });
  disposeQuantized(q);
  a.dispose();
  b.dispose();
  return rows;
}
