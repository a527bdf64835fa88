// `radgrad train` runs on the tiny golden model (64 positions) with a two-word tokenizer.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot, sharedPath } from '../../src/util/paths.js';

const root = packageRoot();
const model = sharedPath('golden', 'tiny_biogpt');
const SKIP = !model && 'shared/golden/tiny_biogpt is absent';
const cli = (...args: string[]) => ['--import', 'tsx', path.join(root, 'cli/index.ts'), ...args];
function radgrad(...args: string[]) {
  return spawnSync(process.execPath, cli(...args), { cwd: root, encoding: 'utf8', timeout: 180_000 });
}

/** A tokenizer whose ids fit the tiny model (a one-letter word is one token) and data with examples of `words` tokens and more. */
function setup(t: TestContext, words = 20): { dir: string; tok: string; data: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-train-run-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tok = path.join(dir, 'tok');
  fs.mkdirSync(tok);
  fs.writeFileSync(path.join(tok, 'vocab.json'), JSON.stringify({ '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3, 'a</w>': 4, 'b</w>': 5 }));
  fs.writeFileSync(path.join(tok, 'merges.txt'), '#version: 0.2\n');
  const data = path.join(dir, 'd.jsonl');
  const rec = (i: number) => JSON.stringify({ id: `p${i}-s1`, prompt: 'a b a', completion: Array.from({ length: words + (i % 3) * 10 }, (_, k) => (k % 2 ? 'a' : 'b')).join(' ') });
  fs.writeFileSync(data, Array.from({ length: 12 }, (_, i) => rec(i)).join('\n') + '\n');
  return { dir, tok, data };
}
const quick = ['--max-steps', '2', '--batch-size', '2', '--grad-accum', '1', '--save-every', '0', '--eval-every', '0'];

test('--max-length above max_position_embeddings is lowered to it with a note, before step 1 (HF clamps to model_max_length)', { skip: SKIP }, (t) => {
  const { dir, tok, data } = setup(t, 70); // every example is longer than the model's 64 positions
  const r = radgrad('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', path.join(dir, 'run'), ...quick, '--no-fp16');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^note: the default --max-length 512 is more than the model's 64 positions \(max_position_embeddings in config\.json\); using --max-length 64 /m);
  assert.match(r.stderr, /train 11 examples \(11 truncated\)/);
  assert.doesNotMatch(r.stderr, /needs position/);
  const given = radgrad('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', path.join(dir, 'run2'), ...quick, '--no-fp16', '--max-length', '100');
  assert.equal(given.status, 0, given.stderr);
  assert.match(given.stderr, /^note: --max-length 100 is more than the model's 64 positions/m);
});

test('--resume to a missing or wrong folder lists the checkpoint-* folders of --out (or says there are none); a missing --model says so', { skip: SKIP }, (t) => {
  const { dir, tok, data } = setup(t);
  const out = path.join(dir, 'run');
  for (const c of ['checkpoint-4', 'checkpoint-12', 'checkpoint-2']) fs.mkdirSync(path.join(out, c), { recursive: true });
  const miss = radgrad('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', out, '--resume', path.join(out, 'checkpoint-99'));
  assert.notEqual(miss.status, 0);
  assert.match(miss.stderr, /^error: --resume .*checkpoint-99: no such checkpoint folder; --out .*run holds checkpoint-2, checkpoint-4, checkpoint-12$/m);
  assert.match(miss.stderr, /^hint: continue from a checkpoint-<step> folder, e.g. the newest: --resume .*run\/checkpoint-12$/m);
  const empty = path.join(dir, 'empty');
  const none = radgrad('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', empty, '--resume', path.join(empty, 'checkpoint-5'));
  assert.match(none.stderr, /^error: --resume .*checkpoint-5: no such checkpoint folder; --out .*empty does not exist$/m);
  assert.match(none.stderr, /^hint: checkpoints are saved every --save-every steps/m);
  // an adapter folder is not a checkpoint: said so, before --out is created
  const adapter = path.join(dir, 'other', 'adapter');
  fs.mkdirSync(adapter, { recursive: true });
  const other = path.join(dir, 'fresh');
  const wrong = radgrad('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', other, '--resume', adapter);
  assert.match(wrong.stderr, /^error: --resume .*adapter: not a radgrad training checkpoint \(no trainer_state\.json; an adapter\/ folder cannot be resumed\); --out .*fresh does not exist; its folder .*other holds no checkpoint-\* folders$/m);
  assert.equal(fs.existsSync(other), false, '--out not created');
  // --model missing, with the tokenizer given separately (so the tokenizer check cannot catch it)
  const nomodel = radgrad('train', '--model', path.join(dir, 'no-model'), '--tokenizer', tok, '--data', data, '--out', out);
  assert.match(nomodel.stderr, /^error: --model .*no-model: no such folder$/m);
  assert.match(nomodel.stderr, /^hint: pass a Hugging Face BioGPT folder/m);
});

test('Ctrl-C saves a checkpoint and exits with status 130, so `train && merge` stops', { skip: SKIP }, async (t) => {
  const { dir, tok, data } = setup(t);
  const out = path.join(dir, 'run');
  const child = spawn(process.execPath, cli('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', out, '--max-steps', '500', '--batch-size', '2', '--grad-accum', '1', '--save-every', '0', '--eval-every', '0', '--no-fp16', '--json'), { cwd: root });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no step within 120 s:\n${stderr}`));
    }, 120_000);
    child.stdout.on('data', (d: Buffer) => {
      const first = !/"step":1\b/.test(stdout);
      stdout += d;
      if (first && /"step":1\b/.test(stdout)) child.kill('SIGINT'); // after the first step's metrics
    });
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 130, stderr);
  const summary = (JSON.parse(stdout.trim().split('\n').at(-1)!) as { summary: { interrupted: boolean; checkpoint: string; adapter: string | null } }).summary;
  assert.equal(summary.interrupted, true);
  assert.equal(summary.adapter, null);
  assert.ok(fs.existsSync(path.join(summary.checkpoint, 'trainer_state.json')), 'the checkpoint was saved before exiting');
  assert.match(stderr, /^interrupted: exit status 130; continue with --resume .*checkpoint-\d+$/m);
});

test('--target-modules all-linear, --use-rslora and --save-total-limit reach the adapter and the checkpoints', { skip: SKIP }, (t) => {
  const { dir, tok, data } = setup(t);
  const out = path.join(dir, 'run');
  const r = radgrad('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', out, ...quick, '--max-steps', '3', '--save-every', '1', '--no-fp16',
    '--target-modules', 'all-linear', '--use-rslora', '--save-total-limit', '1');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(fs.readdirSync(out).filter((n) => n.startsWith('checkpoint-')), ['checkpoint-3']);
  assert.match(r.stderr, /deleted .*checkpoint-1 \(--save-total-limit 1\)/);
  const cfg = JSON.parse(fs.readFileSync(path.join(out, 'adapter', 'adapter_config.json'), 'utf8')) as { target_modules: string[]; use_rslora: boolean };
  assert.equal(cfg.use_rslora, true);
  assert.equal(cfg.target_modules.length, 12, 'q/k/v/out_proj, fc1, fc2 of both layers');
  assert.ok(cfg.target_modules.every((m) => /^biogpt\.layers\.[01]\.(self_attn\.(q|k|v|out)_proj|fc1|fc2)$/.test(m)), cfg.target_modules.join());
  assert.match(r.stderr, /trainable params: 18,432 \|\|/, 'r 8 on q/k/v/out_proj (64×64) and fc1/fc2 (64×256) of 2 layers');
});

test('--load-best-model-at-end: adapter/ is the lowest-eval-loss checkpoint, named in the summary; refused without eval data or with --save-every not a multiple of --eval-every', { skip: SKIP }, (t) => {
  const { dir, tok, data } = setup(t);
  const out = path.join(dir, 'run');
  const r = radgrad('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', out, ...quick, '--max-steps', '4', '--eval-every', '1', '--save-every', '2',
    '--save-total-limit', '1', '--no-fp16', '--load-best-model-at-end');
  assert.equal(r.status, 0, r.stderr);
  const field = (k: string) => new RegExp(`^${k} +(.*)$`, 'm').exec(r.stdout)?.[1];
  const summary = { adapter: field('adapter')!, bestCheckpoint: field('bestCheckpoint')!, bestEvalLoss: Number(field('bestEvalLoss')), bestStep: Number(field('bestStep')) };
  const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; evalLoss?: number });
  const saved = metrics.filter((m) => m.step === 2 || m.step === 4).map((m) => [m.step, m.evalLoss!] as const);
  const [step, loss] = saved.reduce((a, b) => (b[1] < a[1] ? b : a));
  const best = path.join(out, `checkpoint-${step}`);
  assert.deepEqual([summary.bestStep, summary.bestEvalLoss, summary.bestCheckpoint], [step, loss, best]);
  assert.equal(summary.adapter, `${path.join(out, 'adapter')} (the best checkpoint's: ${best})`);
  assert.ok(fs.readFileSync(path.join(out, 'adapter', 'adapter_model.safetensors')).equals(fs.readFileSync(path.join(best, 'adapter_model.safetensors'))));
  assert.match(r.stderr, /loading the best checkpoint .*checkpoint-\d \(step \d, eval loss [\d.]+\) into adapter\/ \(load_best_model_at_end\)/);
  assert.ok(fs.existsSync(summary.bestCheckpoint), 'kept under --save-total-limit 1');
  assert.match(r.stderr, /loading the best checkpoint .*checkpoint-\d \(step \d, eval loss [\d.]+\) into adapter\/ \(load_best_model_at_end\)/);

  const noEval = radgrad('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', path.join(dir, 'no-eval'), ...quick, '--eval-fraction', '0', '--load-best-model-at-end', '--eval-every', '1', '--save-every', '2');
  assert.notEqual(noEval.status, 0);
  assert.match(noEval.stderr, /^error: --load-best-model-at-end picks the checkpoint with the lowest eval loss, but the eval set is empty \(--eval-fraction 0 held out nothing\)$/m);
  assert.match(noEval.stderr, /^hint: pass --eval-data <file> or an --eval-fraction above 0/m);
  const bad = radgrad('train', '--model', model!, '--tokenizer', tok, '--data', data, '--out', path.join(dir, 'bad'), '--load-best-model-at-end', '--eval-every', '2', '--save-every', '3');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /^error: .*setting 'saveEvery' expected a multiple of evalEvery 2 with loadBestModelAtEnd .*, got 3$/m);
  assert.match(bad.stderr, /^hint: set saveEvery \(--save-every\) to a multiple of evalEvery \(--eval-every\)/m);
  assert.equal(fs.existsSync(path.join(dir, 'bad')), false, 'refused before --out is created');
});
