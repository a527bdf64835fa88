/**
 * checkpoint(): gradients equal to the plain graph's (inputs and parameters, also when only
 * parameters need grad), dropout masks replayed in the recompute with the counters left where a
 * plain run leaves them, pass-through outside grad mode, and a lower peak of GPU bytes.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { backward, noGrad } from '../../src/autograd/tape.js';
import { checkpoint } from '../../src/autograd/checkpoint.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { tidy } from '../../src/tensor/scope.js';
import * as ops from '../../src/ops/index.js';
import { Dropout } from '../../src/nn/dropout.js';
import { autocast } from '../../src/autograd/autocast.js';
import { assertClose } from '../helpers/compare.js';
import { getBackends, randValues } from '../helpers/ops_harness.js';

after(() => shutdownGpu());

const bes = async (): Promise<Backend[]> => {
  const { gpu: g, cpu } = await getBackends();
  return [g, cpu];
};

const vals = async (t: Tensor | null): Promise<number[]> => {
  assert.ok(t, 'expected a gradient');
  return [...(await t.dataRaw())];
};

/** A small residual block with a nonlinearity and dropout: x + drop(gelu(x W1)) W2. */
function block(x: Tensor, w1: Tensor, w2: Tensor, drop: Dropout): Tensor {
  return ops.add(x, ops.matmul(drop.forward(ops.gelu(ops.matmul(x, w1))), w2));
}

describe('checkpoint', () => {
  it('gives the same gradients as the plain graph, dropout included (odd shapes)', async () => {
    for (const be of await bes()) {
      for (const [n, c, f] of [[3, 5, 17], [17, 65, 129]] as const) {
        const mk = (shape: number[], seed: number, rg: boolean) => withBackend(be, () => ops.tensor(randValues(shape.reduce((a, b) => a * b), seed), shape, { requiresGrad: rg }));
        const w1 = mk([c, f], 1, true);
        const w2 = mk([f, c], 2, true);
        const drop = new Dropout(0.3, { seed: 99 }).train();
        const run = async (ck: boolean, inputNeedsGrad: boolean) => {
          const x = mk([n, c], 3, inputNeedsGrad);
          drop.reseed(5);
          tidy(() => {
            let h = x;
            for (let k = 0; k < 3; k++) {
              const y = h;
              h = ck ? checkpoint((z) => block(z, w1, w2, drop), [y], { params: [w1, w2], rng: [drop] }) : block(y, w1, w2, drop);
            }
            backward(ops.sum(ops.mul(h, h)));
          });
          const out = { gx: inputNeedsGrad ? await vals(x.grad) : null, g1: await vals(w1.grad), g2: await vals(w2.grad), calls: drop.calls };
          for (const t of [x, w1, w2]) {
            t.grad?.dispose();
            t.grad = null;
          }
          x.dispose();
          return out;
        };
        for (const inputNeedsGrad of [true, false]) {
          // One after the other: both accumulate into the same weights' .grad.
          const a = await withBackend(be, () => run(false, inputNeedsGrad));
          const b = await withBackend(be, () => run(true, inputNeedsGrad));
          const tag = `${be.name} [${n},${c},${f}] input grad ${inputNeedsGrad}`;
          assert.equal(b.calls, a.calls, `${tag}: dropout counter after the step`);
          assert.equal(a.calls, 3);
          if (inputNeedsGrad) assertClose(b.gx!, a.gx!, { rtol: 1e-6, atol: 1e-7, label: `${tag} dx` });
          assertClose(b.g1, a.g1, { rtol: 1e-6, atol: 1e-7, label: `${tag} dW1` });
          assertClose(b.g2, a.g2, { rtol: 1e-6, atol: 1e-7, label: `${tag} dW2` });
        }
        w1.dispose();
        w2.dispose();
      }
    }
  });

  it('without rewinding the dropout counter the recompute draws other masks (the rewind matters)', async () => {
    const { gpu: be } = await getBackends();
    await withBackend(be, async () => {
      const w1 = ops.tensor(randValues(8 * 16, 1), [8, 16], { requiresGrad: true });
      const w2 = ops.tensor(randValues(16 * 8, 2), [16, 8], { requiresGrad: true });
      const drop = new Dropout(0.5, { seed: 1 }).train();
      const grads: number[][] = [];
      for (const rng of [[drop], []]) {
        drop.reseed(3);
        tidy(() => {
          const x = ops.tensor(randValues(4 * 8, 3), [4, 8]);
          backward(ops.sum(checkpoint((z) => block(z, w1, w2, drop), [x], { params: [w1, w2], rng })));
        });
        grads.push(await vals(w1.grad));
        w1.grad?.dispose();
        w1.grad = null;
        w2.grad?.dispose();
        w2.grad = null;
      }
      assert.notDeepEqual(grads[1], grads[0]);
      w1.dispose();
      w2.dispose();
    });
  });

  it('replays the autocast dtype of the forward in the recompute (backward outside the scope)', async (t) => {
    const { gpu: be } = await getBackends();
    if (!gpu().caps.f16) return t.skip('adapter without shader-f16');
    await withBackend(be, async () => {
      const w1 = ops.tensor(randValues(16 * 40, 1), [16, 40], { requiresGrad: true });
      const w2 = ops.tensor(randValues(40 * 16, 2), [40, 16], { requiresGrad: true });
      const drop = new Dropout(0.2, { seed: 1 }).train();
      const grads: number[][] = [];
      // plain f16, checkpointed f16, plain f32 (the last shows that the dtype changes the numbers)
      for (const [ck, dt] of [[false, 'f16'], [true, 'f16'], [false, null]] as const) {
        drop.reseed(9);
        tidy(() => {
          const x = ops.tensor(randValues(5 * 16, 3), [5, 16]);
          const h = autocast(dt, () => (ck ? checkpoint((z) => block(z, w1, w2, drop), [x], { params: [w1, w2], rng: [drop] }) : block(x, w1, w2, drop)));
          backward(ops.sum(h));
        });
        grads.push([...(await vals(w1.grad)), ...(await vals(w2.grad))]);
        for (const w of [w1, w2]) {
          w.grad?.dispose();
          w.grad = null;
        }
      }
      assertClose(grads[1]!, grads[0]!, { rtol: 1e-6, atol: 1e-7, label: 'f16 autocast dW' });
      assert.ok(grads[2]!.some((v, i) => Math.abs(v - grads[0]![i]!) > 1e-5 * Math.max(1, Math.abs(v))), 'f16 and f32 gradients should differ');
      w1.dispose();
      w2.dispose();
    });
  });

  it('outside grad mode it only runs fn (no node, no recompute)', async () => {
    const { gpu: be } = await getBackends();
    withBackend(be, () => {
      const w = ops.tensor([1, 2, 3, 4], [2, 2], { requiresGrad: true });
      const x = ops.tensor([1, 1], [1, 2], { requiresGrad: true });
      let calls = 0;
      const y = noGrad(() => checkpoint((z) => (calls++, ops.matmul(z, w)), [x], { params: [w] }));
      assert.equal(y.node, null);
      assert.equal(y.requiresGrad, false);
      assert.equal(calls, 1);
      for (const t of [w, x, y]) t.dispose();
    });
  });

  it('lowers the peak of GPU bytes in use during forward + backward', async () => {
    const { gpu: be } = await getBackends();
    const pool = gpu().pool;
    const [n, c, f, depth] = [256, 64, 512, 6];
    const w1 = withBackend(be, () => ops.tensor(randValues(c * f, 1), [c, f], { requiresGrad: true }));
    const w2 = withBackend(be, () => ops.tensor(randValues(f * c, 2), [f, c], { requiresGrad: true }));
    const drop = new Dropout(0.1, { seed: 4 }).train();
    const peak = async (ck: boolean): Promise<number> => {
      await gpu().queue.flush?.();
      pool.resetPeak();
      const base = pool.getStats().bytesInUse;
      withBackend(be, () =>
        tidy(() => {
          let h = ops.tensor(randValues(n * c, 3), [n, c]);
          for (let k = 0; k < depth; k++) {
            const y = h;
            h = ck ? checkpoint((z) => block(z, w1, w2, drop), [y], { params: [w1, w2], rng: [drop] }) : block(y, w1, w2, drop);
          }
          backward(ops.sum(h));
        }),
      );
      await vals(w1.grad);
      for (const w of [w1, w2]) {
        w.grad?.dispose();
        w.grad = null;
      }
      return pool.getStats().peakBytesInUse - base;
    };
    const plain = await peak(false);
    const ck = await peak(true);
    // Each block keeps an [n, f] pre-activation, its gelu and dropout outputs (~3 × 512 KiB) without
    // checkpointing; with it only the [n, c] block inputs (64 KiB each) stay alive.
    assert.ok(ck < plain * 0.6, `peak with checkpointing ${ck} B, without ${plain} B`);
    w1.dispose();
    w2.dispose();
  });
});
