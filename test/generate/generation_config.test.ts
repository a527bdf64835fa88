// generation_config.json as generate() defaults (no GPU): which keys are taken, skipped or reported,
// and how explicit options, the file and radgrad's defaults combine (transformers' precedence).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileFormatError } from '../../src/errors.js';
import { describeGenerationConfig, GenerationConfigValueError, mergeGenerationOptions, parseGenerationConfig, readGenerationConfig } from '../../src/generate/index.js';
import { SUPPORTED_KEYS } from '../../src/generate/generation_config.js';

const F = 'm/generation_config.json';

describe('parseGenerationConfig', () => {
  it('maps the keys radgrad implements to GenerateOptions, null meaning unset', () => {
    const g = parseGenerationConfig({
      num_beams: 4, num_return_sequences: 2, do_sample: false, temperature: 0.7, top_k: 10, top_p: 0.9, repetition_penalty: 1.2, no_repeat_ngram_size: 3,
      length_penalty: 0.5, early_stopping: 'never', max_new_tokens: null, max_length: 40, min_new_tokens: 2, eos_token_id: [2, 5], pad_token_id: 1,
    }, F);
    assert.deepEqual(g.options, {
      numBeams: 4, numReturnSequences: 2, doSample: false, temperature: 0.7, topK: 10, topP: 0.9, repetitionPenalty: 1.2, noRepeatNgramSize: 3,
      lengthPenalty: 0.5, earlyStopping: 'never', maxLength: 40, minNewTokens: 2, eosTokenId: [2, 5], padTokenId: 1,
    });
    assert.equal('max_new_tokens' in g.applied, false);
    assert.deepEqual(g.unsupported, []);
  });
  it('skips bookkeeping keys and unsupported keys at transformers\' default; reports the others with their values', () => {
    const g = parseGenerationConfig({
      transformers_version: '5.17.0', _from_model_config: true, use_cache: true, output_attentions: false, bos_token_id: 0,
      num_beam_groups: 1, min_length: 0, bad_words_ids: null, suppress_tokens: [], typical_p: 1.0,
      num_return_sequences_x: null, diversity_penalty: 0.5, min_length_: 3, forced_eos_token_id: 2,
    }, F);
    assert.deepEqual(g.options, {});
    assert.deepEqual(g.unsupported, ['diversity_penalty=0.5', 'min_length_=3', 'forced_eos_token_id=2']);
  });
  it('refuses a supported key with a value generate() cannot use, naming file and key', () => {
    for (const [key, v] of [['num_beams', 0], ['num_beams', 2.5], ['num_return_sequences', 0], ['do_sample', 'yes'], ['early_stopping', 'always'], ['eos_token_id', -1], ['eos_token_id', []], ['pad_token_id', 'x'], ['max_length', 1], ['length_penalty', 'big']] as const) {
      assert.throws(() => parseGenerationConfig({ [key]: v }, F), (e: unknown) =>
        e instanceof GenerationConfigValueError && e.message.startsWith(`${F}: ${key} must be`) && e.key === key && e.option === SUPPORTED_KEYS[key]!.option &&
        e.hint!.includes(`fix ${key} in ${F}`) && !/--|radgrad /.test(e.hint!), `${key}=${JSON.stringify(v)}`);
    }
    assert.throws(() => parseGenerationConfig([1], F), /not a JSON object/);
  });
});

describe('mergeGenerationOptions', () => {
  const gc = (json: Record<string, unknown>) => parseGenerationConfig(json, F);
  it('explicit options over the file over the fallback', () => {
    const m = mergeGenerationOptions({ numBeams: 2 }, gc({ num_beams: 4, no_repeat_ngram_size: 3, eos_token_id: 2 }), { maxNewTokens: 64 });
    assert.deepEqual(m.options, { maxNewTokens: 64, numBeams: 2, noRepeatNgramSize: 3, eosTokenId: 2 });
    assert.deepEqual(m.taken, ['no_repeat_ngram_size=3', 'eos_token_id=2']);
    assert.deepEqual(m.overridden, ['num_beams']);
    assert.deepEqual(mergeGenerationOptions({ numBeams: 2 }, null, { maxNewTokens: 64 }).options, { maxNewTokens: 64, numBeams: 2 });
  });
  it('takes the length limit as one: explicit, else the file (max_new_tokens over max_length), else the fallback', () => {
    assert.deepEqual(mergeGenerationOptions({}, gc({ max_length: 30 }), { maxNewTokens: 64 }).options, { maxLength: 30 });
    const both = mergeGenerationOptions({}, gc({ max_length: 30, max_new_tokens: 5 }), { maxNewTokens: 64 });
    assert.deepEqual(both.options, { maxNewTokens: 5 });
    assert.deepEqual(both.unused, ['max_length (max_new_tokens wins)']);
    const flag = mergeGenerationOptions({ maxLength: 12 }, gc({ max_new_tokens: 5 }), { maxNewTokens: 64 });
    assert.deepEqual(flag.options, { maxLength: 12 });
    assert.deepEqual(flag.overridden, ['max_new_tokens']);
    assert.deepEqual(mergeGenerationOptions({ maxLength: 12 }, null, { maxNewTokens: 64 }).options, { maxLength: 12 });
  });
  it('uses the sampling keys only when sampling; an explicit doSample false turns the file\'s off', () => {
    const file = { do_sample: true, temperature: 0.7, top_k: 0 };
    assert.deepEqual(mergeGenerationOptions({}, gc(file)).options, { doSample: true, temperature: 0.7, topK: 0 });
    const off = mergeGenerationOptions({ doSample: false }, gc(file));
    assert.deepEqual(off.options, { doSample: false });
    assert.deepEqual(off.unused, ['temperature (do_sample is false)', 'top_k (do_sample is false)']);
    // temperature 0 is refused only if it would be used (transformers only complains when sampling).
    assert.deepEqual(mergeGenerationOptions({}, gc({ temperature: 0 })).options, {});
    assert.throws(() => mergeGenerationOptions({ doSample: true }, gc({ temperature: 0 })), /temperature must be a number in \(0, inf\), got 0/);
  });
  it('describes what was taken in one line, and warns about unsupported keys by name', () => {
    const m = mergeGenerationOptions({ numBeams: 1 }, gc({ num_beams: 4, max_length: 20, temperature: 0.5, num_beam_groups: 2, transformers_version: 'x' }), { maxNewTokens: 64 });
    const d = describeGenerationConfig(m, 'generation_config.json');
    assert.equal(d.line, 'defaults taken from generation_config.json: max_length=20; overridden by flags: num_beams; not used: temperature (do_sample is false)');
    assert.equal(d.warning, 'warning: generation_config.json sets a key radgrad does not implement, ignored, so decoding can differ from transformers: num_beam_groups=2');
    const none = describeGenerationConfig(mergeGenerationOptions({}, gc({ transformers_version: 'x' })), 'generation_config.json');
    assert.deepEqual(none, { line: 'generation_config.json: no generation default taken from it', warning: null });
  });
  it('lists the keys a caller cannot honour as not used, with why (eval and num_return_sequences)', () => {
    const file = gc({ num_beams: 4, num_return_sequences: 2 });
    assert.deepEqual(mergeGenerationOptions({}, file).options, { numBeams: 4, numReturnSequences: 2 });
    const m = mergeGenerationOptions({}, file, {}, { num_return_sequences: 'eval scores one prediction per record' });
    assert.deepEqual(m.options, { numBeams: 4 });
    assert.deepEqual(m.taken, ['num_beams=4']);
    assert.deepEqual(m.unused, ['num_return_sequences (eval scores one prediction per record)']);
  });
});

describe('readGenerationConfig', () => {
  it('is null without the file and names the file when it is not JSON', (t) => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-gencfg-'));
    t.after(() => fs.rmSync(d, { recursive: true, force: true }));
    assert.equal(readGenerationConfig(d), null);
    fs.writeFileSync(path.join(d, 'generation_config.json'), '{"num_beams": 4,');
    assert.throws(() => readGenerationConfig(d), (e: unknown) => e instanceof FileFormatError && e.file === path.join(d, 'generation_config.json') && /not valid JSON/.test(e.message) && /fix or remove/.test(e.hint!));
    fs.writeFileSync(path.join(d, 'generation_config.json'), '{"num_beams": 4}');
    assert.deepEqual(readGenerationConfig(d)!.options, { numBeams: 4 });
  });
});
