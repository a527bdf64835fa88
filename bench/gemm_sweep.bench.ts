/**
 * Tile sweep of the GPU GEMM kernels at n³ (n = 4096 on GPU adapters, the size of the H100
 * targets: f32 ≥ 35 TFLOP/s, int8 ≥ 100 TOP/s; 512 on CPU adapters, where it only shows that
 * every variant runs): matmul.wgsl (4×4 per thread, scalar loads, 64×64 tiles) against
 * matmul_tiled8.wgsl (8×8 per thread, vec4 loads, register prefetch) over several WX×WY×TK
 * choices, for A·B and the linear layout x·Wᵀ, f32 and f16 storage (where shader-f16 exists),
 * and the int8 forward kernels. Rows say which kernel and tiles `auto` picks today, so a sweep on
 * new hardware shows what to put in MATMUL_TILED8 / the int8 tile table (`radgrad tune` picks and saves
 * the tiled8 tiles per adapter; '(in use)' marks what this process runs with). Variants of one product
 * alternate in every repetition (bench/timing.ts); GPU ms from timestamp queries.
 * Run: npm run bench -- gemm_sweep   (RADGRAD_BENCH_SWEEP_N sets n; RADGRAD_BENCH_REPS repetitions;
 * RADGRAD_DAWN_TOGGLES=disable_robustness,skip_validation,disable_workgroup_init for Dawn toggles).
 */
import { alternatingMs } from './timing.js';
import { gpu } from '../src/gpu/device.js';
import { tidy } from '../src/tensor/scope.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { MATMUL_TILED8, tiled8Invalid, tiled8Tuning, type Tiled8Tiles } from '../src/backend/webgpu/matmul.js';
import { tuning } from '../src/backend/webgpu/common.js';
import { int8Sweep } from './int8_sweep.js';
import { TILED8_CANDIDATES, sameTiles } from '../src/backend/webgpu/autotune.js';

type Row = Record<string, string | number>;

/** f with the tiled8 switch and tiles set, then reset. */
function withTiled8(use: boolean, tiles: Tiled8Tiles, f: () => void): () => void {
  return () => {
    const saved = { use: tiled8Tuning.use, tiles: tiled8Tuning.tiles };
    tiled8Tuning.use = use;
    tiled8Tuning.tiles = tiles;
    try {
      f();
    } finally {
      tiled8Tuning.use = saved.use;
      tiled8Tuning.tiles = saved.tiles;
    }
  };
}

async function sweepProduct(label: string, a: Tensor, b: Tensor, transB: boolean, flops: number): Promise<Row[]> {
  const ctx = gpu();
  const f = () => tidy(() => void ops.matmul(a, b, { transB }));
  const tiles = TILED8_CANDIDATES.filter((t) => !tiled8Invalid(ctx, t));
  const variants: Array<{ kernel: string; fn: () => void }> = [
    { kernel: 'matmul.wgsl 16×16 thr, 4×4 (tiled)', fn: withTiled8(false, MATMUL_TILED8, f) },
    ...tiles.map((t) => ({ kernel: `matmul_tiled8 ${t.WX}×${t.WY} thr TK ${t.TK}${sameTiles(t, MATMUL_TILED8) ? ' (default)' : ''}${sameTiles(t, tiled8Tuning.tiles) ? ' (in use)' : ''}`, fn: withTiled8(true, t, f) })),
  ];
  // The register kernel (CPU adapters' choice) on A·B, for reference.
  if (!transB) {
    variants.push({
      kernel: 'matmul_regs.wgsl 8×8 (cpu-style)',
      fn: () => {
        tuning.cpuStyle = true;
        try {
          f();
        } finally {
          tuning.cpuStyle = 'auto';
        }
      },
    });
  }
  const ms = await alternatingMs(variants.map((v) => v.fn));
  const best = Math.min(...ms);
  return variants.map((v, i) => ({ product: label, kernel: v.kernel, ms: ms[i]!, 'TFLOP/s|TOP/s': flops / ms[i]! / 1e9, speedup_vs_best: best / ms[i]! }));
}

export async function bench(): Promise<Row[]> {
  const ctx = gpu();
  const n = Number(process.env.RADGRAD_BENCH_SWEEP_N ?? (ctx.adapterInfo.isCpu ? 512 : 4096));
  const flops = 2 * n * n * n;
  const a = ops.randNormal([n, n], 3, 0, 1);
  const b = ops.randNormal([n, n], 4, 0, 0.02);
  const rows: Row[] = [];
  rows.push(...(await sweepProduct(`f32 A·B ${n}³`, a, b, false, flops)));
  rows.push(...(await sweepProduct(`f32 x·Wᵀ ${n}³`, a, b, true, flops)));
  if (ctx.caps.f16) {
    const [a16, b16] = [a, b].map((t) => ops.cast(t, 'f16')) as [Tensor, Tensor];
    rows.push(...(await sweepProduct(`f16 storage A·B ${n}³`, a16, b16, false, flops)));
    a16.dispose();
    b16.dispose();
  }
  rows.push(...(await int8Sweep(a, b, n)));
  a.dispose();
  b.dispose();
  return rows;
}
