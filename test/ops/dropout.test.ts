/**
 * dropout and the counter-based RNG behind it: the WGSL mask equals the CPU mask bit for bit
 * (hash mirrored with Math.imul), p = 0 / eval are identities, p = 1 gives zeros, the kept
 * fraction and the mean are preserved, backward applies the same mask.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { dropout } from '../../src/ops/index.js';
import { withBackend } from '../../src/backend/registry.js';
import { backward } from '../../src/autograd/tape.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { hashU32, threshold24, uniform01 } from '../../src/backend/rng.js';
import { ErrorLog } from '../helpers/compare.js';
import { checkOp, getBackends, property, randValues, seedArb, shapeArb } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(log.summary());
  await shutdownGpu();
});

describe('counter-based RNG (src/backend/rng.ts = shaders/common/rng.wgsl)', () => {
  it('is a pure function of (seed, index) with 32-bit outputs', () => {
    assert.equal(hashU32(7, 123), hashU32(7, 123));
    assert.notEqual(hashU32(7, 123), hashU32(8, 123));
    assert.notEqual(hashU32(7, 123), hashU32(7, 124));
    for (let i = 0; i < 1000; i++) {
      const h = hashU32(i * 7919, i);
      assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
      const u = uniform01(3, i);
      assert.ok(u >= 0 && u < 1 && Math.fround(u) === u, 'uniform01 is exact in f32');
    }
  });

  it('pinned values (changing the hash changes every seeded mask and initialisation)', () => {
    const got = [hashU32(0, 0), hashU32(0, 1), hashU32(1, 0), hashU32(0xdeadbeef, 123456789)];
    assert.deepEqual(got, PINNED);
  });

  it('the Math.imul mirror equals wrapping u32 arithmetic (BigInt)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed, i) => {
      assert.equal(hashU32(seed, i), hashBig(seed, i));
    }), { numRuns: 2000 });
  });

  it('threshold24(p) turns u < p into an exact integer compare', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 2 ** 24 - 1 }), (p, k) => {
      assert.equal(k / 2 ** 24 < p, k < threshold24(p));
    }));
  });
});

/** hashU32 at (0,0), (0,1), (1,0), (0xdeadbeef, 123456789). */
const PINNED = [632013150, 1092597679, 1385237973, 2948520635];

/** The hash in BigInt arithmetic mod 2^32, an independent check of the Math.imul mirror. */
function hashBig(seed: number, index: number): number {
  const M = 0xffffffffn;
  const mix = (v: bigint) => {
    let x = v & M;
    x ^= x >> 16n;
    x = (x * 0x7feb352dn) & M;
    x ^= x >> 15n;
    x = (x * 0x846ca68bn) & M;
    x ^= x >> 16n;
    return x;
  };
  const k = mix(BigInt(seed >>> 0) ^ 0x9e3779b9n);
  return Number(mix((mix(BigInt(index >>> 0) ^ k) + k) & M));
}

describe('dropout', () => {
  it('WGSL mask = CPU mask bit for bit; forward/backward match; CPU backward = finite differences', async () => {
    const arb = fc.tuple(shapeArb(0, 3, 5000, [1, 2, 3, 5, 17, 65, 257]), fc.constantFrom(0.1, 0.5, 0.9, 1 / 3), fc.oneof(seedArb, fc.constantFrom(0, 2 ** 32 - 1, 2 ** 31)));
    await property(arb, async ([shape, p, seed]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      await checkOp(`dropout [${shape}] p ${p} seed ${seed}`, (x) => dropout(x!, p, { seed }), [{ data: randValues(n, seed % 1000, -2, 2, 0.01), shape }], {
        fwd: { rtol: 1e-6, atol: 0 }, bwd: { rtol: 1e-6, atol: 0 }, fd: { maxElements: 10 }, log: log.grouped('dropout random'),
      });
    }, 30);
  });

  it('masks of 200,000 elements agree exactly, including at the p boundary', async () => {
    const { gpu: g, cpu } = await getBackends();
    const n = 200_000;
    const ones = new Float32Array(n).fill(1);
    for (const [seed, p] of [[1, 0.1], [123456789, 0.5], [4294967295, 0.9], [42, uniform01(42, 77)]] as const) {
      const a = await g.read(g.dropout(g.upload(ones, [n], 'f32'), p, seed));
      const b = await cpu.read(cpu.dropout(cpu.upload(ones, [n], 'f32'), p, seed));
      let diff = 0;
      for (let i = 0; i < n; i++) if ((a[i] === 0) !== (b[i] === 0)) diff++;
      assert.equal(diff, 0, `seed ${seed} p ${p}: ${diff} mask bits differ`);
      if (p === uniform01(42, 77)) assert.notEqual(a[77], 0, 'u == p is kept (dropped iff u < p)');
    }
  });

  it('p = 0 and eval mode are identities; p = 1 gives zeros (also backward)', async () => {
    const { gpu: g, cpu } = await getBackends();
    for (const be of [g, cpu]) {
      const x = new Tensor(be.upload([1, -2, 3, 4], [4], 'f32'), be, true);
      assert.equal(withBackend(be, () => dropout(x, 0, { seed: 1 })), x, 'p = 0 returns x');
      assert.equal(withBackend(be, () => dropout(x, 0.5, { seed: 1, training: false })), x, 'eval returns x');
      const z = withBackend(be, () => dropout(x, 1, { seed: 1 }));
      assert.deepEqual(Array.from(await z.dataRaw()), [0, 0, 0, 0]);
      withBackend(be, () => backward(z, new Tensor(be.upload([1, 1, 1, 1], [4], 'f32'), be)));
      assert.deepEqual(Array.from(await x.grad!.dataRaw()), [0, 0, 0, 0], `${be.name}: p = 1 backward`);
      assert.deepEqual(Array.from(await be.read(be.dropout(x.raw(), 0, 9))), [1, -2, 3, 4], `${be.name}: backend p = 0 copies`);
      assert.throws(() => withBackend(be, () => dropout(x, 1.5, { seed: 1 })), /dropout: argument 'p'/);
      assert.throws(() => be.dropout(x.raw(), -0.1, 1), /dropout: argument 'p'/);
    }
  });

  it('keeps a fraction 1 - p and preserves the mean', async () => {
    const { gpu: g } = await getBackends();
    const n = 100_000;
    for (const p of [0.1, 0.5, 0.8]) {
      const y = await g.read(g.dropout(g.full([n], 'f32', 1), p, 2024));
      let kept = 0;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        if (y[i] !== 0) kept++;
        sum += y[i]!;
      }
      // Binomial standard deviation of the kept fraction: sqrt(p(1-p)/n) <= 0.0016; allow 5 sigma.
      assert.ok(Math.abs(kept / n - (1 - p)) < 0.008, `p ${p}: kept ${kept / n}`);
      assert.ok(Math.abs(sum / n - 1) < 0.008 / (1 - p), `p ${p}: mean ${sum / n}`);
      assert.ok(Math.abs(y.find((v) => v !== 0)! - 1 / (1 - p)) < 1e-6, 'kept values are scaled by 1 / (1 - p)');
    }
    // Different seeds give different masks; neighbouring elements are uncorrelated enough.
    const a = await g.read(g.dropout(g.full([4096], 'f32', 1), 0.5, 1));
    const b = await g.read(g.dropout(g.full([4096], 'f32', 1), 0.5, 2));
    let same = 0;
    for (let i = 0; i < 4096; i++) if ((a[i] === 0) === (b[i] === 0)) same++;
    assert.ok(Math.abs(same / 4096 - 0.5) < 0.05, `masks of seeds 1 and 2 agree on ${same} / 4096`);
  });

  it('f16 dropout uses the same mask', async (t) => {
    if (!gpu().caps.f16) return t.skip('adapter lacks shader-f16');
    const { gpu: g, cpu } = await getBackends();
    const n = 5000;
    const x = new Float32Array(n).fill(1);
    const a = await g.read(g.dropout(g.upload(x, [n], 'f16'), 0.25, 77));
    const b = await cpu.read(cpu.dropout(cpu.upload(x, [n], 'f32'), 0.25, 77));
    for (let i = 0; i < n; i++) assert.equal(a[i] === 0, b[i] === 0, `element ${i}`);
  });
});
