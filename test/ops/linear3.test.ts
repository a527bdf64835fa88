/**
 * linear3 (src/backend/kernels.ts, webgpu/linear3.ts, ops/linear3.ts): three linears x·W_iᵀ + b_i
 * of one x in one launch of the skinny vec4 kernel. Checked on random shapes (M 1..16, N off the
 * column tiles, K a multiple of 4 from 4 on) under both kernel styles: one launch, each result
 * bit-identical to its own matmul(x, W_i, {transB, bias}) on the GPU and close to the float64
 * CPU reference; the fallbacks (M above the skinny limit, K % 4 ≠ 0) run three launches with the
 * same bits; results outlive each other in any disposal order; typed errors; no leaked GPU bytes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu } from '../../src/gpu/device.js';
import { kernelsFor } from '../../src/backend/fused.js';
import type { Backend, RawTensor } from '../../src/backend/types.js';
import { withBackend } from '../../src/backend/registry.js';
import { ShapeError, OpArgumentError } from '../../src/errors.js';
import { noGrad } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { linear } from '../../src/nn/linear.js';
import { linear3 } from '../../src/ops/linear3.js';
import { assertClose } from '../helpers/compare.js';
import { forEachKernelStyle, getBackends, property, randValues, recordLaunches, seedArb, TOL_ACCUM } from '../helpers/ops_harness.js';

after(() => shutdownGpu());

interface Case {
  M: number;
  N: number;
  K: number;
  seed: number;
}

type Three = [RawTensor, RawTensor, RawTensor];

function inputs(be: Backend, c: Case): { x: RawTensor; ws: Three; bs: Three } {
  const x = be.upload(randValues(c.M * c.K, c.seed), [c.M, c.K], 'f32');
  const ws = [0, 1, 2].map((i) => be.upload(randValues(c.N * c.K, c.seed + 11 * (i + 1)), [c.N, c.K], 'f32')) as Three;
  const bs = [0, 1, 2].map((i) => be.upload(randValues(c.N, c.seed + 101 * (i + 1)), [c.N], 'f32')) as Three;
  return { x, ws, bs };
}

/** Kernel launches (by name) while fn runs. */
function launches<T>(fn: () => T): { value: T; names: string[] } {
  const { names, restore } = recordLaunches();
  try {
    return { value: fn(), names };
  } finally {
    restore();
  }
}

/** GPU linear3 vs three GPU matmuls (bits) and the CPU reference; `fused`: one launch expected. */
async function check(c: Case, fused: boolean, label: string): Promise<void> {
  const { gpu, cpu } = await getBackends();
  const before = gpu.bytesInUse();
  const g = inputs(gpu, c);
  const r = inputs(cpu, c);
  const { value: ys, names } = launches(() => kernelsFor(gpu).linear3(g.x, g.ws, g.bs));
  const tag = `${label} M=${c.M} N=${c.N} K=${c.K}`;
  if (fused) assert.deepEqual(names, ['matmul_skinny_vec4_f32_linear3'], `${tag}: one launch`);
  else assert.equal(names.length, 3, `${tag}: three launches (fallback): ${names}`);
  const want = await Promise.all(g.ws.map(async (w, i) => {
    const y = gpu.matmul(g.x, w, { transB: true, bias: g.bs[i]! });
    const d = await gpu.read(y);
    gpu.dispose(y);
    return d;
  }));
  const ref = kernelsFor(cpu).linear3(r.x, r.ws, r.bs);
  // Read and dispose out of order: each result stays valid while the others are gone.
  for (const i of [1, 2, 0]) {
    assert.deepEqual(ys[i]!.shape, [c.M, c.N], `${tag}: shape of y${i}`);
    const got = await gpu.read(ys[i]!);
    assert.deepEqual(got, want[i], `${tag}: y${i} bit-identical to its own matmul`);
    assertClose(got, await cpu.read(ref[i]!), { ...TOL_ACCUM, label: `${tag}: y${i} vs CPU`, shape: [c.M, c.N] });
    gpu.dispose(ys[i]!);
  }
  for (const t of [g.x, ...g.ws, ...g.bs]) gpu.dispose(t);
  await gpu.sync();
  assert.equal(gpu.bytesInUse(), before, `${tag}: GPU bytes in use changed`);
}

// N off the column tiles (4·WN = 8 or 32 columns per workgroup, 8·WN with 8 columns per invocation).
const caseArb = fc.record({
  M: fc.integer({ min: 1, max: 16 }),
  N: fc.constantFrom(1, 3, 17, 37, 70, 133),
  K: fc.constantFrom(4, 8, 36, 68, 132),
  seed: seedArb,
});

describe('linear3: three linears of one x in one launch', () => {
  it('GPU vs three matmuls (bits) and the CPU reference, both kernel styles', async () => {
    await forEachKernelStyle(async (label) => {
      await property(caseArb, (c) => check(c, true, label), 12);
      await check({ M: 1, N: 64, K: 4, seed: 5 }, true, label);
      await check({ M: 16, N: 5, K: 1024, seed: 6 }, true, label);
    });
  });

  it('falls back to three launches where the kernel does not apply, same bits', async () => {
    await forEachKernelStyle(async (label) => {
      await check({ M: 17, N: 19, K: 12, seed: 7 }, false, `${label} M above the skinny limit`);
      await check({ M: 3, N: 19, K: 10, seed: 8 }, false, `${label} K % 4 ≠ 0`);
    });
  });

  it('the op: rank-3 x, same bits as three linear() calls; with gradients it records them', async () => {
    const { gpu } = await getBackends();
    const before = gpu.bytesInUse();
    const [B, T, C, N] = [2, 1, 24, 13];
    await withBackend(gpu, async () => {
      const mk = (n: number, shape: number[], seed: number, grad = false) => new Tensor(gpu.upload(randValues(n, seed), shape, 'f32'), gpu, grad);
      const x = mk(B * T * C, [B, T, C], 1);
      const ws = [0, 1, 2].map((i) => mk(N * C, [N, C], 10 + i, true)) as [Tensor, Tensor, Tensor];
      const bs = [0, 1, 2].map((i) => mk(N, [N], 20 + i, true)) as [Tensor, Tensor, Tensor];
      const got = noGrad(() => tidy(() => linear3(x, ws, bs)));
      const want = noGrad(() => tidy(() => [0, 1, 2].map((i) => linear(x, ws[i]!, bs[i]!))));
      for (let i = 0; i < 3; i++) {
        assert.deepEqual(got[i]!.shape, [B, T, N]);
        assert.deepEqual(await got[i]!.data(), await want[i]!.data(), `y${i}`);
      }
      const rec = tidy(() => linear3(x, ws, bs));
      assert.ok(rec.every((y) => y.requiresGrad), 'with gradients: three recorded linears');
      for (const t of [...got, ...want, ...rec, x, ...ws, ...bs]) t.dispose();
    });
    await gpu.sync();
    assert.equal(gpu.bytesInUse(), before, 'GPU bytes in use changed');
  });

  it('typed errors for mismatched operands', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [gpu, cpu]) {
      const before = be.bytesInUse();
      const { x, ws, bs } = inputs(be, { M: 2, N: 6, K: 8, seed: 3 });
      const wBad = be.upload(randValues(6 * 4, 4), [6, 4], 'f32');
      const wN = be.upload(randValues(5 * 8, 4), [5, 8], 'f32');
      const bBad = be.upload(randValues(5, 4), [5], 'f32');
      const xi = be.upload([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [2, 8], 'i32');
      const k = kernelsFor(be);
      assert.throws(() => k.linear3(x, [ws[0], wBad, ws[2]], bs), (e: unknown) => e instanceof ShapeError && /linear3/.test(String(e)) && /weights\[1\]/.test(String(e)));
      assert.throws(() => k.linear3(x, [ws[0], ws[1], wN], bs), (e: unknown) => e instanceof ShapeError && /weights\[2\]/.test(String(e)));
      assert.throws(() => k.linear3(x, ws, [bs[0], bBad, bs[2]]), (e: unknown) => e instanceof ShapeError && /biases\[1\]/.test(String(e)));
      assert.throws(() => k.linear3(xi, ws, bs), (e: unknown) => e instanceof OpArgumentError && /linear3/.test(String(e)));
      for (const t of [x, ...ws, ...bs, wBad, wN, bBad, xi]) be.dispose(t);
      await be.sync();
      assert.equal(be.bytesInUse(), before, 'bytes in use');
    }
  });
});
