/**
 * Shared by `radgrad generate` and `radgrad eval`: the generation flags (named as transformers'
 * generate arguments), model + adapter + tokenizer loading, and the --adapter split (the root
 * program's --adapter picks the GPU; after the subcommand it is the LoRA adapter folder).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { RadgradError } from '../../src/errors.js';
import '../../src/ops/index.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { BioGptTokenizer } from '../../src/tokenizer/index.js';
import { loadAdapter } from '../../src/nn/lora.js';
import { quantizeInt8 } from '../../src/models/biogpt/quantize.js';
import { setAttnImplementation } from '../../src/models/biogpt/attention.js';
import { ATTN_IMPLEMENTATIONS, type AttnImplementation } from '../../src/models/biogpt/config.js';
import type { GenerateOptions } from '../../src/generate/index.js';

export interface GenFlags {
  maxNewTokens?: string;
  minNewTokens?: string;
  numBeams?: string;
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

export function addGenerationOptions(cmd: Command, defaultMaxNew: number): Command {
  return cmd
    .option('--max-new-tokens <n>', `new tokens at most (default ${defaultMaxNew})`)
    .option('--min-new-tokens <n>', 'suppress </s> until this many new tokens (default 0)')
    .option('--num-beams <n>', 'beam search with n beams (default 1: greedy / sampling)')
    .option('--do-sample', 'sample instead of taking the most likely token')
    .option('--temperature <t>', 'sampling temperature (default 1)')
    .option('--top-k <k>', 'sampling: keep the k most likely tokens (default 50, 0 = off)')
    .option('--top-p <p>', 'sampling: nucleus mass to keep (default 1 = off)')
    .option('--repetition-penalty <p>', 'CTRL repetition penalty, > 1 discourages repeats (default 1)')
    .option('--no-repeat-ngram-size <n>', 'never repeat an n-gram of this size (default 0 = off)')
    .option('--length-penalty <x>', 'beam score = log p / length^x (default 1)')
    .option('--early-stopping [mode]', 'beam search: true (stop at num-beams finished), false (heuristic, default) or never')
    .option('--seed <n>', 'sampling seed (default 0)')
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

export function generationOptions(f: GenFlags, defaultMaxNew: number): GenerateOptions {
  const o: GenerateOptions = { maxNewTokens: num('--max-new-tokens', f.maxNewTokens, true, 1) ?? defaultMaxNew };
  const set = <K extends keyof GenerateOptions>(k: K, v: GenerateOptions[K] | undefined) => {
    if (v !== undefined) o[k] = v;
  };
  set('minNewTokens', num('--min-new-tokens', f.minNewTokens, true, 0));
  set('numBeams', num('--num-beams', f.numBeams, true, 1, 64));
  if (f.doSample) o.doSample = true;
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
  notes: string[];
}

/** Loads the model (optionally int8 base + LoRA adapter) and, when its files exist, the tokenizer. */
export function loadForGeneration(o: { model?: string; adapter?: string; tokenizer?: string; int8?: boolean; attnImplementation?: string; needTokenizer: boolean }): LoadedModel {
  if (!o.model) throw new RadgradError('--model <dir> is required', { hint: 'a Hugging Face BioGPT folder (config.json + model.safetensors), e.g. the base model written by `radgrad demo`' });
  if (!fs.existsSync(path.join(o.model, 'config.json'))) throw new RadgradError(`${o.model}: no config.json`, { hint: 'pass the folder written by save_pretrained (config.json + model.safetensors)' });
  const notes: string[] = [];
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
  return { model, tokenizer, notes };
}

/** Prompts as typed in a shell: a literal backslash-n becomes a newline (BioGPT's prompts hold "\nFindings:"). */
export function unescapePrompt(s: string): string {
  return s.replace(/\\n/g, '\n').replace(/\\t/g, '\t');
}

/** A prompt as the user can find it again: its token count and where it came from. */
export interface NamedPrompt {
  tokens: number;
  /** e.g. "record 11 (id p10/s5, line 12 of eval.jsonl)". */
  name: string;
}

/**
 * Checks every prompt against the model's positions before anything is generated, so a long prompt
 * late in a file cannot throw away the work done on the ones before it. Prompts are never
 * truncated or skipped silently (that would change what is evaluated); the error names them.
 */
export function checkPromptLengths(cmd: string, prompts: readonly NamedPrompt[], maxPos: number, maxNew: number): void {
  const list = (bad: readonly NamedPrompt[]) =>
    bad.slice(0, 5).map((p) => `${p.name}: ${p.tokens} tokens`).join('; ') + (bad.length > 5 ? `; ... ${bad.length - 5} more` : '');
  const alone = prompts.filter((p) => p.tokens >= maxPos);
  if (alone.length) {
    throw new RadgradError(
      `${cmd}: ${alone.length === 1 ? 'a prompt fills' : `${alone.length} prompts fill`} the model's ${maxPos} positions (max_position_embeddings) on ${alone.length === 1 ? 'its' : 'their'} own, ` +
        `leaving no room for a new token (${list(alone)})`,
      { hint: `prompts must be at most ${maxPos - 1} tokens: shorten or remove ${alone.length === 1 ? 'it' : 'them'}; nothing was generated` },
    );
  }
  const over = prompts.filter((p) => p.tokens + maxNew > maxPos);
  if (over.length) {
    const longest = Math.max(...prompts.map((p) => p.tokens));
    throw new RadgradError(
      `${cmd}: ${over.length === 1 ? 'a prompt' : `${over.length} prompts`} + --max-new-tokens ${maxNew} exceed the model's ${maxPos} positions (max_position_embeddings) (${list(over)})`,
      { hint: `lower --max-new-tokens to ${maxPos - longest} (room for every prompt), or shorten those prompts; nothing was generated` },
    );
  }
}
