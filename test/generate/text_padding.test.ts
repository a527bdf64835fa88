/**
 * generateText left-pads its prompts with the tokenizer's own padding (BioGptTokenizer.pad, which
 * encodeBatch uses too), so the ids it generates from are encodeBatch's with paddingSide 'left'.
 * No GPU: a stand-in model records the batch it is given and stops there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';
import type { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { generateText } from '../../src/generate/index.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { tempDir, writeTinyTokenizer } from '../helpers/tiny_cli.js';

test('tok.pad is encodeBatch\'s padding, and generateText pads prompts (texts or ids) with it on the left', async (t) => {
  const dir = path.join(tempDir(t, 'textpad'), 'tok');
  writeTinyTokenizer(dir);
  const tok = BioGptTokenizer.fromDir(dir);
  const texts = ['a', 'a b a b', 'b a'];
  for (const side of ['left', 'right'] as const) {
    const batch = tok.encodeBatch(texts, { padding: true, paddingSide: side });
    const padded = tok.pad(texts.map((x) => tok.encode(x)), { paddingSide: side });
    assert.deepEqual(padded, { inputIds: batch.inputIds, attentionMask: batch.attentionMask }, side);
  }
  assert.deepEqual(tok.pad([[2, 4], [2]], { length: 4 }), { inputIds: [[2, 4, 1, 1], [2, 1, 1, 1]], attentionMask: [[1, 1, 0, 0], [1, 0, 0, 0]] });
  assert.deepEqual(tok.pad([[2, 4, 5]], { length: 2 }).inputIds, [[2, 4, 5]], 'a longer row is left as it is');

  // A stand-in model that records the batch of its first forward (the prefill) and stops there.
  const seen: { inputIds?: unknown; attentionMask?: unknown } = {};
  const model = {
    config: { eosTokenId: 2, padTokenId: 1, maxPositionEmbeddings: 64, vocabSize: 8 },
    biogpt: { backend: cpuBackend() },
    forward: (a: { inputIds: unknown; attentionMask: unknown }) => {
      Object.assign(seen, { inputIds: a.inputIds, attentionMask: a.attentionMask });
      throw new Error('stop after the prefill');
    },
  } as unknown as BioGptForCausalLM;
  const prompts = [texts[0]!, { text: texts[1]!, ids: tok.encode(texts[1]!) }, texts[2]!];
  await assert.rejects(generateText(model, tok, prompts, { maxNewTokens: 1 }), /stop after the prefill/);
  const want = tok.encodeBatch(texts, { padding: true, paddingSide: 'left' });
  assert.deepEqual(seen, { inputIds: want.inputIds, attentionMask: want.attentionMask });
  assert.notDeepEqual(want.attentionMask[0], want.attentionMask[1], 'the prompts differ in length (else no padding is checked)');
});
