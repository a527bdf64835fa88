/** `radgrad tune`: times the GPU kernels' tile and block choices on this adapter and saves the fastest. */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { RadgradError } from '../../src/errors.js';
import { gpu } from '../../src/gpu/device.js';
import { autotune, FLASH_PASSES, type FlashPass } from '../../src/backend/webgpu/autotune.js';
import { adapterKey, saveTuning, tuningFilePath } from '../../src/backend/webgpu/tuning_file.js';
import { formatTable } from '../../src/util/table.js';
import { action, startGpu } from '../run.js';

interface TuneFlags {
  only?: string;
  passes?: string;
  sizes: string;
  reps: string;
  save: boolean;
  json?: string;
}

export function register(program: Command): void {
  program
    .command('tune')
    .description("time the GPU kernels' tile and block choices on this adapter and save the fastest (applied at every start)")
    .option('--only <kernels>', 'gemm or attention (default: both)')
    .option('--passes <list>', `attention passes, comma-separated: ${FLASH_PASSES.join(', ')} (forward, two-pass dQ and dK/dV, one-pass backward; default all)`)
    .option('--sizes <sizes>', "'model' (BioGPT training sizes) or 'small' (a quick check, never saved)", 'model')
    .option('--reps <n>', 'timed repetitions per choice (median)', '5')
    .option('--no-save', 'print the table only')
    .option('--json <file>', 'also write the rows as JSON')
    .addHelpText('after', [
      '',
      `Saves to ${tuningFilePath()} (RADGRAD_TUNING_FILE), one entry per adapter, Dawn toggles and webgpu`,
      'version; RADGRAD_TUNING=off ignores it. Choices whose outputs differ from the one in use are skipped.',
      '',
      'Example:',
      '  $ radgrad tune',
      '  $ RADGRAD_DAWN_TOGGLES=disable_robustness radgrad tune --only attention --reps 10',
    ].join('\n'))
    .action(
      action(async (o: TuneFlags, cmd: Command) => {
        if (o.only !== undefined && o.only !== 'gemm' && o.only !== 'attention') {
          throw new RadgradError(`--only must be gemm or attention, got '${o.only}'`, { hint: 'leave it out to tune both' });
        }
        if (o.sizes !== 'model' && o.sizes !== 'small') throw new RadgradError(`--sizes must be model or small, got '${o.sizes}'`, { hint: "'small' for a quick check" });
        const reps = Number(o.reps);
        if (!Number.isInteger(reps) || reps < 1) throw new RadgradError(`--reps must be a positive integer, got '${o.reps}'`, { hint: 'e.g. --reps 5' });
        const passes = o.passes?.split(',').map((p) => p.trim()) ?? [...FLASH_PASSES];
        const unknown = passes.filter((p) => !(FLASH_PASSES as readonly string[]).includes(p));
        if (unknown.length || !passes.length) throw new RadgradError(`--passes: unknown pass '${unknown[0] ?? ''}'`, { hint: `choose from ${FLASH_PASSES.join(', ')}` });
        const be = await startGpu(cmd);
        const ctx = gpu();
        const { rows, entry } = await autotune(ctx, be, { gemm: o.only !== 'attention', attention: o.only !== 'gemm', attentionPasses: passes as FlashPass[], sizes: o.sizes, reps });
        if (!entry) {
          process.stdout.write(`${ctx.adapterInfo.description || ctx.adapterInfo.device}: a CPU adapter, whose kernels have no tile choices to tune; nothing saved.\n`);
          return;
        }
        process.stdout.write(formatTable(rows) + '\n');
        if (o.json) writeFileSync(o.json, JSON.stringify(rows, null, 2) + '\n');
        if (!o.save) return;
        if (o.sizes === 'small') {
          process.stdout.write('not saved: small sizes check that tuning works; the choices that win there say little about real ones\n');
          return;
        }
        saveTuning(ctx, entry);
        process.stdout.write(`saved for '${adapterKey(ctx)}' in ${tuningFilePath()}\n`);
      }),
    );
}
