/**
 * The prompt-length rules (src/generate/prompt_length.ts) on their own, and their one wording per
 * rule: generate() names GenerateOptions fields, the CLI its flags (test/cli/prompt_length.test.ts),
 * from the same message and hint. No GPU: generate() checks lengths before any forward.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RadgradError } from '../../src/errors.js';
import type { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { checkPromptLengths, describeLengthLimit, findLengthProblem, generate, type LengthLimit, type LengthWording } from '../../src/generate/index.js';

const POS = 64;

describe('findLengthProblem', () => {
  const cases: Array<[number[], LengthLimit, ReturnType<typeof findLengthProblem>]> = [
    [[3, 64], { maxNewTokens: 5 }, { rule: 'alone', bad: [1] }],
    [[70, 3, 64], { maxLength: 10 }, { rule: 'alone', bad: [0, 2] }],
    [[3, 10, 12], { maxLength: 10 }, { rule: 'maxLength', maxLength: 10, bad: [1, 2] }],
    [[3, 9], { maxLength: 10 }, null],
    [[3, 9], { maxLength: 100 }, { rule: 'maxLengthPositions', maxLength: 100 }],
    [[3, 9], { maxLength: 64 }, null],
    [[63], { maxLength: 65 }, { rule: 'maxLengthPositions', maxLength: 65 }],
    [[3, 50], { maxNewTokens: 15 }, { rule: 'withNew', maxNewTokens: 15, bad: [1] }],
    [[3, 49], { maxNewTokens: 15 }, null],
    [[3, 45], {}, { rule: 'withNew', maxNewTokens: 20, bad: [1] }],
    [[3, 44], {}, null],
    // maxNewTokens wins over maxLength, as in transformers
    [[3, 50], { maxNewTokens: 5, maxLength: 4 }, null],
    [[3, 60], { maxNewTokens: 5, maxLength: 100 }, { rule: 'withNew', maxNewTokens: 5, bad: [1] }],
  ];
  for (const [tokens, gen, want] of cases) {
    it(`${JSON.stringify(tokens)} with ${JSON.stringify(gen)}: ${want?.rule ?? 'fits'}`, () => assert.deepEqual(findLengthProblem(tokens, POS, gen), want));
  }
});

const api: LengthWording = { limit: 'maxNewTokens 30', maxNewTokens: 'maxNewTokens', maxLength: 'maxLength', nameOf: (i) => `prompt ${i}` };
const cli: LengthWording = { limit: '--max-new-tokens 30', maxNewTokens: '--max-new-tokens', maxLength: '--max-length', nameOf: (i) => `record ${i + 1}`, hintEnd: 'nothing was generated' };
function error(tokens: number[], gen: LengthLimit, w: LengthWording): RadgradError {
  try {
    checkPromptLengths('eval', tokens, POS, gen, w);
  } catch (e) {
    assert.ok(e instanceof RadgradError);
    return e;
  }
  throw new Error('no error');
}

describe('checkPromptLengths: one message and hint per rule, in the caller\'s names', () => {
  it('a prompt + maxNewTokens over the positions: the same sentence with the field or the flag', () => {
    const a = error([3, 40], { maxNewTokens: 30 }, api);
    assert.equal(a.message, "eval: a prompt + maxNewTokens 30 exceed the model's 64 positions (max_position_embeddings) (prompt 1: 40 tokens)");
    assert.equal(a.hint, 'lower maxNewTokens to 24 (room for every prompt), or shorten the prompt');
    const c = error([3, 40], { maxNewTokens: 30 }, cli);
    assert.equal(c.message, "eval: a prompt + --max-new-tokens 30 exceed the model's 64 positions (max_position_embeddings) (record 2: 40 tokens)");
    assert.equal(c.hint, 'lower --max-new-tokens to 24 (room for every prompt), or shorten the prompt; nothing was generated');
  });
  it('maxLength above the positions names the length option, not maxNewTokens', () => {
    const a = error([3], { maxLength: 100 }, { ...api, limit: 'maxLength 100' });
    assert.equal(a.message, "eval: maxLength 100 exceeds the model's 64 positions (max_position_embeddings)");
    assert.equal(a.hint, 'lower maxLength to 64 or less, or give maxNewTokens');
    const c = error([3], { maxLength: 100 }, { ...cli, limit: 'max_length 100 (generation_config.json)' });
    assert.equal(c.message, "eval: max_length 100 (generation_config.json) exceeds the model's 64 positions (max_position_embeddings)");
    assert.equal(c.hint, 'lower --max-length to 64 or less, or give --max-new-tokens; nothing was generated');
  });
  it('prompts of maxLength tokens or more, and prompts alone too long: counted, the first five listed, then "... N more"', () => {
    const m = error([12, 3, 11, 10], { maxLength: 10 }, { ...api, limit: 'maxLength 10' });
    assert.equal(m.message, 'eval: 3 prompts of 10 tokens or more with maxLength 10, which counts the prompt: no room for a new token (prompt 0: 12 tokens; prompt 2: 11 tokens; prompt 3: 10 tokens)');
    assert.equal(m.hint, 'raise maxLength above 12, or give maxNewTokens (new tokens only) instead');
    const long = [3, ...Array.from({ length: 7 }, (_, i) => 64 + i)];
    const a = error(long, { maxNewTokens: 1 }, cli);
    assert.equal(a.message, "eval: 7 prompts fill the model's 64 positions (max_position_embeddings) on their own, leaving no room for a new token " +
      '(record 2: 64 tokens; record 3: 65 tokens; record 4: 66 tokens; record 5: 67 tokens; record 6: 68 tokens; ... 2 more)');
    assert.equal(a.hint, 'prompts must be at most 63 tokens: shorten or remove them; nothing was generated');
    assert.doesNotThrow(() => checkPromptLengths('eval', [3, 40], POS, { maxNewTokens: 24 }, api));
  });
  it('describeLengthLimit names the limit in force under GenerateOptions\' names', () => {
    assert.equal(describeLengthLimit({ maxNewTokens: 8, maxLength: 30 }), 'maxNewTokens 8');
    assert.equal(describeLengthLimit({ maxLength: 30 }), 'maxLength 30');
    assert.equal(describeLengthLimit({}), 'maxNewTokens 20 (the default)');
  });
});

describe('generate() words its length errors with the rules\' sentences and GenerateOptions\' names (no forward)', () => {
  const model = { config: { eosTokenId: 2, padTokenId: 1, maxPositionEmbeddings: POS, vocabSize: 512 } } as unknown as BioGptForCausalLM;
  const rejects = (ids: number[][], o: object, message: string, hint: string) =>
    assert.rejects(generate(model, ids, o), (e: unknown) => {
      assert.ok(e instanceof RadgradError);
      assert.equal(e.message, message);
      assert.equal(e.hint, hint);
      assert.doesNotMatch(`${e.message} ${e.hint}`, /--|nothing was generated/, 'no CLI words in a library error');
      return true;
    });
  const ids = (n: number) => [2, ...Array.from({ length: n - 1 }, () => 4)];
  it('maxLength above the positions (not "maxNewTokens 97")', () =>
    rejects([ids(3)], { maxLength: 100 }, "generate: maxLength 100 exceeds the model's 64 positions (max_position_embeddings)", 'lower maxLength to 64 or less, or give maxNewTokens'));
  it('a prompt + maxNewTokens, given or the default', async () => {
    await rejects([ids(3)], { maxNewTokens: 62 }, "generate: a prompt + maxNewTokens 62 exceed the model's 64 positions (max_position_embeddings) (the prompt: 3 tokens)",
      'lower maxNewTokens to 61 (room for every prompt), or shorten the prompt');
    await rejects([ids(50), [1, 1, 1, 2, ...ids(47).slice(1)]], {}, "generate: a prompt + maxNewTokens 20 (the default) exceed the model's 64 positions (max_position_embeddings) (the longest prompt of the batch: 50 tokens)",
      'lower maxNewTokens to 14 (room for every prompt), or shorten the prompt');
  });
  it('a prompt alone too long', () =>
    rejects([ids(70)], { maxNewTokens: 4 }, "generate: a prompt fills the model's 64 positions (max_position_embeddings) on its own, leaving no room for a new token (the prompt: 70 tokens)",
      'prompts must be at most 63 tokens: shorten or remove it'));
  it('maxLength counts the left padding (transformers\' max_length)', () =>
    rejects([[1, 1, 2, 4, 5]], { maxLength: 5 }, 'generate: a prompt of 5 tokens or more with maxLength 5, which counts the prompt: no room for a new token (the prompt, left padding included: 5 tokens)',
      'raise maxLength above 5, or give maxNewTokens (new tokens only) instead'));
});
