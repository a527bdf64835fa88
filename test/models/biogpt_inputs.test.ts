// BioGPT position ids: a sequence longer than max_position_embeddings is refused with 0-based
// wording (index N of positions 0..N-1), never "needs position N but has N positions".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onesMask, positionIds } from '../../src/models/biogpt/inputs.js';
import { BIOGPT_POSITION_OFFSET } from '../../src/io/biogpt_config.js';

test('positionIds: the last position fits; one more names index N and positions 0..N-1', () => {
  const off = BIOGPT_POSITION_OFFSET;
  const ok = positionIds(onesMask(1, 160), 0, off, 160 + off);
  assert.equal(ok.data[159], 159 + off);
  assert.throws(() => positionIds(onesMask(2, 161), 0, off, 160 + off), (e: Error & { hint?: string }) => {
    assert.equal(e.message, 'BioGPT: row 0 needs position index 160; positions are 0..159 (max_position_embeddings 160)');
    assert.match(e.hint!, /at most 160 tokens .*--max-length/);
    return true;
  });
});
