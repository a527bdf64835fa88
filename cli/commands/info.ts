/** `radgrad info [--json]`: adapter, backend, driver, features, limits, WGSL language features. */
import type { Command } from 'commander';
import { initGpu } from '../../src/gpu/device.js';
import { adapterReport } from '../../src/gpu/info.js';
import { loadTuning } from '../../src/backend/webgpu/tuning_file.js';
import { action, globalOptions } from '../run.js';

export function register(program: Command): void {
  program
    .command('info')
    .description('show the WebGPU adapter radgrad uses: driver, features, limits, WGSL language features')
    .option('--json', 'machine-readable output')
    .addHelpText('after', '\nExample:\n  $ radgrad info\n  $ radgrad --adapter llvmpipe info --json')
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const g = globalOptions(cmd);
        const ctx = await initGpu({ ...(g.adapter ? { adapter: g.adapter } : {}), ...(g.unsafeGpuFeatures ? { unsafeFeatures: true } : {}) });
        const r = adapterReport(ctx);
        const tuning = loadTuning(ctx);
        if (opts.json) {
          process.stdout.write(JSON.stringify({ ...r, tuning }, null, 2) + '\n');
          return;
        }
        const a = r.adapter;
        const lines = [
          `adapter      ${a.vendor} ${a.device}${a.isCpu ? ' (CPU / software)' : ''}`,
          `driver       ${a.description}`,
          `architecture ${a.architecture || '-'}`,
          `capabilities ${Object.entries(r.capabilities).map(([k, v]) => `${k}=${v}`).join(' ')}`,
          `features     ${r.features.join(', ')}`,
          `wgsl         ${r.wgslLanguageFeatures.join(', ')}`,
          `kernel tuning ${tuning.note}${tuning.applied ? ` from ${tuning.file}` : ''} (\`radgrad tune\`)`,
          `subgroup-matrix configs ${r.subgroupMatrixConfigs.length ? JSON.stringify(r.subgroupMatrixConfigs) : 'none'}`,
          'limits:',
          ...Object.entries(r.limits).map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
        ];
        process.stdout.write(lines.join('\n') + '\n');
      }),
    );
}
