/** `radgrad demo [--out <dir>] [--quick]`: the whole pipeline on synthetic data, nothing downloaded. */
import type { Command } from 'commander';
import { runDemo } from '../../src/demo/demo.js';
import { action, startGpu } from '../run.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('synthesize reports, train a tokenizer and a small BioGPT, LoRA fine-tune it on an int8 base, generate and score reports')
    .option('--out <dir>', 'output folder', 'radgrad-demo')
    .option('--quick', 'a smaller run (about a minute; used by the tests)')
    .addHelpText(
      'after',
      `
Needs no download: the data is synthetic (MIMIC-CXR layout), the vocabulary is learned from it and the
model is pre-trained from scratch, so the reports are only as good as a few minutes of CPU allow.

Examples:
  $ npx radgrad demo
  $ npx radgrad demo --out /tmp/demo --quick
  $ radgrad generate --model radgrad-demo/base --adapter radgrad-demo/lora/adapter --prompt "Cardiomegaly: 1; Edema: uncertain. \\nFindings:"`,
    )
    .action(
      action(async (o: { out: string; quick?: boolean }, cmd: Command) => {
        await startGpu(cmd);
        const r = await runDemo({ out: o.out, quick: !!o.quick });
        console.log(`demo finished in ${r.seconds.toFixed(0)} s`);
      }),
    );
}
