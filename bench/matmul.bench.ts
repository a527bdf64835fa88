/**
 * f32 GEMM on CPU adapters for the three products of each BioGPT-like linear y = x·Wᵀ:
 * [N,1024]↔[4096,1024] (fc1), [N,4096]↔[1024,4096] (fc2), [N,1024]↔[1024,1024] (q/k/v/out) —
 * forward x·Wᵀ, dx = dy·W, dW = dyᵀ·x — plus forward-only rows: short products (32–128 rows), a
 * K = 512 linear, the small model's [N,256]·[1024,256]ᵀ and its 42384-vocab head (chunked above
 * 128 MiB), and attention's batched q·kᵀ. Every transB product runs three ways: relayout (B
 * transposed by shaders/layout/transpose.wgsl, then matmul_regs.wgsl without transB;
 * gemmTuning.relayout), rows (matmul_regs_nt.wgsl; gemmTuning.rows) and regs (matmul_regs.wgsl
 * on the stored layout), with the transpose alone (transpose_ms) and through the general strided
 * copy (copy_ms); the backward products (no transB) time the register kernel only. `auto` says what
 * matmul picks by itself. Variants alternate within each repetition, so load changes on a shared
 * machine hit them alike; GPU ms from timestamp queries, median of REPS after a warm-up of each.
 * Run: npm run bench -- matmul   (RADGRAD_BENCH_SCALE=full: N = 2048 tokens instead of 256;
 * RADGRAD_BENCH_REPS sets repetitions; BENCH_MATMUL=fc1,short,dx,fc2:fwd picks cases by group, op
 * or group:op; the 4096³ f32 / f16 / int8 rows of the GPU targets run on GPU adapters, or with
 * BENCH_MATMUL=gemm4096).
 */
import { alternatingMs, benchScale, forcing } from './timing.js';
import { gpu } from '../src/gpu/device.js';
import { getBackend } from '../src/backend/registry.js';
import { tidy } from '../src/tensor/scope.js';
import * as ops from '../src/ops/index.js';
import { gemmTuning, useRelayout, useRowKernel } from '../src/backend/webgpu/matmul.js';
import { transposeOps } from '../src/backend/webgpu/transpose.js';
import { matmulInt8, quantizeWeight, disposeQuantized } from '../src/ops/matmul_int8.js';
import { int8GemmKernel } from '../src/backend/webgpu/int8.js';
import { gemmKernelName } from './kernel_names.js';

type Row = Record<string, string | number>;

/** Which product of a linear y = x·Wᵀ a case times: the forward, dx = dy·W or dW = dyᵀ·x. */
type Op = 'fwd' | 'dx' | 'dW';

interface Case {
  group: string;
  op: Op;
  /** Batch, rows, columns, inner size of C[b] = op(A[b])·op(B[b]). */
  B: number;
  M: number;
  N: number;
  K: number;
}

/** Forward and both backward products of a linear [T, inp] → [T, out] (W is [out, inp]). */
function linear(group: string, T: number, inp: number, out: number): Case[] {
  return [
    { group, op: 'fwd', B: 1, M: T, N: out, K: inp },
    { group, op: 'dx', B: 1, M: T, N: inp, K: out },
    { group, op: 'dW', B: 1, M: out, N: inp, K: T },
  ];
}

function cases(T: number): Case[] {
  const C = 1024, F = 4096, V = 42384, c = 256;
  const S = Math.min(T, 512); // attention: (T / S) sequences × 16 heads of 64 over S positions
  return [
    ...linear('fc1', T, C, F),
    ...linear('fc2', T, F, C),
    ...linear('qkvo', T, C, C),
    { group: 'short', op: 'fwd', B: 1, M: 32, N: C, K: C },
    { group: 'short', op: 'fwd', B: 1, M: 64, N: C, K: C },
    { group: 'short', op: 'fwd', B: 1, M: 128, N: C, K: C },
    { group: 'mid', op: 'fwd', B: 1, M: T, N: 4 * 512, K: 512 },
    { group: 'small', op: 'fwd', B: 1, M: T, N: 4 * c, K: c },
    { group: 'head', op: 'fwd', B: 1, M: T, N: V, K: c },
    { group: 'attn', op: 'fwd', B: (T / S) * 16, M: S, N: S, K: 64 },
  ];
}

/** Stored operand shapes and transposes of a case: fwd x·Wᵀ, dx dy·W ([M,K]·[K,N]), dW dyᵀ·x ([K,M]ᵀ·[K,N]). */
function operands(c: Case): { sa: number[]; sb: number[]; transA: boolean; transB: boolean; label: string } {
  const batch = c.B > 1 ? [c.B] : [];
  const { M, N, K } = c;
  if (c.op === 'fwd') return { sa: [...batch, M, K], sb: [...batch, N, K], transA: false, transB: true, label: `[${[...batch, M, K]}]·[${[...batch, N, K]}]ᵀ` };
  if (c.op === 'dx') return { sa: [M, K], sb: [K, N], transA: false, transB: false, label: `dy·W [${M},${K}]·[${K},${N}]` };
  return { sa: [K, M], sb: [K, N], transA: true, transB: false, label: `dyᵀ·x [${K},${M}]ᵀ·[${K},${N}]` };
}

/** f run with the kernel switches set (row kernel, B transposed for the register kernel), then reset. */
function setting(rows: boolean, relayout: boolean, f: () => void): () => void {
  return forcing(gemmTuning, 'rows', rows, forcing(gemmTuning, 'relayout', relayout, f));
}

/**
 * Every case: relayout_ms (B transposed into [K, N] by transpose.wgsl, then the register kernel
 * without transB), rows_ms (the row kernel, x·Wᵀ only) and regs_ms (the register kernel on the
 * stored layout), alternating in every repetition; transpose_ms is the transpose of B alone (new
 * kernel) and copy_ms the same transpose through the general strided copy.
 */
export async function bench(): Promise<Row[]> {
  const T = benchScale() === 'full' ? 2048 : 256;
  const want = process.env.BENCH_MATMUL?.split(',').map((s) => s.trim()).filter(Boolean);
  const rows: Row[] = [];
  const be = getBackend();
  const tr = transposeOps(gpu());
  for (const c of cases(T)) {
    if (want && !want.includes(c.group) && !want.includes(`${c.group}:${c.op}`) && !want.includes(c.op)) continue;
    const { sa, sb, transA, transB, label } = operands(c);
    const a = ops.randNormal(sa, 1, 0, 1);
    const b = ops.randNormal(sb, 2, 0, 0.02);
    const f = () => tidy(() => void ops.matmul(a, b, { transA, transB }));
    const flops = 2 * c.B * c.M * c.N * c.K;
    const row: Row = { product: `${c.group} ${c.op} ${label}` };
    if (transB) {
      const [relMs, rowsMs, regsMs, trMs, copyMs] = await alternatingMs([
        setting(false, true, f), setting(true, false, f), setting(false, false, f),
        () => be.dispose(tr.transpose(b.raw(), c.N, c.K)),
        () => be.dispose(be.stridedCopy(b.raw(), { offset: 0, strides: [c.N * c.K, 1, c.K] }, [c.B, c.K, c.N])),
      ]);
      Object.assign(row, {
        relayout_ms: relMs!, 'relayout GFLOP/s': flops / relMs! / 1e6, rows_ms: rowsMs!, 'rows GFLOP/s': flops / rowsMs! / 1e6,
        regs_ms: regsMs!, 'regs GFLOP/s': flops / regsMs! / 1e6, relayout_speedup_vs_rows: rowsMs! / relMs!, relayout_speedup_vs_regs: regsMs! / relMs!,
        transpose_ms: trMs!, copy_ms: copyMs!,
      });
    } else {
      const [regsMs] = await alternatingMs([f]);
      Object.assign(row, { regs_ms: regsMs!, 'regs GFLOP/s': flops / regsMs! / 1e6 });
    }
    row.auto = useRelayout(gpu(), transB, c.M, c.K) ? 'relayout' : useRowKernel(gpu(), transA, transB, c.M, c.K, true) ? 'rows' : 'regs';
    rows.push(row);
    a.dispose();
    b.dispose();
  }
  if (want ? want.includes('gemm4096') : !gpu().adapterInfo.isCpu) rows.push(...(await gemm4096Rows()));
  return rows;
}

/**
 * The issue's GPU targets at 4096³ (H100: f32 ≥ 35 TFLOP/s, int8 ≥ 100 TOP/s): what ops.matmul and
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
  rows.push({ product: `GEMM f32 [4096,4096]·[4096,4096] (${gemmKernelName(false, false, n, n, n)})`, ms: f32, 'TFLOP/s|TOP/s': flops / f32 / 1e9 });
  if (gpu().caps.f16) {
    const [a16, b16] = [a, b].map((t) => ops.cast(t, 'f16'));
    const [f16] = await alternatingMs([() => tidy(() => void ops.matmul(a16!, b16!))]);
    rows.push({ product: `GEMM f16 storage (f32 accumulate) 4096³ (${gemmKernelName(false, false, n, n, n, 'f16')})`, ms: f16, 'TFLOP/s|TOP/s': flops / f16 / 1e9 });
    a16!.dispose();
    b16!.dispose();
  }
  const q = quantizeWeight(b);
  const [i8] = await alternatingMs([() => tidy(() => void matmulInt8(a, q, null, { threshold: 0 }))]);
  rows.push({ product: `Int8Linear x·Wᵀ 4096³ (${int8GemmKernel(gpu(), n)} kernel, threshold 0)`, ms: i8, 'TFLOP/s|TOP/s': flops / i8 / 1e9 });
  disposeQuantized(q);
  a.dispose();
  b.dispose();
  return rows;
}
