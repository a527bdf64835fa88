/**
 * LLM.int8 linear (src/ops/matmul_int8.ts): WGSL kernels vs the float64 reference of the same
 * algorithm (src/backend/cpu/int8.ts). The int8 codes must agree exactly; outputs to f32 rounding
 * of the dequantisation (rtol 1e-5 plus an atol relative to the output scale). Shapes include sizes
 * that are neither multiples of 4 (packing) nor of the 64×64 tile, N = 1, zero rows, and both the
 * dot4I8Packed path and the forced unpack fallback. The error against the plain f32 linear is
 * reported as a diagnostic for random and heavy-tailed (outlier) inputs.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { backward } from '../../src/autograd/tape.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { tidy } from '../../src/tensor/scope.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import * as ops from '../../src/ops/index.js';
import { matmulInt8, quantizeWeight, disposeQuantized } from '../../src/ops/matmul_int8.js';
import { Int8Linear } from '../../src/nn/int8_linear.js';
import { kernelsFor } from '../../src/backend/fused.js';
import { Rng } from '../../src/data/rng.js';
import { assertClose, closeStats, ErrorLog } from '../helpers/compare.js';
import { getBackends, property, randValues, seedArb } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(`worst errors (matmul_int8 vs f64 reference of the same algorithm):\n${log.summary()}`);
  await shutdownGpu();
});

/** Heavy-tailed values: mostly N(0,1)-ish, a few columns scaled into outlier range (like LLM activations). */
function heavyTailed(N: number, I: number, seed: number, outlierCols: number): Float64Array {
  const rng = new Rng(seed);
  const x = randValues(N * I, seed, -1, 1);
  const cols = new Set<number>();
  while (cols.size < Math.min(outlierCols, I)) cols.add(Math.floor(rng.next() * I));
  for (const c of cols) for (let n = 0; n < N; n++) x[n * I + c] = Math.fround(x[n * I + c]! * 20);
  return x;
}

interface Case { N: number; I: number; O: number; bias: boolean; zeroRows: number[]; threshold: number; fallback: boolean }

async function run(be: Backend, c: Case, xs: Float64Array, ws: Float64Array, bs: Float64Array, dys: Float64Array) {
  return withBackend(be, async () => {
    const res = tidy(() => {
      const x = new Tensor(be.upload(xs, [c.N, c.I], 'f32'), be, true);
      const w = new Tensor(be.upload(ws, [c.O, c.I], 'f32'), be);
      const b = c.bias ? new Tensor(be.upload(bs, [c.O], 'f32'), be) : null;
      const lin = Int8Linear.fromLinear(w, b, { threshold: c.threshold, forceFallback: c.fallback });
      const y = lin.forward(x);
      backward(y, new Tensor(be.upload(dys, [c.N, c.O], 'f32'), be));
      return { x, y, lin, dx: x.grad! };
    });
    const k = kernelsFor(be);
    const cb = await be.read(res.lin.weight.cb);
    const scb = await be.read(res.lin.weight.scb);
    void k;
    const out = { y: await res.y.dataRaw(), dx: await res.dx.dataRaw(), cb, scb };
    res.lin.dispose();
    res.y.dispose();
    res.x.dispose();
    return out;
  });
}

async function check(c: Case, seed: number, heavy: boolean): Promise<void> {
  const { gpu: g, cpu } = await getBackends();
  const xs = heavy ? heavyTailed(c.N, c.I, seed, 3) : randValues(c.N * c.I, seed, -2, 2);
  for (const r of c.zeroRows) if (r < c.N) xs.fill(0, r * c.I, (r + 1) * c.I);
  const ws = randValues(c.O * c.I, seed + 1, -0.5, 0.5);
  if (c.O > 2) ws.fill(0, 2 * c.I, 3 * c.I); // an all-zero weight row: SCB = 0 must not give NaN
  const bs = randValues(c.O, seed + 2);
  const dys = randValues(c.N * c.O, seed + 3);
  const before = g.bytesInUse();
  const got = await run(g, c, xs, ws, bs, dys);
  const want = await run(cpu, c, xs, ws, bs, dys);
  const label = `int8 N=${c.N} I=${c.I} O=${c.O}${c.fallback ? ' fallback' : ''} thr=${c.threshold}`;
  assert.deepEqual([...got.cb], [...want.cb], `${label}: weight codes`);
  assertClose(got.scb, want.scb, { rtol: 0, atol: 0, label: `${label} scb` });
  // Scale of the outputs: |y| ≲ Σ|x||w|, so an f32 rounding of the int32 sum is ~6e-8 of that.
  let scale = 1;
  for (let n = 0; n < c.N; n++) {
    let s = 0;
    for (let i = 0; i < c.I; i++) s += Math.abs(xs[n * c.I + i]!) * 0.5;
    scale = Math.max(scale, s);
  }
  log.add('fwd', assertClose(got.y, want.y, { rtol: 1e-5, atol: 1e-6 * scale, label: `${label} y`, shape: [c.N, c.O] }));
  log.add('dx', assertClose(got.dx, want.dx, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.O), label: `${label} dx`, shape: [c.N, c.I] }));
  for (const r of c.zeroRows) {
    if (r >= c.N) continue;
    for (let o = 0; o < c.O; o++) assert.equal(got.y[r * c.O + o], c.bias ? Math.fround(bs[o]!) : 0, `${label}: zero row ${r} gives bias`);
  }
  assert.equal(g.bytesInUse(), before, `${label}: GPU bytes leaked`);
}

const dim = fc.constantFrom(1, 3, 5, 17, 64, 65, 130);

describe('matmulInt8 (LLM.int8) vs float64 reference', () => {
  it('random shapes, both dot paths, with/without outliers and bias', async () => {
    await property(
      fc.record({ N: dim, I: dim, O: dim, bias: fc.boolean(), zero: fc.boolean(), threshold: fc.constantFrom(0, 1.5, 6), fallback: fc.boolean(), seed: seedArb, heavy: fc.boolean() }),
      async ({ seed, zero, heavy, ...c }) => check({ ...c, zeroRows: zero ? [0, 2] : [] }, seed, heavy),
      16,
    );
  });

  it('fixed cases: tile edges, N = 1, all-zero input, outliers everywhere', async () => {
    await check({ N: 1, I: 67, O: 65, bias: true, zeroRows: [], threshold: 6, fallback: false }, 11, true);
    await check({ N: 70, I: 129, O: 66, bias: true, zeroRows: [0, 69], threshold: 6, fallback: false }, 12, true);
    await check({ N: 70, I: 129, O: 66, bias: false, zeroRows: [], threshold: 6, fallback: true }, 12, true);
    await check({ N: 4, I: 8, O: 3, bias: true, zeroRows: [0, 1, 2, 3], threshold: 6, fallback: false }, 13, false);
    // threshold below every |x|: every column is an outlier, the int8 part is all zeros.
    await check({ N: 5, I: 9, O: 7, bias: true, zeroRows: [], threshold: 1e-6, fallback: false }, 14, false);
  });

  it('reports the dot4I8Packed capability and the error vs the f32 linear', async (t) => {
    const { gpu: g } = await getBackends();
    t.diagnostic(`dot4I8Packed (packed_4x8_integer_dot_product): ${gpu().caps.dot4I8Packed}`);
    const N = 64, I = 256, O = 128;
    for (const [name, heavy, thr] of [['random U(-2,2)', false, 6], ['heavy-tailed (3 cols ×20)', true, 6], ['heavy-tailed, threshold 0', true, 0]] as const) {
      const xs = heavy ? heavyTailed(N, I, 5, 3) : randValues(N * I, 5, -2, 2);
      const ws = randValues(O * I, 6, -0.1, 0.1);
      const res = await withBackend(g, async () => {
        const x = new Tensor(g.upload(xs, [N, I], 'f32'), g);
        const w = new Tensor(g.upload(ws, [O, I], 'f32'), g);
        const q = quantizeWeight(w);
        const y8 = matmulInt8(x, q, null, { threshold: thr });
        const y32 = ops.matmul(x, w, { transB: true });
        const out = { y8: await y8.dataRaw(), y32: await y32.dataRaw() };
        for (const tt of [x, w, y8, y32]) tt.dispose();
        disposeQuantized(q);
        return out;
      });
      const s = closeStats(res.y8, res.y32);
      let rms = 0, ref = 0;
      for (let i = 0; i < res.y8.length; i++) { rms += (res.y8[i]! - res.y32[i]!) ** 2; ref += res.y32[i]! ** 2; }
      t.diagnostic(`${name}: int8 vs f32 linear max abs ${s.maxAbs.toExponential(2)}, relative RMS ${Math.sqrt(rms / ref).toExponential(2)}`);
    }
  });
});
