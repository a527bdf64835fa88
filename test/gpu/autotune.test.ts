/**
 * Kernel autotuning (`radgrad tune`): the saved per-adapter entry (round trip, other adapters kept,
 * bad files and entries ignored with a note, RADGRAD_TUNING=off), the choice of the fastest
 * candidate whose outputs match the default's, and a whole tuning run of the GPU kernel family at
 * small sizes on this adapter (the knobs restored afterwards, the entry applicable).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gpu, shutdownGpu, type GpuContext } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { tuning } from '../../src/backend/webgpu/common.js';
import { tiled8Tuning } from '../../src/backend/webgpu/matmul.js';
import { flashTuning } from '../../src/backend/webgpu/attention.js';
import { int8GemmTuning } from '../../src/backend/webgpu/int8.js';
import { autotune, pickFastest } from '../../src/backend/webgpu/autotune.js';
import { adapterKey, loadTuning, readTuning, saveTuning, type TunedKernels } from '../../src/backend/webgpu/tuning_file.js';
import '../../src/backend/fused.js';
import type { Backend } from '../../src/backend/types.js';

let be: Backend;
let ctx: GpuContext;
let dir: string;
const env = { file: process.env.RADGRAD_TUNING_FILE, off: process.env.RADGRAD_TUNING };
before(async () => {
  be = await initWebGpuBackend();
  ctx = gpu();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-tune-'));
});
after(async () => {
  fs.rmSync(dir, { recursive: true, force: true });
  await shutdownGpu();
});

const knobs = () => JSON.stringify({ t: tiled8Tuning, f: flashTuning, i: int8GemmTuning });

/** The knobs as they are, and a function that puts them back (tests must not leak tuning). */
function snapshot(): { state: string; restore: () => void } {
  const saved = { tiles: tiled8Tuning.tiles, use: tiled8Tuning.use, flash: { ...flashTuning }, int8: { ...int8GemmTuning } };
  return {
    state: knobs(),
    restore: () => {
      tiled8Tuning.tiles = saved.tiles;
      tiled8Tuning.use = saved.use;
      Object.assign(flashTuning, saved.flash);
      Object.assign(int8GemmTuning, saved.int8);
    },
  };
}

function withEnv<T>(file: string | undefined, off: string | undefined, fn: () => T): T {
  const set = (k: string, v: string | undefined) => (v === undefined ? delete process.env[k] : (process.env[k] = v));
  set('RADGRAD_TUNING_FILE', file);
  set('RADGRAD_TUNING', off);
  try {
    return fn();
  } finally {
    set('RADGRAD_TUNING_FILE', env.file);
    set('RADGRAD_TUNING', env.off);
  }
}

const entry: TunedKernels = {
  tunedAt: '2026-11-27T00:00:00.000Z', sizes: 'test',
  tiled8: { WX: 8, WY: 16, TK: 16 },
  flash: { fwd: { WY: 4, TK: 8 }, q: { WY: 16, TK: 8 }, kv: { WY: 8, TK: 16 }, bwd: { TK: 8 } },
};

describe('tuning file', () => {
  it('saves one entry per adapter, keeps the others, and loadTuning applies it', () => {
    const file = path.join(dir, 'a', 'tuning.json');
    const snap = snapshot();
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify({ version: 1, adapters: { 'other gpu': { tunedAt: 'x', sizes: 'y', tiled8: { WX: 16, WY: 16, TK: 16 } } } }));
      saveTuning(ctx, entry, file);
      const data = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.deepEqual(Object.keys(data.adapters).sort(), ['other gpu', adapterKey(ctx)].sort());
      assert.deepEqual(readTuning(ctx, file), entry);
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['tuning.json'], 'no temp file left behind');
      const st = withEnv(file, undefined, () => loadTuning(ctx));
      assert.deepEqual(st.applied, entry);
      assert.deepEqual(tiled8Tuning.tiles, entry.tiled8);
      assert.deepEqual(flashTuning.fwd, entry.flash!.fwd);
      assert.deepEqual(flashTuning.bwd, entry.flash!.bwd);
    } finally {
      snap.restore();
    }
  });

  it('a malformed file, an entry that cannot run, or RADGRAD_TUNING=off leave the defaults, with a note', () => {
    const snap = snapshot();
    const write = (name: string, text: string) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      return f;
    };
    const broken = write('broken.json', '{"version": 1, "adapters": {');
    const bad = write('bad.json', JSON.stringify({ version: 1, adapters: { [adapterKey(ctx)]: { ...entry, tiled8: { WX: 64, WY: 64, TK: 8 } } } }));
    const good = write('good.json', JSON.stringify({ version: 1, adapters: { [adapterKey(ctx)]: entry } }));
    const stderr = process.stderr.write.bind(process.stderr);
    process.stderr.write = (() => true) as typeof process.stderr.write; // the warnings are expected here
    try {
      for (const [file, note] of [[broken, /not a radgrad tuning file/], [bad, /tiled8 64×64 TK 8: 2·TK 16 is not a multiple/]] as const) {
        const st = withEnv(file, undefined, () => loadTuning(ctx));
        assert.equal(st.applied, null);
        assert.match(st.note, note);
        assert.match(st.note, /built-in defaults/);
        assert.equal(knobs(), snap.state, 'nothing applied');
      }
      const off = withEnv(good, 'off', () => loadTuning(ctx));
      assert.equal(off.applied, null);
      assert.match(off.note, /RADGRAD_TUNING=off/);
      const none = withEnv(path.join(dir, 'missing.json'), undefined, () => loadTuning(ctx));
      assert.match(none.note, /no tuning file/);
      assert.equal(knobs(), snap.state);
      assert.throws(() => saveTuning(ctx, { ...entry, tiled8: { WX: 64, WY: 64, TK: 8 } }, path.join(dir, 'refused.json')), /refusing to save/);
      assert.ok(!fs.existsSync(path.join(dir, 'refused.json')));
    } finally {
      process.stderr.write = stderr;
      snap.restore();
    }
  });
});

describe('autotune', () => {
  it('pickFastest never chooses a candidate whose outputs differ from the default or that fails', async () => {
    const n = 64 * 64;
    const a = be.upload(Float32Array.from({ length: n }, (_, i) => (i % 7) - 3), [64, 64], 'f32');
    try {
      const right = { label: 'matmul', choice: 'right', run: () => [be.matmul(a, a)] };
      // Wrong and much cheaper: it would win on time alone.
      const wrong = { label: 'zeros', choice: 'wrong', run: () => [be.full([64, 64], 'f32', 0)] };
      // And one this adapter would reject.
      const broken = { label: 'broken', choice: 'broken', run: (): never => { throw new Error('pipeline rejected\nmore'); } };
      const r = await pickFastest(ctx, be, 'test', [right, wrong, broken], 1);
      assert.equal(r.best, 'right');
      assert.equal(r.rows[1]!.output, 'DIFFERS (skipped)');
      assert.equal(r.rows[2]!.output, 'FAILED (skipped): pipeline rejected');
      assert.ok(Number.isNaN(r.rows[1]!.ms) && Number.isNaN(r.rows[2]!.ms), 'skipped choices are not timed');
      assert.equal(r.rows[0]!.chosen, '*');
    } finally {
      be.dispose(a);
    }
  });

  it('tunes the GPU kernels at small sizes: every choice checked, the knobs restored, the entry applicable', async () => {
    const snap = snapshot();
    const style = tuning.cpuStyle;
    tuning.cpuStyle = false; // the GPU family, as on a discrete GPU (this adapter may be lavapipe)
    try {
      const inUse = tiled8Tuning.tiles;
      const before = be.bytesInUse();
      // Attention: the one-pass backward only (the blocked kernels take ~25 s each to compile on
      // lavapipe; its pipelines are the ones ops/attention compiles too, so often cached).
      const { rows, entry: e } = await autotune(ctx, be, { gemm: true, attention: true, attentionPasses: ['bwd'], sizes: 'small', reps: 1 });
      assert.equal(be.bytesInUse(), before, 'autotune leaked GPU memory');
      assert.equal(knobs(), snap.state, 'knobs restored');
      assert.ok(e?.tiled8 && e.int8?.kernel === 'tiled8' && e.flash?.bwd && !e.flash.fwd, JSON.stringify(e));
      assert.ok(rows.filter((r) => String(r.kernel).startsWith('int8 forward, matmul_int8_tiled8')).length >= 3, 'several int8 tile choices timed');
      assert.ok(rows.some((r) => String(r.kernel).startsWith('flash attention backward, one pass')));
      for (const r of rows) assert.equal(r.output, 'matches', `${r.kernel} ${r.choice}`);
      const kernels = new Set(rows.map((r) => r.kernel));
      for (const k of kernels) assert.equal(rows.filter((r) => r.kernel === k && r.chosen === '*').length, 1, `one choice for ${k}`);
      assert.ok(rows.filter((r) => String(r.kernel).startsWith('matmul_tiled8')).length >= 3, 'several GEMM tile choices timed');
      assert.ok(rows.some((r) => r.choice === `${inUse.WX}×${inUse.WY} threads, TK ${inUse.TK} (in use)`));
      const file = path.join(dir, 'run.json');
      saveTuning(ctx, e!, file);
      assert.deepEqual(withEnv(file, undefined, () => loadTuning(ctx)).applied, e);
    } finally {
      tuning.cpuStyle = style;
      snap.restore();
    }
  });

  it('has nothing to tune where the CPU-style kernels run', async () => {
    const style = tuning.cpuStyle;
    tuning.cpuStyle = true;
    try {
      const r = await autotune(ctx, be, { gemm: true, attention: true, sizes: 'small', reps: 1 });
      assert.equal(r.entry, null);
      assert.equal(r.rows.length, 0);
    } finally {
      tuning.cpuStyle = style;
    }
  });
});
