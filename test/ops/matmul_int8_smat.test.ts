/**
 * The experimental tensor-core int8 forward (shaders/matmul/matmul_int8_smat.wgsl, Dawn's
 * chromium-experimental-subgroup-matrix; int8GemmTuning.kernel = 'smat'). It must equal the tiled8
 * kernel bit for bit (same exact i32 sums, same epilogue) and match the float64 reference of the same
 * algorithm (src/backend/cpu/int8.ts) to the tolerances of test/ops/matmul_int8.test.ts, on shapes with
 * N and O off the 16 / 128 tiles and I a multiple of 32, with outliers, bias and the fused LoRA addend.
 * Where the adapter lacks the feature (lavapipe; NVIDIA without RADGRAD_UNSAFE_GPU_FEATURES=1) those
 * tests skip, and only the fallback to tiled8 is checked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu, gpu } from '../../src/gpu/device.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { Backend } from '../../src/backend/types.js';
import { quantizeWeight, disposeQuantized } from '../../src/ops/matmul_int8.js';
import { kernelsFor } from '../../src/backend/fused.js';
import { tuning } from '../../src/backend/webgpu/common.js';
import { int8GemmKernel, int8GemmTuning, int8SkinnyTuning, int8SmatTuning, prepareInt8Smat } from '../../src/backend/webgpu/int8.js';
import { assertClose, ErrorLog } from '../helpers/compare.js';
import { getBackends, randValues } from '../helpers/ops_harness.js';

const log = new ErrorLog();
after(async () => {
  console.log(`worst errors (smat int8 forward vs f64 reference):\n${log.summary()}`);
  await shutdownGpu();
});

/** positive: codes of one sign near 127, so the i32 sums pass 2²⁴ (inexact in f32 accumulation). */
interface Case { N: number; I: number; O: number; bias: boolean; threshold: number; rank: number; heavy: boolean; positive?: boolean }
const LR_SCALE = 0.75;

interface Inputs { xs: Float64Array; ws: Float64Array; bs: Float64Array; us: Float64Array; lbs: Float64Array; scale: number }

function inputs(c: Case, seed: number): Inputs {
  const xs = c.positive ? randValues(c.N * c.I, seed, 1, 1.1) : randValues(c.N * c.I, seed, -2, 2);
  // A few columns scaled ×20 (into outlier range for threshold 6), and an all-zero row of x.
  if (c.heavy) for (const col of [1, Math.floor(c.I / 2), c.I - 1]) for (let n = 0; n < c.N; n++) xs[n * c.I + col] = Math.fround(xs[n * c.I + col]! * 20);
  if (c.N > 3) xs.fill(0, 3 * c.I, 4 * c.I);
  const ws = c.positive ? randValues(c.O * c.I, seed + 1, 0.45, 0.5) : randValues(c.O * c.I, seed + 1, -0.5, 0.5);
  if (c.O > 2) ws.fill(0, 2 * c.I, 3 * c.I); // SCB = 0 must not give NaN
  let scale = 1;
  for (let n = 0; n < c.N; n++) {
    let s = 0;
    for (let i = 0; i < c.I; i++) s += Math.abs(xs[n * c.I + i]!) * 0.5;
    scale = Math.max(scale, s);
  }
  return { xs, ws, bs: randValues(c.O, seed + 2), us: randValues(c.N * c.rank, seed + 4, -2, 2), lbs: randValues(c.O * c.rank, seed + 5), scale };
}

/** y of int8Linear on `be` (on the GPU: tiled kernels, no skinny kernel, the given GEMM kernel and TK). */
async function forward(be: Backend, c: Case, inp: Inputs, kernel?: 'smat' | 'tiled8', TK?: number): Promise<ArrayLike<number>> {
  const saved = { ...int8GemmTuning };
  const x = be.upload(inp.xs, [c.N, c.I], 'f32');
  const w = new Tensor(be.upload(inp.ws, [c.O, c.I], 'f32'), be);
  const b = c.bias ? be.upload(inp.bs, [c.O], 'f32') : null;
  const u = c.rank ? be.upload(inp.us, [c.N, c.rank], 'f32') : null;
  const lb = c.rank ? be.upload(inp.lbs, [c.O, c.rank], 'f32') : null;
  const q = quantizeWeight(w);
  if (kernel) {
    tuning.cpuStyle = false;
    int8SkinnyTuning.use = false;
    Object.assign(int8GemmTuning, { kernel }, TK ? { TK } : {});
  }
  try {
    const lowRank = u && lb ? { u, b: lb, scale: LR_SCALE } : undefined;
    const y = kernelsFor(be).int8Linear(x, q, b, { threshold: c.threshold, lowRank });
    const out = await be.read(y);
    be.dispose(y);
    return out;
  } finally {
    tuning.cpuStyle = 'auto';
    int8SkinnyTuning.use = 'auto';
    Object.assign(int8GemmTuning, saved);
    for (const t of [x, b, u, lb]) if (t) be.dispose(t);
    w.dispose();
    disposeQuantized(q);
  }
}

const label = (c: Case, TK: number) => `smat TK=${TK} N=${c.N} I=${c.I} O=${c.O} thr=${c.threshold} r=${c.rank} bias=${c.bias}${c.heavy ? ' heavy' : ''}`;

/** smat vs tiled8 (exactly) and vs the float64 reference. */
async function check(c: Case, seed: number, TK: number): Promise<void> {
  const { gpu: g, cpu } = await getBackends();
  const inp = inputs(c, seed);
  const before = g.bytesInUse();
  const want = await forward(cpu, c, inp);
  const ref = await forward(g, c, inp, 'tiled8');
  const got = await forward(g, c, inp, 'smat', TK);
  const l = label(c, TK);
  const atol = 1e-6 * (c.rank ? inp.scale + 2 * c.rank : inp.scale);
  log.add(c.rank ? 'fwd+lora' : 'fwd', assertClose(got, want, { rtol: 1e-5, atol, label: `${l} vs reference`, shape: [c.N, c.O] }));
  let mismatch = -1;
  for (let i = 0; i < got.length && mismatch < 0; i++) if (!Object.is(got[i], ref[i])) mismatch = i;
  assert.equal(mismatch, -1, `${l}: y[${mismatch}] = ${got[mismatch]} differs from tiled8's ${ref[mismatch]}`);
  assert.equal(g.bytesInUse(), before, `${l}: GPU bytes leaked`);
}

describe('matmulInt8: tensor-core kernel (smat, subgroup matrices)', () => {
  let skip: string | false = false;
  let tks: number[] = [];
  before(async () => {
    await getBackends();
    const ctx = gpu();
    const prep = await prepareInt8Smat(ctx);
    type Cfg = { componentType: string; resultComponentType: string; M: number; N: number; K: number };
    const cfgs = (ctx.adapter.info as unknown as { subgroupMatrixConfigs?: Iterable<Cfg> }).subgroupMatrixConfigs;
    // The config objects keep their fields on the prototype (getters): list them by name.
    const list = [...(cfgs ?? [])].map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`);
    console.log(`smat: feature ${ctx.features.has('chromium-experimental-subgroup-matrix')}, subgroupMaxSize ${ctx.caps.subgroupMaxSize}, configs [${list.join(', ')}]`);
    console.log(`smat: type order ${prep.order ?? 'none compiled'}, i8Bytes ${int8SmatTuning.i8Bytes}${prep.errors.length ? `; compile errors:\n  ${prep.errors.join('\n  ')}` : ''}`);
    if (prep.order === null) {
      skip = ctx.features.has('chromium-experimental-subgroup-matrix')
        ? `smat kernel does not compile on this adapter (see the errors above)`
        : 'adapter lacks chromium-experimental-subgroup-matrix (lavapipe; on NVIDIA set RADGRAD_UNSAFE_GPU_FEATURES=1)';
    }
    // Stage depths whose two staged operands fit in workgroup memory.
    const room = ctx.limits.maxComputeWorkgroupStorageSize ?? 16384;
    tks = [8, 16, 32].filter((tk) => 2 * 128 * (tk + int8SmatTuning.PAD) * 4 <= room);
  });

  it('falls back to tiled8 where it cannot run (no feature, I % 32 != 0), with the same results', async () => {
    const saved = int8GemmTuning.kernel;
    int8GemmTuning.kernel = 'smat';
    let k48: string, k64: string;
    try {
      k48 = int8GemmKernel(gpu(), 48);
      k64 = int8GemmKernel(gpu(), 64);
    } finally {
      int8GemmTuning.kernel = saved;
    }
    assert.equal(k48, 'tiled8', 'I = 48 (not a multiple of 32) runs tiled8');
    assert.equal(k64, skip ? 'tiled8' : 'smat', skip ? 'without the feature smat falls back to tiled8' : 'I = 64 runs smat');
    // I = 48: a forced smat runs tiled8, so its y equals tiled8's exactly (and the reference).
    await check({ N: 19, I: 48, O: 21, bias: true, threshold: 6, rank: 2, heavy: true }, 3, 16);
  });

  it('matches tiled8 exactly and the f64 reference (N, O off the tiles; outliers, bias, LoRA)', async (t) => {
    if (skip) { t.skip(skip); return; }
    t.diagnostic(`stage depths TK ${tks.join(', ')} fit in workgroup memory`);
    const cases: Case[] = [
      { N: 5, I: 32, O: 3, bias: false, threshold: 0, rank: 0, heavy: false },
      { N: 17, I: 64, O: 33, bias: true, threshold: 0, rank: 0, heavy: false },
      { N: 130, I: 96, O: 200, bias: true, threshold: 6, rank: 3, heavy: true },
      { N: 200, I: 256, O: 129, bias: false, threshold: 6, rank: 0, heavy: true },
      { N: 129, I: 1056, O: 70, bias: true, threshold: 0, rank: 1, heavy: false },
      { N: 64, I: 160, O: 260, bias: true, threshold: 1.5, rank: 16, heavy: false },
    ];
    // The first case also runs with the other i8 offset unit, to say which one this Dawn uses if the
    // default is wrong (diagnostic only; the default must pass below).
    for (const [k, c] of cases.entries()) {
      for (const TK of tks) {
        try {
          await check(c, 100 + k, TK);
        } catch (e) {
          if (k === 0) {
            int8SmatTuning.i8Bytes = !int8SmatTuning.i8Bytes;
            try {
              await check(c, 100 + k, TK);
              t.diagnostic(`smat matches with i8Bytes = ${int8SmatTuning.i8Bytes} (the default ${!int8SmatTuning.i8Bytes} does not): flip int8SmatTuning.i8Bytes`);
            } catch (e2) {
              t.diagnostic(`smat mismatches with either i8Bytes: ${(e2 as Error).message.slice(0, 300)}`);
            } finally {
              int8SmatTuning.i8Bytes = !int8SmatTuning.i8Bytes;
            }
          }
          throw e;
        }
      }
    }
  });

  it('sums beyond 2²⁴ (large I) stay exact', async (t) => {
    if (skip) { t.skip(skip); return; }
    await check({ N: 33, I: 4096, O: 40, bias: false, threshold: 0, rank: 0, heavy: false, positive: true }, 200, tks[tks.length - 1]!);
  });
});
