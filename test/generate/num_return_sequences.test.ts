/**
 * numReturnSequences as transformers' num_return_sequences: n independent samples per prompt, or
 * the n best finished beams in descending score; greedy with n > 1 and n > numBeams are refused
 * (transformers raises). Rows are prompt-major. Every sample draws from its own stream (seed,
 * prompt, sample index): reproducible, different from its siblings, and the same whatever n is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { withBackend } from '../../src/backend/registry.js';
import '../../src/ops/index.js';
import type { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { generate, newIds, promptSeeds, resolveOptions, seedsForChunk, type GenerateOptions } from '../../src/generate/index.js';
import { OpArgumentError } from '../../src/errors.js';
import { sharedPath } from '../../src/util/paths.js';
import { TINY_MODEL_DIR, useTinyModel } from '../helpers/tiny_model.js';

const goldenJson = sharedPath('golden', 'golden_tiny.json');
const SKIP = !TINY_MODEL_DIR || !goldenJson ? 'shared/golden/tiny_biogpt or golden_tiny.json is absent (../shared)' : false;
const PROMPT = [2, 17, 45, 300];
/** Two prompts as one left-padded batch. */
const BATCH = [[1, 1, 2, 17, 45, 300], [2, 88, 14, 123, 77, 310]];
/** Sampling broad enough that the tiny random model's samples vary. */
const SAMPLE: GenerateOptions = { doSample: true, topK: 0, temperature: 1.5, maxNewTokens: 8 };

describe('numReturnSequences: option checks (no GPU)', () => {
  const model = { config: { eosTokenId: 2, padTokenId: 1 } } as unknown as BioGptForCausalLM;
  const refused = (o: GenerateOptions, expected: RegExp) =>
    assert.throws(() => resolveOptions(model, o), (e: unknown) => e instanceof OpArgumentError && e.op === 'generate' && e.arg === 'numReturnSequences' && expected.test(e.expected) && !!e.hint && !e.hint.includes('--'), JSON.stringify(o));
  it('refuses greedy decoding with n > 1, n > numBeams and n that is not an integer >= 1, naming the argument', () => {
    refused({ numReturnSequences: 2 }, /greedy/);
    refused({ numReturnSequences: 5, numBeams: 4 }, /at most numBeams \(4\)/);
    for (const n of [0, 1.5, -1]) refused({ numReturnSequences: n, doSample: true }, /an integer >= 1/);
    assert.match(String((() => { try { resolveOptions(model, { numReturnSequences: 5, numBeams: 4 }); } catch (e) { return (e as Error).message; } })()), /^generate: argument 'numReturnSequences' expected at most numBeams \(4\).*, got 5$/);
  });
  it('beam sampling is refused as doSample, worded with the options\' names (the CLI words it with its flags)', () => {
    assert.throws(() => resolveOptions(model, { numBeams: 2, doSample: true }), (e: unknown) =>
      e instanceof OpArgumentError && e.arg === 'doSample' && /beam sampling is not supported/.test(e.expected) && e.hint === 'beam search without doSample, or sampling with numBeams 1');
  });
  it('accepts n samples, n <= numBeams beams, and n = 1 everywhere', () => {
    assert.equal(resolveOptions(model, { numReturnSequences: 3, doSample: true }).numReturnSequences, 3);
    assert.equal(resolveOptions(model, { numReturnSequences: 4, numBeams: 4 }).numReturnSequences, 4);
    assert.equal(resolveOptions(model, {}).numReturnSequences, 1);
    assert.equal(resolveOptions(model, { numReturnSequences: 1, numBeams: 2 }).numReturnSequences, 1);
  });
});

describe('seeds: checks and batches of a larger run (no GPU)', () => {
  // No forward runs: the seeds are checked before the model is used.
  const model = { config: { eosTokenId: 2, padTokenId: 1, maxPositionEmbeddings: 64, vocabSize: 512 } } as unknown as BioGptForCausalLM;
  it('a number seed must be an integer >= 0, as every seed of the array form', () => {
    for (const seed of [1.5, Number.NaN, -1, Number.POSITIVE_INFINITY, [1.5], [0, -1]]) {
      assert.throws(() => resolveOptions(model, { doSample: true, seed }), (e: unknown) =>
        e instanceof OpArgumentError && e.op === 'generate' && e.arg === 'seed' && /an integer >= 0/.test(e.expected), JSON.stringify(seed));
    }
    for (const seed of [0, 7, 2 ** 32 - 1, [0, 3]]) assert.deepEqual(resolveOptions(model, { doSample: true, seed }).seed, seed);
    assert.throws(() => promptSeeds(1.5), (e: unknown) => e instanceof OpArgumentError && e.op === 'promptSeeds' && e.arg === 'seed');
    assert.throws(() => promptSeeds(Number.NaN), OpArgumentError);
  });
  it('seedsForChunk gives a batch of prompts first .. first + count - 1 the seeds they have in the whole run', () => {
    assert.deepEqual(seedsForChunk(7, 2, 3), promptSeeds(7, 0, 5).slice(2));
    assert.deepEqual(seedsForChunk([10, 11, 12, 13], 1, 2), [11, 12]);
    assert.deepEqual(seedsForChunk([10, 11, 12], 2, 3), [12], 'the last batch of a run');
  });
  it('a seed list whose length is not the number of prompts is refused with a hint, before any forward', async () => {
    await assert.rejects(generate(model, [[2, 4, 5], [2, 5, 4]], { doSample: true, maxNewTokens: 2, seed: [1, 2, 3] }), (e: unknown) =>
      e instanceof OpArgumentError && e.arg === 'seed' && e.expected === 'one seed per prompt (2)' && e.got === '3 seeds' && /seedsForChunk\(seed, first, count\)/.test(e.hint!));
  });
});

describe('numReturnSequences (tiny BioGPT)', { skip: SKIP }, () => {
  const tiny = useTinyModel(SKIP);
  const run = (ids: number[][], o: GenerateOptions) => withBackend(tiny.gpu, () => generate(tiny.model, ids, o));

  it('sampling: n rows per prompt, prompt-major, that differ, reproduce with the seed, and keep sample k whatever n or the batch', async () => {
    const before = tiny.gpu.bytesInUse();
    const r = await run(BATCH, { ...SAMPLE, numReturnSequences: 3, seed: 11 });
    assert.equal(r.sequences.length, 6);
    r.sequences.forEach((s, i) => assert.deepEqual(s.slice(0, 6), BATCH[Math.floor(i / 3)], `row ${i} starts with its prompt`));
    const gen = newIds(r);
    for (const p of [0, 1]) {
      const mine = gen.slice(p * 3, p * 3 + 3).map((g) => g.join(','));
      assert.equal(new Set(mine).size, 3, `prompt ${p}: three different samples ${JSON.stringify(mine)}`);
    }
    assert.deepEqual((await run(BATCH, { ...SAMPLE, numReturnSequences: 3, seed: 11 })).sequences, r.sequences, 'same seed, same samples');
    assert.notDeepEqual((await run(BATCH, { ...SAMPLE, numReturnSequences: 3, seed: 12 })).sequences, r.sequences, 'another seed, other samples');
    // Sample k has its own stream: n = 2 gives the first two of n = 3.
    const two = await run(BATCH, { ...SAMPLE, numReturnSequences: 2, seed: 11 });
    assert.deepEqual(newIds(two), [gen[0], gen[1], gen[3], gen[4]]);
    // Prompt 1 alone, given the seed it has in the batch, samples what it does in the batch (exactly
    // so in float32 here; a batch of another shape rounds the logits differently, which can change a token).
    const alone = await run([BATCH[1]!.slice(0)], { ...SAMPLE, numReturnSequences: 3, seed: promptSeeds(11, 1, 1) });
    assert.deepEqual(newIds(alone), gen.slice(3));
    assert.equal(r.stats.newTokens, gen.reduce((a, g) => a + g.length, 0));
    assert.equal(tiny.gpu.bytesInUse(), before, 'no GPU memory left behind');
    await assert.rejects(run(BATCH, { ...SAMPLE, seed: [1, 2, 3] }), (e: unknown) => e instanceof OpArgumentError && e.arg === 'seed');
  });

  it('beam search: the n best finished beams in descending score; the first is the n = 1 result (golden beam4)', async () => {
    const golden = (JSON.parse(readFileSync(goldenJson!, 'utf8')) as { generation: { beam4: number[] } }).generation.beam4;
    const one = await run([PROMPT], { maxNewTokens: 16, numBeams: 4, earlyStopping: true });
    assert.deepEqual(one.sequences, [golden]);
    const r = await run([PROMPT], { maxNewTokens: 16, numBeams: 4, earlyStopping: true, numReturnSequences: 3 });
    assert.equal(r.sequences.length, 3);
    assert.equal(r.sequencesScores!.length, 3);
    const best = r.sequences[0]!;
    assert.deepEqual(best.slice(0, golden.length), golden);
    assert.ok(best.slice(golden.length).every((t) => t === 1), 'the best beam padded to the longest returned');
    assert.equal(r.sequencesScores![0], one.sequencesScores![0]);
    for (let k = 1; k < 3; k++) assert.ok(r.sequencesScores![k]! <= r.sequencesScores![k - 1]!, `scores descend: ${r.sequencesScores}`);
    assert.equal(new Set(r.sequences.map((s) => s.join(','))).size, 3, 'three different hypotheses');
    // A batch without early stopping: prompt-major, each prompt's n beams descending.
    const b = await run(BATCH, { maxNewTokens: 6, numBeams: 3, numReturnSequences: 3, lengthPenalty: 0.5 });
    assert.equal(b.sequences.length, 6);
    for (const p of [0, 1]) {
      const s = b.sequencesScores!.slice(p * 3, p * 3 + 3);
      assert.ok(s[0]! >= s[1]! && s[1]! >= s[2]!, `prompt ${p} scores descend: ${s}`);
      for (let k = 0; k < 3; k++) assert.deepEqual(b.sequences[p * 3 + k]!.slice(0, 6), BATCH[p]);
    }
    const b1 = await run(BATCH, { maxNewTokens: 6, numBeams: 3, lengthPenalty: 0.5 });
    assert.deepEqual(newIds(b1), [newIds(b)[0], newIds(b)[3]], 'rank 0 is the n = 1 result');
  });

  it('greedy with n > 1 and beams with n > numBeams are refused before any forward', async () => {
    await assert.rejects(run([PROMPT], { numReturnSequences: 2 }), /numReturnSequences.*greedy/);
    await assert.rejects(run([PROMPT], { numReturnSequences: 3, numBeams: 2 }), /at most numBeams \(2\)/);
  });
});
