/**
 * assign(dst, src): the public in-place update. Values are copied exactly on both backends (odd
 * sizes; f32, f16, i32, u32), every holder of dst's storage sees them, nothing is allocated,
 * and it refuses what torch refuses: shape/dtype/backend mismatches (typed errors naming assign and
 * the argument) and, with grad mode on, a dst or src that requires grad (AutogradError). A write to
 * a tensor a recorded backward reads is caught at backward() (test/autograd/versions.test.ts).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { gpu as gpuCtx, shutdownGpu } from '../../src/gpu/device.js';
import { withBackend } from '../../src/backend/registry.js';
import { numel, type Backend } from '../../src/backend/types.js';
import { OpArgumentError, ShapeError } from '../../src/errors.js';
import { AutogradError, backward, noGrad } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import * as ops from '../../src/ops/index.js';
import { assertClose } from '../helpers/compare.js';
import { getBackends, property, randValues, seedArb, shapeArb } from '../helpers/ops_harness.js';

after(() => shutdownGpu());

const bes = async (): Promise<Backend[]> => {
  const { gpu, cpu } = await getBackends();
  return [gpu, cpu];
};

const argErr = (arg: string, cls: typeof OpArgumentError = OpArgumentError, got?: RegExp) => (e: unknown) =>
  e instanceof cls && e.op === 'assign' && e.arg === arg && (!got || got.test(e.message));
const gradErr = (what: RegExp) => (e: unknown) => e instanceof AutogradError && /^assign: /.test(e.message) && what.test(e.message) && /noGrad\(\)/.test(e.message);

describe('assign', () => {
  it('copies src into dst exactly (random shapes with odd sizes; f32, i32, u32) and returns dst', async () => {
    const { gpu, cpu } = await getBackends();
    await property(fc.tuple(shapeArb(0, 4, 4096), seedArb, fc.constantFrom('f32', 'i32', 'u32' as const)), async ([s, seed, dtype]) => {
      const n = numel(s);
      const vals = Array.from(randValues(n, seed, -1000, 1000), (v) => (dtype === 'f32' ? v : dtype === 'i32' ? Math.round(v) : Math.abs(Math.round(v))));
      for (const be of [cpu, gpu]) {
        const before = be.bytesInUse();
        await withBackend(be, async () => {
          const dst = ops.full(s, 7, { dtype });
          const src = ops.tensor(vals, s, { dtype });
          const view = ops.reshape(dst, [n]); // shares dst's storage
          const got = await tidy(() => {
            const mid = be.bytesInUse();
            assert.equal(ops.assign(dst, src), dst);
            assert.equal(be.bytesInUse(), mid, `${be.name}: assign allocated`);
            return dst;
          }).dataRaw();
          assert.deepEqual([...got], vals, `${be.name} ${dtype} [${s}]`);
          assert.deepEqual([...(await view.dataRaw())], vals, `${be.name}: a view sharing dst's storage sees the update`);
          assert.deepEqual([...(await src.dataRaw())], vals, `${be.name}: src unchanged`);
          // Onto itself through a view: a no-op.
          tidy(() => ops.assign(dst, ops.reshape(view, s)));
          assert.deepEqual([...(await dst.dataRaw())], vals, `${be.name}: assign from a view of dst`);
          for (const t of [dst, src, view]) t.dispose();
        });
        assert.equal(be.bytesInUse(), before, `${be.name}: leak`);
      }
    }, 15);
  });

  it('copies f16 exactly (odd sizes, across the 2-halves-per-word packing), and a view of dst sees it', async () => {
    const { gpu, cpu } = await getBackends();
    if (!gpuCtx().caps.f16) return; // f16 storage needs shader-f16
    for (const n of [1, 2, 3, 5, 17, 129, 1001, 65537]) {
      // Quarters in [-512, 512): exact in f16, and a distinct neighbour for each element.
      const vals = Array.from({ length: n }, (_, i) => (((i * 37) % 4096) - 2048) / 4);
      for (const be of [cpu, gpu]) {
        const got = await withBackend(be, async () => {
          const dst = ops.full([n], -1, { dtype: 'f16' });
          const view = ops.reshape(dst, [1, n]);
          tidy(() => ops.assign(dst, ops.tensor(vals, [n], { dtype: 'f16' })));
          const r = [[...(await dst.data())], [...(await view.data())]];
          dst.dispose();
          view.dispose();
          return r;
        });
        assert.deepEqual(got[0], vals, `${be.name} f16 [${n}]`);
        assert.deepEqual(got[1], vals, `${be.name} f16 [${n}] through a view`);
      }
    }
  });

  it('is the update of a hand-written optimizer: plain SGD with assign under noGrad equals the SGD class', async () => {
    for (const be of await bes()) {
      await withBackend(be, async () => {
        const x = ops.tensor(randValues(12, 3, -1, 1), [4, 3]);
        const init = randValues(6, 4, -1, 1);
        const p1 = ops.tensor(init, [3, 2], { requiresGrad: true });
        const p2 = ops.tensor(init, [3, 2], { requiresGrad: true });
        const sgd = new ops.SGD([p2], { lr: 0.1 });
        for (let step = 0; step < 3; step++) {
          for (const p of [p1, p2]) {
            tidy(() => backward(ops.sum(ops.square(ops.matmul(x, p)))));
          }
          tidy(() => noGrad(() => ops.assign(p1, ops.sub(p1, ops.mul(p1.grad!, 0.1)))));
          tidy(() => sgd.step());
          for (const p of [p1, p2]) {
            p.grad!.dispose();
            p.grad = null;
          }
        }
        assertClose(await p1.dataRaw(), await p2.dataRaw(), { rtol: 1e-6, atol: 1e-7, label: `${be.name} assign-SGD vs SGD` });
        for (const t of [x, p1, p2]) t.dispose();
      });
    }
  });

  it('refuses shape, dtype and backend mismatches and non-tensors with typed errors naming the argument', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [gpu, cpu]) {
      withBackend(be, () => {
        tidy(() => {
          const dst = ops.zeros([2, 3]);
          assert.throws(() => ops.assign(dst, ops.zeros([3, 2])), argErr('src', ShapeError, /expected shape \[2,3\].*got \[3,2\]/));
          assert.throws(() => ops.assign(dst, ops.zeros([1, 3])), argErr('src', ShapeError), 'no broadcasting');
          assert.throws(() => ops.assign(dst, ops.zeros([2, 3], { dtype: 'i32' })), argErr('src', OpArgumentError, /dtype f32.*got i32/));
          const other = withBackend(be === gpu ? cpu : gpu, () => ops.zeros([2, 3]));
          assert.throws(() => ops.assign(dst, other), argErr('src', OpArgumentError, /on dst's backend/));
          other.dispose();
          assert.throws(() => ops.assign(dst, 1 as never), argErr('src', OpArgumentError, /got number 1/));
          assert.throws(() => ops.assign(null as never, dst), argErr('dst', OpArgumentError, /got null/));
          const gone = ops.zeros([2, 3]);
          gone.dispose();
          assert.throws(() => ops.assign(dst, gone), /assign: tensor #\d+ .*already disposed/);
        });
      });
    }
  });

  it('is not recordable: with grad mode on, a dst or src that requires grad throws AutogradError; under noGrad it runs', async () => {
    for (const be of await bes()) {
      const { w, plain, h } = withBackend(be, () => {
        const w = ops.tensor([1, 2, 3], undefined, { requiresGrad: true });
        w.name = 'w';
        const plain = ops.tensor([4, 5, 6]);
        assert.throws(() => ops.assign(w, plain), gradErr(/dst 'w' requires grad/));
        assert.throws(() => ops.assign(plain, w), gradErr(/src 'w' requires grad.*detach\(\)/));
        // A graph intermediate requires grad as well.
        const h = ops.mul(w, 2);
        assert.throws(() => ops.assign(h, plain), gradErr(/requires grad/));
        return { w, plain, h };
      });
      assert.deepEqual([...(await w.dataRaw())], [1, 2, 3], `${be.name}: a refused assign wrote nothing`);
      tidy(() => ops.assign(plain, w.detach()));
      assert.deepEqual([...(await plain.dataRaw())], [1, 2, 3], `${be.name}: assign from a detached src`);
      withBackend(be, () => noGrad(() => tidy(() => ops.assign(w, ops.tensor([7, 8, 9])))));
      assert.deepEqual([...(await w.dataRaw())], [7, 8, 9], `${be.name}: noGrad assign`);
      assert.equal(w.node, null, 'w stays a leaf');
      assert.ok(w.requiresGrad);
      for (const t of [w, plain, h]) t.dispose();
    }
  });
});
