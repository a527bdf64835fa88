// Generation flags and the model folder's generation_config.json in `radgrad generate` / `eval`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { addGenerationOptions, generationOptions, type GenFlags } from '../../cli/commands/gen_common.js';

/** The options commander gives a command with the generation flags, as generationOptions reads them. */
function parseFlags(args: string[]) {
  const cmd = addGenerationOptions(new Command('generate').exitOverride(), 64);
  cmd.parse(args, { from: 'user' });
  return generationOptions(cmd.opts<GenFlags>(), 64);
}

test('--no-repeat-ngram-size <n> reaches the options (commander files a --no- flag under repeatNgramSize)', () => {
  assert.equal(parseFlags(['--no-repeat-ngram-size', '3']).noRepeatNgramSize, 3);
  assert.equal(parseFlags([]).noRepeatNgramSize, undefined);
  assert.throws(() => parseFlags(['--no-repeat-ngram-size', 'x']), /--no-repeat-ngram-size must be an integer/);
});
