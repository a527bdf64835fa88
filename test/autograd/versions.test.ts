/**
 * Version counters (torch's `_version`): an in-place write (assign(), an optimizer step) to a tensor
 * that a recorded op's backward reads makes backward() throw AutogradError naming the op, before any
 * gradient is computed, instead of silently using the new values. Aliases sharing the storage
 * (detach(), reshape()) count as the same tensor; ops whose backward does not read the overwritten
 * tensor (add, affine) are unaffected. Checked on the WebGPU backend and on the CPU reference.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { AutogradError, backward, noGrad } from '../../src/autograd/tape.js';
import { checkpoint } from '../../src/autograd/checkpoint.js';
import { tidy } from '../../src/tensor/scope.js';
import * as ops from '../../src/ops/index.js';
import { assertClose } from '../helpers/compare.js';
import { getBackends } from '../helpers/ops_harness.js';
import { Linear } from '../../src/nn/linear.js';

after(() => shutdownGpu());

const bes = async (): Promise<Backend[]> => {
  const { gpu, cpu } = await getBackends();
  return [gpu, cpu];
};

/** The error torch gives, naming the op whose saved tensor changed. */
const inplaceErr = (op: string, which: RegExp) => (e: unknown) =>
  e instanceof AutogradError &&
  /one of the variables needed for gradient computation has been modified by an inplace operation/.test(e.message) &&
  new RegExp(`of ${op}, which ${op}'s backward reads, is at version \\d+; expected version \\d+`).test(e.message) &&
  which.test(e.message) &&
  /after backward\(\)/.test(e.hint ?? '');

describe('version counters', () => {
  it('Tensor.version counts in-place writes and is shared by detach() and reshape() aliases', async () => {
    for (const be of await bes()) {
      withBackend(be, () => tidy(() => {
        const a = ops.tensor([1, 2, 3, 4], [4]);
        const d = a.detach();
        const r = ops.reshape(a, [2, 2]);
        const other = ops.tensor([1, 2, 3, 4], [4]);
        assert.deepEqual([a.version, d.version, r.version, other.version], [0, 0, 0, 0]);
        ops.assign(d, ops.tensor([5, 6, 7, 8], [4]));
        assert.deepEqual([a.version, d.version, r.version, other.version], [1, 1, 1, 0], `${be.name}: one counter per storage`);
        ops.assign(r, ops.zeros([2, 2]));
        assert.equal(a.version, 2, `${be.name}`);
        const copy = ops.add(a, 0); // a new storage starts at 0
        assert.equal(copy.version, 0);
      }));
    }
  });

  it("assign() into an input a recorded mul saved throws at backward() naming mul, before any gradient (the reviewer's repro)", async () => {
    for (const be of await bes()) {
      const w = withBackend(be, () => ops.tensor([1, 1, 1], [3], { requiresGrad: true }));
      await withBackend(be, () => tidy(() => {
        const d = ops.tensor([1, 2, 3], [3]);
        // Another branch that needs no saved tensor: nothing may reach w.grad when backward refuses.
        const y = ops.add(ops.sum(ops.mul(w, d)), ops.sum(w));
        ops.assign(d, ops.tensor([100, 100, 100], [3])); // grad mode on, d does not require grad: allowed
        assert.throws(() => backward(y), inplaceErr('mul', /input 1 \(Tensor#\d+\[3\] f32\)/));
      }));
      assert.equal(w.grad, null, `${be.name}: no gradient computed`);
      w.dispose();
    }
  });

  it('assign() through a detach() or reshape() alias of a saved parameter is caught too', async () => {
    for (const be of await bes()) {
      for (const alias of ['detach', 'reshape'] as const) {
        const [w, v] = withBackend(be, () => [ops.tensor([2, 2], [2], { requiresGrad: true }), ops.tensor([3, 3], [2], { requiresGrad: true })]);
        w.name = 'w';
        withBackend(be, () => tidy(() => {
          const y = ops.sum(ops.mul(v, w));
          const a = alias === 'detach' ? w.detach() : noGrad(() => ops.reshape(w, [1, 2]));
          noGrad(() => ops.assign(a, ops.tensor([9, 9], a.shape)));
          assert.throws(() => backward(y), inplaceErr('mul', /input 1 \(Tensor#\d+\[2\] f32 requiresGrad 'w'\)/), `${be.name} ${alias}`);
        }));
        assert.equal(v.grad, null);
        w.dispose();
        v.dispose();
      }
    }
  });

  it("an op that saved its output (exp) refuses a write to that output", async () => {
    for (const be of await bes()) {
      const x = withBackend(be, () => ops.tensor([0, 1], [2], { requiresGrad: true }));
      withBackend(be, () => tidy(() => {
        const y = ops.exp(x);
        noGrad(() => ops.assign(y, ops.zeros([2])));
        assert.throws(() => backward(ops.sum(y)), inplaceErr('exp', /its output/));
      }));
      x.dispose();
    }
  });

  it('writes to tensors no backward reads are allowed: y = x + 1, add(x, c), exp(w) after assign still backpropagate', async () => {
    for (const be of await bes()) {
      const x = withBackend(be, () => ops.tensor([1, 2, 3], [3], { requiresGrad: true }));
      const grad = async (label: string, expected: number[]) => {
        assertClose(await x.grad!.dataRaw(), expected, { label: `${be.name} ${label}` });
        x.grad!.dispose();
        x.grad = null;
      };
      withBackend(be, () => tidy(() => {
        const y = ops.add(x, 1);
        noGrad(() => ops.assign(x, ops.tensor([7, 8, 9], [3])));
        backward(ops.sum(y));
      }));
      await grad('x + 1', [1, 1, 1]);
      withBackend(be, () => tidy(() => {
        const c = ops.tensor([5, 5, 5], [3]);
        const z = ops.sum(ops.add(x, c));
        ops.assign(c, ops.zeros([3]));
        backward(z);
      }));
      await grad('add(x, c)', [1, 1, 1]);
      // exp's backward reads its output, not x: the write to x changes nothing it needs.
      withBackend(be, () => tidy(() => {
        const e = ops.sum(ops.exp(ops.mul(x, 0)));
        noGrad(() => ops.assign(x, ops.tensor([5, 5, 5], [3])));
        backward(e);
      }));
      await grad('exp(0·x)', [0, 0, 0]);
      x.dispose();
    }
  });

  it('an optimizer step between forward and backward is refused; after backward it runs, and the next forward/backward works', async () => {
    for (const be of await bes()) {
      for (const Opt of ['AdamW', 'SGD'] as const) {
        const p = withBackend(be, () => ops.tensor([1, -1], [2], { requiresGrad: true }));
        const x = withBackend(be, () => ops.tensor([2, 3], [2], { requiresGrad: true }));
        const opt = Opt === 'AdamW' ? new ops.AdamW([p], { lr: 0.1 }) : new ops.SGD([p], { lr: 0.1 });
        withBackend(be, () => {
          // Step 1: backward, then step (the normal order).
          tidy(() => backward(ops.sum(ops.mul(x, p))));
          tidy(() => opt.step());
          assert.equal(p.version, 1, `${be.name} ${Opt}: the step is an in-place write`);
          // Step 2: x's gradient reads p, which the step overwrites before backward.
          tidy(() => {
            const y = ops.sum(ops.mul(x, p));
            opt.step();
            assert.throws(() => backward(y), inplaceErr('mul', /input 1/), `${be.name} ${Opt}`);
          });
        });
        // A fresh forward after the steps sees the new version.
        x.grad?.dispose();
        x.grad = null;
        const pv = [...(await p.dataRaw())];
        withBackend(be, () => tidy(() => backward(ops.sum(ops.mul(x, p)))));
        assertClose(await x.grad!.dataRaw(), pv, { label: `${be.name} ${Opt}: dx = p after the steps` });
        opt.dispose();
        for (const t of [p, x]) t.dispose();
      }
    }
  });

  it('checkpoint() refuses an input written in place between forward and backward', async () => {
    for (const be of await bes()) {
      const w = withBackend(be, () => ops.tensor([1, 2], [2], { requiresGrad: true }));
      withBackend(be, () => tidy(() => {
        const h = ops.tensor([3, 4], [2]);
        const y = checkpoint((a) => ops.mul(a, w), [h], { params: [w] });
        ops.assign(h, ops.zeros([2]));
        assert.throws(() => backward(ops.sum(y)), inplaceErr('checkpoint', /input 0/));
      }));
      w.dispose();
    }
  });
});

describe('version counters and modules', () => {
  it('loadStateDict() into a parameter a recorded op read is an in-place write: backward() refuses', async () => {
    for (const be of await bes()) {
      await withBackend(be, () => tidy(() => {
        const lin = new Linear(3, 2);
        const y = ops.sum(ops.mul(lin.weight, lin.weight));
        lin.loadStateDict({ weight: ops.tensor([1, 2, 3, 4, 5, 6], [2, 3]), bias: ops.tensor([0, 0], [2]) });
        assert.throws(() => backward(y), inplaceErr('mul', /input \d/));
      }));
    }
  });
});
