/**
 * The autotuner behind `radgrad tune`: times every valid tile / block choice of the GPU kernels on
 * this adapter at BioGPT's training sizes (or small ones), checks each choice's outputs against
 * those of the choice in use, and returns the fastest per kernel as a tuning entry (tuning_file.ts
 * saves and applies it). Choices are timed alternately, each repetition running every candidate once, so a
 * change in machine load hits them alike; GPU time from timestamp queries where the adapter has
 * them. Coordinate-wise: the f32 GEMM tiles; the int8 forward's; the attention forward's geometry;
 * then each backward pass with the others at the defaults.
 */
import type { GpuContext } from '../../gpu/device.js';
import type { TimingResult } from '../../gpu/queue.js';
import type { Backend, RawTensor } from '../types.js';
import { kernelsFor } from '../kernels.js';
import { cpuStyle } from './common.js';
import { tiled8Invalid, tiled8Tuning, type Tiled8Tiles } from './matmul.js';
import { blockedGeometry, flashTuning, type BlockedGeometry } from './attention.js';
import { int8GemmKernel, int8GemmTuning } from './int8.js';
import type { TunedKernels } from './tuning_file.js';

type Row = Record<string, string | number>;

/** The tiled8 GEMM choices (invalid ones for an adapter are skipped). */
export const TILED8_CANDIDATES: readonly Tiled8Tiles[] = [
  { WX: 16, WY: 16, TK: 8 }, { WX: 16, WY: 16, TK: 16 }, { WX: 16, WY: 16, TK: 32 },
  { WX: 8, WY: 16, TK: 16 }, { WX: 16, WY: 8, TK: 16 }, { WX: 8, WY: 8, TK: 16 }, { WX: 8, WY: 8, TK: 8 },
];

/** Int8Linear forward choices: tiled8 tiles and prefetch (the default first is int8GemmTuning's), or the tensor-core kernel's stage depth. */
export type Int8Tiles = { readonly WX: number; readonly WY: number; readonly TK: number; readonly prefetch: boolean };
export const INT8_TILED8_CANDIDATES: readonly Int8Tiles[] = [
  { WX: 16, WY: 16, TK: 16, prefetch: false }, { WX: 16, WY: 16, TK: 8, prefetch: false }, { WX: 16, WY: 16, TK: 32, prefetch: false },
  { WX: 16, WY: 16, TK: 16, prefetch: true }, { WX: 8, WY: 16, TK: 16, prefetch: false }, { WX: 16, WY: 8, TK: 16, prefetch: false },
  { WX: 8, WY: 8, TK: 16, prefetch: false },
];
export const INT8_SMAT_TK: readonly number[] = [8, 16, 32];

/** WY requests per blocked attention pass (each crossed with TK 8, 16, 32; the one-pass backward's WY is fixed). */
const FLASH_CANDIDATE_WY: Readonly<Record<FlashPass, readonly number[]>> = { fwd: [4, 8, 16], q: [4, 8, 16], kv: [8, 16, 32], bwd: [] };
const FLASH_FILES = { fwd: 'flash_fwd_blocked', q: 'flash_bwd_q_blocked', kv: 'flash_bwd_kv_blocked', bwd: 'flash_bwd_blocked' } as const;

/**
 * Median ms of each variant over `reps` repetitions after one warm-up call of each (pipeline
 * compiles); within a repetition the variants run in turn. `onTiming` sees every timing (its
 * source: GPU timestamps, or the wall clock where the adapter has none).
 */
export async function alternatingMs(ctx: GpuContext, fns: ReadonlyArray<() => void>, reps: number, onTiming?: (t: TimingResult) => void): Promise<number[]> {
  for (const fn of fns) fn();
  await ctx.queue.sync();
  const times = fns.map(() => [] as number[]);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < fns.length; i++) {
      ctx.queue.beginTiming();
      fns[i]!();
      const t = await ctx.queue.endTiming();
      onTiming?.(t);
      times[i]!.push(t.ms);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!);
}

/** The blocked attention kernels' passes: forward, the two-pass backward's dQ and dK/dV passes, the one-pass backward. */
export type FlashPass = 'fwd' | 'q' | 'kv' | 'bwd';
export const FLASH_PASSES: readonly FlashPass[] = ['fwd', 'q', 'kv', 'bwd'];

export interface TuneOptions {
  /** The f32 GEMM tiles and the int8 forward's. */
  readonly gemm: boolean;
  readonly attention: boolean;
  /** Which attention passes (default all). */
  readonly attentionPasses?: readonly FlashPass[];
  /** 'model': BioGPT's training sizes (B·T 2048, C 1024, FFN 4096; attention B4 H16 T512 D64); 'small': a quick check. */
  readonly sizes: 'model' | 'small';
  readonly reps: number;
}

/** Largest |a - b| relative to max |b| (how far a candidate's output is from the default's). */
function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return Number.isFinite(d) ? d / Math.max(m, 1e-30) : Infinity;
}
// Same sums in the same order give the same bits; the tolerance only allows the one-pass
// backward's dQ, whose atomic additions run in no fixed order.
const TOLERANCE = 1e-5;

/** One choice of a kernel's knobs: run() launches the kernel(s) with it and returns their outputs (the caller's to dispose). */
export interface Candidate<C> { readonly label: string; readonly choice: C; readonly run: () => RawTensor[] }

/**
 * Checks each candidate's outputs against the first's (the choice in use), times those that match,
 * and returns the rows and the fastest of them. A candidate that fails (a pipeline this adapter
 * rejects) or differs is reported and skipped; the first must run.
 */
export async function pickFastest<C>(ctx: GpuContext, be: Backend, kernel: string, cands: Array<Candidate<C>>, reps: number): Promise<{ rows: Row[]; best: C }> {
  const verdicts: string[] = [];
  let want: Float32Array[] | undefined;
  for (const [i, c] of cands.entries()) {
    let outs: RawTensor[] = [];
    try {
      outs = c.run();
      const got = await Promise.all(outs.map(async (t) => Float32Array.from((await be.read(t)) as ArrayLike<number>)));
      want ??= got;
      verdicts.push(got.every((g, j) => relDiff(g, want![j]!) <= TOLERANCE) ? 'matches' : 'DIFFERS (skipped)');
    } catch (e) {
      if (i === 0) throw e;
      verdicts.push(`FAILED (skipped): ${(e as Error).message.split('\n')[0]}`);
    } finally {
      for (const t of outs) be.dispose(t);
    }
  }
  const timed = cands.filter((_, i) => verdicts[i] === 'matches');
  const times = await alternatingMs(ctx, timed.map((c) => () => {
    for (const t of c.run()) be.dispose(t);
  }), reps);
  const ms = cands.map((c) => (timed.includes(c) ? times[timed.indexOf(c)]! : NaN));
  let best = 0;
  ms.forEach((m, i) => {
    if (m < ms[best]!) best = i;
  });
  const rows = cands.map((c, i) => ({
    kernel, choice: c.label + (i === 0 ? ' (in use)' : ''), ms: ms[i]!, speedup_vs_in_use: ms[0]! / ms[i]!, output: verdicts[i]!, chosen: i === best ? '*' : '',
  }));
  return { rows, best: cands[best]!.choice };
}

async function tuneGemm(ctx: GpuContext, be: Backend, o: TuneOptions): Promise<{ rows: Row[]; best: Tiled8Tiles }> {
  // BioGPT's linear products at B·T = 2048 tokens: q/k/v/o and fc1 forward (x·Wᵀ), fc2, and a backward dX = dY·W.
  const shapes: Array<[number, number, number, boolean]> = o.sizes === 'model'
    ? [[2048, 1024, 1024, true], [2048, 4096, 1024, true], [2048, 1024, 4096, true], [2048, 1024, 4096, false]]
    : [[64, 48, 32, true], [40, 36, 72, false]];
  const operands = shapes.map(([M, N, K, tb], s) => ({
    a: be.randomUniform([M, K], 2 * s + 1, -0.5, 0.5),
    b: be.randomUniform(tb ? [N, K] : [K, N], 2 * s + 2, -0.5, 0.5),
    tb,
  }));
  const saved = { use: tiled8Tuning.use, tiles: tiled8Tuning.tiles };
  const valid = [saved.tiles, ...TILED8_CANDIDATES.filter((t) => !sameTiles(t, saved.tiles))].filter((t) => !tiled8Invalid(ctx, t));
  try {
    const cands = valid.map((t) => ({
      label: `${t.WX}×${t.WY} threads, TK ${t.TK}`, choice: t,
      run: () => {
        tiled8Tuning.use = true;
        tiled8Tuning.tiles = t;
        try {
          return operands.map(({ a, b, tb }) => be.matmul(a, b, { transB: tb }));
        } finally {
          tiled8Tuning.use = saved.use;
          tiled8Tuning.tiles = saved.tiles;
        }
      },
    }));
    const label = `matmul_tiled8 (${shapes.map(([M, N, K]) => `${M}×${N}×${K}`).join(', ')})`;
    return await pickFastest(ctx, be, label, cands, o.reps);
  } finally {
    for (const { a, b } of operands) {
      be.dispose(a);
      be.dispose(b);
    }
  }
}

export const sameTiles = (a: Tiled8Tiles, b: Tiled8Tiles): boolean => a.WX === b.WX && a.WY === b.WY && a.TK === b.TK;

/** The int8 forward (threshold 0: the int8 GEMM and its activation quantisation) on BioGPT's int8 linear shapes. */
async function tuneInt8(ctx: GpuContext, be: Backend, o: TuneOptions): Promise<{ rows: Row[]; best: NonNullable<TunedKernels['int8']> } | null> {
  // [tokens, out, in]: fc1 and fc2 at B·T = 2048 (q/k/v/o are 1024 × 1024).
  const shapes: Array<[number, number, number]> = o.sizes === 'model' ? [[2048, 4096, 1024], [2048, 1024, 4096]] : [[64, 48, 64]];
  const kernel = int8GemmKernel(ctx, shapes[0]![2]);
  if (kernel !== 'tiled8' && kernel !== 'smat') return null; // the 4×4 kernel has no choices
  const kern = kernelsFor(be);
  const operands = shapes.map(([N, O, I], s) => {
    const w = be.randomUniform([O, I], 40 + s, -0.5, 0.5);
    const q = kern.quantizeRowwise(w);
    be.dispose(w);
    return { x: be.randomUniform([N, I], 50 + s, -0.5, 0.5), q };
  });
  const saved = { ...int8GemmTuning };
  const current = { WX: saved.WX, WY: saved.WY, TK: saved.TK, prefetch: saved.prefetch };
  const choices = kernel === 'smat'
    ? [current, ...INT8_SMAT_TK.filter((TK) => TK !== current.TK).map((TK) => ({ ...current, TK }))]
    : [current, ...INT8_TILED8_CANDIDATES.filter((t) => JSON.stringify(t) !== JSON.stringify(current))];
  try {
    const cands = choices.map((t) => ({
      label: kernel === 'smat' ? `smat TK ${t.TK}` : `${t.WX}×${t.WY} threads, TK ${t.TK}${t.prefetch ? ', prefetch' : ''}`, choice: { kernel, ...t },
      run: () => {
        Object.assign(int8GemmTuning, { kernel }, t);
        try {
          return operands.map(({ x, q }) => kern.int8Linear(x, q, null, { threshold: 0 }));
        } finally {
          Object.assign(int8GemmTuning, saved);
        }
      },
    }));
    return await pickFastest(ctx, be, `int8 forward, matmul_int8_${kernel} (${shapes.map(([N, O, I]) => `${N}×${O}×${I}`).join(', ')})`, cands, o.reps);
  } finally {
    for (const { x, q } of operands) for (const t of [x, q.cb, q.scb]) be.dispose(t);
  }
}

async function tuneAttention(ctx: GpuContext, be: Backend, o: TuneOptions): Promise<{ rows: Row[]; flash: NonNullable<TunedKernels['flash']> }> {
  const [B, H, T, D] = o.sizes === 'model' ? [4, 16, 512, 64] : [1, 2, 40, 16];
  const shape = [B, H, T, D];
  const n = B * H * T * D;
  const [q, k, v, dO] = [1, 2, 3, 4].map((s) => be.randomUniform(shape, 10 + s, -0.5, 0.5)) as [RawTensor, RawTensor, RawTensor, RawTensor];
  const opts = { scale: 1 / Math.sqrt(D), causal: true, dropout: 0, seed: 1 };
  const kern = kernelsFor(be);
  const saved = { kernel: flashTuning.kernel, backward: flashTuning.backward, fwd: flashTuning.fwd, q: flashTuning.q, kv: flashTuning.kv, bwd: flashTuning.bwd };
  const restore = () => Object.assign(flashTuning, saved);
  const rows: Row[] = [];
  const flash: { fwd?: BlockedGeometry; q?: BlockedGeometry; kv?: BlockedGeometry; bwd?: { TK: number } } = {};
  // Where the two-pass kernels do not all fit at this head dim, no blocked kernel runs.
  if (!(['flash_fwd_blocked', 'flash_bwd_q_blocked', 'flash_bwd_kv_blocked'] as const).every((f) => blockedGeometry(ctx, f, D))) {
    for (const t of [q, k, v, dO]) be.dispose(t);
    return { rows, flash };
  }
  flashTuning.kernel = 'blocked';
  const fwd = kern.flashForward(q, k, v, null, opts); // o and lse for the backward passes (geometry in use)
  restore();
  try {
    for (const pass of o.attentionPasses ?? FLASH_PASSES) {
      // What each request runs with here (WY shrinks to fit the adapter), each once, the one in use first.
      const current = blockedGeometry(ctx, FLASH_FILES[pass], D);
      if (!current) continue; // this pass cannot run at head dim D here
      const seen = new Set<string>();
      const geoms: BlockedGeometry[] = [];
      for (const WY of [current.WY, ...FLASH_CANDIDATE_WY[pass]]) {
        for (const TK of [current.TK, 8, 16, 32]) {
          const g = blockedGeometry(ctx, FLASH_FILES[pass], D, { WY, TK });
          if (!g || seen.has(`${g.WY}/${g.TK}`)) continue;
          seen.add(`${g.WY}/${g.TK}`);
          geoms.push(g);
        }
      }
      const set = (g: BlockedGeometry) => {
        flashTuning.kernel = 'blocked';
        flashTuning.backward = pass === 'q' || pass === 'kv' ? 'two-pass' : 'one-pass';
        if (pass === 'bwd') flashTuning.bwd = { TK: g.TK };
        else flashTuning[pass] = g;
      };
      const cands = geoms.map((g) => ({
        label: pass === 'bwd' ? `TK ${g.TK} (WY ${g.WY})` : `WY ${g.WY}, TK ${g.TK}`, choice: g,
        run: (): RawTensor[] => {
          set(g);
          try {
            if (pass === 'fwd') {
              const r = kern.flashForward(q, k, v, null, opts);
              return [r.o, r.lse];
            }
            const r = kern.flashBackward(q, k, v, null, fwd.o, fwd.lse, dO, opts);
            return [r.dq, r.dk, r.dv];
          } finally {
            restore();
          }
        },
      }));
      const what = { fwd: 'forward', q: 'backward dQ pass (two-pass)', kv: 'backward dK/dV pass (two-pass)', bwd: 'backward, one pass' }[pass];
      const r = await pickFastest(ctx, be, `flash attention ${what} (B${B} H${H} T${T} D${D} causal)`, cands, o.reps);
      rows.push(...r.rows);
      if (pass === 'bwd') flash.bwd = { TK: r.best.TK };
      else flash[pass] = r.best;
    }
  } finally {
    restore();
    for (const t of [q, k, v, dO, fwd.o, fwd.lse]) be.dispose(t);
  }
  return { rows, flash };
}

/**
 * Tunes the GPU kernels this adapter runs. CPU-style adapters (lavapipe) run kernels without these
 * knobs: nothing is tuned there (RADGRAD_KERNEL_STYLE=gpu tunes the GPU family anyway).
 */
export async function autotune(ctx: GpuContext, be: Backend, o: TuneOptions): Promise<{ rows: Row[]; entry: TunedKernels | null }> {
  if (cpuStyle(ctx)) return { rows: [], entry: null };
  const rows: Row[] = [];
  let tiled8: Tiled8Tiles | undefined;
  let int8: TunedKernels['int8'];
  let flash: TunedKernels['flash'];
  if (o.gemm) {
    const g = await tuneGemm(ctx, be, o);
    rows.push(...g.rows);
    tiled8 = g.best;
    const i8 = await tuneInt8(ctx, be, o);
    if (i8) {
      rows.push(...i8.rows);
      int8 = i8.best;
    }
  }
  if (o.attention) {
    const a = await tuneAttention(ctx, be, o);
    rows.push(...a.rows);
    flash = a.flash;
  }
  const sizes = o.sizes === 'model' ? 'BioGPT training sizes' : 'small sizes';
  return { rows, entry: { tunedAt: new Date().toISOString(), sizes, ...(tiled8 ? { tiled8 } : {}), ...(int8 ? { int8 } : {}), ...(flash ? { flash } : {}) } };
}
