// `merge --out` and `pretrain --out` never delete or replace what is already there: a non-empty
// folder is refused unless --force (then only the files written are replaced), a file (or a path
// below one) is refused, and --out may not be the base model, the adapter or the tokenizer folder.
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
function tmp(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-outdir-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}
/** A folder a user cares about: a file and a subfolder. */
function project(dir: string): string {
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'important');
  fs.writeFileSync(path.join(dir, 'data', 'keep.jsonl'), 'x\n');
  return dir;
}
const listing = (dir: string) => fs.readdirSync(dir).sort();

const model = sharedPath('golden', 'tiny_biogpt');
const adapter = sharedPath('golden', 'tiny_lora_trained');
const SKIP = !model || !adapter ? 'shared/golden/tiny_biogpt or tiny_lora_trained is absent' : false;

test('merge refuses a non-empty --out, a file, and the adapter folder; nothing is touched', { skip: SKIP }, (t) => {
  const d = tmp(t);
  const proj = project(path.join(d, 'myproject'));
  const r = radgrad('merge', '--model', model!, '--adapter', adapter!, '--out', proj);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /error: --out .*myproject exists and is not empty \(data, notes.txt\)/);
  assert.match(r.stderr, /hint: choose a new folder, or pass --force/);
  assert.deepEqual(listing(proj), ['data', 'notes.txt']);
  const file = path.join(d, 'outfile.txt');
  fs.writeFileSync(file, 'precious');
  const f = radgrad('merge', '--model', model!, '--adapter', adapter!, '--out', file, '--force');
  assert.notEqual(f.status, 0);
  assert.match(f.stderr, /--out .*outfile.txt is a file, not a folder/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'precious');
  const a = radgrad('merge', '--model', model!, '--adapter', adapter!, '--out', adapter!, '--force');
  assert.notEqual(a.status, 0);
  assert.match(a.stderr, /--out must differ from --adapter/);
  assert.deepEqual(listing(adapter!), ['adapter_config.json', 'adapter_model.safetensors']);
});

test('merge --force writes into a non-empty folder and keeps its other files', { skip: SKIP }, (t) => {
  const proj = project(path.join(tmp(t), 'myproject'));
  const r = radgrad('merge', '--model', model!, '--adapter', adapter!, '--out', proj, '--force');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(listing(proj), ['config.json', 'data', 'generation_config.json', 'model.safetensors', 'notes.txt']);
  assert.equal(fs.readFileSync(path.join(proj, 'notes.txt'), 'utf8'), 'important');
  assert.equal(fs.readFileSync(path.join(proj, 'data', 'keep.jsonl'), 'utf8'), 'x\n');
});

test('pretrain refuses --out equal to --tokenizer and a non-empty --out before training', (t) => {
  const d = tmp(t);
  const tok = path.join(d, 'tokcopy');
  fs.mkdirSync(tok);
  fs.writeFileSync(path.join(tok, 'vocab.json'), JSON.stringify({ '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, 'a</w>': 4 }));
  fs.writeFileSync(path.join(tok, 'merges.txt'), '#version: 0.2\n');
  const data = path.join(d, 'd.jsonl');
  fs.writeFileSync(data, JSON.stringify({ prompt: 'a', completion: 'a a' }) + '\n');
  const same = radgrad('pretrain', '--tokenizer', tok, '--data', data, '--out', tok, '--force');
  assert.notEqual(same.status, 0);
  assert.match(same.stderr, /error: --out must differ from --tokenizer/);
  assert.deepEqual(listing(tok), ['merges.txt', 'vocab.json']);
  const proj = project(path.join(d, 'myproject'));
  const full = radgrad('pretrain', '--tokenizer', tok, '--data', data, '--out', proj);
  assert.notEqual(full.status, 0);
  assert.match(full.stderr, /--out .*myproject exists and is not empty/);
  assert.doesNotMatch(full.stdout, /step 1/, 'refused before any training');
  assert.deepEqual(listing(proj), ['data', 'notes.txt']);
  // a path below a file is refused before training too (mkdir would fail with ENOTDIR only at the end)
  const below = radgrad('pretrain', '--tokenizer', tok, '--data', data, '--out', path.join(proj, 'notes.txt', 'model'));
  assert.notEqual(below.status, 0);
  assert.match(below.stderr, /error: --out .*notes\.txt[/\\]model: .*notes\.txt is a file, not a folder/);
  assert.match(below.stderr, /hint: pass a folder path to --out \(it is created if missing; an existing one must be empty unless --force\)/);
  assert.doesNotMatch(below.stdout, /step 1/);
});
