/**
 * crossEntropy: WGSL per-row loss/lse and backward against the float64 CPU reference (random N, V,
 * targets with ignored rows, every reduction), CPU gradients against central differences, the
 * all-ignored batch (0, never NaN), huge logits, a 42,384-class vocabulary, f16 logits.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { crossEntropy, crossEntropyWithCount, type CrossEntropyOptions } from '../../src/ops/index.js';
import * as ops from '../../src/ops/index.js';
import { crossEntropyTuning } from '../../src/ops/nn/cross_entropy.js';
import { bindingLimits, bindingOffsetAlignment, maxBindingBytes } from '../../src/gpu/buffer_pool.js';
import { backward } from '../../src/autograd/tape.js';
import { withBackend } from '../../src/backend/registry.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { Backend } from '../../src/backend/types.js';
import { Rng } from '../../src/data/rng.js';
import { OpArgumentError } from '../../src/errors.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';
import { checkOp, getBackends, property, randValues, seedArb } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(log.summary());
  await shutdownGpu();
});

const TOL = { fwd: { rtol: 2e-5, atol: 2e-5 }, bwd: { rtol: 1e-4, atol: 1e-6 } };

/** Targets in [0, V) with a fraction replaced by ignoreIndex. */
function targetsFor(n: number, V: number, seed: number, ignoreFrac: number, ignoreIndex: number): Int32Array {
  const rng = new Rng(seed);
  return Int32Array.from({ length: n }, () => (rng.next() < ignoreFrac ? ignoreIndex : rng.int(V)));
}

const ceFn = (opts: CrossEntropyOptions) => (l: Tensor, t: Tensor) => crossEntropy(l, t, opts);

describe('crossEntropy', () => {
  it('WGSL = CPU and CPU backward = finite differences (random N, V, ignored rows, reductions)', async () => {
    const arb = fc.tuple(
      fc.constantFrom(1, 2, 3, 5, 17, 65), fc.constantFrom(1, 2, 7, 64, 257, 1031), fc.constantFrom<'mean' | 'sum' | 'none'>('mean', 'sum', 'none'),
      fc.constantFrom(0, 0.3, 1), fc.constantFrom(-100, 1), seedArb, fc.constantFrom(1, 5, 20),
    ).filter(([N, V]) => N * V <= 8000);
    await property(arb, async ([N, V, reduction, ignoreFrac, ignoreIndex, seed, scale]) => {
      const t = targetsFor(N, V, seed, ignoreFrac, ignoreIndex);
      await checkOp(`crossEntropy [${N},${V}] ${reduction} ignore ${ignoreIndex}@${ignoreFrac}`, ceFn({ reduction, ignoreIndex }), [
        { data: randValues(N * V, seed, -scale, scale), shape: [N, V] },
        { data: t, shape: [N], dtype: 'i32' },
      ], { ...TOL, fd: { maxElements: 10, atol: 1e-6 }, log: log.grouped(`crossEntropy ${reduction}`) });
    }, 30);
  });

  it('matches a hand-computed value; leading dims [B, T, V] work', async () => {
    const { gpu: g, cpu } = await getBackends();
    for (const be of [g, cpu]) {
      const v = await withBackend(be, () => crossEntropy(new Tensor(be.upload([0, 0, 0, Math.log(3)], [2, 2], 'f32'), be), new Tensor(be.upload([0, 1], [2], 'i32'), be))).item();
      // mean of ln 2 and ln(1 + 3) - ln 3
      assertClose([v], [(Math.LN2 + Math.log(4 / 3)) / 2], { rtol: 1e-6, label: `${be.name} known value` });
    }
    await checkOp('crossEntropy [2,3,7]', ceFn({}), [
      { data: randValues(42, 8), shape: [2, 3, 7] },
      { data: [1, 6, -100, 0, 3, 3], shape: [2, 3], dtype: 'i32' },
    ], { ...TOL, log: log.grouped('crossEntropy 3-D') });
  });

  it('an all-ignored batch gives loss 0 and zero gradients, never NaN; count is 0', async () => {
    const { gpu: g, cpu } = await getBackends();
    for (const be of [g, cpu]) {
      const logits = new Tensor(be.upload(randValues(4 * 9, 2), [4, 9], 'f32'), be, true);
      const targets = new Tensor(be.upload([-100, -100, -100, -100], [4], 'i32'), be);
      const { loss, count } = withBackend(be, () => crossEntropyWithCount(logits, targets));
      assert.equal(await loss.item(), 0, `${be.name}: loss`);
      assert.equal(await count.item(), 0, `${be.name}: count`);
      withBackend(be, () => backward(loss));
      const gr = await logits.grad!.dataRaw();
      assert.ok(gr.every((x) => x === 0), `${be.name}: gradient all zero`);
      for (const reduction of ['sum', 'none'] as const) {
        const r = await withBackend(be, () => crossEntropy(logits, targets, { reduction })).dataRaw();
        assert.ok(r.every((x) => x === 0), `${be.name}: ${reduction}`);
      }
    }
  });

  it('count is the number of non-ignored rows (device reduction)', async () => {
    const { gpu: g } = await getBackends();
    const t = targetsFor(300, 11, 4, 0.4, 1);
    const want = t.filter((x) => x !== 1).length;
    const { count } = withBackend(g, () => crossEntropyWithCount(new Tensor(g.upload(randValues(300 * 11, 5), [300, 11], 'f32'), g), new Tensor(g.upload(t, [300], 'i32'), g), { ignoreIndex: 1 }));
    assert.equal(await count.item(), want);
  });

  it('releases its saved tensors outside tidy() (with and without a recorded graph)', async () => {
    const { gpu: g } = await getBackends();
    await g.sync();
    const before = g.bytesInUse();
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const grad of [true, false]) {
        const logits = new Tensor(g.upload(randValues(5 * 7, 1), [5, 7], 'f32'), g, grad);
        const targets = new Tensor(g.upload([0, 6, -100, 3, 3], [5], 'i32'), g);
        const loss = withBackend(g, () => crossEntropy(logits, targets, { reduction }));
        const seed = new Tensor(g.full(loss.shape, 'f32', 1), g);
        if (grad) withBackend(g, () => backward(loss, seed));
        for (const t of [loss, logits, targets, seed]) t.dispose();
      }
    }
    const l = new Tensor(g.upload([1, 2], [1, 2], 'f32'), g);
    const t = new Tensor(g.upload([1], [1], 'i32'), g);
    const wc = withBackend(g, () => crossEntropyWithCount(l, t));
    for (const x of [wc.loss, wc.count, l, t]) x.dispose();
    await g.sync();
    assert.equal(g.bytesInUse(), before, 'GPU bytes in use after disposing every result');
  });

  it('huge logits (±1e4) stay finite and match the CPU', async () => {
    const N = 4;
    const V = 300;
    const data = randValues(N * V, 13, -1e4, 1e4);
    const t = Int32Array.from([0, 5, 299, 17]);
    data[5 + V] = 1e4; // row 1's target is its maximum: loss ≈ 0
    await checkOp('crossEntropy ±1e4', ceFn({ reduction: 'none' }), [{ data, shape: [N, V] }, { data: t, shape: [N], dtype: 'i32' }], {
      // lse is stored as one f32, so exp(x - lse) carries its rounding: relative error up to
      // |lse| * 2^-24 ≈ 6e-4 at |logits| = 1e4 (the gradient stays finite and normalised).
      fwd: { rtol: 1e-6, atol: 2e-3 }, bwd: { rtol: 1e-3, atol: 1e-6 }, fd: false, log: log.grouped('crossEntropy ±1e4'),
    });
    const { gpu: g } = await getBackends();
    const r = g.crossEntropy(g.upload([1e4, -1e4, 1e4 - 1], [1, 3], 'f32'), g.upload([0], [1], 'i32'), -100);
    // lse - x0 = log(1 + e^-1): needs (m - x_t) + log(s), not (m + log(s)) - x_t, at this magnitude.
    assertClose(await g.read(r.loss), [Math.log1p(Math.exp(-1))], { rtol: 1e-5, label: 'loss at 1e4' });
    assertClose(await g.read(r.lse), [1e4 + Math.log1p(Math.exp(-1))], { rtol: 1e-7, label: 'lse at 1e4' });
  });

  it('vocabulary of 42,384 classes', async () => {
    const N = 3;
    const V = 42384;
    await checkOp(`crossEntropy [${N},${V}]`, ceFn({}), [
      { data: randValues(N * V, 17, -10, 10), shape: [N, V] },
      { data: [42383, 0, 20000], shape: [N], dtype: 'i32' },
    ], { ...TOL, fd: { maxElements: 6, eps: 1e-5, atol: 1e-7 }, log: log.grouped('crossEntropy V=42384') });
  });

  it('out-of-range targets: typed error on the CPU, NaN on the GPU', async () => {
    const { gpu: g, cpu } = await getBackends();
    const logits = (be: Backend) => be.upload([1, 2, 3, 4, 5, 6], [2, 3], 'f32');
    assert.throws(() => cpu.crossEntropy(logits(cpu), cpu.upload([0, 3], [2], 'i32'), -100), OpArgumentError);
    const r = g.crossEntropy(logits(g), g.upload([0, 3], [2], 'i32'), -100);
    const l = await g.read(r.loss);
    assert.ok(Number.isFinite(l[0]!) && Number.isNaN(l[1]!));
    assert.throws(() => g.crossEntropy(logits(g), g.upload([0, 1, 2], [3], 'i32'), -100), /crossEntropy: argument 'targets' expected shape \[2\]/);
    assert.throws(() => g.crossEntropy(logits(g), g.upload([0, 1], [2], 'f32'), -100), /argument 'targets' expected dtype i32/);
  });

  it('f16 logits agree with the CPU within f16 precision', async (t) => {
    if (!gpu().caps.f16) return t.skip('adapter lacks shader-f16');
    const { gpu: g, cpu } = await getBackends();
    const N = 9;
    const V = 513;
    const x = randValues(N * V, 23, -6, 6);
    const tg = targetsFor(N, V, 5, 0.2, -100);
    const dl = randValues(N, 6);
    const run = (be: Backend, dt: 'f16' | 'f32') => {
      const l = be.upload(x, [N, V], dt);
      const tt = be.upload(tg, [N], 'i32');
      const r = be.crossEntropy(l, tt, -100);
      return { ...r, dx: be.crossEntropyBackward(l, tt, r.lse, be.upload(dl, [N], 'f32'), -100) };
    };
    const a = run(g, 'f16');
    const c = run(cpu, 'f32');
    log.add('f16 loss', assertClose(await g.read(a.loss), await cpu.read(c.loss), { rtol: 2e-3, atol: 1e-2, label: 'f16 loss' }));
    log.add('f16 dlogits', assertClose(await g.read(a.dx), await cpu.read(c.dx), { rtol: 1e-2, atol: 2e-3, label: 'f16 dlogits' }));
  });

  it('overwriteLogits: the gradient lands in the logits storage, block by block, with the same bits', async () => {
    const { gpu: g, cpu } = await getBackends();
    const saved = crossEntropyTuning.overwriteBlockBytes;
    try {
      for (const be of [g, cpu]) {
        for (const dt of ['f32', 'f16'] as const) {
          if (dt === 'f16' && (be !== g || !gpu().caps.f16)) continue;
          for (const reduction of ['mean', 'sum', 'none'] as const) {
            // [2, 11, 37] logits: 22 rows in blocks of 5 (the last one short), ignored rows included.
            const [B, T, V] = [2, 11, 37];
            crossEntropyTuning.overwriteBlockBytes = 5 * V * (dt === 'f16' ? 2 : 4);
            const x = randValues(B * T * V, 31, -4, 4);
            const tg = targetsFor(B * T, V, 9, 0.25, -100);
            const run = (overwriteLogits: boolean) =>
              withBackend(be, () => {
                const l = new Tensor(be.upload(x, [B, T, V], dt), be, true);
                const tt = new Tensor(be.upload(tg, [B, T], 'i32'), be);
                const loss = crossEntropy(l, tt, { reduction, overwriteLogits });
                backward(reduction === 'none' ? ops.sum(ops.mul(loss, 0.5)) : loss);
                return { l, tt, loss };
              });
            const plain = run(false);
            const over = run(true);
            const label = `${be.name} ${dt} ${reduction}`;
            assert.deepEqual([...(await over.loss.dataRaw())], [...(await plain.loss.dataRaw())], `${label}: loss`);
            const want = [...(await plain.l.grad!.dataRaw())];
            assert.deepEqual([...(await over.l.grad!.dataRaw())], want, `${label}: gradient`);
            // The logits themselves now hold it: no second [rows, V] tensor was made.
            assert.deepEqual([...(await over.l.dataRaw())], want, `${label}: logits storage`);
            for (const r of [plain, over]) for (const t of [r.l, r.tt, r.loss]) t.dispose();
          }
        }
      }
      // Logits over the binding limit: the block copies go through windows of the logits buffer.
      await withBackend(g, async () => {
        // (Row chunks of the per-row vectors start at aligned offsets: 64 rows for 256-byte alignment.)
        const [N, V] = [300, 64];
        crossEntropyTuning.overwriteBlockBytes = 7 * V * 4;
        const x = randValues(N * V, 41, -3, 3);
        const tg = targetsFor(N, V, 12, 0.2, -100);
        const prev = bindingLimits.override;
        bindingLimits.override = 128 * bindingOffsetAlignment(gpu());
        try {
          assert.ok(N * V * 4 > maxBindingBytes(gpu()), 'logits exceed the binding limit');
          const grads: number[][] = [];
          for (const overwriteLogits of [false, true]) {
            const l = new Tensor(g.upload(x, [N, V], 'f32'), g, true);
            const tt = new Tensor(g.upload(tg, [N], 'i32'), g);
            backward(crossEntropy(l, tt, { overwriteLogits }));
            grads.push([...(await l.grad!.dataRaw())]);
            l.dispose();
            tt.dispose();
          }
          assert.deepEqual(grads[1], grads[0], 'gradient over the binding limit');
        } finally {
          bindingLimits.override = prev;
        }
      });
    } finally {
      crossEntropyTuning.overwriteBlockBytes = saved;
    }
  });
});
