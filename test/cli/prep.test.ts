// `radgrad prep` from the command line: a run that would write no record exits non-zero with a
// hint and leaves no output file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/util/paths.js';
import { synthMimic } from '../../src/data/synth.js';

const root = packageRoot();
function radgrad(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/index.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
}

test('prep mimic with a --reports folder holding no report: rc != 0, a layout hint, no output file', (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-prepcli-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  const m = synthMimic({ out: path.join(d, 'synth'), studies: 20, seed: 1, faults: false });
  const wrong = path.join(d, 'wrong');
  fs.mkdirSync(wrong);
  const out = path.join(d, 'p4.jsonl');
  const r = radgrad('prep', 'mimic', '--chexpert', path.join(d, 'synth', m.csv), '--reports', wrong, '--out', out);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: prep mimic: no record to write/m);
  assert.match(r.stderr, /^hint: no report found under --reports .*wrong .*files\/pXX\/pSUBJECT\/sSTUDY\.txt/m);
  assert.equal(fs.existsSync(out), false);
});
