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

test('prep --out naming a folder, or a path below a file, is refused before any work, with a hint', (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-prepcli-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  const csv = path.join(d, 'r.csv');
  fs.writeFileSync(csv, 'uid,MeSH,Problems,image,indication,comparison,findings,impression\n1,Cardiomegaly,Cardiomegaly,x,y,z,Big heart.,Cardiomegaly.\n');
  const folder = path.join(d, 'outdir');
  fs.mkdirSync(folder);
  const r = radgrad('prep', 'iu', '--csv', csv, '--out', folder);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: prep iu: --out .*outdir is a folder$/m);
  assert.match(r.stderr, /^hint: --out names the JSONL file to write; pass a file path such as data\/iu\.jsonl$/m);
  assert.deepEqual(fs.readdirSync(folder), []);
  // MIMIC: checked before the reports folder is even looked at (it does not exist here).
  const file = path.join(d, 'afile');
  fs.writeFileSync(file, 'x');
  const m = radgrad('prep', 'mimic', '--chexpert', csv, '--reports', path.join(d, 'nowhere'), '--out', path.join(file, 'm.jsonl'));
  assert.notEqual(m.status, 0);
  assert.match(m.stderr, /^error: prep mimic: --out .*afile\/m\.jsonl lies below .*afile, which is a file, not a folder$/m);
  assert.match(m.stderr, /^hint: pass a file path in a folder, such as data\/mimic\.jsonl$/m);
});
