/**
 * maxLength is transformers' max_length: the whole sequence (prompt, left padding included, + new
 * tokens), used when maxNewTokens is not given; maxNewTokens wins when both are; a prompt that
 * already has maxLength tokens is refused (transformers raises a ValueError).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { withBackend } from '../../src/backend/registry.js';
import { generate } from '../../src/generate/index.js';
import { lengthOptions } from '../../src/generate/generate.js';
import { RadgradError } from '../../src/errors.js';
import { TINY_MODEL_DIR, useTinyModel } from '../helpers/tiny_model.js';

const SKIP = !TINY_MODEL_DIR && 'shared/golden/tiny_biogpt is absent (../shared)';
const PROMPT = [2, 17, 45, 300];

describe('lengthOptions (no GPU)', () => {
  it('turns maxLength into maxNewTokens for the padded batch length, and leaves maxNewTokens alone', () => {
    assert.equal(lengthOptions([PROMPT], { maxLength: 10 }).maxNewTokens, 6);
    assert.equal(lengthOptions([[1, 1, 2, 5, 6, 7]], { maxLength: 10 }).maxNewTokens, 4, 'left padding counts, as in transformers');
    assert.equal(lengthOptions([PROMPT], { maxLength: 10, maxNewTokens: 3 }).maxNewTokens, 3);
    assert.equal(lengthOptions([PROMPT], {}).maxNewTokens, undefined);
  });
  it('refuses a prompt of maxLength tokens or more, and a maxLength that is not an integer >= 2', () => {
    for (const L of [4, 3]) {
      assert.throws(() => lengthOptions([PROMPT], { maxLength: L }), (e: unknown) =>
        e instanceof RadgradError && e.message === `generate: a prompt of ${L} tokens or more with maxLength ${L}, which counts the prompt: no room for a new token (the prompt, left padding included: 4 tokens)` &&
        e.hint === 'raise maxLength above 4, or give maxNewTokens (new tokens only) instead');
    }
    for (const L of [1, 2.5, Number.NaN]) assert.throws(() => lengthOptions([PROMPT], { maxLength: L }), /maxLength must be an integer >= 2/);
  });
});

describe('generate with maxLength (tiny BioGPT)', { skip: SKIP }, () => {
  const tiny = useTinyModel(SKIP);
  it('greedy and beam search stop at maxLength total tokens, as maxNewTokens = maxLength - prompt', async () => {
    await withBackend(tiny.gpu, async () => {
      for (const numBeams of [1, 3]) {
        const byTotal = await generate(tiny.model, [PROMPT], { maxLength: 11, numBeams });
        const byNew = await generate(tiny.model, [PROMPT], { maxNewTokens: 7, numBeams });
        assert.deepEqual(byTotal.sequences, byNew.sequences, `numBeams ${numBeams}`);
        assert.ok(byTotal.sequences[0]!.length <= 11);
      }
      const both = await generate(tiny.model, [PROMPT], { maxLength: 11, maxNewTokens: 2 });
      assert.ok(both.sequences[0]!.length <= 6, 'maxNewTokens wins over maxLength');
      await assert.rejects(generate(tiny.model, [PROMPT], { maxLength: 4 }), /with maxLength 4, which counts the prompt: no room for a new token/);
    });
  });
});
