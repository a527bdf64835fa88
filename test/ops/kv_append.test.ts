/**
 * Backend.kvAppend (KV-cache append of keys and values in one launch): the WGSL kernel copies the
 * same bits as the CPU reference on random shapes (odd H and D, P = 0, T > 1, B > 1; f32 and f16),
 * the capacity hint leaves contents and shape alone, the result matches the two strided writes it
 * replaces, and bad operands get typed errors.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import type { Backend, DType, RawTensor } from '../../src/backend/types.js';
import { forEachKernelStyle, getBackends, property, seedArb } from '../helpers/ops_harness.js';

after(async () => {
  await shutdownGpu();
});

/** Values exact in f16 and f32 (multiples of 1/8 in [-64, 64]), so both backends hold the same numbers. */
function values(n: number, seed: number): Float64Array {
  const out = new Float64Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 8) % 1025 - 512) / 8;
  }
  return out;
}

interface Case {
  B: number;
  H: number;
  P: number;
  T: number;
  D: number;
}

async function run(be: Backend, c: Case, dtype: DType, seed: number, capacity?: number): Promise<{ key: number[]; value: number[]; shape: number[] }> {
  const { B, H, P, T, D } = c;
  const pastK = be.upload(values(B * H * P * D, seed), [B, H, P, D], dtype);
  const pastV = be.upload(values(B * H * P * D, seed + 1), [B, H, P, D], dtype);
  const xk = be.upload(values(B * T * H * D, seed + 2), [B, T, H * D], dtype);
  const xv = be.upload(values(B * T * H * D, seed + 3), [B, T, H * D], dtype);
  const o = be.kvAppend(pastK, pastV, xk, xv, capacity === undefined ? undefined : { capacity });
  const res = { key: [...(await be.read(o.key))], value: [...(await be.read(o.value))], shape: [...o.key.shape] };
  assert.deepEqual([...o.value.shape], res.shape);
  for (const t of [pastK, pastV, xk, xv, o.key, o.value] as RawTensor[]) be.dispose(t);
  return res;
}

const caseArb = fc.record({
  B: fc.integer({ min: 1, max: 3 }),
  H: fc.constantFrom(1, 2, 3, 5),
  P: fc.constantFrom(0, 1, 2, 7, 16, 33),
  T: fc.constantFrom(1, 2, 5),
  D: fc.constantFrom(1, 3, 8, 17, 64),
});

describe('kvAppend', () => {
  it('WGSL = CPU reference, bit for bit (random shapes, P = 0, T > 1, f32 and f16, both kernel styles)', async () => {
    const { gpu: g, cpu } = await getBackends();
    const dtypes: DType[] = gpu().caps.f16 ? ['f32', 'f16'] : ['f32'];
    await forEachKernelStyle(async (style) => {
      await property(fc.tuple(caseArb, fc.constantFrom(...dtypes), seedArb, fc.boolean()), async ([c, dt, seed, hint]) => {
        const S = c.P + c.T;
        const capacity = hint ? c.B * c.H * 2 ** Math.ceil(Math.log2(S)) * c.D : undefined;
        const got = await run(g, c, dt, seed, capacity);
        const ref = await run(cpu, c, dt, seed);
        const label = `${style} ${dt} ${JSON.stringify(c)} capacity ${capacity}`;
        assert.deepEqual(got.shape, [c.B, c.H, S, c.D], label);
        assert.deepEqual(got.key, ref.key, `key ${label}`);
        assert.deepEqual(got.value, ref.value, `value ${label}`);
      }, 15);
    });
  });

  it('CPU reference: past rows first, then x split into heads', async () => {
    const { cpu } = await getBackends();
    // B 1, H 2, P 1, T 2, D 2: past[h, 0, :] = [10h, 10h + 1]; x[t, h·2 + d] = 100 + 10t + 2h + d.
    const pastK = cpu.upload([0, 1, 10, 11], [1, 2, 1, 2], 'f32');
    const xk = cpu.upload([100, 101, 102, 103, 110, 111, 112, 113], [1, 2, 4], 'f32');
    const o = cpu.kvAppend(pastK, pastK, xk, xk);
    assert.deepEqual([...(await cpu.read(o.key))], [0, 1, 100, 101, 110, 111, 10, 11, 102, 103, 112, 113]);
  });

  it('rejects mismatched operands with typed errors', async () => {
    const { gpu: g, cpu } = await getBackends();
    for (const be of [g, cpu]) {
      const p = be.upload(values(12, 1), [1, 2, 2, 3], 'f32');
      const x = be.upload(values(6, 2), [1, 1, 6], 'f32');
      assert.throws(() => be.kvAppend(p, p, be.upload(values(5, 3), [1, 1, 5], 'f32'), x), /kvAppend: argument 'xk' expected \[1, T, 6\]/);
      assert.throws(() => be.kvAppend(p, p, x, be.upload(values(12, 3), [1, 2, 6], 'f32')), /kvAppend: argument 'xv' expected \[1,1,6\]/);
      assert.throws(() => be.kvAppend(p, be.upload(values(6, 3), [1, 2, 1, 3], 'f32'), x, x), /kvAppend: argument 'pastV'/);
      if (be === cpu || gpu().caps.f16) assert.throws(() => be.kvAppend(p, p, x, be.upload(values(6, 3), [1, 1, 6], 'f16')), /kvAppend: argument 'xv' expected dtype f32/);
      assert.throws(() => be.kvAppend(be.upload(values(6, 3), [2, 3], 'f32'), p, x, x), /kvAppend: argument 'pastK' expected rank 4/);
    }
  });
});
