// `radgrad train` checks every setting before reading data or starting the GPU: --config values by
// type and range (not only key names), --schedule against HF's names, --warmup-ratio's range;
// each failure exits non-zero with the setting, the expected and the got value, and a hint.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/util/paths.js';

const root = packageRoot();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-cli-train-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** `radgrad train` on paths that do not exist: only the settings checks can run. */
function train(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/index.ts'), 'train', '--model', path.join(tmp, 'no-model'), '--data', path.join(tmp, 'no.jsonl'), '--out', path.join(tmp, 'out'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.notEqual(r.status, 0, r.stdout);
  assert.match(r.stderr, /^hint: /m);
  return r.stderr;
}
function config(j: unknown): string {
  const f = path.join(tmp, `c${fs.readdirSync(tmp).length}.json`);
  fs.writeFileSync(f, JSON.stringify(j));
  return f;
}

test('--config values are type- and range-checked', () => {
  let f = config({ schedule: 'constant_with_restarts' });
  assert.match(train('--config', f), new RegExp(`error: --config ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: setting 'schedule' expected one of linear, cosine, constant, constant_with_warmup, got "constant_with_restarts"`));
  f = config({ warmupSteps: 0.1 });
  assert.match(train('--config', f), /setting 'warmupSteps' expected an integer >= 0, got 0\.1\nhint: .*warmupRatio/);
  assert.match(train('--config', config({ weightDecay: -1 })), /'weightDecay' expected a finite number >= 0, got -1/);
  assert.match(train('--config', config({ evalFraction: 2 })), /'evalFraction' expected a number in \[0, 1\), got 2/);
  assert.match(train('--config', config({ model: 5 })), /'model' expected a path string, got 5/);
});

test('--schedule, --warmup-ratio and the constant-with-warmup combination', () => {
  assert.match(train('--schedule', 'polynomial'), /--schedule expected one of linear, cosine, constant, constant_with_warmup, got "polynomial"/);
  assert.match(train('--warmup-ratio', '1.5'), /--warmup-ratio expected a number in \[0, 1\], got 1\.5/);
  assert.match(train('--schedule', 'constant', '--warmup-steps', '3'), /'constant' is HF's constant schedule without warmup \(warmupSteps 3 would be ignored\); use 'constant_with_warmup'/);
  assert.match(train('--eval-fraction', '1'), /--eval-fraction expected a number in \[0, 1\), got 1/);
});

test('bad flag values are named by their flag, never with the "looks like a bug" hint', () => {
  const cases: Array<[string[], RegExp]> = [
    [['--max-length', '0'], /^error: --max-length expected an integer >= 2, got 0$/m],
    [['--max-length', '1'], /^error: --max-length expected an integer >= 2, got 1$/m],
    [['--batch-size', '0'], /^error: --batch-size expected a positive integer, got 0$/m],
    [['--lr', '-1'], /^error: --lr expected a finite number >= 0, got -1$/m],
    [['--lora-dropout', '1.5'], /^error: --lora-dropout expected a number in \[0, 1\), got 1\.5$/m],
    [['--eval-fraction', '2'], /^error: --eval-fraction expected a number in \[0, 1\), got 2$/m],
    [['--target-modules', ','], /^error: --target-modules expected a non-empty list of module names, got ","$/m],
  ];
  for (const [args, re] of cases) {
    const err = train(...args);
    assert.match(err, re, args.join(' '));
    assert.doesNotMatch(err, /looks like a bug|setting '/, args.join(' '));
  }
});

test('--out naming an existing file is refused before any work, for train and eval', () => {
  const file = path.join(tmp, 'outfile.txt');
  fs.writeFileSync(file, 'precious');
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/index.ts'), 'train', '--model', path.join(tmp, 'no-model'), '--data', path.join(tmp, 'no.jsonl'), '--out', file], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: --out .*outfile\.txt is a file, not a folder$/m);
  assert.match(r.stderr, /^hint: pass a folder path to --out/m);
  const below = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/index.ts'), 'train', '--model', path.join(tmp, 'no-model'), '--data', path.join(tmp, 'no.jsonl'), '--out', path.join(file, 'run')], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.match(below.stderr, /^error: --out .*outfile\.txt\/run: .*outfile\.txt is a file, not a folder$/m);
  // eval checks it before loading the model or generating anything
  const data = path.join(tmp, 'ev.jsonl');
  fs.writeFileSync(data, JSON.stringify({ id: 'a', prompt: 'Edema: 1. \nFindings:', completion: ' x' }) + '\n');
  const ev = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/index.ts'), 'eval', '--model', path.join(tmp, 'no-model'), '--data', data, '--out', file], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.notEqual(ev.status, 0);
  assert.match(ev.stderr, /^error: --out .*outfile\.txt is a file, not a folder$/m);
  assert.doesNotMatch(ev.stderr, /looks like a bug|\[eval\]/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'precious');
});
