/**
 * Skinny (decode) LLM.int8 forward, shaders/matmul/matmul_int8_skinny.wgsl, chosen by
 * src/backend/webgpu/int8.ts for x with at most INT8_SKINNY[class].maxM rows: the kernel forced on
 * (int8SkinnyTuning.use = true) vs the float64 reference of the same algorithm
 * (src/backend/cpu/int8.ts) at N = 1..16 with I and O that are not multiples of 4 (the packing) or
 * of the 4-output groups / K split, with and without outliers (threshold 6 with |x| ≥ 6 columns,
 * and threshold 0), all-zero rows (exact zeros / the bias, no NaN), bias or not, the fused LoRA
 * addend, both dot paths (dot4I8Packed and the forced unpack fallback) and both kernel styles; and
 * the same product forced onto the register / tiled kernel (use = false) agrees with it. The int8
 * products are exact i32 in every kernel, so the two paths differ only by f32 rounding of the epilogue.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { shutdownGpu } from '../../src/gpu/device.js';
import { kernelsFor } from '../../src/backend/fused.js';
import { tuning } from '../../src/backend/webgpu/common.js';
import { INT8_SKINNY, int8QuantizeTuning, int8SkinnyTuning } from '../../src/backend/webgpu/int8.js';
import type { Backend, RawTensor } from '../../src/backend/types.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';
import { getBackends, property, randValues, seedArb } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(`worst errors (int8 skinny kernel):\n${log.summary()}`);
  await shutdownGpu();
});

interface Case { N: number; I: number; O: number; bias: boolean; threshold: number; rank: number; fallback: boolean; zeroRows: number[]; outlierCols: number }
const LR_SCALE = 0.75;

/** y = int8Linear(x, quantize(w), bias, lowRank) on one backend, with the weight codes. */
async function run(be: Backend, c: Case, xs: Float64Array, ws: Float64Array, bs: Float64Array, us: Float64Array, lbs: Float64Array) {
  const owned: RawTensor[] = [];
  const up = (d: Float64Array, shape: number[]) => {
    const t = be.upload(d, shape, 'f32');
    owned.push(t);
    return t;
  };
  const k = kernelsFor(be);
  const x = up(xs, [c.N, c.I]);
  const q = k.quantizeRowwise(up(ws, [c.O, c.I]));
  owned.push(q.cb, q.scb);
  const lowRank = c.rank > 0 ? { u: up(us, [c.N, c.rank]), b: up(lbs, [c.O, c.rank]), scale: LR_SCALE } : undefined;
  const y = k.int8Linear(x, q, c.bias ? up(bs, [c.O]) : null, { threshold: c.threshold, forceFallback: c.fallback, lowRank });
  owned.push(y);
  const out = { y: await be.read(y), cb: await be.read(q.cb) };
  for (const t of owned) be.dispose(t);
  return out;
}

async function check(c: Case, seed: number, styles: readonly boolean[] = [true, false]): Promise<void> {
  const { gpu: g, cpu } = await getBackends();
  const xs = randValues(c.N * c.I, seed, -2, 2);
  // Outlier columns: |x| ≥ 6 in one row (the flag is per column over the whole batch).
  for (let j = 0; j < Math.min(c.outlierCols, c.I); j++) {
    const col = (j * 7 + seed) % c.I;
    xs[((seed + j) % c.N) * c.I + col] = j % 2 ? -9.5 : 6.25;
  }
  for (const r of c.zeroRows) if (r < c.N) xs.fill(0, r * c.I, (r + 1) * c.I);
  const ws = randValues(c.O * c.I, seed + 1, -0.5, 0.5);
  if (c.O > 2) ws.fill(0, 2 * c.I, 3 * c.I); // an all-zero weight row: SCB = 0 must not give NaN
  const bs = randValues(c.O, seed + 2);
  const us = randValues(c.N * c.rank, seed + 4, -2, 2);
  const lbs = randValues(c.O * c.rank, seed + 5);
  const want = await run(cpu, c, xs, ws, bs, us, lbs);
  // |y| ≲ Σ|x||w| (+ the LoRA term), so f32 rounding of the dequantised sum is ~1e-7 of that.
  let scale = 1;
  for (let n = 0; n < c.N; n++) {
    let s = 0;
    for (let i = 0; i < c.I; i++) s += Math.abs(xs[n * c.I + i]!) * 0.5;
    scale = Math.max(scale, s);
  }
  const tol = { rtol: 1e-5, atol: 1e-6 * (scale + 2 * c.rank), shape: [c.N, c.O] };
  for (const style of styles) {
    const before = g.bytesInUse();
    const got: Record<'skinny' | 'block', ArrayLike<number>> = { skinny: [], block: [] };
    tuning.cpuStyle = style;
    try {
      for (const path of ['skinny', 'block'] as const) {
        int8SkinnyTuning.use = path === 'skinny';
        const r = await run(g, c, xs, ws, bs, us, lbs);
        assert.deepEqual([...r.cb], [...want.cb], 'weight codes');
        got[path] = r.y;
      }
    } finally {
      tuning.cpuStyle = 'auto';
      int8SkinnyTuning.use = 'auto';
    }
    const label = `int8 skinny N=${c.N} I=${c.I} O=${c.O}${c.fallback ? ' fallback' : ''} thr=${c.threshold} out=${c.outlierCols} r=${c.rank}${c.bias ? ' bias' : ''} ${style ? 'cpu-style' : 'gpu-style'}`;
    log.add('skinny vs f64', assertClose(got.skinny, want.y, { ...tol, label: `${label}: skinny vs reference` }));
    log.add('skinny vs regs/tiled', assertClose(got.skinny, got.block, { ...tol, label: `${label}: skinny vs register/tiled kernel` }));
    for (const r of c.zeroRows) {
      if (r >= c.N || c.rank > 0) continue;
      for (let o = 0; o < c.O; o++) assert.equal(got.skinny[r * c.O + o], c.bias ? Math.fround(bs[o]!) : 0, `${label}: zero row ${r} gives the bias`);
    }
    assert.ok(Array.from(got.skinny).every(Number.isFinite), `${label}: finite outputs`);
    assert.equal(g.bytesInUse(), before, `${label}: GPU bytes leaked`);
  }
}

describe('int8 skinny (decode) forward', () => {
  it('chooses the skinny kernel up to maxM rows on both adapter classes', () => {
    // The tests below force each path; this pins the thresholds they are meant to cover.
    assert.ok(INT8_SKINNY.cpu.maxM >= 8 && INT8_SKINNY.gpu.maxM >= 8);
    assert.equal(int8SkinnyTuning.use, 'auto');
  });

  it('N = 1..16, odd I/O, outliers and threshold 0, zero rows, bias, LoRA, both dot paths', async () => {
    // Every N from 1 to 16 (ROWS 1..8, one or two row groups) once, with varied other parameters.
    const Is = [1, 5, 67, 130, 259];
    const Os = [1, 3, 9, 66, 131];
    for (let N = 1; N <= 16; N++) {
      await check({
        N, I: Is[N % Is.length]!, O: Os[(N * 3) % Os.length]!, bias: N % 2 === 0, threshold: N % 3 === 0 ? 0 : 6,
        rank: [0, 3, 0, 16][N % 4]!, fallback: N % 5 === 0, zeroRows: N > 2 ? [1] : [], outlierCols: N % 3 === 0 ? 0 : 1 + (N % 4),
      }, 100 + N, [N % 2 === 1]);
    }
  });

  it('fixed cases: K split edges, all-zero x, every column an outlier, long K (both styles)', async () => {
    // I = 4·KS·k ± 1 words around the K split, O past a workgroup of output groups.
    await check({ N: 1, I: 129, O: 131, bias: true, threshold: 6, rank: 4, fallback: false, zeroRows: [], outlierCols: 2 }, 1);
    await check({ N: 9, I: 127, O: 33, bias: false, threshold: 6, rank: 0, fallback: true, zeroRows: [8], outlierCols: 3 }, 2);
    await check({ N: 4, I: 8, O: 3, bias: true, threshold: 6, rank: 0, fallback: false, zeroRows: [0, 1, 2, 3], outlierCols: 0 }, 3);
    // threshold below every |x|: every column is an outlier, the int8 part is all zeros.
    await check({ N: 3, I: 9, O: 7, bias: true, threshold: 1e-6, rank: 2, fallback: false, zeroRows: [], outlierCols: 0 }, 4);
    await check({ N: 16, I: 1031, O: 70, bias: true, threshold: 0, rank: 8, fallback: false, zeroRows: [5], outlierCols: 0 }, 5);
    await check({ N: 2, I: 2050, O: 17, bias: false, threshold: 6, rank: 0, fallback: true, zeroRows: [], outlierCols: 4 }, 6);
  });

  it('one-launch activation quantisation (few rows, outliers) gives the bits of the three passes', async () => {
    const { gpu: g } = await getBackends();
    const cases: Case[] = [
      { N: 1, I: 1024, O: 37, bias: true, threshold: 6, rank: 0, fallback: false, zeroRows: [], outlierCols: 5 },
      { N: 16, I: 4099, O: 9, bias: false, threshold: 6, rank: 3, fallback: false, zeroRows: [2], outlierCols: 40 },
      { N: 3, I: 9, O: 7, bias: true, threshold: 1e-6, rank: 0, fallback: true, zeroRows: [], outlierCols: 0 },
      { N: 5, I: 300, O: 20, bias: true, threshold: 6, rank: 0, fallback: false, zeroRows: [0], outlierCols: 0 },
    ];
    assert.equal(int8QuantizeTuning.fusedMaxRows, 16);
    for (const [i, c] of cases.entries()) {
      const xs = randValues(c.N * c.I, 50 + i, -2, 2);
      for (let j = 0; j < Math.min(c.outlierCols, c.I); j++) xs[(j % c.N) * c.I + ((j * 97 + i) % c.I)] = j % 2 ? -9.5 : 6.25;
      for (const r of c.zeroRows) xs.fill(0, r * c.I, (r + 1) * c.I);
      const args = [xs, randValues(c.O * c.I, 60 + i, -0.5, 0.5), randValues(c.O, 70 + i), randValues(c.N * c.rank, 80 + i), randValues(c.O * c.rank, 90 + i)] as const;
      for (const style of [true, false]) {
        tuning.cpuStyle = style;
        try {
          const fused = await run(g, c, ...args);
          int8QuantizeTuning.fusedMaxRows = 0;
          const passes = await run(g, c, ...args);
          assert.deepEqual([...fused.y], [...passes.y], `N=${c.N} I=${c.I} thr=${c.threshold} ${style ? 'cpu' : 'gpu'}-style`);
        } finally {
          int8QuantizeTuning.fusedMaxRows = 16;
          tuning.cpuStyle = 'auto';
        }
      }
    }
  });

  it('random shapes (property)', async () => {
    const dim = fc.constantFrom(1, 2, 3, 5, 17, 64, 65, 130);
    await property(
      fc.record({
        N: fc.integer({ min: 1, max: 16 }), I: dim, O: dim, bias: fc.boolean(), threshold: fc.constantFrom(0, 6), rank: fc.constantFrom(0, 1, 5),
        fallback: fc.boolean(), zero: fc.boolean(), outlierCols: fc.constantFrom(0, 1, 3), style: fc.boolean(), seed: seedArb,
      }),
      async ({ zero, style, seed, ...c }) => check({ ...c, zeroRows: zero ? [0] : [] }, seed, [style]),
      8,
    );
  });
});
