/**
 * Integer (i32/u32) arithmetic: add/sub/mul with numpy broadcasting and sum over axes run in the
 * integer type itself, exact and wrapping around modulo 2^32 (WGSL's i32/u32 arithmetic). Random
 * shapes with odd and size-1 axes and values over the whole range (so that results wrap), both
 * kernel styles: WGSL = CPU reference = a BigInt host reference, exactly. Promotion against floats
 * and numbers as torch (a number the dtype cannot hold: arithmetic throws, comparisons are exact),
 * and integers never take part in autograd.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu } from '../../src/gpu/device.js';
import * as ops from '../../src/ops/index.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { broadcastShapes, broadcastStrides, numel } from '../../src/backend/types.js';
import { Rng } from '../../src/data/rng.js';
import { OpArgumentError } from '../../src/errors.js';
import { assertClose, multiIndex } from '../helpers/compare.js';
import { broadcastPairArb, checkOp, getBackends, property, runOn, seedArb, shapeArb } from '../helpers/ops_harness.js';

after(async () => {
  await shutdownGpu();
});

type IntDType = 'i32' | 'u32';

/** n integers of dtype: half small (|v| <= 50, so that results also stay small), half anywhere in range. */
function randInts(n: number, seed: number, dtype: IntDType): Int32Array | Uint32Array {
  const rng = new Rng(seed);
  const out = dtype === 'i32' ? new Int32Array(n) : new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const small = rng.next() < 0.5;
    const v = small ? Math.floor(rng.next() * 101) - 50 : Math.floor(rng.next() * 2 ** 32);
    out[i] = v; // the typed array wraps into the dtype's range
  }
  return out;
}

/** v modulo 2^32 as the dtype reads it (BigInt, so that products are exact before wrapping). */
const wrap = (v: bigint, dtype: IntDType): number => Number(dtype === 'i32' ? BigInt.asIntN(32, v) : BigInt.asUintN(32, v));

const BIG_OPS = { add: (x: bigint, y: bigint) => x + y, sub: (x: bigint, y: bigint) => x - y, mul: (x: bigint, y: bigint) => x * y } as const;
type ArithOp = keyof typeof BIG_OPS;
const OPS: Record<ArithOp, (a: Tensor, b: Tensor) => Tensor> = { add: ops.add, sub: ops.sub, mul: ops.mul };

/** Host reference of a op b with numpy broadcasting. */
function hostBinary(op: ArithOp, a: ArrayLike<number>, sa: number[], b: ArrayLike<number>, sb: number[], dtype: IntDType): number[] {
  const shape = broadcastShapes(sa, sb)!;
  const [ta, tb] = [broadcastStrides(sa, shape), broadcastStrides(sb, shape)];
  return Array.from({ length: numel(shape) }, (_, i) => {
    const idx = multiIndex(i, shape);
    const ia = idx.reduce((o, d, k) => o + d * ta[k]!, 0);
    const ib = idx.reduce((o, d, k) => o + d * tb[k]!, 0);
    return wrap(BIG_OPS[op](BigInt(a[ia]!), BigInt(b[ib]!)), dtype);
  });
}

/** Host reference of sum over axes (keepDims layout: the reduced axes have size 1). */
function hostSum(x: ArrayLike<number>, s: number[], axes: number[], dtype: IntDType): number[] {
  const kept = s.map((d, i) => (axes.includes(i) ? 1 : d));
  const acc = new Array<bigint>(numel(kept)).fill(0n);
  for (let i = 0; i < x.length; i++) {
    const idx = multiIndex(i, s).map((d, k) => (axes.includes(k) ? 0 : d));
    acc[idx.reduce((o, d, k) => o * kept[k]! + d, 0)]! += BigInt(x[i]!);
  }
  return acc.map((v) => wrap(v, dtype));
}

const EXACT = { fwd: { rtol: 0, atol: 0 }, noBackward: true } as const;

const isFloatArray = (a: unknown): boolean => a instanceof Float32Array || a instanceof Float64Array;

describe('integer add / sub / mul', () => {
  for (const op of ['add', 'sub', 'mul'] as const) {
    it(`${op}: random broadcasting shapes, i32 and u32, values that wrap: WGSL = CPU = BigInt`, async () => {
      const { cpu } = await getBackends();
      await property(fc.tuple(broadcastPairArb(4, 2048), seedArb, fc.constantFrom<IntDType>('i32', 'u32')), async ([[sa, sb], seed, dtype]) => {
        const a = randInts(numel(sa), seed, dtype);
        const b = randInts(numel(sb), seed + 1, dtype);
        const inputs = [{ data: a, shape: sa, dtype }, { data: b, shape: sb, dtype }];
        // Both kernel styles and no leak (checkOp), then the CPU reference against BigInt.
        await checkOp(`${op} ${dtype} [${sa}] [${sb}]`, OPS[op], inputs, EXACT);
        const r = await runOn(cpu, OPS[op], inputs);
        assert.deepEqual([...r.out], hostBinary(op, a, sa, b, sb, dtype), `${op} ${dtype} [${sa}] [${sb}]`);
      });
    });
  }

  it('wrap around at the edges of the range, with an integer number as the other operand', async () => {
    const { gpu, cpu } = await getBackends();
    const cases: Array<[string, (t: Tensor) => Tensor, IntDType, number[], number[]]> = [
      ['i32 max + 1', (t) => ops.add(t, 1), 'i32', [2 ** 31 - 1, 0], [-(2 ** 31), 1]],
      ['i32 min - 1', (t) => ops.sub(t, 1), 'i32', [-(2 ** 31), 5], [2 ** 31 - 1, 4]],
      ['i32 * 65536', (t) => ops.mul(t, 65536), 'i32', [65536, -3, 40000], [0, -196608, -1673527296]],
      ['u32 0 - 1', (t) => ops.sub(t, 1), 'u32', [0, 7], [2 ** 32 - 1, 6]],
      ['u32 * 3', (t) => ops.mul(t, 3), 'u32', [2 ** 31, 2 ** 32 - 1], [2 ** 31, 2 ** 32 - 3]],
      ['u32 + u32 max', (t) => ops.add(t, 2 ** 32 - 1), 'u32', [1, 2], [0, 1]],
    ];
    for (const [label, f, dtype, data, want] of cases) {
      for (const be of [cpu, gpu]) {
        const r = await runOn(be, f, [{ data, shape: [data.length], dtype }]);
        assert.deepEqual([...r.out], want, `${be.name} ${label}`);
        assert.ok(dtype === 'i32' ? r.out instanceof Int32Array : r.out instanceof Uint32Array, `${be.name} ${label}: result dtype`);
      }
    }
  });

  it('integer constants beyond 2^24 are exact (full, and a number operand of add / eq)', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [cpu, gpu]) {
      for (const [dtype, v] of [['u32', 2 ** 32 - 1], ['i32', -(2 ** 24) - 1], ['i32', 2 ** 31 - 1]] as const) {
        const raw = be.full([3], dtype, v);
        assert.deepEqual([...(await be.read(raw))], [v, v, v], `${be.name} full ${dtype} ${v}`);
        be.dispose(raw);
      }
      const e = await runOn(be, (t) => ops.eq(t, 2 ** 24 + 1), [{ data: [2 ** 24, 2 ** 24 + 1], shape: [2], dtype: 'i32' }]);
      assert.deepEqual([...e.out], [0, 1], `${be.name} eq(i32, 2^24 + 1)`);
    }
  });

  it('large tensors: every element of a 200003-element add and a broadcast mul (grid-stride loops)', async () => {
    const { cpu } = await getBackends();
    for (const [sa, sb, op] of [[[200003], [200003], 'add'], [[301, 677], [1, 677], 'mul']] as const) {
      for (const dtype of ['i32', 'u32'] as const) {
        const a = randInts(numel(sa), 3, dtype);
        const b = randInts(numel(sb), 4, dtype);
        const inputs = [{ data: a, shape: [...sa], dtype }, { data: b, shape: [...sb], dtype }];
        await checkOp(`${op} ${dtype} [${sa}] [${sb}]`, OPS[op], inputs, EXACT);
        const r = await runOn(cpu, OPS[op], inputs);
        assert.deepEqual([...r.out], hostBinary(op, a, [...sa], b, [...sb], dtype), `${op} ${dtype} [${sa}] [${sb}]`);
      }
    }
  });
});

describe('integer sum', () => {
  const shapeAxesArb = shapeArb(1, 4, 4096).chain((s) =>
    fc.tuple(fc.constant(s), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((pick) => s.map((_, i) => i).filter((i) => pick[i])), fc.boolean()),
  );

  it('random axis sets and keepDims, i32 and u32, wrapping: WGSL = CPU = BigInt', async () => {
    const { cpu } = await getBackends();
    await property(fc.tuple(shapeAxesArb, seedArb, fc.constantFrom<IntDType>('i32', 'u32')), async ([[s, axes, keep], seed, dtype]) => {
      const x = randInts(numel(s), seed, dtype);
      const f = (t: Tensor) => ops.sum(t, axes, keep);
      await checkOp(`sum ${dtype} [${s}] axes [${axes}] keep=${keep}`, f, [{ data: x, shape: s, dtype }], EXACT);
      const r = await runOn(cpu, f, [{ data: x, shape: s, dtype }]);
      assert.deepEqual([...r.out], hostSum(x, s, axes, dtype), `sum ${dtype} [${s}] axes [${axes}]`);
      assert.deepEqual(r.shape, keep ? s.map((d, i) => (axes.includes(i) ? 1 : d)) : s.filter((_, i) => !axes.includes(i)));
    }, 25);
  });

  it('long reductions (chunk partials, ragged last chunk) and a sum of all elements', async () => {
    const { cpu } = await getBackends();
    for (const [s, axes] of [[[3, 300_001], [1]], [[70_001, 3], [0]], [[5, 2_001, 7], [1]], [[1_000_003], [0]]] as const) {
      for (const dtype of ['i32', 'u32'] as const) {
        const x = randInts(numel(s), 21 + s[0]!, dtype);
        const f = (t: Tensor) => ops.sum(t, [...axes]);
        await checkOp(`sum ${dtype} [${s}] axes [${axes}]`, f, [{ data: x, shape: [...s], dtype }], EXACT);
        const r = await runOn(cpu, f, [{ data: x, shape: [...s], dtype }]);
        assert.deepEqual([...r.out], hostSum(x, [...s], [...axes], dtype), `sum ${dtype} [${s}] axes [${axes}]`);
      }
    }
  });
});

describe('integer promotion and autograd', () => {
  it('against floats and non-integer numbers integers are cast (as torch); div is true division', async () => {
    const { gpu, cpu } = await getBackends();
    for (const be of [cpu, gpu]) {
      const ids = { data: [1, -2, 3], shape: [3], dtype: 'i32' } as const;
      const half = await runOn(be, (t) => ops.add(t, 0.5), [ids]);
      assert.ok(isFloatArray(half.out), `${be.name}: i32 + 0.5 is float`);
      assert.deepEqual([...half.out], [1.5, -1.5, 3.5], `${be.name} i32 + 0.5`);
      // A float result as torch (int32 tensor + float scalar → float32): on the GPU in f32, where
      // 2^30 + 1 and 2^24 + 1 round first; the CPU reference keeps its float64 for f32 tensors.
      const big = [2 ** 30 + 1, 2 ** 24 + 1];
      const f32 = await runOn(be, (t) => ops.add(t, 0.5), [{ data: big, shape: [2], dtype: 'i32' }]);
      const want = be === cpu ? big.map((v) => v + 0.5) : big.map((v) => Math.fround(Math.fround(v) + 0.5));
      assert.deepEqual([...f32.out], want, `${be.name} i32 + 0.5 in the float type`);
      const q = await runOn(be, (a, b) => ops.div(a, b), [ids, { data: [2, 4, -2], shape: [3], dtype: 'i32' }]);
      assertClose(q.out, [0.5, -0.5, -1.5], { label: `${be.name} div(i32, i32)` });
      // A float operand that requires grad gets its gradient; the integer one none.
      const r = await runOn(be, (a, w) => ops.mul(a, w), [ids, { data: [0.5, 2, -1], shape: [3] }], [1, 1, 1]);
      assertClose(r.out, [0.5, -4, -3], { label: `${be.name} i32 * f32` });
      assert.equal(r.grads[0], null, `${be.name}: no gradient for the i32 operand`);
      assertClose(r.grads[1]!, [1, -2, 3], { label: `${be.name} gradient of the f32 operand` });
      // Integer results never require grad, even with grad mode on.
      const s = await runOn(be, (a) => ops.sum(ops.mul(ops.add(a, a), 3)), [ids]);
      assert.deepEqual([...s.out], [12], `${be.name} sum(3·(a + a))`);
      await assert.rejects(runOn(be, (a, b) => ops.add(a, b), [ids, { data: [1, 2, 3], shape: [3], dtype: 'u32' }]), /add: argument 'b' expected dtype i32/);
    }
  });

  it('an integer number the dtype cannot hold: add/sub/mul throw as torch; u32 takes negatives down to -(2^32-1), wrapping', async () => {
    const { gpu, cpu } = await getBackends();
    const overflow = (op: string, type: string) => (e: unknown) =>
      e instanceof OpArgumentError && e.op === op && e.arg === 'b' && new RegExp(`value cannot be converted to type ${type} without overflow`).test(e.message);
    for (const be of [cpu, gpu]) {
      const i32 = { data: [5, -7], shape: [2], dtype: 'i32' } as const;
      const u32 = { data: [16777219, 0], shape: [2], dtype: 'u32' } as const;
      const refused: Array<[ArithOp, number, typeof i32 | typeof u32, string]> = [
        ['add', 2 ** 31, i32, 'int32'], ['sub', 2 ** 31, i32, 'int32'], ['mul', -(2 ** 31) - 1, i32, 'int32'], ['add', 2 ** 53, i32, 'int32'],
        ['add', 2 ** 32, u32, 'uint32'], ['sub', -(2 ** 32), u32, 'uint32'], ['mul', 2 ** 40, u32, 'uint32'],
      ];
      for (const [op, v, x, type] of refused) {
        await assert.rejects(runOn(be, (t) => OPS[op](t, v as never), [x]), overflow(op, type), `${be.name} ${op}(${x.dtype}, ${v})`);
      }
      const wrapped: Array<[string, (t: Tensor) => Tensor, number[]]> = [
        ['u32 + (-1)', (t) => ops.add(t, -1), [16777218, 2 ** 32 - 1]],
        ['u32 - (-1)', (t) => ops.sub(t, -1), [16777220, 1]],
        ['u32 * (-1)', (t) => ops.mul(t, -1), [2 ** 32 - 16777219, 0]],
        ['u32 + (1 - 2^32)', (t) => ops.add(t, 1 - 2 ** 32), [16777220, 1]],
      ];
      for (const [label, f, want] of wrapped) {
        const r = await runOn(be, f, [u32]);
        assert.ok(r.out instanceof Uint32Array, `${be.name} ${label}: stays u32`);
        assert.deepEqual([...r.out], want, `${be.name} ${label}`);
      }
    }
  });

  it('comparisons against a number the dtype cannot hold are exact and agree on both backends (no f32 cast)', async () => {
    const { gpu, cpu } = await getBackends();
    const CMP = { eq: (a: number, b: number) => a === b, ne: (a: number, b: number) => a !== b, lt: (a: number, b: number) => a < b, le: (a: number, b: number) => a <= b, gt: (a: number, b: number) => a > b, ge: (a: number, b: number) => a >= b } as const;
    const cases: Array<[IntDType, number[], number[]]> = [
      // Values around 2^24 and the range ends, where an f32 cast rounds.
      ['i32', [2 ** 31 - 1, -(2 ** 31), 0, 16777217, 16777216, -5], [2 ** 31, -(2 ** 31) - 1, 2 ** 53, 16777216.5, -4.5, 0.25, Infinity, -Infinity, NaN]],
      ['u32', [2 ** 32 - 1, 0, 16777217, 7, 2 ** 32 - 2], [-1, -0.5, 0.5, 2 ** 32, 2 ** 32 - 1.5, 16777216.5, Infinity, -Infinity, NaN]],
    ];
    for (const be of [cpu, gpu]) {
      for (const [dtype, data, numbers] of cases) {
        for (const v of numbers) {
          for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) {
            const r = await runOn(be, (t) => ops[op](t, v), [{ data, shape: [data.length], dtype }]);
            assert.ok(isFloatArray(r.out), `${be.name} ${op}(${dtype}, ${v}): 1.0/0.0 as integer comparisons`);
            assert.deepEqual(r.shape, [data.length]);
            assert.deepEqual([...r.out], data.map((d) => Number(CMP[op](d, v))), `${be.name} ${op}(${dtype} [${data}], ${v})`);
          }
        }
      }
    }
  });

  it('gradients flow through the float operand of a mixed op (finite differences)', async () => {
    await property(fc.tuple(broadcastPairArb(3, 512), seedArb), async ([[sa, sb], seed]) => {
      const ids = randInts(numel(sa), seed, 'i32').map((v) => v % 7);
      const w = Float64Array.from(randInts(numel(sb), seed + 1, 'i32'), (v) => Math.fround((v % 1000) / 250));
      await checkOp(`i32 [${sa}] * f32 [${sb}]`, (a, b) => ops.sub(ops.mul(a, b), a), [{ data: ids, shape: sa, dtype: 'i32' }, { data: w, shape: sb }]);
    }, 10);
  });
});
