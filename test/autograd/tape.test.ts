/**
 * The tape: accumulation across backward() calls, noGrad, detach, frozen parameters, typed errors,
 * tensors used more than once, tidy() and buffer accounting, use after dispose. Each behaviour is
 * checked on the WebGPU backend and on the CPU reference.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { RadgradError } from '../../src/errors.js';
import { AutogradError, backward, isGradEnabled, noGrad, zeroGrad } from '../../src/autograd/tape.js';
import { DisposedTensorError, type Tensor } from '../../src/tensor/tensor.js';
import { tidy } from '../../src/tensor/scope.js';
import * as ops from '../../src/ops/index.js';
import { assertClose } from '../helpers/compare.js';
import { getBackends, randValues } from '../helpers/ops_harness.js';

after(() => shutdownGpu());

const bes = async (): Promise<Backend[]> => {
  const { gpu, cpu } = await getBackends();
  return [gpu, cpu];
};

const leaf = (be: Backend, data: number[], shape: number[], requiresGrad = true): Tensor =>
  withBackend(be, () => ops.tensor(data, shape, { requiresGrad }));

const values = async (t: Tensor | null): Promise<number[]> => {
  assert.ok(t, 'expected a tensor (gradient missing)');
  return [...(await t.dataRaw())];
};

describe('tape', () => {
  it('gradients accumulate across backward() calls until zeroGrad', async () => {
    for (const be of await bes()) {
      const x = leaf(be, [1, -2, 3], [3]);
      for (let k = 0; k < 3; k++) withBackend(be, () => backward(ops.sum(ops.mul(x, x))));
      assertClose(await values(x.grad), [6, -12, 18], { label: `${be.name} 3× d sum(x²)` });
      zeroGrad([x]);
      assert.equal(x.grad, null);
      withBackend(be, () => backward(ops.sum(x)));
      assertClose(await values(x.grad), [1, 1, 1], { label: `${be.name} after zeroGrad` });
      x.dispose();
    }
  });

  it('noGrad records nothing and restores grad mode (also when fn throws)', async () => {
    for (const be of await bes()) {
      const x = leaf(be, [1, 2], [2]);
      const y = noGrad(() => withBackend(be, () => ops.exp(ops.mul(x, x))));
      assert.equal(y.requiresGrad, false);
      assert.equal(y.node, null);
      assert.throws(() => backward(y), RadgradError);
      assert.throws(() => noGrad(() => { throw new Error('boom'); }), /boom/);
      assert.equal(isGradEnabled(), true);
      x.dispose();
      y.dispose();
    }
  });

  it('detach stops gradients on that path only', async () => {
    for (const be of await bes()) {
      const x = leaf(be, [1.5, -2, 0.5], [3]);
      // z = sum(detach(x) * x): dz/dx = detach(x) (one path), not 2x.
      const d = x.detach();
      assert.equal(d.requiresGrad, false);
      withBackend(be, () => backward(ops.sum(ops.mul(d, x))));
      assertClose(await values(x.grad), [1.5, -2, 0.5], { label: `${be.name} detach` });
      x.dispose();
      d.dispose();
    }
  });

  it('frozen parameters get no gradient; a graph of only frozen inputs cannot be backpropagated', async () => {
    for (const be of await bes()) {
      const w = leaf(be, [1, 2, 3, 4], [2, 2]).requiresGrad_(false);
      const x = leaf(be, [1, -1, 2, 0.5], [2, 2]);
      withBackend(be, () => backward(ops.sum(ops.matmul(x, w))));
      assert.equal(w.grad, null, `${be.name}: frozen weight received a gradient`);
      assertClose(await values(x.grad), [3, 7, 3, 7], { label: `${be.name} dx = 1·wᵀ` });
      const y = withBackend(be, () => ops.sum(ops.mul(w, w)));
      assert.equal(y.requiresGrad, false);
      assert.throws(() => backward(y), (e: unknown) => e instanceof AutogradError && /does not require grad/.test(e.message));
      for (const t of [w, x, y]) t.dispose();
    }
  });

  it('backward of a non-scalar without an upstream gradient throws a typed error', async () => {
    for (const be of await bes()) {
      const x = leaf(be, [1, 2, 3, 4], [2, 2]);
      const y = withBackend(be, () => ops.mul(x, x));
      assert.throws(() => backward(y), (e: unknown) => e instanceof AutogradError && e instanceof RadgradError && /upstream gradient/.test(e.message));
      const wrong = withBackend(be, () => ops.ones([4]));
      assert.throws(() => backward(y, wrong), (e: unknown) => e instanceof AutogradError && /does not match/.test(e.message));
      // With an upstream gradient of the right shape it works.
      const g = withBackend(be, () => ops.tensor([1, 0, 0, 1], [2, 2]));
      backward(y, g);
      assertClose(await values(x.grad), [2, 0, 0, 8], { label: `${be.name} vjp` });
      // The upstream gradient still belongs to the caller.
      assertClose(await values(g), [1, 0, 0, 1]);
      for (const t of [x, y, wrong, g]) t.dispose();
    }
  });

  it('a tensor used twice gets the sum of both gradients', async () => {
    for (const be of await bes()) {
      const x = leaf(be, [1, -2, 3], [3]);
      withBackend(be, () => backward(ops.sum(ops.mul(x, x))));
      assertClose(await values(x.grad), [2, -4, 6], { label: `${be.name} x*x` });
      zeroGrad([x]);
      withBackend(be, () => backward(ops.sum(ops.add(x, x))));
      assertClose(await values(x.grad), [2, 2, 2], { label: `${be.name} add(x, x)` });
      zeroGrad([x]);
      // Diamond: y = exp(x) feeds two branches that meet again.
      withBackend(be, () => {
        const y = ops.exp(x);
        backward(ops.sum(ops.add(ops.mul(y, 2), ops.mul(y, y))));
      });
      const want = [1, -2, 3].map((v) => 2 * Math.exp(v) + 2 * Math.exp(2 * v));
      assertClose(await values(x.grad), want, { rtol: 1e-5, label: `${be.name} diamond` });
      zeroGrad([x]);
      // The same input twice in one op, with broadcasting (add(a, a) of a [3,1] against itself).
      const a = leaf(be, [1, 2, 3], [3, 1]);
      withBackend(be, () => backward(ops.sum(ops.mul(ops.add(a, a), ops.reshape(a, [1, 3])))));
      // f = Σ_ij 2 a_i a_j → df/da_k = 4 Σ_j a_j = 24
      assertClose(await values(a.grad), [24, 24, 24], { label: `${be.name} add(a, a) broadcast` });
      x.dispose();
      a.dispose();
    }
  });

  it('tidy() releases intermediates: GPU bytes in use stay flat over many steps', async () => {
    const { gpu } = await getBackends();
    const w = withBackend(gpu, () => ops.tensor(randValues(17 * 33, 1), [17, 33], { requiresGrad: true }));
    const x = withBackend(gpu, () => ops.tensor(randValues(5 * 17, 2), [5, 17]));
    const step = () =>
      tidy(() => {
        const h = ops.gelu(ops.matmul(x, w));
        const loss = ops.mean(ops.sum(ops.mul(h, h), -1));
        backward(loss);
        return loss;
      });
    const l0 = step();
    await l0.data();
    l0.dispose();
    const base = gpu.bytesInUse();
    for (let i = 0; i < 50; i++) {
      const l = withBackend(gpu, step);
      if (i % 10 === 0) await l.data();
      l.dispose();
      assert.equal(gpu.bytesInUse(), base, `bytes in use grew at step ${i}`);
    }
    await gpu.sync();
    assert.ok(w.grad, 'w accumulated a gradient');
    w.dispose();
    x.dispose();
  });

  it('backward() outside tidy frees every intermediate it creates', async () => {
    const { gpu } = await getBackends();
    const base = gpu.bytesInUse();
    withBackend(gpu, () => {
      const a = ops.tensor(randValues(6, 3), [2, 3], { requiresGrad: true });
      const b = ops.tensor(randValues(3, 4, 0.5, 2), [3], { requiresGrad: true });
      const forward: Tensor[] = [];
      const keepF = <T extends Tensor>(t: T): T => (forward.push(t), t);
      // Broadcasting ops, unary ops with temporaries in backward, a reduction and a matmul.
      const h = keepF(ops.tanh(keepF(ops.div(keepF(ops.sub(keepF(ops.mul(a, b)), b)), b))));
      const s = keepF(ops.sigmoid(keepF(ops.sqrt(keepF(ops.add(keepF(ops.square(h)), 1))))));
      const m = keepF(ops.matmul(s, keepF(ops.reshape(b, [3, 1]))));
      const loss = keepF(ops.mean(keepF(ops.rsqrt(keepF(ops.abs(keepF(ops.add(m, 3))))))));
      backward(loss);
      assert.ok(a.grad && b.grad);
      for (const t of [...forward, a, b]) t.dispose();
    });
    await gpu.sync();
    assert.equal(gpu.bytesInUse(), base, 'backward left GPU buffers allocated');
  });

  it('using a disposed tensor throws DisposedTensorError', async () => {
    for (const be of await bes()) {
      const x = leaf(be, [1, 2], [2]);
      x.dispose();
      assert.equal(x.isDisposed, true);
      x.dispose(); // idempotent
      assert.throws(() => withBackend(be, () => ops.exp(x)), DisposedTensorError);
      await assert.rejects(x.data(), DisposedTensorError);
      const y = withBackend(be, () => tidy(() => ops.exp(ops.tensor([1, 2], [2]))));
      let inner: Tensor | undefined;
      withBackend(be, () => tidy(() => {
        inner = ops.exp(y);
        return ops.neg(inner);
      })).dispose();
      assert.ok(inner);
      assert.throws(() => withBackend(be, () => ops.add(inner!, y)), (e: unknown) => e instanceof DisposedTensorError && /disposed/.test(e.message));
      y.dispose();
    }
  });

  it('backward() through a disposed intermediate throws DisposedTensorError before touching any gradient', async () => {
    for (const be of await bes()) {
      const w = leaf(be, [1, 2, 3, 4], [2, 2]);
      const b = leaf(be, [1, 1], [2]);
      const x = leaf(be, [1, 1], [1, 2], false);
      // The loss returned from tidy(): the intermediates it was made from are gone.
      const l = withBackend(be, () => tidy(() => ops.sum(ops.square(ops.matmul(x, w)))));
      const before = be.bytesInUse();
      assert.throws(() => backward(l), (e: unknown) => e instanceof DisposedTensorError && /backward\(\).*made by square.*disposed/.test(e.message));
      assert.equal(w.grad, null);
      assert.equal(be.bytesInUse(), before, `${be.name}: a failed backward() kept buffers`);
      // An op above the disposed tensor that does not read it (add) must not hide the problem.
      const h = withBackend(be, () => ops.matmul(x, w));
      const y = withBackend(be, () => ops.sum(ops.add(h, b)));
      h.dispose();
      assert.throws(() => backward(y), (e: unknown) => e instanceof DisposedTensorError && /made by matmul/.test(e.message));
      assert.equal(b.grad, null, `${be.name}: part of the graph was backpropagated`);
      assert.equal(h.grad, null, `${be.name}: a disposed intermediate got a .grad`);
      // A disposed leaf would get a .grad nothing frees.
      const v = leaf(be, [1, 2], [2]);
      const z = withBackend(be, () => ops.sum(ops.mul(v, 2)));
      v.dispose();
      assert.throws(() => backward(z), DisposedTensorError);
      assert.equal(v.grad, null);
      for (const t of [w, b, x, l, y, z]) t.dispose();
    }
  });

  it('a second backward() over a consumed graph throws AutogradError (no silent no-op, no kept root .grad)', async () => {
    for (const be of await bes()) {
      const w = leaf(be, [1, 2, 3], [3]);
      const l = withBackend(be, () => ops.sum(ops.mul(w, w)));
      backward(l);
      assert.throws(() => backward(l), (e: unknown) => e instanceof AutogradError && /already consumed.*second time/.test(e.message) && /made by sum/.test(e.message));
      assert.equal(l.grad, null, `${be.name}: the non-leaf root got a .grad`);
      assertClose(await values(w.grad), [2, 4, 6], { label: `${be.name} first backward only` });
      // A graph sharing a consumed part: torch raises too (no retain_graph).
      const h = withBackend(be, () => ops.exp(w));
      const l1 = withBackend(be, () => ops.sum(h));
      const l2 = withBackend(be, () => ops.mean(h));
      backward(l1);
      assert.throws(() => backward(l2), (e: unknown) => e instanceof AutogradError && /tensor #\d+ \(made by exp\)/.test(e.message));
      for (const t of [w, l, h, l1, l2]) t.dispose();
    }
  });

  it('backward() with an upstream gradient of another dtype throws AutogradError naming both', async () => {
    for (const be of await bes()) {
      const x = leaf(be, [1, 2], [2]);
      const y = withBackend(be, () => ops.mul(x, x));
      const g = withBackend(be, () => ops.tensor(new Int32Array([1, 10])));
      assert.throws(() => backward(y, g), (e: unknown) => e instanceof AutogradError && /upstream gradient dtype i32 .* f32/.test(e.message));
      assert.equal(x.grad, null);
      for (const t of [x, y, g]) t.dispose();
    }
  });
});
