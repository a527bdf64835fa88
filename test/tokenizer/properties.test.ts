// Property checks over arbitrary Unicode. The composition HF performs is
//   decode(encode(x), skip_special_tokens=True)
//     == MosesDetokenizer('en').detokenize(MosesTokenizer('en').tokenize(x, aggressive_dash_splits=True, escape=True))
// whenever x contains no special-token text (<s> <pad> </s> <unk>) and no BPE piece falls back to <unk>;
// and at the token-string level (convert_tokens_to_string(tokenize(x))) it holds for every such x.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sharedPath } from '../../src/util/paths.js';
import { BioGptTokenizer, mosesDetokenize, mosesTokenize } from '../../src/tokenizer/index.js';

const vocabDir = sharedPath('data', 'biogpt-vocab');
let shared: BioGptTokenizer | undefined;
/** One tokenizer per test file: loading the 42k-entry vocabulary is the slow part. */
const load = (dir: string) => (shared ??= BioGptTokenizer.fromDir(dir));

/** Text mixing report words, punctuation, controls, lone surrogates, astral and CJK characters. */
const piece = fc.oneof(
  fc.constantFrom('the', 'lung', 'XXXX', 'No', 'Dr', 'pp', 'e.g', '5,000', "n't", "'s", 'DOTMULTI', 'MULTI'),
  fc.constantFrom('.', '..', '...', ',', "'", '"', '-', '--', '&', '|', '<', '>', '[', ']', '(', ')', '`', '@-@', '&amp;', '/'),
  fc.constantFrom(' ', '  ', '\t', '\n', '\u00a0', '\u3000', '\u0085', '\u001c', '\u0000', '\u0007', '\u007f', '\ufeff'),
  fc.constantFrom('\ud800', '\udfff', '\u{1fac1}', '\u{1d400}', '\u4e2d', '\uac00', '\u0301', '\u25cc', 'é', 'ß', 'α', '\u094d'),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const text = fc.array(piece, { maxLength: 25 }).map((a) => a.join(''));
const noSpecial = (s: string) => !/<s>|<pad>|<\/s>|<unk>/.test(s);

test('properties: encoding never throws and is deterministic (cold and warm cache)', (t) => {
  if (!vocabDir) return t.skip('shared/data/biogpt-vocab is absent');
  const tok = load(vocabDir);
  fc.assert(
    fc.property(text, (s) => {
      const warm = tok.encode(s);
      tok.clearCache();
      assert.deepEqual(tok.encode(s), warm);
      assert.equal(warm[0], tok.eosId);
      for (const id of warm) assert.ok(Number.isInteger(id) && id >= 0 && id < tok.vocabSize);
      assert.equal(typeof tok.decode(warm), 'string');
    }),
    { numRuns: 1500 },
  );
  for (const s of ['', '\ud800', '\u0000', 'a'.repeat(5000), '\u{1fac1}'.repeat(2000), '.'.repeat(20000), "'".repeat(3000)]) {
    assert.equal(tok.encode(s)[0], tok.eosId);
  }
});

test('properties: token strings detokenize to Moses-detokenize(Moses-tokenize(x))', (t) => {
  if (!vocabDir) return t.skip('shared/data/biogpt-vocab is absent');
  const tok = load(vocabDir);
  fc.assert(
    fc.property(text.filter(noSpecial), (s) => {
      const expected = mosesDetokenize(mosesTokenize(s));
      assert.equal(tok.convertTokensToString(tok.tokenize(s)), expected);
      const ids = tok.encode(s);
      if (!ids.includes(tok.unkId)) assert.equal(tok.decode(ids, { skipSpecialTokens: true }), expected);
    }),
    { numRuns: 1500 },
  );
});

test('properties: every Moses token is covered by its BPE pieces, the last one marked </w>', (t) => {
  if (!vocabDir) return t.skip('shared/data/biogpt-vocab is absent');
  const tok = load(vocabDir);
  fc.assert(
    fc.property(text.filter(noSpecial), (s) => {
      const words = mosesTokenize(s);
      const pieces = tok.tokenize(s);
      assert.equal(pieces.join('').split('</w>').filter((w) => w !== '').join(' '), words.join(' '));
      assert.equal(pieces.filter((p) => p.endsWith('</w>')).length, words.length);
    }),
    { numRuns: 800 },
  );
});

test('special-token text is kept whole, as Hugging Face does', (t) => {
  if (!vocabDir) return t.skip('shared/data/biogpt-vocab is absent');
  const tok = load(vocabDir);
  assert.deepEqual(tok.tokenize('lung</s>heart <pad>'), ['lung</w>', '</s>', 'heart</w>', '<pad>']);
  assert.deepEqual(tok.encode('<unk>x').slice(0, 2), [2, 3]);
  assert.equal(tok.decode([2, 18, 535]), '</s>The cardiac');
  assert.equal(tok.decode([2, 18, 3, 535], { skipSpecialTokens: true }), 'The cardiac');
});
