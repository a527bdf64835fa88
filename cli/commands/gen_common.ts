/**
 * Shared by `radgrad generate` and `radgrad eval`: the generation flags (named as transformers'
 * generate arguments) over the model folder's generation_config.json over the command's defaults,
 * model + adapter + tokenizer loading, and the --adapter split (the root program's --adapter picks
 * the GPU; after the subcommand it is the LoRA adapter folder).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { OpArgumentError, RadgradError } from '../../src/errors.js';
import '../../src/ops/index.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';
import { loadAdapter } from '../../src/nn/lora.js';
import { quantizeInt8 } from '../../src/models/biogpt/quantize.js';
import { setAttnImplementation } from '../../src/models/biogpt/attention.js';
import { ATTN_IMPLEMENTATIONS, type AttnImplementation } from '../../src/models/biogpt/config.js';
import {
  checkPromptLengths, describeGenerationConfig, mergeGenerationOptions, readGenerationConfig, resolveOptions, DEFAULT_MAX_NEW_TOKENS, GENERATION_CONFIG_FILE,
  GenerationConfigValueError, type GenerateOptions, type LengthLimit,
} from '../../src/generate/index.js';
import type { ResolvedOptions } from '../../src/generate/generate.js';

export interface GenFlags {
  maxNewTokens?: string;
  maxLength?: string;
  minNewTokens?: string;
  numBeams?: string;
  /** generate only (eval scores one prediction per record). */
  numReturnSequences?: string;
  doSample?: boolean;
  temperature?: string;
  topK?: string;
  topP?: string;
  repetitionPenalty?: string;
  noRepeatNgramSize?: string;
  /**
   * What commander makes of --no-repeat-ngram-size <n>: a "--no-" flag is the negation of
   * --repeat-ngram-size, so the value lands here (and is `true` when the flag is absent).
   */
  repeatNgramSize?: string | boolean;
  lengthPenalty?: string;
  earlyStopping?: string | boolean;
  seed?: string;
  attnImplementation?: string;
}

/** The generation flags; `returnSequences` adds --num-return-sequences (generate, not eval). */
export function addGenerationOptions(cmd: Command, defaultMaxNew: number, o: { returnSequences?: boolean } = {}): Command {
  cmd
    .option('--max-new-tokens <n>', `new tokens at most (default ${defaultMaxNew}, unless generation_config.json sets max_new_tokens or max_length)`)
    .option('--max-length <n>', "total tokens at most, prompt (left padding included) + new, as transformers' max_length; instead of --max-new-tokens")
    .option('--min-new-tokens <n>', 'suppress </s> until this many new tokens (default 0)')
    .option('--num-beams <n>', 'beam search with n beams (default 1: greedy / sampling)');
  if (o.returnSequences) {
    cmd.option('--num-return-sequences <n>', "sequences per prompt, as transformers' num_return_sequences: n samples (--do-sample) or the n best beams (n <= --num-beams); default 1");
  }
  return cmd
    .option('--do-sample', 'sample instead of taking the most likely token')
    .option('--no-do-sample', 'greedy / beam search even if generation_config.json sets do_sample')
    .option('--temperature <t>', 'sampling temperature (default 1)')
    .option('--top-k <k>', 'sampling: keep the k most likely tokens (default 50, 0 = off)')
    .option('--top-p <p>', 'sampling: nucleus mass to keep (default 1 = off)')
    .option('--repetition-penalty <p>', 'CTRL repetition penalty, > 1 discourages repeats (default 1)')
    .option('--no-repeat-ngram-size <n>', 'never repeat an n-gram of this size (default 0 = off)')
    .option('--length-penalty <x>', 'beam score = log p / length^x (default 1)')
    .option('--early-stopping [mode]', 'beam search: true (stop at num-beams finished), false (heuristic, default) or never')
    .option('--seed <n>', "sampling seed (default 0); each prompt's samples draw from streams derived from it and the prompt's position in the input")
    .option('--attn-implementation <name>', "attention kernels, as transformers' attn_implementation: eager (composite ops) or flash (fused; one kernel per decode step and layer). Default: the model's config.json, else eager");
}

function num(flag: string, v: string | undefined, int: boolean, min: number, max = Infinity): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min || n > max) {
    throw new RadgradError(`${flag} must be ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)}`, { hint: 'see --help for the flag ranges' });
  }
  return n;
}

/** Help text on generation_config.json, shared by generate and eval. */
export const GENERATION_CONFIG_HELP = `
The model folder's generation_config.json, when it exists, gives the defaults as in transformers'
generate(): num_beams, do_sample, temperature, top_k, top_p, repetition_penalty,
no_repeat_ngram_size, length_penalty, early_stopping, max_new_tokens, max_length, min_new_tokens,
num_return_sequences (generate only), eos_token_id and pad_token_id; flags override them
(--no-do-sample turns its do_sample off). One line says what was taken; keys radgrad does not
implement are named in a warning and ignored.`;

/** The generation options the flags give explicitly (the defaults come in loadForGeneration). */
export function generationOptions(f: GenFlags): GenerateOptions {
  const o: GenerateOptions = {};
  const set = <K extends keyof GenerateOptions>(k: K, v: GenerateOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  if (f.maxNewTokens !== undefined && f.maxLength !== undefined) {
    throw new RadgradError('give --max-new-tokens or --max-length, not both', { hint: '--max-new-tokens counts new tokens only; --max-length counts the prompt too (transformers\' max_length)' });
  }
  set('maxNewTokens', num('--max-new-tokens', f.maxNewTokens, true, 1));
  set('maxLength', num('--max-length', f.maxLength, true, 2));
  set('minNewTokens', num('--min-new-tokens', f.minNewTokens, true, 0));
  set('numBeams', num('--num-beams', f.numBeams, true, 1, 64));
  set('numReturnSequences', num('--num-return-sequences', f.numReturnSequences, true, 1));
  if (f.doSample !== undefined) o.doSample = f.doSample;
  set('temperature', num('--temperature', f.temperature, false, 1e-6));
  set('topK', num('--top-k', f.topK, true, 0));
  set('topP', num('--top-p', f.topP, false, 1e-6, 1));
  set('repetitionPenalty', num('--repetition-penalty', f.repetitionPenalty, false, 1e-6));
  set('noRepeatNgramSize', num('--no-repeat-ngram-size', typeof f.repeatNgramSize === 'string' ? f.repeatNgramSize : f.noRepeatNgramSize, true, 0));
  set('lengthPenalty', num('--length-penalty', f.lengthPenalty, false, -100, 100));
  set('seed', num('--seed', f.seed, true, 0, 2 ** 32 - 1));
  if (f.earlyStopping !== undefined) {
    const e = f.earlyStopping;
    if (e === true || e === 'true') o.earlyStopping = true;
    else if (e === 'false') o.earlyStopping = false;
    else if (e === 'never') o.earlyStopping = 'never';
    else throw new RadgradError(`--early-stopping must be true, false or never, got ${JSON.stringify(e)}`);
  }
  return o;
}

export interface LoadedModel {
  model: BioGptForCausalLM;
  tokenizer: BioGptTokenizer | null;
  /** Lines for stderr: what was loaded, what generation_config.json gave (and a warning line). */
  notes: string[];
  /** Flags over generation_config.json over the command's defaults. */
  gen: GenerateOptions;
  /** The generation_config.json values in use ("key=value"), empty without the file. */
  generationConfig: string[];
  /** The length limit and where it came from, for messages: "--max-new-tokens 64", "max_length 30 (generation_config.json)". */
  lengthLimit: string;
}

/**
 * Loads the model (optionally int8 base + LoRA adapter) and, when its files exist, the tokenizer;
 * the generation options are the explicit flags (`generation`) over the folder's
 * generation_config.json over { maxNewTokens: defaultMaxNew }.
 */
export function loadForGeneration(o: {
  model?: string; adapter?: string; tokenizer?: string; int8?: boolean; attnImplementation?: string; needTokenizer: boolean;
  generation?: GenerateOptions; defaultMaxNew?: number;
  /** generation_config.json keys the command cannot honour, with why (listed as not used). */
  notUsed?: Readonly<Record<string, string>>;
}): LoadedModel {
  if (!o.model) throw new RadgradError('--model <dir> is required', { hint: 'a Hugging Face BioGPT folder (config.json + model.safetensors), e.g. the base model written by `radgrad demo`' });
  if (!fs.existsSync(path.join(o.model, 'config.json'))) throw new RadgradError(`${o.model}: no config.json`, { hint: 'pass the folder written by save_pretrained (config.json + model.safetensors)' });
  const notes: string[] = [];
  const explicit = o.generation ?? {};
  let gc: ReturnType<typeof readGenerationConfig>;
  let merged: ReturnType<typeof mergeGenerationOptions>;
  try {
    gc = readGenerationConfig(o.model);
    merged = mergeGenerationOptions(explicit, gc, { maxNewTokens: o.defaultMaxNew ?? DEFAULT_MAX_NEW_TOKENS }, o.notUsed);
  } catch (e) {
    throw fileValueInCliWords(e);
  }
  if (gc) {
    const d = describeGenerationConfig(merged, GENERATION_CONFIG_FILE);
    notes.push(d.line);
    if (d.warning) notes.push(d.warning);
  }
  const gen = merged.options;
  const fromFile = explicit.maxNewTokens === undefined && explicit.maxLength === undefined && gc !== null && (gc.options.maxNewTokens !== undefined || gc.options.maxLength !== undefined);
  const lengthLimit = gen.maxNewTokens !== undefined
    ? (fromFile ? `max_new_tokens ${gen.maxNewTokens} (${GENERATION_CONFIG_FILE})` : `--max-new-tokens ${gen.maxNewTokens}`)
    : fromFile ? `max_length ${gen.maxLength} (${GENERATION_CONFIG_FILE})` : `--max-length ${gen.maxLength}`;
  const model = BioGptForCausalLM.fromPretrained(o.model);
  if (o.int8) notes.push(`int8 base: ${quantizeInt8(model)} projections quantised`);
  if (o.adapter !== undefined) {
    if (!fs.existsSync(o.adapter)) throw new RadgradError(`adapter folder ${o.adapter} does not exist`, { hint: 'pass a PEFT adapter folder (adapter_config.json + adapter_model.safetensors)' });
    const c = loadAdapter(model, o.adapter, { dropout: 0 });
    notes.push(`LoRA adapter r=${c.r} on ${c.targetModules} from ${o.adapter}`);
  }
  if (o.attnImplementation !== undefined) {
    if (!(ATTN_IMPLEMENTATIONS as readonly string[]).includes(o.attnImplementation)) {
      throw new RadgradError(`--attn-implementation must be one of ${ATTN_IMPLEMENTATIONS.join(', ')}, got ${JSON.stringify(o.attnImplementation)}`, { hint: 'flash runs the fused attention kernels, eager the composite ops' });
    }
    setAttnImplementation(model, o.attnImplementation as AttnImplementation);
    notes.push(`attention: ${o.attnImplementation}`);
  }
  model.eval();
  const tokDir = o.tokenizer ?? o.model;
  let tokenizer: BioGptTokenizer | null = null;
  if (fs.existsSync(path.join(tokDir, 'vocab.json')) && fs.existsSync(path.join(tokDir, 'merges.txt'))) tokenizer = BioGptTokenizer.fromDir(tokDir);
  else if (o.needTokenizer) throw new RadgradError(`${tokDir}: no vocab.json + merges.txt`, { hint: 'pass --tokenizer <dir> (e.g. ../shared/data/biogpt-vocab), or give --prompt-ids' });
  return { model, tokenizer, notes, gen, generationConfig: merged.taken, lengthLimit };
}

/** GenerateOptions fields that have a flag of the same name in kebab case (numBeams → --num-beams). */
const FLAG_OPTIONS: ReadonlySet<string> = new Set([
  'maxNewTokens', 'maxLength', 'minNewTokens', 'numBeams', 'numReturnSequences', 'doSample', 'temperature', 'topK', 'topP',
  'repetitionPenalty', 'noRepeatNgramSize', 'lengthPenalty', 'earlyStopping', 'seed',
]);
// Only camelCase names are replaced in text: "seed" and "temperature" are also plain words.
const OPTION_WORD = new RegExp(`\\b(${[...FLAG_OPTIONS].filter((o) => /[A-Z]/.test(o)).join('|')})\\b`, 'g');

/** The flag of a GenerateOptions field: numReturnSequences → --num-return-sequences. */
export function optionFlag(option: string): string {
  return `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The generation_config.json key of a GenerateOptions field: numReturnSequences → num_return_sequences. */
function fileKey(option: string): string {
  return option.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Library wording (GenerateOptions' field names) in the CLI's: each field name becomes its flag. */
export function withFlags(text: string): string {
  return text.replace(OPTION_WORD, (m) => optionFlag(m));
}

/** A flag setting that always passes the check of that option, offered when the file's value fails it. */
const SAFE_OVERRIDE: Readonly<Record<string, string>> = { numReturnSequences: '--num-return-sequences 1', numBeams: '--num-beams 1', doSample: '--no-do-sample' };

/** A generation_config.json value generate() cannot use, with the flag that overrides it in the hint. */
function fileValueInCliWords(e: unknown): unknown {
  if (!(e instanceof GenerationConfigValueError)) return e;
  const how = FLAG_OPTIONS.has(e.option) ? `override it with ${optionFlag(e.option)}` : 'no flag overrides it';
  return new RadgradError(e.message, { cause: e, hint: `fix ${e.key} in ${e.file}, or ${how}` });
}

/**
 * A generate() option error as the CLI says it: the flag instead of the field name, or, for a
 * value that came from generation_config.json (`taken`: its "key=value" in use), the file's key
 * and the flag that overrides it. Other errors are returned as they are.
 */
export function inCliWords(cmd: string, e: unknown, explicit: GenerateOptions, taken: readonly string[]): unknown {
  if (!(e instanceof OpArgumentError) || e.op !== 'generate' || !FLAG_OPTIONS.has(e.arg)) return e;
  const flag = optionFlag(e.arg);
  const key = fileKey(e.arg);
  const fromFile = (explicit as Record<string, unknown>)[e.arg] === undefined && taken.some((t) => t.startsWith(`${key}=`));
  const subject = fromFile ? `${key} ${e.got} from ${GENERATION_CONFIG_FILE} (${flag})` : flag;
  const override = fromFile && SAFE_OVERRIDE[e.arg] ? `; or override the file with ${SAFE_OVERRIDE[e.arg]}` : '';
  const hint = e.hint ? withFlags(e.hint) : `see \`radgrad ${cmd} --help\` for ${flag}`;
  return new RadgradError(`${cmd}: ${subject} expected ${withFlags(e.expected)}, got ${e.got}`, { cause: e, hint: hint + override });
}

/** resolveOptions (generate()'s checks) before any prompt is generated, its errors worded with the flags and the file's keys. */
export function resolveForCli(cmd: string, model: BioGptForCausalLM, loaded: Pick<LoadedModel, 'gen' | 'generationConfig'>, explicit: GenerateOptions): ResolvedOptions {
  try {
    return resolveOptions(model, loaded.gen);
  } catch (e) {
    throw inCliWords(cmd, e, explicit, loaded.generationConfig);
  }
}

/**
 * generate()'s length rules over every prompt of a run (its token count), before anything is
 * generated, worded with the flags; `limit` is LoadedModel.lengthLimit, nameOf(i) where prompt i
 * came from (called only for the prompts an error names).
 */
export function checkRunPromptLengths(cmd: string, tokens: readonly number[], nameOf: (i: number) => string, maxPos: number, gen: LengthLimit, limit: string): void {
  checkPromptLengths(cmd, tokens, maxPos, gen, { limit, maxNewTokens: '--max-new-tokens', maxLength: '--max-length', nameOf, hintEnd: 'nothing was generated' });
}

/** Prompts as typed in a shell: a literal backslash-n becomes a newline (BioGPT's prompts hold "\nFindings:"). */
export function unescapePrompt(s: string): string {
  return s.replace(/\\n/g, '\n').replace(/\\t/g, '\t');
}
