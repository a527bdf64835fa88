/**
 * LLM.int8 linear (src/ops/matmul_int8.ts): WGSL kernels vs the float64 reference of the same
 * algorithm (src/backend/cpu/int8.ts). The int8 codes must agree exactly; outputs to f32 rounding
 * of the dequantisation (rtol 1e-5 plus an atol relative to the output scale). Shapes include sizes
 * that are neither multiples of 4 (packing) nor of the 64×64 tile / 64×64 register block, N = 1,
 * zero rows, both the dot4I8Packed path and the forced unpack fallback, and both kernel families
 * (barrier-free register kernels of CPU adapters, workgroup-tiled GPU kernels) whatever the adapter.
 * The fused LoRA addend (Int8Options.lowRank) is checked against the reference and against the
 * unfused y + scale·u·bᵀ. The error against the plain f32 linear is reported as a diagnostic for
 * random and heavy-tailed (outlier) inputs.
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
import { tuning } from '../../src/backend/webgpu/common.js';
import { int8GemmKernel, int8GemmTuning, int8QuantizeTuning, int8SkinnyTuning } from '../../src/backend/webgpu/int8.js';
import { OpArgumentError, ShapeError } from '../../src/errors.js';
import { Rng } from '../../src/data/rng.js';
import { assertClose, closeStats, ErrorLog } from '../helpers/compare.js';
import { forEachKernelStyle, getBackends, property, randValues, seedArb } from '../helpers/ops_harness.js';

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

/** rank = 0: no LoRA addend; otherwise y is also computed with lowRank { u [N, rank], b [O, rank] }. */
interface Case { N: number; I: number; O: number; bias: boolean; zeroRows: number[]; threshold: number; fallback: boolean; rank: number; positive?: boolean }
interface Inputs { xs: Float64Array; ws: Float64Array; bs: Float64Array; dys: Float64Array; us: Float64Array; lbs: Float64Array }
const LR_SCALE = 0.75;

async function run(be: Backend, c: Case, inp: Inputs) {
  return withBackend(be, async () => {
    const res = tidy(() => {
      const x = new Tensor(be.upload(inp.xs, [c.N, c.I], 'f32'), be, true);
      const w = new Tensor(be.upload(inp.ws, [c.O, c.I], 'f32'), be);
      const b = c.bias ? new Tensor(be.upload(inp.bs, [c.O], 'f32'), be) : null;
      const lin = Int8Linear.fromLinear(w, b, { threshold: c.threshold, forceFallback: c.fallback });
      const y = lin.forward(x);
      backward(y, new Tensor(be.upload(inp.dys, [c.N, c.O], 'f32'), be));
      let yl: Tensor | null = null;
      if (c.rank > 0) {
        const lowRank = { u: be.upload(inp.us, [c.N, c.rank], 'f32'), b: be.upload(inp.lbs, [c.O, c.rank], 'f32'), scale: LR_SCALE };
        const opts = { threshold: c.threshold, forceFallback: c.fallback, lowRank };
        yl = new Tensor(kernelsFor(be).int8Linear(x.raw('test'), lin.weight, b ? b.raw('test') : null, opts), be);
        be.dispose(lowRank.u);
        be.dispose(lowRank.b);
      }
      return { x, y, lin, dx: x.grad!, yl };
    });
    const cb = await be.read(res.lin.weight.cb);
    const scb = await be.read(res.lin.weight.scb);
    const out = { y: await res.y.dataRaw(), dx: await res.dx.dataRaw(), yl: res.yl ? await res.yl.dataRaw() : null, cb, scb };
    for (const t of [res.lin, res.y, res.x, res.yl]) t?.dispose();
    return out;
  });
}

/**
 * Inputs of a case (zero rows, an all-zero weight row) and the scale of its outputs: |y| ≲ Σ|x||w|,
 * so an f32 rounding of the int32 sum is ~6e-8 of that.
 */
function caseInputs(c: Case, seed: number, heavy: boolean): { inp: Inputs; scale: number } {
  // positive: codes of one sign near 127, so the int32 sums pass 2²⁴ (exact chunked f32 sums).
  const xs = heavy ? heavyTailed(c.N, c.I, seed, 3) : c.positive ? randValues(c.N * c.I, seed, 1, 1.1) : randValues(c.N * c.I, seed, -2, 2);
  for (const r of c.zeroRows) if (r < c.N) xs.fill(0, r * c.I, (r + 1) * c.I);
  const ws = c.positive ? randValues(c.O * c.I, seed + 1, 0.45, 0.5) : randValues(c.O * c.I, seed + 1, -0.5, 0.5);
  if (c.O > 2) ws.fill(0, 2 * c.I, 3 * c.I); // an all-zero weight row: SCB = 0 must not give NaN
  const inp: Inputs = {
    xs, ws, bs: randValues(c.O, seed + 2), dys: randValues(c.N * c.O, seed + 3),
    us: randValues(c.N * c.rank, seed + 4, -2, 2), lbs: randValues(c.O * c.rank, seed + 5),
  };
  let scale = 1;
  for (let n = 0; n < c.N; n++) {
    let s = 0;
    for (let i = 0; i < c.I; i++) s += Math.abs(xs[n * c.I + i]!) * 0.5;
    scale = Math.max(scale, s);
  }
  return { inp, scale };
}

/** Compares the GPU with the reference in the given kernel styles (true: CPU-adapter register kernels). */
async function check(c: Case, seed: number, heavy: boolean, styles: readonly boolean[] = [true, false]): Promise<void> {
  const { gpu: g, cpu } = await getBackends();
  const { inp, scale } = caseInputs(c, seed, heavy);
  const want = await run(cpu, c, inp);
  for (const style of styles) {
    const before = g.bytesInUse();
    tuning.cpuStyle = style;
    // The register / tiled kernels at every N (the skinny decode kernel that 'auto' picks for few
    // rows has its own tests, test/ops/matmul_int8_skinny.test.ts).
    int8SkinnyTuning.use = false;
    let got: Awaited<ReturnType<typeof run>>;
    try {
      got = await run(g, c, inp);
    } finally {
      tuning.cpuStyle = 'auto';
      int8SkinnyTuning.use = 'auto';
    }
    const label = `int8 N=${c.N} I=${c.I} O=${c.O}${c.fallback ? ' fallback' : ''} thr=${c.threshold} r=${c.rank} ${style ? 'regs' : 'tiled'}`;
    assert.deepEqual([...got.cb], [...want.cb], `${label}: weight codes`);
    assertClose(got.scb, want.scb, { rtol: 0, atol: 0, label: `${label} scb` });
    log.add('fwd', assertClose(got.y, want.y, { rtol: 1e-5, atol: 1e-6 * scale, label: `${label} y`, shape: [c.N, c.O] }));
    log.add('dx', assertClose(got.dx, want.dx, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(c.O), label: `${label} dx`, shape: [c.N, c.I] }));
    for (const r of c.zeroRows) {
      if (r >= c.N) continue;
      for (let o = 0; o < c.O; o++) assert.equal(got.y[r * c.O + o], c.bias ? Math.fround(inp.bs[o]!) : 0, `${label}: zero row ${r} gives bias`);
    }
    if (c.rank > 0) {
      // |scale·u·bᵀ| ≤ 0.75·2·1·r, so its f32 roundings add ~1e-7·r on top of y's.
      const lrAtol = 1e-6 * (scale + 2 * c.rank);
      log.add('fwd+lora', assertClose(got.yl!, want.yl!, { rtol: 1e-5, atol: lrAtol, label: `${label} fused LoRA vs reference`, shape: [c.N, c.O] }));
      // Fused epilogue vs the unfused sum y + scale·u·bᵀ on the same backend's y.
      const unfused = new Float64Array(c.N * c.O);
      for (let n = 0; n < c.N; n++) {
        for (let o = 0; o < c.O; o++) {
          let l = 0;
          for (let j = 0; j < c.rank; j++) l += inp.us[n * c.rank + j]! * inp.lbs[o * c.rank + j]!;
          unfused[n * c.O + o] = got.y[n * c.O + o]! + LR_SCALE * l;
        }
      }
      log.add('lora fused vs unfused', assertClose(got.yl!, unfused, { rtol: 1e-5, atol: lrAtol, label: `${label} fused vs unfused LoRA`, shape: [c.N, c.O] }));
    }
    assert.equal(g.bytesInUse(), before, `${label}: GPU bytes leaked`);
  }
}

const dim = fc.constantFrom(1, 3, 5, 17, 64, 65, 130);

describe('matmulInt8 (LLM.int8) vs float64 reference', () => {
  it('random shapes, both dot paths and kernel styles, with/without outliers, bias and LoRA', async () => {
    await property(
      fc.record({
        N: dim, I: dim, O: dim, bias: fc.boolean(), zero: fc.boolean(), threshold: fc.constantFrom(0, 1.5, 6), fallback: fc.boolean(),
        rank: fc.constantFrom(0, 0, 1, 3, 16), regs: fc.boolean(), seed: seedArb, heavy: fc.boolean(),
      }),
      async ({ seed, zero, heavy, regs, ...c }) => check({ ...c, zeroRows: zero ? [0, 2] : [] }, seed, heavy, [regs]),
      16,
    );
  });

  it('fixed cases: tile edges, N = 1, all-zero input, outliers everywhere (both kernel styles)', async () => {
    await check({ N: 1, I: 67, O: 65, bias: true, zeroRows: [], threshold: 6, fallback: false, rank: 4 }, 11, true);
    await check({ N: 70, I: 129, O: 66, bias: true, zeroRows: [0, 69], threshold: 6, fallback: false, rank: 0 }, 12, true);
    await check({ N: 70, I: 129, O: 66, bias: false, zeroRows: [], threshold: 6, fallback: true, rank: 5 }, 12, true);
    await check({ N: 4, I: 8, O: 3, bias: true, zeroRows: [0, 1, 2, 3], threshold: 6, fallback: false, rank: 0 }, 13, false);
    // threshold below every |x|: every column is an outlier, the int8 part is all zeros.
    await check({ N: 5, I: 9, O: 7, bias: true, zeroRows: [], threshold: 1e-6, fallback: false, rank: 2 }, 14, false);
    // I > 1024: several 256-word chunks in the unpacked register kernel, sums beyond 2²⁴.
    for (const fallback of [true, false]) {
      await check({ N: 9, I: 2050, O: 10, bias: false, zeroRows: [], threshold: 0, fallback, rank: 0, positive: true }, 15, false);
    }
  });

  it('more than 65535 rows: the one-workgroup-per-row quantise grid splits over x/y (codes exact)', async () => {
    // int8_quantize.wgsl runs one workgroup per row (row = wid.x + wid.y·nwg.x): rows past 65535
    // only exist on the y-split grid. Checked on the weight codes (quantizeRowwise, compared exactly)
    // and on the activation path of int8Linear (outlier flags, SCALE_IN_Q8), zero rows on either side.
    const { gpu: g, cpu } = await getBackends();
    const O = 70001, I = 13;
    const ws = heavyTailed(O, I, 16, 2);
    for (const r of [0, 65535, O - 1]) ws.fill(0, r * I, (r + 1) * I);
    const codes = await Promise.all([g, cpu].map(async (be) => {
      const w = new Tensor(be.upload(ws, [O, I], 'f32'), be);
      const q = quantizeWeight(w);
      const out = { cb: await be.read(q.cb), scb: await be.read(q.scb) };
      w.dispose();
      disposeQuantized(q);
      return out;
    }));
    assert.deepEqual([...codes[0]!.cb], [...codes[1]!.cb], 'weight codes, 70001 rows');
    assertClose(codes[0]!.scb, codes[1]!.scb, { rtol: 0, atol: 0, label: 'weight scales, 70001 rows' });
    await check({ N: 70001, I: 13, O: 3, bias: true, zeroRows: [0, 65535, 70000], threshold: 6, fallback: false, rank: 0 }, 17, true);
  });

  it('rejects LoRA operands of the wrong shape with a typed error', async () => {
    const { gpu: g, cpu } = await getBackends();
    for (const be of [g, cpu]) {
      const x = be.upload(new Float32Array(6), [2, 3], 'f32');
      const w = new Tensor(be.upload(new Float32Array(12), [4, 3], 'f32'), be);
      const q = quantizeWeight(w);
      const u = be.upload(new Float32Array(4), [2, 2], 'f32');
      for (const b of [be.upload(new Float32Array(12), [4, 3], 'f32'), be.upload(new Float32Array(6), [3, 2], 'f32')]) {
        assert.throws(() => kernelsFor(be).int8Linear(x, q, null, { threshold: 6, lowRank: { u, b, scale: 1 } }), ShapeError);
        be.dispose(b);
      }
      for (const t of [x, u]) be.dispose(t);
      w.dispose();
      disposeQuantized(q);
    }
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

describe('matmulInt8: the register kernel on transposed weight codes (int8GemmTuning.transposeW)', () => {
  it('gives the bits of cb as stored, and the reference, at every N (forced both ways; outliers, bias, LoRA, both dot paths)', async () => {
    const { gpu: g, cpu } = await getBackends();
    const cases: Case[] = [
      { N: 3, I: 67, O: 65, bias: true, zeroRows: [], threshold: 6, fallback: false, rank: 4 },
      { N: 70, I: 129, O: 66, bias: true, zeroRows: [0, 69], threshold: 1.5, fallback: true, rank: 0 },
      { N: 130, I: 93, O: 17, bias: false, zeroRows: [], threshold: 6, fallback: false, rank: 3 },
    ];
    for (const [i, c] of cases.entries()) {
      const { inp, scale } = caseInputs(c, 40 + i, true);
      const want = await run(cpu, c, inp);
      const got: Record<string, Awaited<ReturnType<typeof run>>> = {};
      for (const tw of [true, false]) {
        tuning.cpuStyle = true;
        int8SkinnyTuning.use = false;
        int8GemmTuning.transposeW = tw;
        try {
          got[String(tw)] = await run(g, c, inp);
        } finally {
          tuning.cpuStyle = 'auto';
          int8SkinnyTuning.use = 'auto';
          int8GemmTuning.transposeW = 'auto';
        }
      }
      const label = `int8 regs N=${c.N} I=${c.I} O=${c.O} thr=${c.threshold} r=${c.rank}${c.fallback ? ' fallback' : ''}`;
      assert.deepEqual([...got.true!.y], [...got.false!.y], `${label}: transposed cb gives the same bits`);
      if (c.rank > 0) assert.deepEqual([...got.true!.yl!], [...got.false!.yl!], `${label}: fused LoRA, same bits`);
      log.add('fwd regs transposed', assertClose(got.true!.y, want.y, { rtol: 1e-5, atol: 1e-6 * scale, label: `${label} y`, shape: [c.N, c.O] }));
    }
  });
});

type GemmKernel = typeof int8GemmTuning.kernel;
type GemmTiles = { WX: number; WY: number; TK: number; prefetch?: boolean };

/** run() on the GPU with the GPU-adapter kernels, the skinny kernel off and the given GEMM kernel. */
async function runKernel(c: Case, inp: Inputs, kernel: GemmKernel, tiles?: GemmTiles) {
  const { gpu: g } = await getBackends();
  const saved = { ...int8GemmTuning };
  tuning.cpuStyle = false;
  int8SkinnyTuning.use = false;
  Object.assign(int8GemmTuning, { kernel }, tiles ?? {});
  try {
    return await run(g, c, inp);
  } finally {
    tuning.cpuStyle = 'auto';
    int8SkinnyTuning.use = 'auto';
    Object.assign(int8GemmTuning, saved);
  }
}

/**
 * The 8×8-per-thread kernel (matmul_int8_tiled8.wgsl) vs the float64 reference (same tolerances as
 * check()) and vs matmul_int8.wgsl, which it must equal exactly (same i32 sums, same epilogue).
 */
async function checkTiled8(c: Case, seed: number, heavy: boolean, tiles?: GemmTiles): Promise<void> {
  const { gpu: g, cpu } = await getBackends();
  const { inp, scale } = caseInputs(c, seed, heavy);
  const want = await run(cpu, c, inp);
  const before = g.bytesInUse();
  const got = await runKernel(c, inp, 'tiled8', tiles);
  const ref = await runKernel(c, inp, 'tiled');
  const t = tiles ? ` WX=${tiles.WX} WY=${tiles.WY} TK=${tiles.TK} prefetch=${tiles.prefetch ?? 'default'}` : '';
  const label = `int8 tiled8${t} N=${c.N} I=${c.I} O=${c.O}${c.fallback ? ' fallback' : ''} thr=${c.threshold} r=${c.rank} bias=${c.bias}`;
  log.add('fwd tiled8', assertClose(got.y, want.y, { rtol: 1e-5, atol: 1e-6 * scale, label: `${label} y`, shape: [c.N, c.O] }));
  assert.deepEqual([...got.y], [...ref.y], `${label}: y equals the tiled kernel's exactly`);
  for (const r of c.zeroRows) {
    if (r >= c.N) continue;
    for (let o = 0; o < c.O; o++) assert.equal(got.y[r * c.O + o], c.bias ? Math.fround(inp.bs[o]!) : 0, `${label}: zero row ${r} gives bias`);
  }
  if (c.rank > 0) {
    log.add('fwd+lora tiled8', assertClose(got.yl!, want.yl!, { rtol: 1e-5, atol: 1e-6 * (scale + 2 * c.rank), label: `${label} fused LoRA`, shape: [c.N, c.O] }));
    assert.deepEqual([...got.yl!], [...ref.yl!], `${label}: fused LoRA y equals the tiled kernel's exactly`);
  }
  assert.equal(g.bytesInUse(), before, `${label}: GPU bytes leaked`);
}

describe('matmulInt8: the 8×8-per-thread GPU kernel (tiled8)', () => {
  // words = ceil(I/4) is a multiple of 4 (tiled8's precondition) but I is not a multiple of 64.
  const inDim = fc.constantFrom(13, 93, 190, 270);
  it('random shapes (N, O off the 128 tile), both dot paths, outliers, bias, LoRA', async () => {
    await property(
      fc.record({
        N: fc.constantFrom(1, 5, 17, 130, 200), I: inDim, O: fc.constantFrom(3, 66, 129, 260), bias: fc.boolean(), zero: fc.boolean(),
        threshold: fc.constantFrom(0, 1.5, 6), fallback: fc.boolean(), rank: fc.constantFrom(0, 0, 1, 3), seed: seedArb, heavy: fc.boolean(),
        prefetch: fc.boolean(),
      }),
      async ({ seed, zero, heavy, prefetch, ...c }) => checkTiled8({ ...c, zeroRows: zero ? [0, 2] : [] }, seed, heavy, { WX: 16, WY: 16, TK: 16, prefetch }),
      10,
    );
  });

  it('non-default WX / WY / TK / prefetch, both dot paths', async () => {
    // 4×16 and 16×4 at TK = 8 use all 4 prefetch registers of one operand (rows / columns 96..127).
    const tiles: GemmTiles[] = [
      { WX: 8, WY: 4, TK: 4, prefetch: true }, { WX: 4, WY: 16, TK: 8, prefetch: true }, { WX: 16, WY: 4, TK: 8, prefetch: true },
      { WX: 16, WY: 8, TK: 32, prefetch: false },
    ];
    for (const [k, t] of tiles.entries()) {
      for (const fallback of [false, true]) {
        await checkTiled8({ N: 140, I: 190, O: 150, bias: true, zeroRows: [3], threshold: 6, fallback, rank: 2 }, 40 + k, true, t);
      }
    }
  });

  it('falls back to the tiled kernel when words % 4 != 0; rejects bad tunings with a typed error', async () => {
    // The other tiled8 tests compare against 'tiled', so they must really run tiled8 here.
    const saved0 = int8GemmTuning.kernel;
    int8GemmTuning.kernel = 'tiled8';
    try {
      assert.equal(int8GemmKernel(gpu(), 190), 'tiled8', 'tiled8 runs where words % 4 == 0');
      assert.equal(int8GemmKernel(gpu(), 67), 'tiled', 'tiled8 falls back where words % 4 != 0');
    } finally {
      int8GemmTuning.kernel = saved0;
    }
    // I = 67: 17 words, so a forced 'tiled8' must run matmul_int8.wgsl (and still match the reference).
    await checkTiled8({ N: 70, I: 67, O: 66, bias: true, zeroRows: [], threshold: 6, fallback: false, rank: 1 }, 50, true);
    const { gpu: g } = await getBackends();
    const before = g.bytesInUse();
    const x = g.upload(randValues(9 * 32, 51), [9, 32], 'f32');
    const w = new Tensor(g.upload(randValues(5 * 32, 52), [5, 32], 'f32'), g);
    const q = quantizeWeight(w);
    const saved = { ...int8GemmTuning };
    tuning.cpuStyle = false;
    int8SkinnyTuning.use = false;
    try {
      for (const bad of [{ WX: 16, WY: 16, TK: 6 }, { WX: 0, WY: 16, TK: 8 }, { WX: 64, WY: 64, TK: 8 }, { WX: 8, WY: 8, TK: 32, prefetch: true }]) {
        Object.assign(int8GemmTuning, { kernel: 'tiled8' }, bad);
        assert.throws(() => kernelsFor(g).int8Linear(x, q, null, { threshold: 6 }), OpArgumentError, `tiles ${JSON.stringify(bad)}`);
      }
    } finally {
      tuning.cpuStyle = 'auto';
      int8SkinnyTuning.use = 'auto';
      Object.assign(int8GemmTuning, saved);
    }
    g.dispose(x);
    w.dispose();
    disposeQuantized(q);
    // The kernel is chosen before any allocation, so a rejected tuning leaves nothing behind.
    assert.equal(g.bytesInUse(), before, 'GPU bytes leaked by rejected launches');
  });
});

describe('matmulInt8: parallel outlier passes (row-chunk grid + prefix-sum list)', () => {
  /** y of int8Linear (no backward) with the parallel flag / list passes on or off. */
  async function forwardY(xs: Float64Array, ws: Float64Array, N: number, I: number, O: number, threshold: number, parallel: boolean): Promise<Float32Array> {
    const { gpu: g } = await getBackends();
    int8QuantizeTuning.parallelOutliers = parallel;
    try {
      return await withBackend(g, async () => {
        const res = tidy(() => {
          const x = new Tensor(g.upload(xs, [N, I], 'f32'), g);
          const w = new Tensor(g.upload(ws, [O, I], 'f32'), g);
          const lin = Int8Linear.fromLinear(w, null, { threshold });
          return { lin, y: lin.forward(x) };
        });
        const y = new Float32Array(await res.y.dataRaw());
        res.y.dispose();
        res.lin.dispose();
        return y;
      });
    } finally {
      int8QuantizeTuning.parallelOutliers = 'auto';
    }
  }

  it('gives the bits of the serial kernels (both kernel styles; none / some / every column an outlier)', async () => {
    const { gpu: g } = await getBackends();
    const O = 11;
    let hits = 0;
    await forEachKernelStyle(async (style) => {
      for (const N of [17, 300, 2048]) {
        for (const I of [13, 190, 1031]) {
          const ws = randValues(O * I, N + I + 1, -0.5, 0.5);
          const inputs: [string, Float64Array, number][] = [
            ['heavy', heavyTailed(N, I, N + I, 5), 6],
            ['heavy thr 0', heavyTailed(N, I, N + I, 5), 0],
            ['none', randValues(N * I, N + I + 2, -2, 2), 6],
          ];
          // Every column an outlier, each only in one row (so chunk edges and the last row count).
          const all = randValues(N * I, N + I + 3, -2, 2);
          for (let c = 0; c < I; c++) all[((c * 37) % N) * I + c] = c % 2 ? -9.5 : 6;
          all[(N - 1) * I + I - 1] = 7;
          inputs.push(['every column', all, 6]);
          // A few outliers only in the last row and at a chunk's first / last row.
          const edge = randValues(N * I, N + I + 4, -2, 2);
          for (const [t, c] of [[N - 1, 0], [N - 1, I - 1], [Math.min(32, N - 1), I >> 1], [Math.min(31, N - 1), 3 % I]] as const) edge[t * I + c] = -6.5;
          inputs.push(['edges', edge, 6]);
          for (const [name, xs, thr] of inputs) {
            const before = g.bytesInUse();
            const on = await forwardY(xs, ws, N, I, O, thr, true);
            const off = await forwardY(xs, ws, N, I, O, thr, false);
            const label = `${style} N=${N} I=${I} ${name} thr=${thr}`;
            assert.ok(on.every((v) => Number.isFinite(v)), `${label}: finite y`);
            assert.deepEqual(new Uint32Array(on.buffer), new Uint32Array(off.buffer), `${label}: y bits`);
            assert.equal(g.bytesInUse(), before, `${label}: GPU bytes leaked`);
            hits++;
          }
        }
      }
    });
    assert.equal(hits, 2 * 3 * 3 * 5);
  });

  it('other chunkings give the same bits; a bad chunking is a typed error', async () => {
    const { gpu: g } = await getBackends();
    const N = 300, I = 190, O = 7;
    const xs = heavyTailed(N, I, 3, 9);
    const ws = randValues(O * I, 4, -0.5, 0.5);
    const off = await forwardY(xs, ws, N, I, O, 6, false);
    const saved = { ...int8QuantizeTuning };
    try {
      for (const [cr, mc] of [[1, 7], [5, 65535], [1, 1], [400, 32]] as const) {
        Object.assign(int8QuantizeTuning, { outlierChunkRows: cr, outlierMaxChunks: mc });
        const on = await forwardY(xs, ws, N, I, O, 6, true);
        assert.deepEqual(new Uint32Array(on.buffer), new Uint32Array(off.buffer), `chunk rows ${cr}, max chunks ${mc}: y bits`);
      }
      const x = g.upload(xs, [N, I], 'f32');
      const w = new Tensor(g.upload(ws, [O, I], 'f32'), g);
      const q = quantizeWeight(w);
      const before = g.bytesInUse();
      for (const [cr, mc] of [[0, 32], [32, 0], [32, 65536], [2.5, 32]] as const) {
        Object.assign(int8QuantizeTuning, { outlierChunkRows: cr, outlierMaxChunks: mc });
        assert.throws(() => kernelsFor(g).int8Linear(x, q, null, { threshold: 6 }), OpArgumentError, `chunk rows ${cr}, max chunks ${mc}`);
      }
      assert.equal(g.bytesInUse(), before, 'GPU bytes leaked by rejected launches');
      g.dispose(x);
      w.dispose();
      disposeQuantized(q);
    } finally {
      Object.assign(int8QuantizeTuning, saved);
    }
  });
});
