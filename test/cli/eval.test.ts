// `radgrad eval`: flag checks that fail before the model is loaded, and prompts that are not label lists.
import { test, type TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RadgradError } from '../../src/errors.js';
import { runEval } from '../../cli/commands/eval.js';
import { packageRoot, sharedPath } from '../../src/util/paths.js';

test('eval --limit must be a positive integer (abc, 0, -1, 1.5 are refused, not read as 1)', async (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-evalcli-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  const data = path.join(d, 'e.jsonl');
  fs.writeFileSync(data, JSON.stringify({ id: 'a', prompt: 'Edema: 1. \nFindings:', completion: 'x' }) + '\n');
  for (const limit of ['abc', '0', '-1', '1.5', '']) {
    await assert.rejects(
      runEval({ model: path.join(d, 'no-model'), data, out: path.join(d, 'out'), limit, batchSize: '8' }, () => undefined),
      (e: unknown) => e instanceof RadgradError && e.message === `--limit must be a positive integer, got ${JSON.stringify(limit)}` && /--limit 32/.test(e.hint!),
      `--limit ${limit}`,
    );
  }
  assert.equal(fs.existsSync(path.join(d, 'out')), false);
});

// Prompts that are not CheXpert label lists: label consistency is skipped (all such prompts) or
// the run stops before generating (a set where only some parse), and predictions are never lost.
const tiny = sharedPath('golden', 'tiny_biogpt');
function evalCli(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(packageRoot(), 'cli/index.ts'), 'eval', ...args], { cwd: packageRoot(), encoding: 'utf8', timeout: 120_000 });
}
/** tiny_biogpt with a two-word tokenizer whose ids fit its vocabulary, and an eval JSONL of the given prompts. */
function evalSetup(t: TestContext, prompts: string[]): { dir: string; model: string; data: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-evallabels-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const model = path.join(dir, 'model');
  fs.mkdirSync(model);
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(tiny!, f), path.join(model, f));
  fs.writeFileSync(path.join(model, 'vocab.json'), JSON.stringify({ '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, 'a</w>': 4, 'b</w>': 5 }));
  fs.writeFileSync(path.join(model, 'merges.txt'), '#version: 0.2\n');
  const data = path.join(dir, 'e.jsonl');
  fs.writeFileSync(data, prompts.map((prompt, i) => JSON.stringify({ id: `r${i}`, prompt, completion: ' a b a' })).join('\n') + '\n');
  return { dir, model, data };
}

test('eval: prompts that are not label lists are scored on BLEU/ROUGE only, with a note; predictions are written', { skip: !tiny && 'shared/golden/tiny_biogpt is absent' }, (t) => {
  const { dir, model, data } = evalSetup(t, ['Indication: cough. \nFindings:', 'History: fever. \nFindings:']);
  const out = path.join(dir, 'out');
  const r = evalCli('--model', model, '--data', data, '--out', out, '--max-new-tokens', '3');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^\[eval\] no prompt is a CheXpert label list .* not scored \(BLEU-4 and ROUGE-L are\)$/m);
  const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(metrics.labelConsistency, null);
  assert.equal(typeof metrics.bleu4, 'number');
  assert.equal(fs.readFileSync(path.join(out, 'predictions.jsonl'), 'utf8').trim().split('\n').length, 2);
});

test('eval: a set where only some prompts are label lists stops before generating, naming the record; --no-label-metrics scores it', { skip: !tiny && 'shared/golden/tiny_biogpt is absent' }, (t) => {
  const { dir, model, data } = evalSetup(t, ['Edema: 1. \nFindings:', 'Edema: maybe. \nFindings:']);
  const out = path.join(dir, 'out');
  const r = evalCli('--model', model, '--data', data, '--out', out, '--max-new-tokens', '3');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: record 2 \(id r1, line 2 of e\.jsonl\): its prompt is not a CheXpert label list, though other prompts are: .*"maybe"/m);
  assert.match(r.stderr, /^hint: .*--no-label-metrics/m);
  assert.doesNotMatch(r.stderr, /generated/, 'nothing was generated');
  assert.equal(fs.existsSync(out), false);
  const ok = evalCli('--model', model, '--data', data, '--out', out, '--max-new-tokens', '3', '--no-label-metrics');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as Record<string, unknown>).labelConsistency, null);
});
