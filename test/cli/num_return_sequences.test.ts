// `radgrad generate --num-return-sequences n` (and num_return_sequences in generation_config.json):
// one --json record per sequence with prompt_index and rank (and score for beams), a header and
// numbered lines without --json, samples that do not change with --batch-size, transformers'
// refusals, and eval listing the file's num_return_sequences as not used.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot, sharedPath } from '../../src/util/paths.js';

const root = packageRoot();
function radgrad(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/index.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
}
const tiny = sharedPath('golden', 'tiny_biogpt');
const SKIP = !tiny && 'shared/golden/tiny_biogpt is absent';
const lines = (r: ReturnType<typeof radgrad>) => r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

/** tiny_biogpt with a tokenizer whose ids fit its 512 (a one-letter word is one token) and a generation_config.json. */
function setup(t: TestContext, gc: Record<string, unknown>): { dir: string; model: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-nrs-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'model');
  fs.mkdirSync(model);
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(tiny!, f), path.join(model, f));
  fs.writeFileSync(path.join(model, 'generation_config.json'), JSON.stringify(gc));
  fs.writeFileSync(path.join(model, 'vocab.json'), JSON.stringify({ '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, 'a</w>': 4, 'b</w>': 5 }));
  fs.writeFileSync(path.join(model, 'merges.txt'), '#version: 0.2\n');
  return { dir, model };
}

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
  assert.match(greedy.stderr, /^error: generate: argument 'numReturnSequences' expected 1 with greedy decoding .*, got 2$/m);
  assert.match(greedy.stderr, /^hint: .*--do-sample.*--num-beams >= n/m);
});

test('generate samples n per prompt from a file: prompt_index / rank records, the same with any --batch-size; text output numbered', { skip: SKIP }, (t) => {
  const { dir, model } = setup(t, { do_sample: true, top_k: 0, temperature: 1.5, num_return_sequences: 2 });
  const file = path.join(dir, 'p.jsonl');
  fs.writeFileSync(file, ['a', 'a b a', 'b'].map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
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
