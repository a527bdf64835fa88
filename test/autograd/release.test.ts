/**
 * release(): an intermediate no backward reads is freed at once with its node kept (gradients still
 * flow through it); one that a backward reads stays until that backward has run, and goes then;
 * reading a released tensor throws; leaves and no-grad results are untouched; releaseOnUse and
 * releaseTuning.enabled. On the WebGPU backend and the CPU reference.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { backward, noGrad, release, releaseOnUse } from '../../src/autograd/tape.js';
import { releaseTuning } from '../../src/autograd/release.js';
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

const leaf = (be: Backend, n: number, seed: number, requiresGrad = true): Tensor =>
  withBackend(be, () => ops.tensor(randValues(n, seed), [n], { requiresGrad }));

const values = async (t: Tensor | null): Promise<number[]> => {
  assert.ok(t, 'expected a gradient');
  return [...(await t.dataRaw())];
};

/** d/dx and d/dw of sum(gelu(x·w + x) · 3) with and without releasing the intermediates. */
async function grads(be: Backend, rel: boolean): Promise<{ gx: number[]; gw: number[]; freedEarly: boolean[] }> {
  const x = leaf(be, 7, 1);
  const w = leaf(be, 7, 2);
  let freedEarly: boolean[] = [];
  withBackend(be, () =>
    tidy(() => {
      const p = ops.mul(x, w); // its consumer add does not read it
      const s = ops.add(p, x); // read by gelu's backward
      const g = ops.gelu(s);
      const y = ops.mul(g, 3); // affine: reads nothing
      if (rel) release(p, s, g);
      freedEarly = [p, s, g].map((t) => t.isDisposed);
      backward(ops.sum(y));
    }),
  );
  const out = { gx: await values(x.grad), gw: await values(w.grad), freedEarly };
  for (const t of [x, w]) t.dispose();
  return out;
}

describe('release', () => {
  it('frees unread intermediates at once and read ones after their backward; same gradients', async () => {
    for (const be of await bes()) {
      const plain = await grads(be, false);
      const rel = await grads(be, true);
      // p (read by nobody: add's backward needs only g) and g (read by nobody: affine) go at once;
      // s stays for gelu's backward.
      assert.deepEqual(rel.freedEarly, [true, false, true], `${be.name}: freed at release time`);
      assert.deepEqual(plain.freedEarly, [false, false, false]);
      assert.deepEqual(rel.gx, plain.gx, `${be.name}: dx`);
      assert.deepEqual(rel.gw, plain.gw, `${be.name}: dw`);
    }
  });

  it('a tensor read by a later backward is freed right after that backward, before the end of the pass', async () => {
    for (const be of await bes()) {
      const x = leaf(be, 5, 3);
      let seenDuring: boolean | undefined;
      withBackend(be, () =>
        tidy(() => {
          const s = ops.add(x, 1); // read by gelu
          const g = ops.gelu(s);
          release(s);
          assert.equal(s.isDisposed, false);
          // A custom node after gelu (runs before it in backward) records whether s is still there.
          const probe = ops.mul(g, 2);
          const h = ops.exp(probe); // reads its output
          const y = ops.sum(h);
          release(h);
          assert.equal(h.isDisposed, false, 'exp reads its own output');
          // sum reads nothing; s must outlive exp's backward and go with gelu's.
          backward(y);
          seenDuring = s.isDisposed;
          assert.equal(h.isDisposed, true, 'freed once exp backward ran');
        }),
      );
      assert.equal(seenDuring, true, `${be.name}: s freed by the end of backward (inside the tidy)`);
      const want = (await x.dataRaw()) as ArrayLike<number>;
      // d/dx exp(2 gelu(x+1)) = exp(2 gelu(x+1)) · 2 gelu'(x+1): compare against the unreleased graph.
      const ref = withBackend(be, () => {
        const x2 = ops.tensor(Array.from(want), [5], { requiresGrad: true });
        tidy(() => backward(ops.sum(ops.exp(ops.mul(ops.gelu(ops.add(x2, 1)), 2)))));
        return x2;
      });
      assertClose(await values(x.grad), await values(ref.grad), { rtol: 0, atol: 0, label: `${be.name}: dx` });
      x.dispose();
      ref.dispose();
    }
  });

  it('reading a released tensor throws; leaves, no-grad results and disabled release are untouched', async () => {
    for (const be of await bes()) {
      const x = leaf(be, 4, 4);
      const c = leaf(be, 4, 5, false);
      withBackend(be, () =>
        tidy(() => {
          const p = ops.add(x, 1);
          const q = ops.mul(p, 2);
          release(p);
          assert.throws(() => ops.add(p, 1), DisposedTensorError);
          release(x, c); // leaves: nothing happens
          assert.ok(!x.isDisposed && !c.isDisposed);
          const n = noGrad(() => ops.add(c, 1));
          release(n); // no node: the caller's to dispose
          assert.ok(!n.isDisposed);
          releaseTuning.enabled = false;
          try {
            const r = ops.add(q, 1);
            release(r);
            assert.ok(!r.isDisposed, 'disabled');
          } finally {
            releaseTuning.enabled = true;
          }
          backward(ops.sum(q));
        }),
      );
      assertClose(await values(x.grad), [2, 2, 2, 2], { label: `${be.name}: dx through a released tensor` });
      x.dispose();
      c.dispose();
    }
  });

  it('releaseOnUse: released by the op that consumes it', async () => {
    for (const be of await bes()) {
      const x = leaf(be, 6, 6);
      withBackend(be, () =>
        tidy(() => {
          const a = releaseOnUse(ops.add(x, 1));
          assert.ok(!a.isDisposed);
          const b = ops.mul(a, 3); // affine: does not read a → freed once recorded
          assert.ok(a.isDisposed);
          const c = releaseOnUse(ops.add(x, 2));
          const d = ops.gelu(c); // reads c → kept for the backward
          assert.ok(!c.isDisposed);
          backward(ops.sum(ops.add(b, d)));
          assert.ok(c.isDisposed, 'freed after gelu backward');
        }),
      );
      assert.equal((await values(x.grad)).length, 6);
      x.dispose();
    }
  });
});
