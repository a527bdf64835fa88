// Prompts that do not fit the model's positions (tiny model: 64) are found before anything is
// generated: eval and generate name the record or prompt (id, line), say whether the prompt alone
// is too long or only with --max-new-tokens, and hint at a length that fits.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';
import { radgrad, SKIP_NO_TINY as SKIP, TINY as model, tempDir, writeTinyTokenizer } from '../helpers/tiny_cli.js';

/** A folder with tok/, the two-word tokenizer (ids that fit the tiny model's 512). */
function setup(t: TestContext): string {
  const d = tempDir(t, 'plen');
  writeTinyTokenizer(path.join(d, 'tok'));
  return d;
}
const words = (n: number) => Array.from({ length: n }, () => 'a').join(' ');
/** A label prompt as eval's metrics expect, made longer by n one-token words. */
const labelPrompt = (n: number) => `Edema: 1. \nFindings:${n ? ' ' + words(n) : ''}`;
const rec = (id: string, n: number) => JSON.stringify({ id, prompt: labelPrompt(n), completion: 'a b' });
const count = (d: string, n: number) => BioGptTokenizer.fromDir(path.join(d, 'tok')).encode(labelPrompt(n)).length;

test('eval: a prompt longer than the model stops the run before any generation, naming record, id and line', { skip: SKIP }, (t) => {
  const d = setup(t);
  const data = path.join(d, 'ev.jsonl');
  fs.writeFileSync(data, [rec('r1', 0), '', rec('r2', 1), rec('r3', 70)].join('\n') + '\n');
  const out = path.join(d, 'ev-out');
  const r = radgrad('eval', '--model', model!, '--tokenizer', path.join(d, 'tok'), '--data', data, '--batch-size', '1', '--max-new-tokens', '4', '--out', out);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: eval: a prompt fills the model's 64 positions \(max_position_embeddings\) on its own, leaving no room for a new token \(record 3 \(id r3, line 4 of ev\.jsonl\): (\d+) tokens\)$/m);
  assert.match(r.stderr, new RegExp(`record 3 .*: ${count(d, 70)} tokens`));
  assert.match(r.stderr, /^hint: prompts must be at most 63 tokens/m);
  assert.doesNotMatch(r.stderr, /\[eval\] \d+\/\d+ generated/, 'nothing was generated');
  assert.equal(fs.existsSync(out), false);
  // Fits alone, not with --max-new-tokens: the hint gives the largest value that fits every prompt.
  fs.writeFileSync(data, [rec('r1', 0), rec('r2', 40)].join('\n') + '\n');
  const m = radgrad('eval', '--model', model!, '--tokenizer', path.join(d, 'tok'), '--data', data, '--max-new-tokens', '30', '--out', out);
  assert.notEqual(m.status, 0);
  assert.match(m.stderr, /^error: eval: a prompt \+ --max-new-tokens 30 exceed the model's 64 positions .*\(record 2 \(id r2, line 2 of ev\.jsonl\): (\d+) tokens\)/m);
  const n40 = count(d, 40);
  assert.match(m.stderr, new RegExp(`record 2 .*: ${n40} tokens`));
  assert.match(m.stderr, new RegExp(`^hint: lower --max-new-tokens to ${64 - n40} `, 'm'));
  // Prompts that fit are evaluated as before.
  const ok = radgrad('eval', '--model', model!, '--tokenizer', path.join(d, 'tok'), '--data', data, '--max-new-tokens', '2', '--out', out);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')).examples, 2);
});

test('generate: a prompt that alone fills the positions says so (ids, --prompts line)', { skip: SKIP }, (t) => {
  const ids = Array.from({ length: 70 }, (_, i) => 4 + i).join(',');
  const r = radgrad('generate', '--model', model!, '--prompt-ids', ids, '--max-new-tokens', '8');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: generate: a prompt fills the model's 64 positions \(max_position_embeddings\) on its own, leaving no room for a new token \(the --prompt-ids prompt: 70 tokens\)$/m);
  assert.match(r.stderr, /^hint: prompts must be at most 63 tokens: shorten or remove it; nothing was generated$/m);
  const d = setup(t);
  const file = path.join(d, 'p.jsonl');
  fs.writeFileSync(file, [JSON.stringify({ prompt: 'a' }), JSON.stringify({ prompt: words(80) })].join('\n') + '\n');
  const p = radgrad('generate', '--model', model!, '--tokenizer', path.join(d, 'tok'), '--prompts', file, '--max-new-tokens', '4');
  assert.notEqual(p.status, 0);
  assert.match(p.stderr, /a prompt fills the model's 64 positions .*\(prompt 2 \(line 2 of .*p\.jsonl\): 81 tokens\)/);
  assert.equal(p.stdout, '', 'nothing was generated for the first prompt either');
});

test('generate: --max-length above the positions gets one message and hint on every path (--prompts, --prompt-ids)', { skip: SKIP }, (t) => {
  const d = setup(t);
  const file = path.join(d, 'p.jsonl');
  fs.writeFileSync(file, JSON.stringify({ prompt: 'a b' }) + '\n');
  const byText = radgrad('generate', '--model', model!, '--tokenizer', path.join(d, 'tok'), '--prompts', file, '--max-length', '100');
  const byIds = radgrad('generate', '--model', model!, '--prompt-ids', '2,4,5', '--max-length', '100');
  for (const r of [byText, byIds]) {
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^error: generate: --max-length 100 exceeds the model's 64 positions \(max_position_embeddings\)$/m);
    assert.match(r.stderr, /^hint: lower --max-length to 64 or less, or give --max-new-tokens; nothing was generated$/m);
    assert.doesNotMatch(r.stderr, /maxNewTokens|maxLength/, 'no API names in a CLI error');
  }
  // A prompt + --max-new-tokens over the positions, from ids: the flag given, never an API name.
  const over = radgrad('generate', '--model', model!, '--prompt-ids', '2,4,5', '--max-new-tokens', '62');
  assert.notEqual(over.status, 0);
  assert.match(over.stderr, /^error: generate: a prompt \+ --max-new-tokens 62 exceed the model's 64 positions .*\(the --prompt-ids prompt: 3 tokens\)$/m);
  assert.match(over.stderr, /^hint: lower --max-new-tokens to 61 /m);
});
