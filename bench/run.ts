/**
 * Benchmark runner: `npm run bench` runs every bench/*.bench.ts, `npm run bench -- ops kernels`
 * only the files whose name contains one of the words, `--json <file>` also writes every row (with
 * the file it came from) as JSON. Each bench file exports
 *   export async function bench(): Promise<Array<Record<string, string | number>>>
 * and prints nothing it needs to; the runner prints one aligned table per file. The WebGPU backend
 * is initialised once before the first file and shut down at the end (a file that fails is
 * reported as a row with its error, and the others still run).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable } from '../src/util/table.js';

type Row = Record<string, string | number>;

const here = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv: string[]): { filters: string[]; json?: string } {
  const filters: string[] = [];
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') json = argv[++i];
    else if (a.startsWith('--json=')) json = a.slice(7);
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench [-- <name filters...>] [--json <file>]');
      process.exit(0);
    } else filters.push(a);
  }
  if (argv.includes('--json') && !json) throw new Error('--json needs a file name');
  return { filters, json };
}

async function main(): Promise<void> {
  const { filters, json } = parseArgs(process.argv.slice(2));
  let files = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort();
  if (filters.length) files = files.filter((f) => filters.some((w) => f.includes(w)));
  if (!files.length) {
    console.error(`no bench files match ${JSON.stringify(filters)} (have: ${readdirSync(here).filter((f) => f.endsWith('.bench.ts')).join(', ')})`);
    process.exitCode = 1;
    return;
  }
  const { initWebGpuBackend } = await import('../src/backend/webgpu/index.js');
  const { shutdownGpu, gpu } = await import('../src/gpu/device.js');
  await initWebGpuBackend();
  const info = gpu().adapterInfo;
  console.log(`adapter: ${info.vendor} ${info.device} (${info.description})`);
  const all: Array<Row & { file: string }> = [];
  try {
    for (const f of files) {
      const name = f.replace(/\.bench\.ts$/, '');
      console.log(`\n== ${name} ==`);
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
      console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      for (const r of rows) all.push({ file: name, ...r });
    }
  } finally {
    await shutdownGpu();
  }
  if (json) {
    writeFileSync(json, JSON.stringify({ adapter: info, date: new Date().toISOString(), rows: all }, null, 2) + '\n');
    console.log(`\nwrote ${all.length} rows to ${json}`);
  }
}

await main();
