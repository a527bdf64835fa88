/**
 * The SGD optimizer against a float64 transcription of torch.optim.SGD's update (weight decay added
 * to the gradient, momentum with dampening, Nesterov, maximize, per-group lr/decay), on WebGPU and
 * on the CPU reference: parameters are updated in place, memory stays flat across steps, and
 * state()/loadState() resume exactly.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { OpArgumentError } from '../../src/errors.js';
import { backward } from '../../src/autograd/tape.js';
import { keep, tidy } from '../../src/tensor/scope.js';
import * as ops from '../../src/ops/index.js';
import { SGD, type SGDOptions } from '../../src/ops/sgd.js';
import { assertClose } from '../helpers/compare.js';
import { getBackends, randValues } from '../helpers/ops_harness.js';

after(() => shutdownGpu());

interface RefOpts {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  maximize?: boolean;
}

/** torch.optim.SGD's _single_tensor_sgd, one step, in float64 (buf null before the first step). */
function torchSgdRef(p: number[], g: number[], buf: number[] | null, o: RefOpts): number[] | null {
  let d = g.map((x, i) => x + (o.weightDecay ?? 0) * p[i]!);
  const mom = o.momentum ?? 0;
  if (mom !== 0) {
    buf = buf ? buf.map((b, i) => mom * b + (1 - (o.dampening ?? 0)) * d[i]!) : [...d];
    d = o.nesterov ? d.map((x, i) => x + mom * buf![i]!) : buf;
  }
  for (let i = 0; i < p.length; i++) p[i] = p[i]! + (o.maximize ? 1 : -1) * o.lr * d[i]!;
  return buf;
}

const CASES: RefOpts[] = [
  { lr: 0.1 },
  { lr: 0.05, momentum: 0.9 },
  { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 },
  { lr: 0.02, momentum: 0.8, weightDecay: 0.05, nesterov: true },
  { lr: 0.1, momentum: 0.5, maximize: true },
];

const bes = async (): Promise<Backend[]> => {
  const { gpu, cpu } = await getBackends();
  return [gpu, cpu];
};

describe('SGD', () => {
  it('matches torch.optim.SGD over 4 steps (momentum, dampening, weight decay, Nesterov, maximize), in place', async () => {
    const n = 37;
    const p0 = [...randValues(n, 1)];
    const grads = [0, 1, 2, 3].map((k) => [...randValues(n, 10 + k)]);
    for (const be of await bes()) {
      for (const o of CASES) {
        const label = `${be.name} ${JSON.stringify(o)}`;
        const p = withBackend(be, () => ops.tensor(p0, [n], { requiresGrad: true }));
        const opt = new SGD([p], o as SGDOptions);
        const ref = [...p0];
        let buf: number[] | null = null;
        for (const g of grads) {
          p.grad = keep(withBackend(be, () => ops.tensor(g, [n])));
          withBackend(be, () => opt.step());
          opt.zeroGrad();
          buf = torchSgdRef(ref, g, buf, o);
        }
        assertClose(await p.dataRaw(), ref, { rtol: 1e-5, atol: 1e-6, label });
        opt.dispose();
        p.dispose();
      }
    }
  });

  it('trains through backward() with per-group lr and decay; memory stays flat; state() / loadState() resume exactly', async () => {
    for (const be of await bes()) {
      const w = withBackend(be, () => ops.tensor(randValues(12, 3), [3, 4], { requiresGrad: true }));
      const b = withBackend(be, () => ops.zeros([4], { requiresGrad: true }));
      const x = withBackend(be, () => ops.tensor(randValues(15, 4), [5, 3]));
      const opts: SGDOptions = { lr: 0.1, momentum: 0.9, weightDecay: 0.01, paramGroups: [{ params: [b], weightDecay: 0, lrScale: 0.5 }] };
      const opt = new SGD([w, b], opts);
      const step = (o: SGD) => withBackend(be, () => tidy(() => {
        const l = ops.mean(ops.square(ops.add(ops.matmul(x, w), b)));
        backward(l);
        o.step();
        o.zeroGrad();
        return l;
      }));
      const losses: number[] = [];
      let bytes = -1;
      for (let k = 0; k < 6; k++) {
        const l = step(opt);
        losses.push(await l.item());
        l.dispose();
        if (k === 1) bytes = be.bytesInUse();
        if (k > 1) assert.equal(be.bytesInUse(), bytes, `${be.name}: bytes in use grew at step ${k}`);
      }
      assert.ok(losses[5]! < losses[0]!, `${be.name}: loss did not fall: ${losses}`);
      // Resume: a fresh optimizer loaded from state() continues exactly as the original.
      const st = await opt.state();
      assert.equal(st.params.length, 2);
      const saved = [Float64Array.from(await w.dataRaw()), Float64Array.from(await b.dataRaw())];
      step(opt).dispose();
      const want = [Float64Array.from(await w.dataRaw()), Float64Array.from(await b.dataRaw())];
      // Put the parameters back where the state was taken.
      for (const [t, v] of [[w, saved[0]!], [b, saved[1]!]] as const) {
        const raw = be.upload(v, t.shape, 'f32');
        be.stridedWrite(t.raw(), { offset: 0, strides: t.rank === 2 ? [4, 1] : [1] }, raw);
        be.dispose(raw);
      }
      const opt2 = new SGD([w, b], opts);
      opt2.loadState(st);
      step(opt2).dispose();
      assertClose(await w.dataRaw(), want[0]!, { rtol: 1e-6, atol: 1e-7, label: `${be.name} resumed w (state in f32)` });
      assertClose(await b.dataRaw(), want[1]!, { rtol: 1e-6, atol: 1e-7, label: `${be.name} resumed b (state in f32)` });
      for (const t of [w, b, x]) t.dispose();
      opt.dispose();
      opt2.dispose();
    }
  });

  it('rejects bad hyperparameters with OpArgumentError', async () => {
    const [be] = await bes();
    const p = withBackend(be!, () => ops.zeros([2], { requiresGrad: true }));
    assert.throws(() => new SGD([p], { lr: -1 }), OpArgumentError);
    assert.throws(() => new SGD([p], { momentum: -0.5 }), OpArgumentError);
    assert.throws(() => new SGD([p], { nesterov: true }), (e: unknown) => e instanceof OpArgumentError && /nesterov/.test(e.message));
    assert.throws(() => new SGD([p], { momentum: 0.9, dampening: 0.1, nesterov: true }), OpArgumentError);
    assert.throws(() => new SGD([withBackend(be!, () => ops.tensor(new Int32Array([1])))]), OpArgumentError);
    p.dispose();
  });
});
