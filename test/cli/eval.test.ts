// `radgrad eval`: flag and option checks that fail before the model is loaded, and prompts that are not label lists.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { OpArgumentError, RadgradError } from '../../src/errors.js';
import { runEval } from '../../cli/commands/eval.js';
import { radgrad, SKIP_NO_TINY, tempDir, tinyModel } from '../helpers/tiny_cli.js';

test('eval --limit must be a positive integer (abc, 0, -1, 1.5 are refused, not read as 1)', async (t) => {
  const d = tempDir(t, 'evalcli');
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

test('runEval refuses numReturnSequences > 1 (one prediction per record) before loading the model, naming the argument', async (t) => {
  const d = tempDir(t, 'evalnrs');
  const data = path.join(d, 'e.jsonl');
  fs.writeFileSync(data, ['r0', 'r1'].map((id) => JSON.stringify({ id, prompt: 'Edema: 1. \nFindings:', completion: 'x' })).join('\n') + '\n');
  const o = { model: path.join(d, 'no-model'), data, out: path.join(d, 'out'), batchSize: '8', doSample: true };
  await assert.rejects(runEval({ ...o, numReturnSequences: '2' }, () => undefined), (e: unknown) =>
    e instanceof OpArgumentError && e.op === 'eval' && e.arg === 'numReturnSequences' && e.got === '2' && /one prediction per record/.test(e.expected) && /radgrad generate --num-return-sequences/.test(e.hint!));
  // n = 1 is what eval does anyway: the run goes on (here to the missing model).
  await assert.rejects(runEval({ ...o, numReturnSequences: '1' }, () => undefined), /no-model: no config\.json/);
});

// Prompts that are not CheXpert label lists: label consistency is skipped (all such prompts) or
// the run stops before the model is loaded (a set where only some are, or a label name that is
// not a CheXpert observation), and predictions are never lost.
/** tiny_biogpt with the two-word tokenizer, and an eval JSONL of the given prompts. */
function evalSetup(t: TestContext, prompts: string[]): { dir: string; model: string; data: string } {
  const { dir, model } = tinyModel(t, { prefix: 'evallabels' });
  const data = path.join(dir, 'e.jsonl');
  fs.writeFileSync(data, prompts.map((prompt, i) => JSON.stringify({ id: `r${i}`, prompt, completion: ' a b a' })).join('\n') + '\n');
  return { dir, model, data };
}
const evalCli = (...args: string[]) => radgrad('eval', ...args);
/** runEval's error on a data file of these prompts; the model is never loaded (it does not exist). */
async function labelError(t: TestContext, prompts: string[]): Promise<RadgradError> {
  const d = tempDir(t, 'evallabel');
  const data = path.join(d, 'e.jsonl');
  fs.writeFileSync(data, prompts.map((prompt, i) => JSON.stringify({ id: `r${i}`, prompt, completion: 'x' })).join('\n') + '\n');
  try {
    await runEval({ model: path.join(d, 'no-model'), data, out: path.join(d, 'out'), batchSize: '8' }, () => undefined);
  } catch (e) {
    assert.ok(e instanceof RadgradError, String(e));
    assert.equal(fs.existsSync(path.join(d, 'out')), false);
    return e;
  }
  throw new Error('runEval did not fail');
}

test('eval: prompts that are not label lists are scored on BLEU/ROUGE only, with a note; predictions are written', { skip: SKIP_NO_TINY }, (t) => {
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

test('eval: prompts with no label entry ("Findings:", the pre-training prompt) are not label lists: no label metric, with the note', { skip: SKIP_NO_TINY }, (t) => {
  const { dir, model, data } = evalSetup(t, ['Findings:', '\nFindings:']);
  const out = path.join(dir, 'out');
  const r = evalCli('--model', model, '--data', data, '--out', out, '--max-new-tokens', '3');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^\[eval\] no prompt is a CheXpert label list .* not scored/m);
  assert.doesNotMatch(r.stderr, /label micro F1/);
  const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(metrics.labelConsistency, null, 'not an F1 against an inferred "No Finding" nobody asked for');
  assert.equal(metrics.examples, 2);
});

test('eval: a set where only some prompts are label lists stops before generating, naming the record; --no-label-metrics scores it', { skip: SKIP_NO_TINY }, (t) => {
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

test('eval: a prompt with no label entry among label lists stops the run, naming the first such record', async (t) => {
  for (const empty of ['Findings:', '\nFindings:', 'Findings: The heart is enlarged.']) {
    const e = await labelError(t, ['Edema: 1. \nFindings:', empty, 'Findings:']);
    assert.match(e.message, /^record 2 \(id r1, line 2 of e\.jsonl\): its prompt is not a CheXpert label list, though other prompts are: it has no "Name: value" entry$/, JSON.stringify(empty));
    assert.match(e.hint!, /--no-label-metrics/);
  }
});

test('eval: a label name that is not a CheXpert observation stops the run, naming the record and the name, with the closest name', async (t) => {
  const e = await labelError(t, ['Edema: 1. \nFindings:', 'Cardiomegaly: 0; Edemma: 1. \nFindings:']);
  assert.equal(e.message, 'record 2 (id r1, line 2 of e.jsonl): its prompt\'s label "Edemma" is not a CheXpert observation');
  assert.match(e.hint!, /^did you mean "Edema"\?.*--no-label-metrics/);
  // Even when every prompt has it (the run would otherwise score a finding the labeler never reports).
  const all = await labelError(t, ['pleural efusion: 1. \nFindings:', 'Pleural Efusion: 0. \nFindings:']);
  assert.match(all.message, /^record 1 .*label "pleural efusion" is not a CheXpert observation$/);
  assert.match(all.hint!, /^did you mean "Pleural Effusion"\?/);
});
