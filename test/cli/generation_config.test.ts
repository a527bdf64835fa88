// Generation flags and the model folder's generation_config.json in `radgrad generate` / `eval`.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';
import { radgrad, SKIP_NO_TINY as SKIP, TINY as tiny, tinyModel, writeTinyTokenizer } from '../helpers/tiny_cli.js';
import { addGenerationOptions, generationOptions, inCliWords, optionFlag, withFlags, type GenFlags } from '../../cli/commands/gen_common.js';
import { OpArgumentError, RadgradError } from '../../src/errors.js';

/** The options commander gives a command with the generation flags, as generationOptions reads them. */
function parseFlags(args: string[]) {
  const cmd = addGenerationOptions(new Command('generate').exitOverride(), 64);
  cmd.parse(args, { from: 'user' });
  return generationOptions(cmd.opts<GenFlags>());
}

test('--no-repeat-ngram-size <n> reaches the options (commander files a --no- flag under repeatNgramSize)', () => {
  assert.equal(parseFlags(['--no-repeat-ngram-size', '3']).noRepeatNgramSize, 3);
  assert.equal(parseFlags([]).noRepeatNgramSize, undefined);
  assert.throws(() => parseFlags(['--no-repeat-ngram-size', 'x']), /--no-repeat-ngram-size must be an integer/);
});

/** tiny_biogpt's weights in a temporary folder, with the given generation_config.json. */
const modelWith = (t: TestContext, gc: Record<string, unknown>) => tinyModel(t, { prefix: 'gencfg-cli', generationConfig: gc, tokenizer: false });
const ids = (r: ReturnType<typeof radgrad>) => (JSON.parse(r.stdout) as { sequence: number[] }).sequence;
const PROMPT = ['--prompt-ids', '2,17,45,300', '--json'];

test('generate decodes with generation_config.json as with the same flags, says what it took, and names unsupported keys', { skip: SKIP }, (t) => {
  const { model } = modelWith(t, {
    num_beams: 3, no_repeat_ngram_size: 2, max_length: 12, temperature: 0.7, min_length: 5, typical_p: 1.0,
    eos_token_id: 2, pad_token_id: 1, bos_token_id: 0, transformers_version: '5.17.0', _from_model_config: false,
  });
  const r = radgrad('generate', '--model', model, ...PROMPT);
  assert.equal(r.status, 0, r.stderr);
  // The same decoding, asked for with flags on the golden folder (whose generation_config.json sets only ids).
  const byFlags = radgrad('generate', '--model', tiny!, ...PROMPT, '--num-beams', '3', '--no-repeat-ngram-size', '2', '--max-length', '12');
  assert.equal(byFlags.status, 0, byFlags.stderr);
  assert.deepEqual(ids(r), ids(byFlags));
  assert.equal(ids(r).length, 12, 'max_length counts the prompt');
  const greedy = radgrad('generate', '--model', tiny!, ...PROMPT, '--max-length', '12');
  assert.notDeepEqual(ids(greedy), ids(r), 'the file changes the decoding (else this test proves nothing)');
  assert.match(r.stderr, /^\[generate\] defaults taken from generation_config\.json: num_beams=3, no_repeat_ngram_size=2, max_length=12, eos_token_id=2, pad_token_id=1; not used: temperature \(do_sample is false\)$/m);
  assert.match(r.stderr, /^\[generate\] warning: generation_config\.json sets a key radgrad does not implement, ignored, so decoding can differ from transformers: min_length=5$/m);
  assert.doesNotMatch(r.stderr, /transformers_version|_from_model_config|bos_token_id|typical_p/);
  assert.match(byFlags.stderr, /^\[generate\] defaults taken from generation_config\.json: eos_token_id=2, pad_token_id=1$/m);
  assert.doesNotMatch(byFlags.stderr, /warning/);
  // Flags win over the file.
  const over = radgrad('generate', '--model', model, ...PROMPT, '--num-beams', '1', '--max-new-tokens', '3');
  assert.equal(over.status, 0, over.stderr);
  const overByFlags = radgrad('generate', '--model', tiny!, ...PROMPT, '--no-repeat-ngram-size', '2', '--max-new-tokens', '3');
  assert.deepEqual(ids(over), ids(overByFlags));
  assert.match(over.stderr, /defaults taken from generation_config\.json: no_repeat_ngram_size=2, eos_token_id=2, pad_token_id=1; overridden by flags: num_beams, max_length;/);
});

test('generate: a generation_config.json value generate() cannot use stops the run with the file, the key and a hint', { skip: SKIP }, (t) => {
  const { model } = modelWith(t, { num_beams: 0 });
  const r = radgrad('generate', '--model', model, ...PROMPT);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: .*generation_config\.json: num_beams must be an integer in \[1, 64\], got 0$/m);
  assert.match(r.stderr, /^hint: fix num_beams in .*generation_config\.json, or override it with --num-beams$/m);
});

test('generate: a generation_config.json setting generate() refuses (beam sampling) names the file\'s key, the flag, and the override', { skip: SKIP }, (t) => {
  const { model } = modelWith(t, { num_beams: 2, do_sample: true });
  const r = radgrad('generate', '--model', model, ...PROMPT);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: generate: do_sample true from generation_config\.json \(--do-sample\) expected false with --num-beams 2 \(beam sampling is not supported\), got true$/m);
  assert.match(r.stderr, /^hint: beam search without --do-sample, or sampling with --num-beams 1; or override the file with --no-do-sample$/m);
  const ok = radgrad('generate', '--model', model, ...PROMPT, '--no-do-sample', '--max-new-tokens', '2');
  assert.equal(ok.status, 0, ok.stderr);
});

test('eval takes generation_config.json too: metrics.json records it, and its length limit is checked against the prompts by name', { skip: SKIP }, (t) => {
  const { dir, model } = modelWith(t, { num_beams: 2, max_length: 24, do_sample: false });
  writeTinyTokenizer(model);
  const data = path.join(dir, 'ev.jsonl');
  fs.writeFileSync(data, JSON.stringify({ id: 'r1', prompt: 'Edema: 1. \nFindings:', completion: 'a b' }) + '\n');
  const out = path.join(dir, 'out');
  const r = radgrad('eval', '--model', model, '--data', data, '--out', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^\[eval\] defaults taken from generation_config\.json: num_beams=2, max_length=24, do_sample=false$/m);
  const m = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as { generation: Record<string, unknown>; generationConfig: string[] };
  assert.deepEqual(m.generation, { maxLength: 24, numBeams: 2, doSample: false });
  assert.deepEqual(m.generationConfig, ['num_beams=2', 'max_length=24', 'do_sample=false']);
  const p = JSON.parse(fs.readFileSync(path.join(out, 'predictions.jsonl'), 'utf8').split('\n')[0]!) as { prompt: string; ids: number[] };
  const promptTokens = BioGptTokenizer.fromDir(model).encode(p.prompt).length;
  assert.ok(promptTokens < 24 && p.ids.length >= 1 && p.ids.length <= 24 - promptTokens, `max_length 24 total: ${promptTokens} + ${p.ids.length} new tokens`);
  // A prompt as long as max_length: nothing is generated, the record and the file's key are named.
  fs.writeFileSync(data, JSON.stringify({ id: 'long', prompt: 'Edema: 1. \nFindings: a a a a a a a a a a', completion: 'a' }) + '\n');
  const bad = radgrad('eval', '--model', model, '--data', data, '--out', path.join(dir, 'out2'));
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /^error: eval: a prompt of 24 tokens or more with max_length 24 \(generation_config\.json\), which counts the prompt: no room for a new token \(record 1 \(id long, line 1 of ev\.jsonl\): \d+ tokens\)$/m);
  assert.match(bad.stderr, /^hint: raise --max-length above \d+, or give --max-new-tokens/m);
  assert.equal(fs.existsSync(path.join(dir, 'out2')), false);
  // --max-new-tokens replaces the file's limit.
  const ok = radgrad('eval', '--model', model, '--data', data, '--out', path.join(dir, 'out3'), '--max-new-tokens', '2');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /overridden by flags: max_length/);
});

test('--max-length and --max-new-tokens together are refused before the model loads', () => {
  assert.throws(() => parseFlags(['--max-length', '20', '--max-new-tokens', '5']), /give --max-new-tokens or --max-length, not both/);
  assert.deepEqual(parseFlags(['--max-length', '20']), { maxLength: 20 });
  assert.deepEqual(parseFlags(['--no-do-sample']), { doSample: false });
  assert.deepEqual(parseFlags([]), {});
});

test('generate() option errors in the CLI\'s words: flags for field names, the file\'s key when the value came from it (no GPU)', () => {
  assert.equal(optionFlag('numReturnSequences'), '--num-return-sequences');
  assert.equal(optionFlag('topK'), '--top-k');
  assert.equal(withFlags('raise numBeams to 3 or more, or lower numReturnSequences; the seed and temperature stay words'),
    'raise --num-beams to 3 or more, or lower --num-return-sequences; the seed and temperature stay words');
  const e = Object.assign(new OpArgumentError('generate', 'numReturnSequences', '1 with greedy decoding', '3'), { hint: 'sample n sequences (doSample) or keep the n best beams (numBeams >= n)' });
  const byFlag = inCliWords('generate', e, { numReturnSequences: 3 }, ['num_return_sequences=3']);
  assert.ok(byFlag instanceof RadgradError);
  assert.equal(byFlag.message, 'generate: --num-return-sequences expected 1 with greedy decoding, got 3');
  assert.equal(byFlag.hint, 'sample n sequences (--do-sample) or keep the n best beams (--num-beams >= n)');
  const byFile = inCliWords('generate', e, {}, ['do_sample=false', 'num_return_sequences=3']) as RadgradError;
  assert.equal(byFile.message, 'generate: num_return_sequences 3 from generation_config.json (--num-return-sequences) expected 1 with greedy decoding, got 3');
  assert.match(byFile.hint!, /; or override the file with --num-return-sequences 1$/);
  const other = new Error('x');
  assert.equal(inCliWords('generate', other, {}, []), other, 'other errors pass through');
});
