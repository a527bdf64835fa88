/**
 * Per-adapter kernel tuning, persisted: `radgrad tune` (autotune.ts) times the tile and block
 * choices of the GPU kernels on the adapter at hand and records the fastest in a JSON file keyed by
 * the adapter, its Dawn toggles and the webgpu package version; initWebGpuBackend applies the
 * entry that matches (the built-in defaults otherwise). Like cudnn.benchmark, but measured once and
 * kept. The choices never change results: every tile and block choice computes each output with the
 * same sums in the same order (the tuner checks the outputs against the defaults' anyway).
 * File: RADGRAD_TUNING_FILE, else $XDG_CACHE_HOME/radgrad/tuning.json (~/.cache/...);
 * RADGRAD_TUNING=off ignores it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { GpuContext } from '../../gpu/device.js';
import { RadgradError } from '../../errors.js';
import { writeTextAtomic } from '../../util/atomic.js';
import { tiled8Invalid, tiled8Tuning, type Tiled8Tiles } from './matmul.js';
import { flashTuning, type BlockedGeometry } from './attention.js';
import { int8GemmKernel, int8GemmTuning } from './int8.js';

/** What one adapter's entry holds: the tiled8 GEMM tiles and the blocked attention geometry per pass. */
export interface TunedKernels {
  /** When and at what sizes it was measured (informational). */
  readonly tunedAt: string;
  readonly sizes: string;
  readonly tiled8?: Tiled8Tiles;
  /** The int8 forward's tiles, for the kernel it was measured with (applied only where that kernel runs). */
  readonly int8?: { kernel: 'tiled8' | 'smat'; WX: number; WY: number; TK: number; prefetch: boolean };
  readonly flash?: { fwd?: BlockedGeometry; q?: BlockedGeometry; kv?: BlockedGeometry; bwd?: { TK: number } };
}

interface TuningFile {
  version: 1;
  adapters: Record<string, TunedKernels>;
}

export function tuningFilePath(): string {
  if (process.env.RADGRAD_TUNING_FILE) return path.resolve(process.env.RADGRAD_TUNING_FILE);
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'radgrad', 'tuning.json');
}

let webgpuVersion: string | undefined;
function dawnVersion(): string {
  if (webgpuVersion === undefined) {
    try {
      const pkg = createRequire(import.meta.url)('webgpu/package.json') as { version?: string };
      webgpuVersion = pkg.version ?? '?';
    } catch {
      webgpuVersion = '?';
    }
  }
  return webgpuVersion;
}

/** The entry key: what decides kernel speed besides the kernels (adapter, driver build, toggles, Dawn). */
export function adapterKey(ctx: GpuContext): string {
  const a = ctx.adapterInfo;
  return [a.vendor, a.architecture, a.device, a.description, a.backend, `toggles=${ctx.toggles.join(',')}`, `webgpu@${dawnVersion()}`].join(' | ');
}

function readFile(file: string): TuningFile {
  if (!fs.existsSync(file)) return { version: 1, adapters: {} };
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RadgradError(`${file}: not a radgrad tuning file (${(e as Error).message})`, { hint: 'delete it or run `radgrad tune` again' });
  }
  const d = data as Partial<TuningFile>;
  if (!d || d.version !== 1 || typeof d.adapters !== 'object' || d.adapters === null) {
    throw new RadgradError(`${file}: not a radgrad tuning file (expected {"version": 1, "adapters": {...}})`, { hint: 'delete it or run `radgrad tune` again' });
  }
  return d as TuningFile;
}

const isGeometry = (g: unknown, keys: readonly string[]): boolean =>
  !!g && typeof g === 'object' && keys.every((k) => {
    const v = (g as Record<string, unknown>)[k];
    return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 256 && (v & (v - 1)) === 0;
  });

/**
 * Why an entry cannot be applied on this context, or null. Geometry that does not fit the adapter's
 * limits is not an error for attention (blockedGeometry shrinks it), but the tiled8 tiles must.
 */
export function entryProblem(ctx: GpuContext, e: TunedKernels): string | null {
  if (e.tiled8) {
    if (!isGeometry(e.tiled8, ['WX', 'WY', 'TK'])) return 'tiled8: WX, WY and TK must be powers of two';
    const bad = tiled8Invalid(ctx, e.tiled8);
    if (bad) return `tiled8 ${e.tiled8.WX}×${e.tiled8.WY} TK ${e.tiled8.TK}: ${bad}`;
  }
  if (e.int8) {
    const i = e.int8;
    if ((i.kernel !== 'tiled8' && i.kernel !== 'smat') || typeof i.prefetch !== 'boolean' || !isGeometry(i, ['WX', 'WY', 'TK'])) {
      return 'int8: kernel tiled8 or smat, WX, WY and TK powers of two, prefetch true or false';
    }
  }
  for (const pass of ['fwd', 'q', 'kv'] as const) {
    const g = e.flash?.[pass];
    if (g !== undefined && !isGeometry(g, ['WY', 'TK'])) return `flash.${pass}: WY and TK must be powers of two`;
  }
  if (e.flash?.bwd !== undefined && !isGeometry(e.flash.bwd, ['TK'])) return 'flash.bwd: TK must be a power of two';
  return null;
}

/** Sets the kernels' tuning knobs from an entry (checked with entryProblem first). */
export function applyTuning(ctx: GpuContext, e: TunedKernels): void {
  const bad = entryProblem(ctx, e);
  if (bad) throw new RadgradError(`tuning entry for this adapter cannot be used: ${bad}`, { hint: 'run `radgrad tune` again, or set RADGRAD_TUNING=off' });
  if (e.tiled8) tiled8Tuning.tiles = { WX: e.tiled8.WX, WY: e.tiled8.WY, TK: e.tiled8.TK };
  // BioGPT's widths (1024, 4096) run the same int8 kernel; another kernel's tiles would not fit it.
  if (e.int8 && int8GemmTuning.kernel === 'auto' && int8GemmKernel(ctx, 1024) === e.int8.kernel) {
    Object.assign(int8GemmTuning, { WX: e.int8.WX, WY: e.int8.WY, TK: e.int8.TK, prefetch: e.int8.prefetch });
  }
  const f = e.flash;
  if (f?.fwd) flashTuning.fwd = { WY: f.fwd.WY, TK: f.fwd.TK };
  if (f?.q) flashTuning.q = { WY: f.q.WY, TK: f.q.TK };
  if (f?.kv) flashTuning.kv = { WY: f.kv.WY, TK: f.kv.TK };
  if (f?.bwd) flashTuning.bwd = { TK: f.bwd.TK };
}

/** This adapter's entry in the file, or null. */
export function readTuning(ctx: GpuContext, file = tuningFilePath()): TunedKernels | null {
  return readFile(file).adapters[adapterKey(ctx)] ?? null;
}

/** Records this adapter's entry (the other adapters' entries are kept); atomic. */
export function saveTuning(ctx: GpuContext, e: TunedKernels, file = tuningFilePath()): void {
  const bad = entryProblem(ctx, e);
  if (bad) throw new RadgradError(`refusing to save a tuning entry that cannot be applied: ${bad}`);
  let data: TuningFile;
  try {
    data = readFile(file);
  } catch {
    data = { version: 1, adapters: {} }; // an unreadable file is replaced, not merged
  }
  data.adapters[adapterKey(ctx)] = e;
  writeTextAtomic(file, JSON.stringify(data, null, 2) + '\n');
}

/** What initWebGpuBackend applied: the entry, or why none (no file, no entry, off, or a problem). */
export interface TuningStatus {
  readonly file: string;
  readonly applied: TunedKernels | null;
  readonly note: string;
}

/**
 * Applies this adapter's saved entry, if any. Never throws: an unreadable file or an entry that does
 * not fit is reported in the note (and on stderr once) and the defaults stay.
 */
export function loadTuning(ctx: GpuContext): TuningStatus {
  const file = tuningFilePath();
  if (process.env.RADGRAD_TUNING === 'off') return { file, applied: null, note: 'RADGRAD_TUNING=off: built-in defaults' };
  try {
    const e = readTuning(ctx, file);
    if (!e) return { file, applied: null, note: fs.existsSync(file) ? 'no entry for this adapter: built-in defaults' : 'no tuning file: built-in defaults' };
    applyTuning(ctx, e);
    return { file, applied: e, note: `tuned ${e.tunedAt} (${e.sizes})` };
  } catch (err) {
    const note = `ignored (${(err as Error).message}): built-in defaults`;
    process.stderr.write(`radgrad: tuning file ${file} ${note}\n`);
    return { file, applied: null, note };
  }
}
