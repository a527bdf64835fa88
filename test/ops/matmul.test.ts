/**
 * Property tests of batched matmul: M, N, K from sizes that are not multiples of the 64×64×16 tile
 * (1, 3, 17, 65, 129 and a few multiples), transposed operands, batch dims that broadcast (missing
 * leading axes, size-1 axes). WGSL forward and both gradients vs the float64 CPU reference with
 * rtol 1e-4 / atol 1e-4 (values in [-1, 1], K ≤ 129); CPU gradients vs central finite differences
 * on small sizes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu } from '../../src/gpu/device.js';
import * as ops from '../../src/ops/index.js';
import { numel } from '../../src/backend/types.js';
import { ShapeError } from '../../src/errors.js';
import { ErrorLog } from '../helpers/compare.js';
import { broadcastableTo, checkOp, getBackends, property, randValues, seedArb, shapeArb, TOL_ACCUM } from '../helpers/ops_harness.js';

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
