/**
 * Argument validation of the public ops: shapes (every dim a non-negative safe integer, one
 * inferred -1 in reshape, torch's -1 in expand), axes and indices (integers in range, no
 * duplicates), and the typed errors naming the public op. Each is checked on the WebGPU backend and
 * on the CPU reference; after the rejected calls, a readback must still work (no hang).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { OpArgumentError, ShapeError } from '../../src/errors.js';
import { backward } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import * as ops from '../../src/ops/index.js';
import { getBackends } from '../helpers/ops_harness.js';

after(() => shutdownGpu());

const bes = async (): Promise<Backend[]> => {
  const { gpu, cpu } = await getBackends();
  return [gpu, cpu];
};

/** A ShapeError whose message starts with the op's name and mentions `got`. */
const shapeErr = (op: string, got?: RegExp) => (e: unknown) =>
  e instanceof ShapeError && e.message.startsWith(`${op}: `) && (!got || got.test(e.message));
const argErr = (op: string, arg: string, got?: RegExp) => (e: unknown) =>
  e instanceof OpArgumentError && e.op === op && e.arg === arg && (!got || got.test(e.message));

describe('shape validation', () => {
  it('creation ops reject negative, fractional and non-finite dims with ShapeError naming the op', async () => {
    for (const be of await bes()) {
      withBackend(be, () => {
        assert.throws(() => ops.zeros([-3]), shapeErr('zeros', /dim 0 is -3/));
        assert.throws(() => ops.zeros([1.5, 2]), shapeErr('zeros', /dim 0 is 1.5/));
        assert.throws(() => ops.ones([2, NaN]), shapeErr('ones', /dim 1 is NaN/));
        assert.throws(() => ops.full([Infinity], 1), shapeErr('full'));
        assert.throws(() => ops.randUniform([-1], 1), shapeErr('randUniform'));
        assert.throws(() => ops.randNormal([2, -2], 1), shapeErr('randNormal'));
        assert.throws(() => ops.tensor([], [-1, 0]), shapeErr('tensor'));
        // The backend entry points reachable through getBackend().
        assert.throws(() => be.full([-3], 'f32', 0), shapeErr('full'));
        assert.throws(() => be.empty([2.5], 'f32'), shapeErr('empty'));
        assert.throws(() => be.upload([], [0, -1], 'f32'), shapeErr('upload'));
        assert.throws(() => be.randomUniform([-4], 1, 0, 1), shapeErr('randomUniform'));
        const z = ops.zeros([0, 3]); // zero-size dims are fine
        assert.deepEqual(z.shape, [0, 3]);
        z.dispose();
      });
      // The GPU queue is still usable (a negative dim used to hang the next readback).
      const t = withBackend(be, () => ops.tensor([1, 2]));
      assert.deepEqual([...(await t.data())], [1, 2]);
      t.dispose();
    }
  });

  it('reshape: at most one -1, every dim a non-negative integer after inference', async () => {
    for (const be of await bes()) {
      const x = withBackend(be, () => ops.arange(6));
      assert.throws(() => ops.reshape(x, [-1, -1]), shapeErr('reshape', /at most one/));
      assert.throws(() => ops.reshape(x, [-2, -3]), shapeErr('reshape', /dim 0 is -2/));
      assert.throws(() => ops.reshape(x, [1.5, 4]), shapeErr('reshape', /dim 0 is 1.5/));
      assert.throws(() => ops.reshape(x, [-1, 4]), shapeErr('reshape', /6 elements/));
      const y = ops.reshape(x, [-1, 3]);
      assert.deepEqual(y.shape, [2, 3]);
      for (const t of [x, y]) t.dispose();
    }
  });

  it('expand: -1 keeps an existing dim (torch), and cannot size a new leading dim', async () => {
    for (const be of await bes()) {
      const x = withBackend(be, () => ops.tensor([[1, 2, 3]], undefined, { requiresGrad: true }));
      const y = withBackend(be, () => ops.expand(x, [-1, 3]));
      assert.deepEqual(y.shape, [1, 3]);
      const z = withBackend(be, () => ops.expand(x, [2, 4, -1]));
      assert.deepEqual(z.shape, [2, 4, 3]);
      assert.deepEqual(await z.toArray(), Array.from({ length: 2 }, () => Array.from({ length: 4 }, () => [1, 2, 3])));
      withBackend(be, () => backward(ops.sum(z)));
      assert.deepEqual([...(await x.grad!.data())], [8, 8, 8]);
      assert.throws(() => ops.expand(x, [-1, -1, 3]), shapeErr('expand', /leading/));
      assert.throws(() => ops.expand(x, [2, -2]), shapeErr('expand', /dim 1 is -2/));
      assert.throws(() => ops.expand(x, [2.5, 3]), shapeErr('expand'));
      for (const t of [x, y, z]) t.dispose();
    }
  });
});

describe('axis and index validation', () => {
  it('reductions: integer axes in range, no duplicates', async () => {
    for (const be of await bes()) {
      const a = withBackend(be, () => ops.tensor([[1, 2, 3], [4, 5, 6]]));
      for (const f of [ops.sum, ops.mean, ops.max] as const) {
        const name = f === ops.sum ? 'sum' : f === ops.mean ? 'mean' : 'max';
        assert.throws(() => f(a, 0.5), argErr(name, 'axes', /got 0.5/));
        assert.throws(() => f(a, [0, 0]), argErr(name, 'axes', /distinct axes.*axis 0 appears more than once/));
        assert.throws(() => f(a, [1, -1]), argErr(name, 'axes', /appears more than once/));
        assert.throws(() => f(a, 2), argErr(name, 'axes', /\[-2, 1\]/));
      }
      const s = withBackend(be, () => ops.sum(a, [-1, 0]));
      assert.equal(await s.item(), 21);
      for (const t of [a, s]) t.dispose();
    }
  });

  it('slice: integer starts and sizes, at most one per axis, in range', async () => {
    for (const be of await bes()) {
      const a = withBackend(be, () => ops.tensor([[1, 2, 3], [4, 5, 6]]));
      assert.throws(() => ops.slice(a, [0.5, 0], [1, 3]), argErr('slice', 'starts[0]', /integer/));
      assert.throws(() => ops.slice(a, [0, 0], [1, 1.5]), argErr('slice', 'sizes[1]'));
      assert.throws(() => ops.slice(a, [0, 1, 5], [1, 1, 9]), argErr('slice', 'starts', /at most 2 values/));
      assert.throws(() => ops.slice(a, [0], [1, 1, 1]), argErr('slice', 'sizes', /at most 2 values/));
      assert.throws(() => ops.slice(a, [-1, 0], [1, 1]), argErr('slice', 'starts[0]'));
      assert.throws(() => ops.slice(a, [0, 2], [1, 2]), (e: unknown) => e instanceof ShapeError && /slice/.test(e.message));
      const s = ops.slice(a, [1], [1]);
      assert.deepEqual(await s.toArray(), [[4, 5, 6]]);
      for (const t of [a, s]) t.dispose();
    }
  });

  it('unsqueeze takes [-rank-1, rank]; squeeze, split, concat, permute and transpose take axes in range', async () => {
    for (const be of await bes()) {
      const a = withBackend(be, () => ops.tensor([[1, 2, 3], [4, 5, 6]]));
      assert.throws(() => ops.unsqueeze(a, 7), argErr('unsqueeze', 'axis', /\[-3, 2\].*rank 2.*got 7/));
      assert.throws(() => ops.unsqueeze(a, -10), argErr('unsqueeze', 'axis'));
      assert.throws(() => ops.unsqueeze(a, 0.5), argErr('unsqueeze', 'axis'));
      assert.deepEqual(ops.unsqueeze(a, 2).shape, [2, 3, 1]);
      assert.deepEqual(ops.unsqueeze(a, -3).shape, [1, 2, 3]);
      assert.throws(() => ops.squeeze(a, 5), argErr('squeeze', 'axis', /got 5/));
      assert.throws(() => ops.squeeze(a, 0), (e: unknown) => e instanceof ShapeError && /axis 0 of size 2 \(shape \[2,3\]\)/.test(e.message));
      assert.throws(() => ops.split(a, 2, 5), argErr('split', 'axis', /got 5/));
      assert.throws(() => ops.split(a, 2, 1), (e: unknown) => e instanceof ShapeError && /dividing the axis length 3/.test(e.message));
      assert.throws(() => ops.split(a, 1.5, 0), argErr('split', 'sizes'));
      assert.throws(() => ops.concat([a, a], 5), argErr('concat', 'axis', /got 5/));
      assert.throws(() => ops.permute(a, [0, 0.5]), argErr('permute', 'perm', /got 0.5/));
      assert.throws(() => ops.permute(a, [1, 1]), argErr('permute', 'perm', /appears more than once/));
      assert.throws(() => ops.permute(a, [1]), argErr('permute', 'perm', /2 distinct axes/));
      assert.throws(() => ops.transpose(a, 0, 5), argErr('transpose', 'b', /\[-2, 1\].*got 5/));
      const v = withBackend(be, () => ops.arange(3));
      assert.throws(() => ops.transpose(v), argErr('transpose', 'a', /rank 1.*got -2/));
      for (const t of [a, v]) t.dispose();
      // Nothing was left queued by the rejected calls.
      const t = withBackend(be, () => ops.tensor([7]));
      assert.equal(await t.item(), 7);
      t.dispose();
    }
  });
});

describe('typed errors naming the public op', () => {
  it('mixed backends (matmul, concat), mixed dtypes (concat), arange(2.5), tensor() data length', async () => {
    const { gpu, cpu } = await getBackends();
    const g = withBackend(gpu, () => ops.tensor([[1, 2], [3, 4]]));
    const c = withBackend(cpu, () => ops.tensor([[1, 2], [3, 4]]));
    assert.throws(() => ops.matmul(g, c), argErr('matmul', 'b', /backend/));
    assert.throws(() => ops.matmul(g, g, { bias: withBackend(cpu, () => ops.tensor([1, 2])) }), argErr('matmul', 'bias', /backend/));
    assert.throws(() => ops.concat([g, c]), argErr('concat', 'xs[1]', /backend/));
    for (const be of [gpu, cpu]) {
      withBackend(be, () => {
        const f = ops.tensor([1, 2]);
        const i = ops.tensor(new Int32Array([1, 2]));
        assert.throws(() => ops.concat([f, i]), argErr('concat', 'xs[1]', /dtype f32.*got i32/));
        assert.throws(() => ops.arange(2.5), argErr('arange', 'n', /integer >= 0.*got 2.5/));
        assert.throws(() => ops.arange(-1), argErr('arange', 'n'));
        assert.throws(() => ops.tensor([1, 2, 3], [2, 2]), argErr('tensor', 'data', /4 values for shape \[2,2\].*got 3 values/));
        assert.throws(() => ops.tensor([[1, 2], [3, 4]], [3]), argErr('tensor', 'data'));
        for (const t of [f, i]) t.dispose();
      });
    }
    for (const t of [g, c]) t.dispose();
  });

  it('tidy(async fn) throws OpArgumentError and releases what fn made before its first await', async () => {
    const { gpu } = await getBackends();
    const before = gpu.bytesInUse();
    let made: Tensor | undefined;
    assert.throws(
      () => withBackend(gpu, () => tidy(async () => {
        made = ops.zeros([64]);
        await Promise.resolve();
        return made;
      })),
      argErr('tidy', 'fn', /synchronous.*Promise/),
    );
    assert.ok(made?.isDisposed, 'the tensor made before the first await was left alive');
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(gpu.bytesInUse(), before);
  });
});

describe('integer tensors', () => {
  it('cannot require grad, must hold in-range integers, and are rejected by float-only ops with the public op named', async () => {
    for (const be of await bes()) {
      withBackend(be, () => {
        assert.throws(() => ops.tensor(new Int32Array([1]), undefined, { requiresGrad: true }), argErr('tensor', 'requiresGrad', /only float tensors/));
        assert.throws(() => ops.zeros([2], { dtype: 'u32', requiresGrad: true }), argErr('zeros', 'requiresGrad'));
        const ids = ops.tensor(new Int32Array([1, 3]));
        assert.throws(() => ids.requiresGrad_(), argErr('requiresGrad_', 'requiresGrad'));
        assert.throws(() => ops.tensor([3e9], undefined, { dtype: 'i32' }), argErr('tensor', 'data', /\[-2147483648, 2147483647\].*3000000000 at index 0/));
        assert.throws(() => ops.tensor([0, -1], undefined, { dtype: 'u32' }), argErr('tensor', 'data', /-1 at index 1/));
        assert.throws(() => ops.tensor([1.5], undefined, { dtype: 'i32' }), argErr('tensor', 'data'));
        assert.throws(() => ops.full([2], 2 ** 32, { dtype: 'u32' }), argErr('full', 'value'));
        assert.deepEqual([...ops.tensor([2 ** 32 - 1], undefined, { dtype: 'u32' }).shape], [1]);
        // add/sub/mul/div, sum and the comparisons take them (test/ops/integer.test.ts); the rest names itself.
        assert.throws(() => ops.mean(ids), argErr('mean', 'x', /integer tensors take only add\/sub\/mul\/div, sum and the comparisons/));
        assert.throws(() => ops.max(ids), argErr('max', 'x'));
        assert.throws(() => ops.exp(ids), argErr('exp', 'x'));
        assert.throws(() => ops.neg(ids), argErr('neg', 'x'));
        assert.throws(() => ops.maximum(ids, 1), argErr('maximum', 'a'));
        assert.throws(() => ops.pow(ops.tensor([1, 2]), ids), argErr('pow', 'b', /got i32/));
        assert.throws(() => ops.add(ids, ops.tensor(new Uint32Array([1, 2]))), argErr('add', 'b', /dtype i32.*got u32/));
        // The backends refuse what the ops never pass them, naming the primitive.
        assert.throws(() => be.binary('div', ids.raw(), ids.raw()), argErr('div', 'a', /integer tensors take only add\/sub\/mul/));
        assert.throws(() => be.reduce('mean', ids.raw(), [0], false), argErr('reduce mean', 'x', /only sum/));
        assert.throws(() => be.reduce('sum', ids.raw(), [0, 0], false), argErr('reduce sum', 'axes', /distinct/));
        assert.throws(() => be.reduce('sum', ids.raw(), [0.5], false), argErr('reduce sum', 'axes', /got 0.5/));
      });
    }
  });
});
