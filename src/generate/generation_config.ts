/**
 * A model folder's generation_config.json (transformers' GenerationConfig) read as generate()
 * defaults, as GenerationMixin.generate starts from model.generation_config: the keys radgrad
 * implements become GenerateOptions; keys that only describe the file or the outputs
 * (transformers_version, _from_model_config, use_cache, output_*, ...) are skipped; any other key
 * set to something other than transformers' default would change decoding in transformers and is
 * returned in `unsupported` so the caller can say so instead of decoding differently in silence.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FileFormatError } from '../errors.js';
import type { GenerateOptions } from './generate.js';

export const GENERATION_CONFIG_FILE = 'generation_config.json';

type Kind = 'int' | 'num' | 'bool' | 'early' | 'ids' | 'id';
interface Supported {
  option: keyof GenerateOptions;
  kind: Kind;
  min?: number;
  max?: number;
  /** Min is exclusive. */
  above?: boolean;
}

/** generation_config.json key → GenerateOptions field, with the values radgrad accepts. */
export const SUPPORTED_KEYS: Readonly<Record<string, Supported>> = {
  max_new_tokens: { option: 'maxNewTokens', kind: 'int', min: 1 },
  max_length: { option: 'maxLength', kind: 'int', min: 2 },
  min_new_tokens: { option: 'minNewTokens', kind: 'int', min: 0 },
  num_beams: { option: 'numBeams', kind: 'int', min: 1, max: 64 },
  num_return_sequences: { option: 'numReturnSequences', kind: 'int', min: 1 },
  do_sample: { option: 'doSample', kind: 'bool' },
  temperature: { option: 'temperature', kind: 'num', min: 0, above: true },
  top_k: { option: 'topK', kind: 'int', min: 0 },
  top_p: { option: 'topP', kind: 'num', min: 0, max: 1, above: true },
  repetition_penalty: { option: 'repetitionPenalty', kind: 'num', min: 0, above: true },
  no_repeat_ngram_size: { option: 'noRepeatNgramSize', kind: 'int', min: 0 },
  length_penalty: { option: 'lengthPenalty', kind: 'num', min: -100, max: 100 },
  early_stopping: { option: 'earlyStopping', kind: 'early' },
  eos_token_id: { option: 'eosTokenId', kind: 'ids' },
  pad_token_id: { option: 'padTokenId', kind: 'id' },
};

/** Sampling-only keys: transformers ignores them (with a warning) when do_sample is false. */
export const SAMPLING_KEYS: readonly string[] = ['temperature', 'top_k', 'top_p'];

/**
 * Keys that do not change the tokens generated from a prompt: bookkeeping, what is returned,
 * caching and assisted decoding (same tokens), bos / decoder start (used only without a prompt or
 * by encoder-decoders).
 */
export const NO_EFFECT_KEYS: ReadonlySet<string> = new Set([
  'transformers_version', '_from_model_config', '_commit_hash', 'use_cache', 'cache_implementation', 'cache_config', 'return_legacy_cache',
  'output_attentions', 'output_hidden_states', 'output_scores', 'output_logits', 'return_dict_in_generate',
  'bos_token_id', 'decoder_start_token_id', 'is_encoder_decoder', 'compile_config', 'disable_compile', 'low_memory', 'trust_remote_code',
  'is_assistant', 'num_assistant_tokens', 'num_assistant_tokens_schedule', 'assistant_confidence_threshold', 'assistant_lookbehind',
  'target_lookbehind', 'prompt_lookup_num_tokens', 'max_matching_ngram_size', 'generation_kwargs', 'prefill_chunk_size',
]);

/**
 * transformers' defaults for keys radgrad does not implement: a file that spells them out (as
 * some do) decodes as radgrad does. null, [] and {} are defaults for every key.
 */
const UNSUPPORTED_DEFAULTS: Readonly<Record<string, unknown>> = {
  min_length: 0, num_beam_groups: 1, diversity_penalty: 0, typical_p: 1, epsilon_cutoff: 0, eta_cutoff: 0,
  encoder_repetition_penalty: 1, encoder_no_repeat_ngram_size: 0, renormalize_logits: false, remove_invalid_values: false, token_healing: false,
};

export interface GenerationConfigDefaults {
  /** The file read. */
  file: string;
  /** Options from the keys radgrad implements (null values, transformers' "unset", are left out). */
  options: GenerateOptions;
  /** The same, as the file spells them: key → value (for messages). */
  applied: Record<string, unknown>;
  /** Keys that would change decoding in transformers and that radgrad does not implement: "key=value". */
  unsupported: string[];
  /**
   * Sampling keys with values generate() refuses (e.g. temperature 0): an error only when sampling,
   * as transformers only complains then.
   */
  invalidSampling: Record<string, FileFormatError>;
}

function isDefault(key: string, v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v) && v.length === 0) return true;
  if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0) return true;
  return key in UNSUPPORTED_DEFAULTS && UNSUPPORTED_DEFAULTS[key] === v;
}

/** A generation_config.json value generate() cannot use: names the key and the option it sets (the CLI names the flag). */
export class GenerationConfigValueError extends FileFormatError {
  constructor(
    file: string,
    readonly key: string,
    readonly option: keyof GenerateOptions,
    problem: string,
  ) {
    super(file, problem, { hint: `fix ${key} in ${file}, or pass ${option} explicitly (an explicit option wins over the file)` });
  }
}

function convert(file: string, key: string, s: Supported, v: unknown): GenerateOptions[keyof GenerateOptions] {
  const bad = (problem: string) => new GenerationConfigValueError(file, key, s.option, problem);
  const range = () => `${s.min !== undefined ? `${s.above ? '(' : '['}${s.min}` : '(-inf'}, ${s.max ?? 'inf'}${s.max !== undefined ? ']' : ')'}`;
  const isId = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  switch (s.kind) {
    case 'bool':
      if (typeof v !== 'boolean') throw bad(`${key} must be true or false, got ${JSON.stringify(v)}`);
      return v;
    case 'early':
      if (v === true || v === false || v === 'never') return v;
      throw bad(`${key} must be true, false or "never", got ${JSON.stringify(v)}`);
    case 'id':
      if (!isId(v)) throw bad(`${key} must be a token id (an integer >= 0), got ${JSON.stringify(v)}`);
      return v as number;
    case 'ids':
      if (isId(v)) return v as number;
      if (Array.isArray(v) && v.length > 0 && v.every(isId)) return [...(v as number[])];
      throw bad(`${key} must be a token id or a list of them, got ${JSON.stringify(v)}`);
    default: {
      const ok =
        typeof v === 'number' && Number.isFinite(v) && (s.kind !== 'int' || Number.isInteger(v)) &&
        (s.min === undefined || (s.above ? v > s.min : v >= s.min)) && (s.max === undefined || v <= s.max);
      if (!ok) throw bad(`${key} must be ${s.kind === 'int' ? 'an integer' : 'a number'} in ${range()}, got ${JSON.stringify(v)}`);
      return v as number;
    }
  }
}

/** Reads generation_config.json's parsed contents (file names the source in messages). */
export function parseGenerationConfig(json: unknown, file: string): GenerationConfigDefaults {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FileFormatError(file, 'not a JSON object', { hint: 'a transformers GenerationConfig as written by save_pretrained, or remove the file' });
  }
  const options: GenerateOptions = {};
  const applied: Record<string, unknown> = {};
  const unsupported: string[] = [];
  const invalidSampling: Record<string, FileFormatError> = {};
  for (const [key, v] of Object.entries(json as Record<string, unknown>)) {
    const s = SUPPORTED_KEYS[key];
    if (s) {
      if (v === null) continue; // transformers' "not set"
      try {
        (options as Record<string, unknown>)[s.option] = convert(file, key, s, v);
      } catch (e) {
        if (!SAMPLING_KEYS.includes(key) || !(e instanceof FileFormatError)) throw e;
        invalidSampling[key] = e;
      }
      applied[key] = v;
    } else if (!NO_EFFECT_KEYS.has(key) && !isDefault(key, v)) unsupported.push(`${key}=${JSON.stringify(v)}`);
  }
  return { file, options, applied, unsupported, invalidSampling };
}

/** The folder's generation_config.json as generate() defaults, or null when it has none. */
export function readGenerationConfig(dir: string): GenerationConfigDefaults | null {
  const file = path.join(dir, GENERATION_CONFIG_FILE);
  if (!fs.existsSync(file)) return null;
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FileFormatError(file, `not valid JSON (${(e as Error).message})`, { cause: e, hint: 'fix or remove the file: radgrad reads it for the generation defaults, as transformers does' });
  }
  return parseGenerationConfig(json, file);
}

export interface MergedGeneration {
  options: GenerateOptions;
  /** "key=value" of the file's values in use. */
  taken: string[];
  /** Keys of the file that an explicit option replaced. */
  overridden: string[];
  /** Keys of the file without effect here, with why ("temperature (do_sample is false)"). */
  unused: string[];
  /** As GenerationConfigDefaults.unsupported. */
  unsupported: string[];
}

const LENGTH_KEYS = ['max_new_tokens', 'max_length'];

/**
 * Explicit options over the file's values over radgrad's defaults, as transformers' generate(**kwargs)
 * over model.generation_config. The length limit is taken as one: an explicit maxNewTokens or
 * maxLength replaces both of the file's; the file's max_new_tokens wins over its max_length (as in
 * transformers); the fallback's maxNewTokens applies only when neither says anything. Sampling keys
 * are used only when the result samples (transformers ignores them otherwise). `notUsed` names keys
 * of the file the caller cannot honour, with why (eval scores one prediction per record, so it
 * takes no num_return_sequences): they are listed as unused instead of taken.
 */
export function mergeGenerationOptions(
  explicit: GenerateOptions, gc: GenerationConfigDefaults | null, fallback: GenerateOptions = {}, notUsed: Readonly<Record<string, string>> = {},
): MergedGeneration {
  const out: MergedGeneration = { options: { ...fallback }, taken: [], overridden: [], unused: [], unsupported: gc ? [...gc.unsupported] : [] };
  const explicitLength = explicit.maxNewTokens !== undefined || explicit.maxLength !== undefined;
  const fileLength = gc !== null && (gc.options.maxNewTokens !== undefined || gc.options.maxLength !== undefined);
  if (explicitLength || fileLength) {
    delete out.options.maxNewTokens;
    delete out.options.maxLength;
  }
  if (gc) {
    const doSample = explicit.doSample ?? gc.options.doSample ?? fallback.doSample ?? false;
    for (const [key, v] of Object.entries(gc.applied)) {
      const opt = SUPPORTED_KEYS[key]!.option;
      if (LENGTH_KEYS.includes(key) ? explicitLength : explicit[opt] !== undefined) {
        out.overridden.push(key);
        continue;
      }
      if (key === 'max_length' && gc.options.maxNewTokens !== undefined) {
        out.unused.push('max_length (max_new_tokens wins)');
        continue;
      }
      if (key in notUsed) {
        out.unused.push(`${key} (${notUsed[key]})`);
        continue;
      }
      if (SAMPLING_KEYS.includes(key) && !doSample) {
        out.unused.push(`${key} (do_sample is false)`);
        continue;
      }
      const bad = gc.invalidSampling[key];
      if (bad) throw bad;
      (out.options as Record<string, unknown>)[opt] = gc.options[opt];
      out.taken.push(`${key}=${JSON.stringify(v)}`);
    }
  }
  for (const [k, v] of Object.entries(explicit)) if (v !== undefined) (out.options as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * The one line a CLI prints about a generation_config.json, and a warning line when it sets keys
 * radgrad does not implement (null when it does not).
 */
export function describeGenerationConfig(m: MergedGeneration, file: string): { line: string; warning: string | null } {
  const parts = [m.taken.length ? `defaults taken from ${file}: ${m.taken.join(', ')}` : `${file}: no generation default taken from it`];
  if (m.overridden.length) parts.push(`overridden by flags: ${m.overridden.join(', ')}`);
  if (m.unused.length) parts.push(`not used: ${m.unused.join(', ')}`);
  const warning = m.unsupported.length
    ? `warning: ${file} sets ${m.unsupported.length === 1 ? 'a key' : 'keys'} radgrad does not implement, ignored, so decoding can differ from transformers: ${m.unsupported.join(', ')}`
    : null;
  return { line: parts.join('; '), warning };
}
