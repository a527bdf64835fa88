/**
 * Property tests of batched matmul: M, N, K from sizes that are not multiples of the 64×64×16 tile
 * (1, 3, 17, 65, 129 and a few multiples), transposed operands, batch dims that broadcast (missing
 * leading axes, size-1 axes). WGSL forward and both gradients vs the float64 CPU reference with
 * rtol 1e-4 / atol 1e-4 (values in [-1, 1], K ≤ 129); CPU gradients vs central finite differences
 * on small sizes. The skinny (GEMV) kernels for few rows (scalar, and vec4 for x·Wᵀ with K % 4 = 0)
 * are forced on for M = 1..17 (above their automatic threshold too) under both kernel styles,
 * forward and gradients. The row-broadcast x·Wᵀ kernel (matmul_regs_nt.wgsl, K % 4 = 0) and the
 * 8×8 register kernel are each forced (gemmTuning.rows true / false) over random shapes with
 * every transpose combination (other layouts and K % 4 ≠ 0 fall back), fwd/bwd, f16 and batches;
 * likewise the register kernel on transB products with B transposed first (gemmTuning.relayout
 * true / false, shaders/layout/transpose.wgsl), and the automatic choice of that path.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gpu as gpuCtx, shutdownGpu } from '../../src/gpu/device.js';
import { f16BitsToF32, f32ToF16Bits } from '../../src/util/half.js';
import * as ops from '../../src/ops/index.js';
import { numel } from '../../src/backend/types.js';
import { ShapeError } from '../../src/errors.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { ErrorLog } from '../helpers/compare.js';
import { gemmTuning, MATMUL_RELAYOUT, MATMUL_ROWS, MATMUL_TILED8, skinnyTuning, tiled8Invalid, tiled8Tuning, useRelayout, useTiled8 } from '../../src/backend/webgpu/matmul.js';
import { tuning } from '../../src/backend/webgpu/common.js';
import { assertClose } from '../helpers/compare.js';
import { broadcastableTo, checkOp, forEachKernelStyle, getBackends, property, randValues, runOn, seedArb, shapeArb, TOL_ACCUM } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(`worst errors (matmul):\n${log.summary()}`);
  await shutdownGpu();
});

interface MatmulCase {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  aBatch: number[];
  bBatch: number[];
}

function caseArb(dims: readonly number[], maxBatch: number): fc.Arbitrary<MatmulCase> {
  const d = fc.constantFrom(...dims);
  return fc
    .record({
      M: d, N: d, K: d, transA: fc.boolean(), transB: fc.boolean(),
      batch: shapeArb(0, 3, maxBatch, [1, 2, 3]).chain((s) => fc.tuple(broadcastableTo(s), broadcastableTo(s))),
    })
    .map(({ batch: [aBatch, bBatch], ...rest }) => ({ ...rest, aBatch, bBatch }));
}

/** Stored shapes: A is [..., M, K] ([..., K, M] when transposed), B is [..., K, N] ([..., N, K]). */
function shapesOf(c: MatmulCase): [number[], number[]] {
  return [
    [...c.aBatch, ...(c.transA ? [c.K, c.M] : [c.M, c.K])],
    [...c.bBatch, ...(c.transB ? [c.N, c.K] : [c.K, c.N])],
  ];
}

const toF16 = (v: ArrayLike<number>) => Float64Array.from(v, (x) => f16BitsToF32(f32ToF16Bits(x)));

/** f16 tensors on the GPU (both kernel selections) vs f32 on the CPU reference with the same f16-rounded values. */
async function checkF16(c: MatmulCase, seed: number): Promise<void> {
  const { gpu, cpu } = await getBackends();
  const [sa, sb] = shapesOf(c);
  const label = `f16 matmul A[${sa}]${c.transA ? 'ᵀ' : ''} B[${sb}]${c.transB ? 'ᵀ' : ''}`;
  const fn = (a: Tensor, b: Tensor) => ops.matmul(a, b, { transA: c.transA, transB: c.transB });
  const data = [toF16(randValues(numel(sa), seed)), toF16(randValues(numel(sb), seed + 1))];
  const ref0 = await runOn(cpu, fn, [{ data: data[0]!, shape: sa }, { data: data[1]!, shape: sb }]);
  const w = toF16(randValues(numel(ref0.shape), seed + 2));
  const ref = await runOn(cpu, fn, [{ data: data[0]!, shape: sa }, { data: data[1]!, shape: sb }], w);
  await forEachKernelStyle(async (style) => {
    const got = await runOn(gpu, fn, [{ data: data[0]!, shape: sa, dtype: 'f16' }, { data: data[1]!, shape: sb, dtype: 'f16' }], w);
    log.add('f16 fwd', assertClose(got.out, ref.out, { rtol: 1e-3, atol: 1e-4, label: `${label} [${style}] forward`, shape: ref.shape }));
    for (const i of [0, 1]) {
      log.add('f16 bwd', assertClose(got.grads[i]!, ref.grads[i]!, { rtol: 4e-3, atol: 1e-2, label: `${label} [${style}] grad ${i}`, shape: [sa, sb][i] }));
    }
  });
}

async function check(c: MatmulCase, seed: number, fd: boolean): Promise<void> {
  const [sa, sb] = shapesOf(c);
  const label = `matmul A[${sa}]${c.transA ? 'ᵀ' : ''} B[${sb}]${c.transB ? 'ᵀ' : ''}`;
  await checkOp(label, (a, b) => ops.matmul(a, b, { transA: c.transA, transB: c.transB }), [
    { data: randValues(numel(sa), seed), shape: sa },
    { data: randValues(numel(sb), seed + 1), shape: sb },
  ], { fwd: TOL_ACCUM, bwd: TOL_ACCUM, fd: fd ? { maxElements: 10 } : false, log });
}

describe('matmul', () => {
  it('odd sizes, transposed operands and broadcast batch dims: WGSL fwd/bwd vs CPU', async () => {
    await property(fc.tuple(caseArb([1, 3, 16, 17, 64, 65, 129], 6), seedArb), async ([c, seed]) => check(c, seed, false), 25);
  });

  it('small sizes: CPU gradients vs central finite differences (and WGSL vs CPU)', async () => {
    await property(fc.tuple(caseArb([1, 2, 3, 5], 6), seedArb), async ([c, seed]) => check(c, seed, true), 25);
  });

  it('a tall-skinny product spanning many tiles and a batch of 7', async () => {
    await check({ M: 257, N: 3, K: 300, transA: false, transB: true, aBatch: [7], bBatch: [] }, 5, false);
    await check({ M: 1, N: 200, K: 129, transA: true, transB: false, aBatch: [], bBatch: [2, 1] }, 6, false);
  });

  it('f16 storage (f32 accumulation): odd sizes, transposed operands, broadcast batches, fwd and bwd vs CPU', async (t) => {
    if (!gpuCtx().caps.f16) return t.skip('adapter lacks shader-f16');
    await property(fc.tuple(caseArb([1, 3, 16, 17, 64, 65, 129], 6), seedArb), async ([c, seed]) => checkF16(c, seed), 15);
    await checkF16({ M: 257, N: 3, K: 300, transA: false, transB: true, aBatch: [7], bBatch: [] }, 5);
    await checkF16({ M: 130, N: 131, K: 129, transA: true, transB: true, aBatch: [2], bBatch: [2] }, 8);
  });

  it('skinny kernel (forced) for M = 1..17: odd K/N, transposed operands, batches, fwd/bwd vs CPU, f16', async () => {
    const run = async (body: () => Promise<void>) => {
      skinnyTuning.use = true;
      try {
        await body();
      } finally {
        skinnyTuning.use = 'auto';
      }
    };
    await run(async () => {
      for (let M = 1; M <= 17; M++) {
        // Every trans combination over the sweep; N odd, K odd or (for x·Wᵀ at M = 4, 8, 12, 16, the
        // vec4 kernel) a multiple of 4, around the 4-column and K-split steps.
        const transA = (M & 1) === 1;
        const transB = (M & 2) === 0;
        const K = [36, 7, 33, 129][M % 4]!;
        const N = [5, 13, 67, 1][M % 4]!;
        await check({ M, N, K, transA, transB, aBatch: M % 3 === 0 ? [2] : [], bBatch: M % 5 === 0 ? [3, 1] : [] }, 100 + M, false);
      }
      await property(fc.tuple(caseArb([1, 2, 3, 5, 8, 9, 16, 17], 6), seedArb), async ([c, seed]) => check(c, seed, false), 15);
      // decode-like linear: x·Wᵀ with a long K and a batch of sequences
      await check({ M: 1, N: 203, K: 1030, transA: false, transB: true, aBatch: [4], bBatch: [] }, 7, false);
      await check({ M: 1, N: 203, K: 1032, transA: false, transB: true, aBatch: [4], bBatch: [] }, 8, false);
      await check({ M: 5, N: 61, K: 1024, transA: false, transB: true, aBatch: [2], bBatch: [2] }, 11, false);
      if (gpuCtx().caps.f16) {
        await checkF16({ M: 3, N: 131, K: 129, transA: false, transB: true, aBatch: [2], bBatch: [] }, 9);
        await checkF16({ M: 2, N: 67, K: 128, transA: false, transB: true, aBatch: [], bBatch: [] }, 12);
        await checkF16({ M: 9, N: 17, K: 65, transA: true, transB: false, aBatch: [], bBatch: [] }, 10);
      }
    });
  });

  it('row-broadcast x·Wᵀ kernel and the register kernel, each forced: K % 4 = 0 and not, rows/columns off the tile, batches, fwd/bwd vs CPU, f16', async () => {
    for (const use of [true, false] as const) {
      gemmTuning.rows = use;
      gemmTuning.relayout = false; // the register kernel on the stored layout when rows is off
      skinnyTuning.use = false; // small M too, not only above the skinny kernel's threshold
      try {
        // x·Wᵀ with K % 4 = 0 (the row kernel when forced on), M and N around R = MATMUL_ROWS.R
        // rows and 4·WG columns, broadcast and full batches; the gradients run the other layouts.
        const R = MATMUL_ROWS.R, W = 4 * MATMUL_ROWS.WG;
        await check({ M: R + 1, N: W + 3, K: 4, transA: false, transB: true, aBatch: [], bBatch: [] }, 30, false);
        await check({ M: 2 * R - 1, N: 5, K: 132, transA: false, transB: true, aBatch: [3], bBatch: [] }, 31, false);
        await check({ M: 3, N: 2 * W + 1, K: 516, transA: false, transB: true, aBatch: [2, 1], bBatch: [2, 3] }, 32, false);
        await check({ M: 67, N: 129, K: 64, transA: false, transB: true, aBatch: [2], bBatch: [2] }, 33, false);
        await check({ M: 17, N: 33, K: 130, transA: false, transB: true, aBatch: [], bBatch: [] }, 34, false);
        await property(fc.tuple(caseArb([1, 3, 4, 8, 9, 17, 64, 65, 68], 6), seedArb), async ([c, seed]) => check(c, seed, false), 15);
        if (gpuCtx().caps.f16) {
          await checkF16({ M: 19, N: 70, K: 132, transA: false, transB: true, aBatch: [2], bBatch: [] }, 35);
          await checkF16({ M: 9, N: 5, K: 36, transA: true, transB: true, aBatch: [], bBatch: [] }, 36);
        }
      } finally {
        gemmTuning.rows = 'auto';
        gemmTuning.relayout = 'auto';
        skinnyTuning.use = 'auto';
      }
    }
  });

  it('transB products with B transposed first (relayout) forced on and off: odd sizes, every transpose combination, broadcast batches, fwd/bwd vs CPU, f16', async () => {
    for (const use of [true, false] as const) {
      gemmTuning.relayout = use;
      gemmTuning.rows = false; // the register kernel (the row kernel would take x·Wᵀ first)
      skinnyTuning.use = false;
      try {
        // Edges of the transpose's 4×4 blocks and 64-row workgroups and of the 8×8 register tile;
        // a B broadcast over A's batch (transposed once), B batched with A broadcast, both batched.
        await check({ M: 65, N: 67, K: 130, transA: false, transB: true, aBatch: [], bBatch: [] }, 40, false);
        await check({ M: 9, N: 257, K: 3, transA: false, transB: true, aBatch: [3], bBatch: [] }, 41, false);
        await check({ M: 17, N: 5, K: 66, transA: true, transB: true, aBatch: [], bBatch: [2, 3] }, 42, false);
        await check({ M: 33, N: 129, K: 17, transA: false, transB: true, aBatch: [2, 1], bBatch: [2, 3] }, 43, false);
        await check({ M: 1, N: 1, K: 1, transA: false, transB: true, aBatch: [], bBatch: [] }, 44, false);
        await property(fc.tuple(caseArb([1, 3, 4, 5, 8, 17, 64, 65, 70], 6), seedArb), async ([c, seed]) => check(c, seed, false), 15);
        if (gpuCtx().caps.f16) {
          await checkF16({ M: 19, N: 70, K: 131, transA: false, transB: true, aBatch: [2], bBatch: [] }, 45);
          await checkF16({ M: 9, N: 5, K: 36, transA: true, transB: true, aBatch: [], bBatch: [3] }, 46);
          await checkF16({ M: 66, N: 67, K: 3, transA: false, transB: false, aBatch: [], bBatch: [] }, 47);
        }
      } finally {
        gemmTuning.relayout = 'auto';
        gemmTuning.rows = 'auto';
        skinnyTuning.use = 'auto';
      }
    }
  });

  it('vec4 tiled kernel (matmul_tiled8.wgsl) forced: contiguous dims multiples of 4 off the 128×128 tile, every transpose, batches, fwd/bwd vs CPU, f16, other tiles; same bits as matmul.wgsl', async () => {
    const ctx = gpuCtx();
    gemmTuning.rows = false;
    gemmTuning.relayout = false;
    skinnyTuning.use = false;
    try {
      for (const tiles of [MATMUL_TILED8, { WX: 8, WY: 16, TK: 8 }, { WX: 16, WY: 8, TK: 32 }]) {
        if (tiled8Invalid(ctx, tiles)) continue;
        tiled8Tuning.use = true;
        tiled8Tuning.tiles = tiles;
        // Rows and columns past a tile edge, K past a slice, K shorter than one slice; the gradients
        // (dy·B, Aᵀ·dy) run the other layouts through the same kernel.
        await check({ M: 132, N: 136, K: 20, transA: false, transB: true, aBatch: [], bBatch: [] }, 50, false);
        await check({ M: 4, N: 8, K: 4, transA: true, transB: false, aBatch: [2], bBatch: [] }, 51, false);
        await check({ M: 68, N: 260, K: 36, transA: true, transB: true, aBatch: [2, 1], bBatch: [2, 3] }, 52, false);
        await check({ M: 12, N: 72, K: 132, transA: false, transB: false, aBatch: [], bBatch: [3] }, 53, false);
        if (ctx.caps.f16) await checkF16({ M: 20, N: 68, K: 36, transA: false, transB: true, aBatch: [2], bBatch: [] }, 54);
      }
      tiled8Tuning.tiles = MATMUL_TILED8;
      await property(fc.tuple(caseArb([4, 8, 12, 64, 68, 132], 4), seedArb), async ([c, seed]) => check(c, seed, false), 8);
      // Not applicable (a contiguous dimension not a multiple of 4): the other kernels run.
      assert.equal(useTiled8(ctx, false, true, 8, 8, 6, true), false);
      assert.equal(useTiled8(ctx, true, false, 6, 8, 8, true), false);
      assert.equal(useTiled8(ctx, false, false, 8, 6, 8, true), false);
      // On the GPU-style selection (auto) it gives the same bits as matmul.wgsl: both are one f32 fma chain over k.
      const { gpu } = await getBackends();
      const fn = (a: Tensor, b: Tensor) => ops.matmul(a, b, { transB: true });
      const inputs = [{ data: randValues(100 * 196, 55), shape: [100, 196] }, { data: randValues(140 * 196, 56), shape: [140, 196] }];
      tuning.cpuStyle = false;
      tiled8Tuning.use = 'auto';
      assert.equal(useTiled8(ctx, false, true, 100, 140, 196, true), true);
      const fast = await runOn(gpu, fn, inputs);
      tiled8Tuning.use = false;
      const plain = await runOn(gpu, fn, inputs);
      assert.deepEqual(fast.out, plain.out, 'tiled8 vs tiled forward bits');
    } finally {
      tuning.cpuStyle = 'auto';
      tiled8Tuning.use = 'auto';
      tiled8Tuning.tiles = MATMUL_TILED8;
      gemmTuning.rows = 'auto';
      gemmTuning.relayout = 'auto';
      skinnyTuning.use = 'auto';
    }
    assert.match(String(tiled8Invalid(ctx, { WX: 16, WY: 16, TK: 6 })), /multiple of 4/);
    assert.match(String(tiled8Invalid(ctx, { WX: 4, WY: 4, TK: 16 })), /more than 4/);
  });

  it('relayout auto: transB products from MATMUL_RELAYOUT.minM rows and minK on CPU adapters only, never other layouts; forcing the row kernel turns it off', () => {
    const ctx = gpuCtx();
    const { minM: m, minK: k } = MATMUL_RELAYOUT;
    assert.equal(useRelayout(ctx, true, m, k), ctx.adapterInfo.isCpu);
    assert.equal(useRelayout(ctx, true, m - 1, 4 * k), false);
    assert.equal(useRelayout(ctx, true, 4 * m, k - 1), false);
    assert.equal(useRelayout(ctx, false, 4 * m, 4 * k), false);
    gemmTuning.rows = true;
    try {
      assert.equal(useRelayout(ctx, true, 4 * m, 4 * k), false);
    } finally {
      gemmTuning.rows = 'auto';
    }
  });

  it('rejects mismatched inner dimensions and incompatible batches with ShapeError', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [gpu, cpu]) {
      const a = be.full([2, 3, 4], 'f32', 1);
      const b = be.full([5, 2], 'f32', 1);
      const c = be.full([3, 4, 2], 'f32', 1);
      assert.throws(() => be.matmul(a, b), (e: unknown) => e instanceof ShapeError && /inner dimension/.test(e.message), be.name);
      assert.throws(() => be.matmul(a, c), (e: unknown) => e instanceof ShapeError && /batch/.test(e.message), be.name);
      for (const t of [a, b, c]) be.dispose(t);
    }
  });
});
