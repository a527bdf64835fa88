// `radgrad generate --num-return-sequences n` (and num_return_sequences in generation_config.json):
// one --json record per sequence with prompt_index and rank (and score for beams), a header and
// numbered lines without --json, samples that do not change with --batch-size (exactly so here:
// float32 on the tiny model; batch shapes round logits differently, which could change a token
// elsewhere), transformers' refusals worded with the flags or the file's key, and eval listing the
// file's num_return_sequences as not used.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { radgrad, SKIP_NO_TINY as SKIP, TINY as tiny, tinyModel } from '../helpers/tiny_cli.js';

const lines = (r: ReturnType<typeof radgrad>) => r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
/** tiny_biogpt with the two-word tokenizer and a generation_config.json. */
const setup = (t: TestContext, gc: Record<string, unknown>) => tinyModel(t, { prefix: 'nrs', generationConfig: gc });

test('generate --num-return-sequences: beams as ranked records with descending scores; greedy n > 1 refused with the flag named', { skip: SKIP }, () => {
  const args = ['generate', '--model', tiny!, '--prompt-ids', '2,17,45,300', '--max-new-tokens', '8', '--num-beams', '4', '--json'];
  const one = radgrad(...args);
  assert.equal(one.status, 0, one.stderr);
  const [single] = lines(one);
  assert.deepEqual(Object.keys(single!), ['prompt_ids', 'ids', 'sequence'], 'n = 1 keeps its record');
  const r = radgrad(...args, '--num-return-sequences', '3');
  assert.equal(r.status, 0, r.stderr);
  const recs = lines(r);
  assert.equal(recs.length, 3);
  assert.deepEqual(recs.map((x) => [x.prompt_index, x.rank]), [[0, 0], [0, 1], [0, 2]]);
  const scores = recs.map((x) => x.score as number);
  assert.ok(scores[0]! >= scores[1]! && scores[1]! >= scores[2]!, `scores descend: ${scores}`);
  assert.deepEqual(recs[0]!.ids, single!.ids, 'rank 0 is the n = 1 answer');
  const greedy = radgrad('generate', '--model', tiny!, '--prompt-ids', '2,17,45,300', '--num-return-sequences', '2');
  assert.notEqual(greedy.status, 0);
  assert.match(greedy.stderr, /^error: generate: --num-return-sequences expected 1 with greedy decoding .*, got 2$/m);
  assert.match(greedy.stderr, /^hint: sample n sequences \(--do-sample\) or keep the n best beams \(--num-beams >= n\)$/m);
  const beams = radgrad('generate', '--model', tiny!, '--prompt-ids', '2,17,45,300', '--num-beams', '2', '--num-return-sequences', '3');
  assert.notEqual(beams.status, 0);
  assert.match(beams.stderr, /^error: generate: --num-return-sequences expected at most --num-beams \(2\): .*, got 3$/m);
  assert.match(beams.stderr, /^hint: raise --num-beams to 3 or more, or lower --num-return-sequences$/m);
});

test('generate: a num_return_sequences from generation_config.json that cannot be used names the file key and the flag, and hints --num-return-sequences 1', { skip: SKIP }, (t) => {
  const { model } = setup(t, { do_sample: true, num_return_sequences: 3 });
  const base = ['generate', '--model', model, '--prompt-ids', '2,17,45,300', '--max-new-tokens', '4', '--no-do-sample'];
  const greedy = radgrad(...base);
  assert.notEqual(greedy.status, 0);
  assert.match(greedy.stderr, /^error: generate: num_return_sequences 3 from generation_config\.json \(--num-return-sequences\) expected 1 with greedy decoding .*, got 3$/m);
  assert.match(greedy.stderr, /^hint: .*\(--do-sample\).*\(--num-beams >= n\); or override the file with --num-return-sequences 1$/m);
  const beams = radgrad(...base, '--num-beams', '2');
  assert.notEqual(beams.status, 0);
  assert.match(beams.stderr, /^error: generate: num_return_sequences 3 from generation_config\.json \(--num-return-sequences\) expected at most --num-beams \(2\)/m);
  assert.match(beams.stderr, /--num-return-sequences 1$/m);
  // The override the hint gives works.
  const ok = radgrad(...base, '--num-return-sequences', '1', '--json');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stderr, /overridden by flags: .*num_return_sequences/);
});

test('generate --help: what --batch-size holds with n, and what can change a sample', () => {
  const r = radgrad('generate', '--help');
  assert.equal(r.status, 0, r.stderr);
  const help = r.stdout.replace(/\s+/g, ' ');
  assert.match(help, /--batch-size <n> .*a batch decodes batch-size × n sequences with --num-return-sequences n \(batch-size × --num-beams with beam search\)/);
  assert.match(help, /its random draws do not depend on --batch-size or n\. Its tokens can still differ with them through the logits/);
  assert.match(help, /--int8 finds its outlier columns over the whole batch/);
  assert.match(help, /n itself has no upper bound/);
  assert.doesNotMatch(help, /so it does not change with --batch-size or n/);
});

test('generate samples n per prompt from a file: prompt_index / rank records, the same with any --batch-size; text output numbered', { skip: SKIP }, (t) => {
  const { dir, model } = setup(t, { do_sample: true, top_k: 0, temperature: 1.5, num_return_sequences: 2 });
  const file = path.join(dir, 'p.jsonl');
  // With a UTF-8 BOM and CRLF line ends, as Windows tools write JSONL (readJsonl accepts both too).
  fs.writeFileSync(file, '\uFEFF' + ['a', 'a b a', 'b'].map((p) => JSON.stringify({ prompt: p })).join('\r\n') + '\r\n');
  const args = ['generate', '--model', model, '--prompts', file, '--max-new-tokens', '6', '--seed', '5'];
  const r = radgrad(...args, '--json', '--batch-size', '2');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /defaults taken from generation_config\.json: do_sample=true, top_k=0, temperature=1\.5, num_return_sequences=2/);
  const recs = lines(r);
  assert.deepEqual(recs.map((x) => [x.prompt, x.prompt_index, x.rank]), [['a', 0, 0], ['a', 0, 1], ['a b a', 1, 0], ['a b a', 1, 1], ['b', 2, 0], ['b', 2, 1]]);
  assert.ok(recs.every((x) => !('score' in x)), 'no score when sampling');
  for (const p of [0, 1, 2]) assert.notDeepEqual(recs[2 * p]!.ids, recs[2 * p + 1]!.ids, `prompt ${p}: two different samples`);
  const other = radgrad(...args, '--json', '--batch-size', '3');
  assert.equal(other.status, 0, other.stderr);
  assert.deepEqual(lines(other).map((x) => x.ids), recs.map((x) => x.ids), 'a prompt samples the same whatever batch it is in');
  const text = radgrad(...args, '--batch-size', '3');
  assert.equal(text.status, 0, text.stderr);
  assert.deepEqual(text.stdout.split('\n').filter((l) => l.startsWith('###')), ['### 1: a', '### 2: a b a', '### 3: b']);
  assert.equal(text.stdout.split('\n').filter((l) => /^[12]: /.test(l)).length, 6);
});

test('eval lists a generation_config.json num_return_sequences as not used and scores one prediction per record', { skip: SKIP }, (t) => {
  const { dir, model } = setup(t, { num_beams: 2, num_return_sequences: 2 });
  const data = path.join(dir, 'ev.jsonl');
  fs.writeFileSync(data, ['r1', 'r2'].map((id) => JSON.stringify({ id, prompt: 'Edema: 1. \nFindings:', completion: 'a b' })).join('\n') + '\n');
  const out = path.join(dir, 'out');
  const r = radgrad('eval', '--model', model, '--data', data, '--out', out, '--max-new-tokens', '3');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^\[eval\] defaults taken from generation_config\.json: num_beams=2; not used: num_return_sequences \(eval scores one prediction per record\)$/m);
  assert.equal(fs.readFileSync(path.join(out, 'predictions.jsonl'), 'utf8').trim().split('\n').length, 2);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')).examples, 2);
});
