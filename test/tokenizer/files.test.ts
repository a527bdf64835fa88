// Loading, saving (Hugging Face file format, atomic writes) and batch encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileFormatError } from '../../src/errors.js';
import { sharedPath } from '../../src/util/paths.js';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';
import { compareCodePoints, pythonJsonDumps } from '../../src/tokenizer/files.js';

const vocabDir = sharedPath('data', 'biogpt-vocab');
let shared: BioGptTokenizer | undefined;
/** One tokenizer per test file: loading the 42k-entry vocabulary is the slow part. */
const load = (dir: string) => (shared ??= BioGptTokenizer.fromDir(dir));
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'radgrad-tok-'));

/** A tiny vocabulary: specials, single letters, and merges building "low</w>" and "er</w>". */
function writeTiny(dir: string, merges = '#version x\nl o 5\nlo w</w> 4\ne r</w>\n'): void {
  const vocab: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
  for (const t of ['l', 'o', 'w', 'w</w>', 'e', 'r</w>', 'lo', 'low</w>', 'er</w>', 'é</w>', '\u{1f600}</w>']) vocab[t] = Object.keys(vocab).length;
  writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(path.join(dir, 'merges.txt'), merges);
}

test('files: tiny vocabulary, BPE merge order and unknown pieces', () => {
  const dir = tmp();
  try {
    writeTiny(dir);
    const tok = BioGptTokenizer.fromDir(dir);
    assert.equal(tok.vocabSize, 15);
    assert.deepEqual(tok.tokenize('low lower x'), ['low</w>', 'lo', 'w', 'er</w>', 'x</w>']);
    assert.deepEqual(tok.encode('low x'), [2, tok.tokenToId('low</w>'), 3]);
    assert.equal(tok.decode(tok.encode('low lower'), { skipSpecialTokens: true }), 'low lower');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files: save writes Hugging Face files atomically and loads back identically', (t) => {
  if (!vocabDir) return t.skip('shared/data/biogpt-vocab is absent');
  const tok = load(vocabDir);
  const dir = path.join(tmp(), 'nested', 'out');
  try {
    tok.save(dir);
    assert.deepEqual(readdirSync(dir).sort(), ['merges.txt', 'tokenizer_config.json', 'vocab.json']);
    const vocabText = readFileSync(path.join(dir, 'vocab.json'), 'utf8');
    assert.ok(vocabText.startsWith('{\n  "!</w>": '), 'keys sorted, two-space indent');
    assert.ok(vocabText.endsWith('\n}\n'));
    const mergesText = readFileSync(path.join(dir, 'merges.txt'), 'utf8');
    assert.ok(mergesText.startsWith('t i\nt h\ni n\n'), 'merge counts are dropped, as save_vocabulary does');
    assert.equal(mergesText.split('\n').length, 40001);
    const config = JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
    assert.equal(config.tokenizer_class, 'BioGptTokenizer');
    assert.equal(config.added_tokens_decoder['2'].content, '</s>');
    const back = BioGptTokenizer.fromDir(dir);
    assert.equal(back.vocabSize, tok.vocabSize);
    const sample = 'The IL-6 level (p < 0.05) was 5.3 mg/kg. Hodgkin\'s e.g. No. 5...';
    assert.deepEqual(back.encode(sample), tok.encode(sample));
    back.save(dir);
    assert.equal(readFileSync(path.join(dir, 'vocab.json'), 'utf8'), vocabText, 'saving is deterministic');
  } finally {
    rmSync(path.dirname(path.dirname(dir)), { recursive: true, force: true });
  }
});

test('files: missing or malformed vocab.json / merges.txt raise FileFormatError naming the file', () => {
  const dir = tmp();
  try {
    const expectError = (file: string, re: RegExp) =>
      assert.throws(() => BioGptTokenizer.fromDir(dir), (e: unknown) => {
        assert.ok(e instanceof FileFormatError, `expected FileFormatError, got ${String(e)}`);
        assert.equal(e.file, path.join(dir, file));
        assert.match(e.message, re);
        return true;
      });
    expectError('vocab.json', /not found/);
    writeTiny(dir);
    writeFileSync(path.join(dir, 'vocab.json'), '{"<s>": 0, oops');
    expectError('vocab.json', /not valid JSON/);
    writeFileSync(path.join(dir, 'vocab.json'), '["a"]');
    expectError('vocab.json', /JSON object/);
    writeFileSync(path.join(dir, 'vocab.json'), '{"<s>": 0, "<pad>": 1.5}');
    expectError('vocab.json', /non-negative integer/);
    writeFileSync(path.join(dir, 'vocab.json'), '{"<s>": 0, "<pad>": 1, "</s>": 5, "<unk>": 3}');
    expectError('vocab.json', /<\/s> must have id 2/);
    writeTiny(dir, 'l o\nbroken\n');
    expectError('merges.txt', /line 2/);
    rmSync(path.join(dir, 'merges.txt'));
    expectError('merges.txt', /not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files: a missing folder, a file, or a model folder without its tokenizer get their own message', () => {
  const dir = tmp();
  try {
    const expectError = (d: string, re: RegExp, hint: RegExp) =>
      assert.throws(() => BioGptTokenizer.fromDir(d), (e: unknown) => {
        assert.ok(e instanceof FileFormatError, `expected FileFormatError, got ${String(e)}`);
        assert.equal(e.file, d);
        assert.match(e.message, re);
        assert.match(e.hint!, hint);
        return true;
      });
    expectError(path.join(dir, 'nope'), /nope: no such folder$/, /check the --model \(or --tokenizer\) path/);
    writeFileSync(path.join(dir, 'f.txt'), 'x');
    expectError(path.join(dir, 'f.txt'), /is a file, not a folder/, /vocab\.json and merges\.txt/);
    writeFileSync(path.join(dir, 'config.json'), '{}');
    writeFileSync(path.join(dir, 'model.safetensors'), '');
    expectError(dir, /holds a model but no tokenizer \(vocab\.json and merges\.txt missing\)/, /pass the tokenizer folder with --tokenizer <dir>/);
    writeTiny(dir);
    rmSync(path.join(dir, 'merges.txt'));
    expectError(dir, /holds a model but no tokenizer \(merges\.txt missing\)/, /--tokenizer/);
    writeTiny(dir);
    assert.equal(BioGptTokenizer.fromDir(dir).vocabSize, 15, 'a model folder with its tokenizer loads');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('files: Python-compatible JSON and code point key order', () => {
  assert.ok(compareCodePoints('\uffff', '\u{10000}') < 0, 'U+FFFF sorts before astral characters in Python');
  assert.ok('\uffff' > '\u{10000}', 'while UTF-16 order says otherwise');
  assert.equal(pythonJsonDumps({ b: [1, { c: null }], a: 'x\u0001"' }), '{\n  "a": "x\\u0001\\"",\n  "b": [\n    1,\n    {\n      "c": null\n    }\n  ]\n}');
});

test('batch: padding right/left, truncation, attention and special-tokens masks', (t) => {
  if (!vocabDir) return t.skip('shared/data/biogpt-vocab is absent');
  const tok = load(vocabDir);
  const texts = ['No acute disease.', 'Heart size is normal and the lungs are clear.'];
  const a = tok.encode(texts[0]!);
  const b = tok.encode(texts[1]!);
  const right = tok.encodeBatch(texts, { padding: true });
  const pad = b.length - a.length;
  assert.deepEqual(right.inputIds, [[...a, ...Array(pad).fill(1)], b]);
  assert.deepEqual(right.attentionMask[0], [...a.map(() => 1), ...Array(pad).fill(0)]);
  assert.deepEqual(right.specialTokensMask[0], [1, ...a.slice(1).map(() => 0), ...Array(pad).fill(1)]);
  const left = tok.encodeBatch(texts, { padding: 'longest', paddingSide: 'left' });
  assert.deepEqual(left.inputIds[0], [...Array(pad).fill(1), ...a]);
  assert.deepEqual(left.attentionMask[0], [...Array(pad).fill(0), ...a.map(() => 1)]);
  const cut = tok.encodeBatch(texts, { truncation: true, maxLength: 4, padding: 'max_length' });
  assert.deepEqual(cut.inputIds, [a.slice(0, 4), b.slice(0, 4)]);
  const wide = tok.encodeBatch(texts, { padding: 'max_length', maxLength: 20 });
  assert.ok(wide.inputIds.every((r) => r.length === 20));
  assert.deepEqual(tok.encodeBatch(texts).inputIds, [a, b], 'no padding by default');
  assert.throws(() => tok.encodeBatch(texts, { truncation: true, maxLength: 0 }), /maxLength/);
});
