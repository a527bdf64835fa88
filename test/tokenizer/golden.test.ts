// Exactness against transformers.BioGptTokenizer: every line of the shared golden file must give the
// same ids, tokens and decoded text. On failure the first lines that differ are printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sharedPath } from '../../src/util/paths.js';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';

const vocabDir = sharedPath('data', 'biogpt-vocab');
const goldenFile = sharedPath('golden', 'tokenizer', 'biogpt_tokenizer_golden.jsonl');
const tinyGolden = sharedPath('golden', 'golden_tiny.json');
let shared: BioGptTokenizer | undefined;
/** One tokenizer per test file: loading the 42k-entry vocabulary is the slow part. */
const load = (dir: string) => (shared ??= BioGptTokenizer.fromDir(dir));

interface GoldenLine {
  text: string;
  ids: number[];
  tokens: string[];
  decoded: string;
}

test('golden: ids, tokens and decoded text match Hugging Face on every line', (t) => {
  if (!vocabDir || !goldenFile) return t.skip('shared/data/biogpt-vocab or shared/golden/tokenizer is absent');
  const tok = load(vocabDir);
  const lines = readFileSync(goldenFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as GoldenLine);
  assert.ok(lines.length >= 4777, `expected at least 4777 golden lines, found ${lines.length}`);
  const failures: string[] = [];
  let matched = 0;
  lines.forEach((g, i) => {
    const tokens = tok.tokenize(g.text);
    const ids = tok.encode(g.text);
    const decoded = tok.decode(g.ids, { skipSpecialTokens: true });
    const problems: string[] = [];
    if (JSON.stringify(tokens) !== JSON.stringify(g.tokens)) {
      problems.push(`tokens\n    expected ${JSON.stringify(g.tokens)}\n    got      ${JSON.stringify(tokens)}`);
    }
    if (JSON.stringify(ids) !== JSON.stringify(g.ids)) {
      problems.push(`ids\n    expected ${JSON.stringify(g.ids)}\n    got      ${JSON.stringify(ids)}`);
    }
    if (decoded !== g.decoded) {
      problems.push(`decoded\n    expected ${JSON.stringify(g.decoded)}\n    got      ${JSON.stringify(decoded)}`);
    }
    if (problems.length === 0) matched++;
    else if (failures.length < 5) failures.push(`line ${i + 1}: text ${JSON.stringify(g.text)}\n  ${problems.join('\n  ')}`);
  });
  t.diagnostic(`golden lines matched: ${matched}/${lines.length}`);
  assert.equal(matched, lines.length, `${lines.length - matched} golden lines differ; first ones:\n${failures.join('\n')}`);
});

test('golden: padded batch from golden_tiny.json round-trips through decode + encodeBatch', (t) => {
  if (!vocabDir || !tinyGolden) return t.skip('shared/golden/golden_tiny.json or the vocabulary is absent');
  const tok = load(vocabDir);
  const batch = (JSON.parse(readFileSync(tinyGolden, 'utf8')) as { tokenizer_batch: { input_ids: number[][]; attention_mask: number[][] } })
    .tokenizer_batch;
  const texts = batch.input_ids.map((row) => tok.decode(row, { skipSpecialTokens: true }));
  const enc = tok.encodeBatch(texts, { padding: true });
  assert.deepEqual(enc.inputIds, batch.input_ids);
  assert.deepEqual(enc.attentionMask, batch.attention_mask);
});
