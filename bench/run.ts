/**
 * Benchmark runner: `npm run bench` runs every bench/*.bench.ts (hours on lavapipe: see the bench
 * index in docs/BENCHMARKS.md), `npm run bench -- ops kernels` the files named ops and kernels
 * (`kernels` = kernels.bench.ts). A word that names no file matches every file whose name contains
 * it; `--substring` makes every word match that way (`-- checkpoint --substring` runs checkpoint
 * and grad_checkpoint). The files picked are printed before anything runs.
 * `--json <file>` also writes every row (with the file it came from) as JSON, with the run's metadata
 * (`meta`: commit, RADGRAD_* / BENCH_* environment, repetitions, timing source, saved tuning, load
 * average; `files`: seconds and timing sources per file), which the header also prints. Ratio
 * columns follow one convention, printed as a legend under each table that has them (RATIO_LEGEND).
 * Each bench file exports
 *   export async function bench(): Promise<Array<Record<string, string | number>>>
 * and prints nothing it needs to; the runner prints one aligned table per file. The WebGPU backend
 * is initialised once before the first file and shut down at the end (a file that fails is
 * reported as a row with its error, and the others still run).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable } from '../src/util/table.js';

type Row = Record<string, string | number>;

const here = path.dirname(fileURLToPath(import.meta.url));

/** Ratio columns: speedup_vs_X, A_speedup_vs_X (time ratios), A_over_B (any other ratio). */
const RATIO_LEGEND = "ratios: speedup_vs_X = X's ms / this row's ms, A_speedup_vs_X = X's ms / A's ms (> 1: faster than X); A_over_B = A / B";
const isRatio = (k: string) => k.includes('speedup_vs_') || k.includes('_over_');

/** The checked-out commit ('+dirty' when tracked files differ from it), or 'unknown' outside git. */
function commit(): string {
  const git = (...a: string[]) => execFileSync('git', a, { cwd: path.join(here, '..'), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  try {
    return git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain', '--untracked-files=no') ? '+dirty' : '');
  } catch {
    return 'unknown';
  }
}

const load = () => os.loadavg().map((v) => +v.toFixed(2));

function parseArgs(argv: string[]): { filters: string[]; json?: string; substring: boolean } {
  const filters: string[] = [];
  let json: string | undefined;
  let substring = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = argv[++i];
    else if (a.startsWith('--json=')) json = a.slice(7);
    else if (a === '--substring') substring = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench [-- <bench names...>] [--substring] [--json <file>]\n' +
        '  a name picks <name>.bench.ts; a word that names no bench (or every word, with --substring) picks the files containing it');
      process.exit(0);
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a} (have --json <file>, --substring)`);
    else filters.push(a);
  }
  if (argv.includes('--json') && !json) throw new Error('--json needs a file name');
  return { filters, json, substring };
}

/**
 * The files to run and why each was picked: a word that is a bench's name picks that file only;
 * a word that names no bench (or any word, with substring) picks every file containing it.
 */
function pickBenches(all: readonly string[], filters: readonly string[], substring: boolean): Array<{ file: string; why: string }> {
  if (!filters.length) return all.map((file) => ({ file, why: 'no filter: every bench' }));
  const picked = new Map<string, string>();
  for (const w of filters) {
    const exact = substring ? undefined : all.find((f) => f === `${w}.bench.ts` || f === w);
    const hits = exact ? [exact] : all.filter((f) => f.includes(w));
    for (const f of hits) if (!picked.has(f)) picked.set(f, exact ? `name '${w}'` : `contains '${w}'${substring ? '' : ' (no bench of that name)'}`);
  }
  return all.filter((f) => picked.has(f)).map((file) => ({ file, why: picked.get(file)! }));
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const { filters, json, substring } = args;
  const available = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort();
  const picked = pickBenches(available, filters, substring);
  if (!picked.length) {
    console.error(`no bench files match ${JSON.stringify(filters)} (have: ${available.map((f) => f.replace(/\.bench\.ts$/, '')).join(', ')})`);
    process.exitCode = 1;
    return;
  }
  const files = picked.map((p) => p.file);
  console.log(`benches: ${picked.map((p) => `${p.file} (${p.why})`).join(', ')}`);
  if (!filters.length) console.log('(every bench: hours on a CPU adapter, and checkpoint writes > 1 GB to the temp dir; see the bench index in docs/BENCHMARKS.md)');
  const { initWebGpuBackend, tuningStatus } = await import('../src/backend/webgpu/index.js');
  const { shutdownGpu, gpu } = await import('../src/gpu/device.js');
  const { REPS, timingSources } = await import('./timing.js');
  await initWebGpuBackend();
  const ctx = gpu();
  const info = ctx.adapterInfo;
  const caps = ctx.caps;
  const tuning = tuningStatus();
  const meta = {
    commit: commit(),
    node: process.version,
    loadavg: load(),
    env: Object.fromEntries(Object.keys(process.env).filter((k) => /^(RADGRAD|BENCH)_/.test(k)).sort().map((k) => [k, process.env[k]!])),
    reps: REPS,
    timing: caps.timestampQuery ? 'timestamp' : 'wall',
    toggles: [...ctx.toggles],
    features: Object.entries({ 'shader-f16': caps.f16, subgroups: caps.subgroups, 'timestamp-query': caps.timestampQuery, 'subgroup-matrix': caps.subgroupMatrix, dot4I8Packed: caps.dot4I8Packed })
      .filter(([, on]) => on).map(([k]) => k),
    tuning: tuning ? { note: tuning.note, file: tuning.file, applied: tuning.applied !== null } : null,
  };
  console.log(`adapter: ${info.vendor} ${info.device} (${info.description})`);
  console.log(`run: commit ${meta.commit}, node ${meta.node}, load average ${meta.loadavg.join(' ')}`);
  console.log(`  kernel timings: median of ${REPS} (RADGRAD_BENCH_REPS), ${caps.timestampQuery ? 'GPU timestamps' : 'wall clock (no timestamp-query)'}; tuning: ${tuning?.note ?? 'not loaded'}`);
  console.log(`  features: ${meta.features.join(' ') || 'none optional'}; toggles: ${meta.toggles.join(',') || 'none'}`);
  console.log(`  env: ${Object.entries(meta.env).map(([k, v]) => `${k}=${v}`).join(' ') || '(no RADGRAD_* / BENCH_* set)'}`);
  const all: Array<Row & { file: string }> = [];
  const perFile: Record<string, { seconds: number; loadavg: number[]; timings: Record<string, number> }> = {};
  try {
    for (const f of files) {
      const name = f.replace(/\.bench\.ts$/, '');
      console.log(`\n== ${name} ==`);
      timingSources.clear();
      const t0 = performance.now();
      let rows: Row[];
      try {
        const mod = (await import(pathToFileURL(path.join(here, f)).href)) as { bench?: () => Promise<Row[]> };
        if (typeof mod.bench !== 'function') throw new Error(`${f} does not export bench()`);
        rows = await mod.bench();
      } catch (e) {
        rows = [{ error: (e as Error).stack?.split('\n').slice(0, 3).join(' | ') ?? String(e) }];
        process.exitCode = 1;
      }
      console.log(formatTable(rows));
      if (rows.some((r) => Object.keys(r).some(isRatio))) console.log(RATIO_LEGEND);
      const timings = Object.fromEntries(timingSources);
      const seconds = (performance.now() - t0) / 1000;
      perFile[name] = { seconds, loadavg: load(), timings };
      const src = Object.entries(timings).map(([k, n]) => `${n} ${k}`).join(', ');
      console.log(`(${seconds.toFixed(1)} s; load average ${perFile[name].loadavg.join(' ')}${src ? `; timings: ${src}` : ''})`);
      for (const r of rows) all.push({ file: name, ...r });
    }
  } finally {
    await shutdownGpu();
  }
  if (json) {
    writeFileSync(json, JSON.stringify({ adapter: info, date: new Date().toISOString(), meta, files: perFile, rows: all }, null, 2) + '\n');
    console.log(`\nwrote ${all.length} rows to ${json}`);
  }
}

await main();
