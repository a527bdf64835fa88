/**
 * Property tests of sum / mean / max over random axis sets (adjacent, non-adjacent, negative, all,
 * none; keepDims on and off) and argmax, on shapes with size-1 axes and odd sizes. WGSL forward and
 * backward vs the float64 CPU reference (rtol 1e-4 / atol 1e-4: a reduction sums up to a few
 * thousand f32 values), CPU backward vs central finite differences.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu } from '../../src/gpu/device.js';
import * as ops from '../../src/ops/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { numel } from '../../src/backend/types.js';
import { ShapeError } from '../../src/errors.js';
import { ErrorLog } from '../helpers/compare.js';
import { checkOp, getBackends, property, randValues, runOn, seedArb, shapeArb, TOL_ACCUM } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(`worst errors (reduce):\n${log.summary()}`);
  await shutdownGpu();
});

/** A shape and a random subset of its axes (some given as negative indices), or undefined = all. */
const shapeAxesArb = shapeArb(1, 4, 4096).chain((s) =>
  fc.tuple(
    fc.constant(s),
    fc.oneof(
      { weight: 1, arbitrary: fc.constant(undefined) },
      {
        weight: 5,
        arbitrary: fc
          .tuple(fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }))
          .map(([pick, negate]) => s.map((_, i) => i).filter((i) => pick[i]).map((i) => (negate[i] ? i - s.length : i))),
      },
    ),
    fc.boolean(),
  ),
);

type Reducer = (x: Tensor, axes?: number | readonly number[], keepDims?: boolean) => Tensor;
const REDUCERS: Array<[string, Reducer]> = [['sum', ops.sum], ['mean', ops.mean], ['max', ops.max], ['min', ops.min]];

/** Host reference of argmax/argmin along `ax` (no NaN): the first index whose value is `better` than all before it. */
function hostArgBest(x: ArrayLike<number>, s: readonly number[], ax: number, better: (a: number, b: number) => boolean): number[] {
  const outer = numel(s.slice(0, ax));
  const len = s[ax]!;
  const inner = numel(s.slice(ax + 1));
  const want: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = 0;
      for (let j = 1; j < len; j++) if (better(x[(o * len + j) * inner + i]!, x[(o * len + best) * inner + i]!)) best = j;
      want.push(best);
    }
  }
  return want;
}
describe('reductions over axes', () => {
  for (const [name, f] of REDUCERS) {
    it(`${name}: random axis sets with and without keepDims`, async () => {
      await property(fc.tuple(shapeAxesArb, seedArb), async ([[s, axes, keep], seed]) => {
        const x = randValues(numel(s), seed, -2, 2);
        await checkOp(`${name} [${s}] axes ${axes === undefined ? 'all' : `[${axes}]`} keep=${keep}`, (t) => f(t, axes, keep), [{ data: x, shape: s }], {
          fwd: TOL_ACCUM, bwd: TOL_ACCUM, log,
        });
      }, 25);
    });
  }

  it('non-adjacent axes give the same result as reducing one axis at a time', async () => {
    const { gpu } = await getBackends();
    const s = [3, 17, 5, 65];
    const x = randValues(numel(s), 11, -1, 1);
    const both = await runOn(gpu, (t) => ops.sum(t, [0, 2], true), [{ data: x, shape: s }]);
    const seq = await runOn(gpu, (t) => ops.sum(ops.sum(t, 2, true), 0, true), [{ data: x, shape: s }]);
    assert.deepEqual(both.shape, [1, 17, 1, 65]);
    for (let i = 0; i < both.out.length; i++) assert.ok(Math.abs(both.out[i]! - seq.out[i]!) < 1e-5, `index ${i}`);
  });

  it('max splits the gradient evenly between tied maxima (amax semantics)', async () => {
    // Rows [1, 3, 3, 2] and [5, 5, 5, 0]: gradients 1/2 and 1/3 to each tied position.
    const data = [1, 3, 3, 2, 5, 5, 5, 0];
    const { gpu, cpu } = await getBackends();
    for (const be of [cpu, gpu]) {
      const r = await runOn(be, (t) => ops.max(t, 1), [{ data, shape: [2, 4] }], [1, 1]);
      assert.deepEqual([...r.out], [3, 5], `${be.name} forward`);
      const g = [...r.grads[0]!].map((v) => Math.round(v * 1e6) / 1e6);
      assert.deepEqual(g, [0, 0.5, 0.5, 0, 0.333333, 0.333333, 0.333333, 0], `${be.name} gradient`);
    }
  });

  it('min splits the gradient evenly between tied minima (amin semantics)', async () => {
    const data = [1, -3, -3, 2, 5, 5, 5, 9];
    const { gpu, cpu } = await getBackends();
    for (const be of [cpu, gpu]) {
      const r = await runOn(be, (t) => ops.min(t, 1), [{ data, shape: [2, 4] }], [1, 1]);
      assert.deepEqual([...r.out], [-3, 5], `${be.name} forward`);
      const g = [...r.grads[0]!].map((v) => Math.round(v * 1e6) / 1e6);
      assert.deepEqual(g, [0, 0.5, 0.5, 0, 0.333333, 0.333333, 0.333333, 0], `${be.name} gradient`);
    }
  });

  it('reducing no axes is the identity (with its gradient)', async () => {
    await checkOp('sum no axes', (t) => ops.sum(t, [], false), [{ data: randValues(15, 3), shape: [3, 5] }], { log });
  });
});

describe('argmax', () => {
  it('matches the CPU on random shapes (last axis, odd lengths)', async () => {
    await property(fc.tuple(shapeArb(1, 3, 8192, [1, 2, 3, 5, 17, 65, 129, 257, 1000]), seedArb), async ([s, seed]) => {
      const x = randValues(numel(s), seed, -3, 3);
      await checkOp(`argmax [${s}]`, (t) => ops.argmax(t), [{ data: x, shape: s, requiresGrad: false }], { fwd: { rtol: 0, atol: 0 }, noBackward: true });
    }, 25);
  });

  it('returns the first index on ties, also across threads of a workgroup', async () => {
    const { gpu, cpu } = await getBackends();
    const len = 1000;
    const data = new Float64Array(3 * len);
    // Row 0: all equal → 0. Row 1: max at 700 and 300 → 300. Row 2: max at the last index only.
    data[len + 700] = 2;
    data[len + 300] = 2;
    data[2 * len + len - 1] = 1;
    for (const be of [cpu, gpu]) {
      const r = await runOn(be, (t) => ops.argmax(t), [{ data, shape: [3, len], requiresGrad: false }]);
      assert.deepEqual([...r.out], [0, 300, len - 1], be.name);
    }
  });
});

describe('argmin and NaN', () => {
  it('argmin matches the CPU and a host reference on random shapes, along any axis, with keepDims', async () => {
    await property(fc.tuple(shapeArb(1, 4, 4096), seedArb).chain(([s, seed]) => fc.tuple(fc.constant(s), fc.constant(seed), fc.integer({ min: -s.length, max: s.length - 1 }), fc.boolean())), async ([s, seed, axis, keep]) => {
      // Values on a coarse grid, so that rows have ties (the first index wins).
      const x = randValues(numel(s), seed, -3, 3).map((v) => Math.round(v * 4) / 4);
      const ax = axis < 0 ? axis + s.length : axis;
      const want = hostArgBest(x, s, ax, (a, b) => a < b);
      await checkOp(`argmin [${s}] axis ${axis} keep=${keep}`, (t) => ops.argmin(t, axis, keep), [{ data: x, shape: s, requiresGrad: false }], { fwd: { rtol: 0, atol: 0 }, noBackward: true });
      const { cpu } = await getBackends();
      const r = await runOn(cpu, (t) => ops.argmin(t, axis, keep), [{ data: x, shape: s, requiresGrad: false }]);
      assert.deepEqual(r.shape, keep ? s.map((d, i) => (i === ax ? 1 : d)) : s.filter((_, i) => i !== ax));
      assert.deepEqual([...r.out], want, `argmin [${s}] axis ${axis} keep=${keep}`);
    }, 20);
  });

  it('argmax and argmin return the first NaN where a row has one (torch), across workgroup threads too', async () => {
    const { gpu, cpu } = await getBackends();
    const len = 1000;
    const data = randValues(4 * len, 5, -1, 1);
    // Row 0: NaN at 0. Row 1: NaN at 700 and 300 (→ 300) next to an extreme at 5. Row 2: NaN last. Row 3: none.
    data[0] = NaN;
    data[len + 5] = 9;
    data[len + 6] = -9;
    data[len + 700] = NaN;
    data[len + 300] = NaN;
    data[3 * len - 1] = NaN;
    data[3 * len + 17] = 9;
    data[3 * len + 18] = -9;
    for (const be of [cpu, gpu]) {
      for (const [name, f, last] of [['argmax', ops.argmax, 17], ['argmin', ops.argmin, 18]] as const) {
        const r = await runOn(be, (t) => f(t), [{ data, shape: [4, len], requiresGrad: false }]);
        assert.deepEqual([...r.out], [0, 300, len - 1, last], `${be.name} ${name}`);
      }
    }
  });

  it('an empty axis throws ShapeError naming the op and the axis (torch); empty rows along a non-empty axis are fine', async () => {
    const { gpu, cpu } = await getBackends();
    const empty = (op: string, got: RegExp) => (e: unknown) => e instanceof ShapeError && e.op === op && got.test(e.message);
    for (const be of [cpu, gpu]) {
      for (const [name, f] of [['argmax', ops.argmax], ['argmin', ops.argmin]] as const) {
        await assert.rejects(runOn(be, (t) => f(t), [{ data: [], shape: [3, 0], requiresGrad: false }]), empty(name, /axis 1 of size 0 in shape \[3,0\]/), `${be.name} ${name} [3, 0]`);
        await assert.rejects(runOn(be, (t) => f(t, 0, true), [{ data: [], shape: [0, 4], requiresGrad: false }]), empty(name, /axis 0 of size 0/), `${be.name} ${name} [0, 4] axis 0`);
        await assert.rejects(runOn(be, (t) => f(t), [{ data: [], shape: [0], requiresGrad: false }]), empty(name, /axis 0 of size 0/), `${be.name} ${name} [0]`);
        // The backend primitive refuses it too (it reads the last axis).
        const raw = be.full([2, 0], 'f32', 0);
        assert.throws(() => (name === 'argmax' ? be.argmax(raw) : be.argmin(raw)), empty(name, /shape \[2,0\]/), `${be.name} backend ${name}`);
        be.dispose(raw);
        const r = await runOn(be, (t) => f(t, 1), [{ data: [], shape: [0, 4], requiresGrad: false }]);
        assert.deepEqual(r.shape, [0], `${be.name} ${name} of [0, 4] along axis 1`);
      }
    }
  });

  it('integer and 0-d inputs are refused naming the op', async () => {
    const { cpu } = await getBackends();
    await assert.rejects(runOn(cpu, (t) => ops.argmin(t), [{ data: [1, 2], shape: [2], dtype: 'i32' }]), /argmin: argument 'x' expected a float tensor/);
    await assert.rejects(runOn(cpu, (t) => ops.argmin(t), [{ data: [1], shape: [], requiresGrad: false }]), /argmin: argument 'axis' expected no axis/);
  });
});

describe('long reductions (chunk partials first)', () => {
  /** Float64 sums of x viewed as [outer, len, inner] over len. */
  const sums64 = (x: Float64Array, outer: number, len: number, inner: number): number[] => {
    const out: number[] = [];
    for (let o = 0; o < outer; o++) {
      for (let k = 0; k < inner; k++) {
        let s = 0;
        for (let j = 0; j < len; j++) s += x[(o * len + j) * inner + k]!;
        out.push(s);
      }
    }
    return out;
  };

  it('a mean over 2^22 values is accurate to f32 rounding, not to len × eps', async () => {
    // One f32 loop over 2^22 × 0.1 gave 0.10099 (1 % off).
    const { gpu } = await getBackends();
    const n = 1 << 22;
    const r = await runOn(gpu, (t) => ops.mean(t), [{ data: new Float64Array(n).fill(0.1), shape: [n], requiresGrad: false }]);
    assert.ok(Math.abs(r.out[0]! / 0.1 - 1) < 1e-5, `mean ${r.out[0]}`);
  });

  it('sums over long rows and long columns match float64 (several chunk passes, ragged last chunk)', async () => {
    const { gpu } = await getBackends();
    for (const [outer, len, inner, axis] of [[3, 300_001, 1, 1], [1, 70_000, 3, 0], [2, 5_000, 7, 1]] as const) {
      const x = randValues(outer * len * inner, 5 + len, 0, 1);
      const shape = axis === 0 ? [len, inner] : inner === 1 ? [outer, len] : [outer, len, inner];
      const r = await runOn(gpu, (t) => ops.sum(t, axis), [{ data: x, shape, requiresGrad: false }]);
      const want = sums64(x, outer, len, inner);
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(r.out[i]! / want[i]! - 1) < 2e-6, `[${outer}, ${len}, ${inner}] output ${i}: ${r.out[i]} vs ${want[i]}`);
      }
    }
  });

  it('max propagates NaN on every path (rows, vec4 rows, columns, chunks), as torch and the CPU reference', async () => {
    const { gpu, cpu } = await getBackends();
    for (const [shape, axis] of [[[2, 7], 1], [[2, 8], 1], [[7, 2], 0], [[2, 3000], 1]] as const) {
      const n = shape[0] * shape[1];
      const x = randValues(n, 9, -1, 1);
      x[n - 1] = NaN; // in the last output row / column
      for (const be of [cpu, gpu]) {
        const r = await runOn(be, (t) => ops.max(t, axis), [{ data: x, shape: [...shape], requiresGrad: false }]);
        assert.ok(Number.isNaN(r.out[r.out.length - 1]!), `${be.name} max [${shape}] axis ${axis}: ${[...r.out]}`);
        assert.ok(!Number.isNaN(r.out[0]!), `${be.name} max [${shape}] axis ${axis}: NaN leaked into output 0`);
      }
    }
  });

  it('along any axis, with keepDims: GPU = CPU = a host reference', async () => {
    await property(fc.tuple(shapeArb(1, 4, 4096), seedArb).chain(([s, seed]) => fc.tuple(fc.constant(s), fc.constant(seed), fc.integer({ min: -s.length, max: s.length - 1 }), fc.boolean())), async ([s, seed, axis, keep]) => {
      const x = randValues(numel(s), seed, -3, 3);
      const ax = axis < 0 ? axis + s.length : axis;
      const want = hostArgBest(x, s, ax, (a, b) => a > b);
      const shape = keep ? s.map((d, i) => (i === ax ? 1 : d)) : s.filter((_, i) => i !== ax);
      const { gpu, cpu } = await getBackends();
      for (const be of [cpu, gpu]) {
        const r = await runOn(be, (t) => ops.argmax(t, axis, keep), [{ data: x, shape: s, requiresGrad: false }]);
        assert.deepEqual(r.shape, shape, `${be.name} argmax [${s}] axis ${axis} keep=${keep}: shape`);
        assert.deepEqual([...r.out], want, `${be.name} argmax [${s}] axis ${axis} keep=${keep}`);
      }
    }, 20);
  });
});
