/** `radgrad bench [names...]`: runs bench/*.bench.ts (the same runner as `npm run bench`). */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { RadgradError } from '../../src/errors.js';
import { packageRoot } from '../../src/util/paths.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('bench')
    .description('run the benchmarks (ops, kernels, tokenizer, checkpoint, ...) and print tables')
    .argument('[names...]', 'run only bench files whose name contains one of these words')
    .option('--json <file>', 'also write every row as JSON')
    .addHelpText('after', '\nExample:\n  $ radgrad bench ops kernels\n  $ radgrad bench tokenizer --json bench.json')
    .action(
      action(async (names: string[], o: { json?: string }) => {
        const root = packageRoot();
        const runner = path.join(root, 'bench', 'run.ts');
        let tsx: string | undefined;
        try {
          tsx = createRequire(path.join(root, 'package.json')).resolve('tsx');
        } catch {
          tsx = undefined;
        }
        if (!existsSync(runner) || !tsx) {
          throw new RadgradError('benchmarks run from a source checkout with dev dependencies', {
            hint: 'clone the repository, run `npm run setup`, then `npx radgrad bench` (or `npm run bench`)',
          });
        }
        const args = ['--import', 'tsx', runner, ...names, ...(o.json ? ['--json', path.resolve(o.json)] : [])];
        const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
        if (r.status !== 0) throw new RadgradError(`benchmark runner exited with ${r.status ?? r.signal}`);
      }),
    );
}
