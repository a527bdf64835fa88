#!/usr/bin/env node
/** The radgrad command line. Each subcommand lives in cli/commands/<name>.ts. */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/util/paths.js';
import { reportError } from './run.js';
import { register as info } from './commands/info.js';
import { register as tokenize } from './commands/tokenize.js';
import { register as synth } from './commands/synth.js';
import { register as prep } from './commands/prep.js';
import { register as train } from './commands/train.js';
import { register as pretrain } from './commands/pretrain.js';
import { register as merge } from './commands/merge.js';
import { register as generate } from './commands/generate.js';
import { register as evalCmd } from './commands/eval.js';
import { register as demo } from './commands/demo.js';
import { register as score } from './commands/score.js';
import { register as bench } from './commands/bench.js';
import { register as tune } from './commands/tune.js';

const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };

const program = new Command()
  .name('radgrad')
  .description('Autograd on WebGPU and BioGPT LoRA fine-tuning for radiology reports')
  .version(pkg.version)
  .option('--adapter <name>', 'pick the WebGPU adapter whose name contains <name> (env RADGRAD_ADAPTER)')
  .option('--unsafe-gpu-features', 'enable Dawn unsafe APIs: shader-f16 and subgroup matrices on NVIDIA')
  // Global flags go before the subcommand, so `merge --adapter <dir>` (a LoRA adapter) never
  // collides with the root `--adapter <name>` (a GPU adapter).
  .enablePositionalOptions()
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', '\nStart with:\n  $ radgrad demo            # the whole pipeline on synthetic data, nothing downloaded\n  $ radgrad info            # which GPU adapter radgrad sees');

for (const register of [demo, synth, prep, tokenize, score, pretrain, train, generate, evalCmd, merge, bench, tune, info]) register(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // Commands without the action() wrapper land here: same message + hint, non-zero exit.
  reportError(e);
}
