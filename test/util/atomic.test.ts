// Atomic folder writes never lose what was already there: an existing folder keeps the entries the
// new write does not replace (as save_pretrained leaves other files alone), and a file is never
// replaced by a folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RadgradError } from '../../src/errors.js';
import { swapDirInto, writeDirAtomic, writeTextAtomic } from '../../src/util/atomic.js';

function tmpRoot(t: { after: (fn: () => void) => void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-atomic-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

const fillWeights = (v: string) => (dir: string) => {
  fs.writeFileSync(path.join(dir, 'model.safetensors'), v);
  fs.writeFileSync(path.join(dir, 'config.json'), `{"v": "${v}"}`);
};

test('writeDirAtomic into an existing folder replaces its own files and keeps every other entry', (t) => {
  const root = tmpRoot(t);
  const out = path.join(root, 'project');
  fs.mkdirSync(path.join(out, 'data'), { recursive: true });
  fs.writeFileSync(path.join(out, 'notes.txt'), 'important');
  fs.writeFileSync(path.join(out, 'data', 'keep.jsonl'), 'x');
  fs.writeFileSync(path.join(out, 'model.safetensors'), 'old');
  writeDirAtomic(out, fillWeights('new'));
  assert.deepEqual(fs.readdirSync(out).sort(), ['config.json', 'data', 'model.safetensors', 'notes.txt']);
  assert.equal(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'important');
  assert.equal(fs.readFileSync(path.join(out, 'data', 'keep.jsonl'), 'utf8'), 'x');
  assert.equal(fs.readFileSync(path.join(out, 'model.safetensors'), 'utf8'), 'new');
  assert.deepEqual(fs.readdirSync(root), ['project'], 'no temp or old folders left');
  // A fresh folder is still a plain write.
  writeDirAtomic(path.join(root, 'fresh'), fillWeights('a'));
  assert.deepEqual(fs.readdirSync(path.join(root, 'fresh')).sort(), ['config.json', 'model.safetensors']);
});

test('writeDirAtomic and swapDirInto refuse to replace a file with a folder', (t) => {
  const root = tmpRoot(t);
  const file = path.join(root, 'outfile.txt');
  fs.writeFileSync(file, 'precious');
  let filled = false;
  assert.throws(
    () => writeDirAtomic(file, () => void (filled = true)),
    (e: unknown) => e instanceof RadgradError && /a file of that name exists/.test(e.message) && !!e.hint,
  );
  assert.equal(filled, false, 'nothing is written before the refusal');
  const tmp = path.join(root, '.tmp-filled');
  fs.mkdirSync(tmp);
  fillWeights('x')(tmp);
  assert.throws(() => swapDirInto(tmp, file), RadgradError);
  assert.equal(fs.readFileSync(file, 'utf8'), 'precious');
  assert.deepEqual(fs.readdirSync(root), ['outfile.txt'], 'the temp folder is removed');
});

test('swapDirInto onto a link to a folder replaces the link and leaves the linked folder alone', (t) => {
  const root = tmpRoot(t);
  const real = path.join(root, 'real');
  fs.mkdirSync(real);
  fs.writeFileSync(path.join(real, 'notes.txt'), 'n');
  fs.writeFileSync(path.join(real, 'config.json'), 'old');
  const link = path.join(root, 'current');
  fs.symlinkSync(real, link);
  writeDirAtomic(link, fillWeights('new'));
  assert.equal(fs.lstatSync(link).isDirectory(), true);
  assert.deepEqual(fs.readdirSync(link).sort(), ['config.json', 'model.safetensors']);
  assert.deepEqual(fs.readdirSync(real).sort(), ['config.json', 'notes.txt']);
  assert.equal(fs.readFileSync(path.join(real, 'config.json'), 'utf8'), 'old');
});

test('a failing fill leaves the existing folder as it was', (t) => {
  const root = tmpRoot(t);
  const out = path.join(root, 'm');
  writeDirAtomic(out, fillWeights('v1'));
  fs.writeFileSync(path.join(out, 'notes.txt'), 'n');
  assert.throws(() => writeDirAtomic(out, () => { throw new Error('disk full'); }), /disk full/);
  assert.deepEqual(fs.readdirSync(out).sort(), ['config.json', 'model.safetensors', 'notes.txt']);
  assert.equal(fs.readFileSync(path.join(out, 'model.safetensors'), 'utf8'), 'v1');
  assert.deepEqual(fs.readdirSync(root), ['m']);
});

test('writeTextAtomic: the hint names why the write failed (a folder in the way, a file where a folder should be), and no temp file stays', (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-atomic-hint-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  fs.mkdirSync(path.join(d, 'sub'));
  fs.writeFileSync(path.join(d, 'file'), 'x');
  const hintOf = (target: string): string => {
    try {
      writeTextAtomic(target, 'hi');
    } catch (e) {
      assert.ok(e instanceof RadgradError, String(e));
      return e.hint ?? '';
    }
    throw new Error(`writing ${target} did not fail`);
  };
  assert.match(hintOf(path.join(d, 'sub')), /sub is a folder: name a file inside it/);
  assert.match(hintOf(path.join(d, 'file', 'y.txt')), /is a file, not a folder/);
  assert.deepEqual(fs.readdirSync(d).sort(), ['file', 'sub']);
});
