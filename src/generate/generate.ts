/**
 * generate(): transformers' GenerationMixin.generate semantics for BioGPT — greedy, sampling and
 * beam search with the KV cache, left-padded batches, eos stopping (finished rows padded with the
 * pad id) and per-step processed scores. Logits processing runs on the host over the last
 * position's row(s), which is all that is read back each step.
 */
import { OpArgumentError, RadgradError } from '../errors.js';
import type { BioGptForCausalLM } from '../models/biogpt/model.js';
import { hashSeed, Rng } from '../data/rng.js';
import { DecodeStepper } from './stepper.js';
import type { Tensor } from '../tensor/tensor.js';
import { argmaxRow, processScores, sampleRow, type ProcessorConfig } from './logits_process.js';
import { beamSearch } from './beam.js';
import { DEFAULT_MAX_NEW_TOKENS, OPTION_LENGTH_NAMES, describeLengthLimit, findLengthProblem, lengthProblemError, type LengthWording } from './prompt_length.js';

export interface GenerateOptions {
  /** New tokens at most (transformers' max_new_tokens; default 20). Wins over maxLength. */
  maxNewTokens?: number;
  /**
   * Total length at most: the prompt batch (left padding included) + new tokens, as transformers'
   * max_length. Used only when maxNewTokens is not given; a prompt batch of maxLength tokens or
   * more is refused (transformers raises too).
   */
  maxLength?: number;
  /** Eos is suppressed until this many new tokens exist. */
  minNewTokens?: number;
  doSample?: boolean;
  temperature?: number;
  /** Sampling only; 0 disables (default 50, as transformers). */
  topK?: number;
  /** Sampling only; 1 disables. */
  topP?: number;
  repetitionPenalty?: number;
  noRepeatNgramSize?: number;
  numBeams?: number;
  /** Beam score = sum log p / generated_length ** lengthPenalty (default 1). */
  lengthPenalty?: number;
  /** true: stop a prompt once numBeams hypotheses are done; false: heuristic; 'never': canonical. */
  earlyStopping?: boolean | 'never';
  /** Default: the model config's eos_token_id (2). */
  eosTokenId?: number | number[];
  /** Default: the model config's pad_token_id (1). */
  padTokenId?: number;
  /**
   * Sequences returned per prompt (transformers' num_return_sequences, default 1): with sampling,
   * that many independent samples; with beam search, the best finished beams in descending score
   * (at most numBeams). Rows of the result are prompt-major: row b·n + k is prompt b's k-th.
   */
  numReturnSequences?: number;
  /**
   * Sampling seed, an integer >= 0 (own generator, so streams differ from torch's). Every returned
   * sequence draws from its own stream, derived from its prompt's seed and its index k among the
   * prompt's samples, so the random draws of sample k of a prompt do not depend on
   * numReturnSequences, on the other prompts or on which rows have finished. Its tokens can still
   * differ through the logits: a batch of another shape rounds them differently in float32 (this
   * rarely changes a token), and an int8 base finds its outlier columns over the whole batch (so a
   * batch can change the samples more often). A number s gives prompt b the seed promptSeeds(s, b);
   * an array gives each prompt's seed (seedsForChunk(s, first, count) lets batches of a larger run
   * keep the streams the prompts would have in one call).
   */
  seed?: number | readonly number[];
  /** [B, T] 1 = token, 0 = padding; default: ids != pad id (as transformers infers it). */
  attentionMask?: readonly (readonly number[])[];
  /** Return the processed scores of every step (rows × V each). */
  outputScores?: boolean;
  /** Streaming (greedy / sampling): the new token of every row, as soon as it is chosen. */
  onTokens?: (tokens: readonly number[], step: number) => void;
}

export interface GenerateResult {
  /**
   * [B·numReturnSequences, prompt + new] ids (prompt included, as transformers returns them),
   * prompt-major: row b·n + k is prompt b's k-th sequence (beam search: k-th best).
   */
  sequences: number[][];
  /** Prompt length T (the new tokens of row b are sequences[b].slice(promptLength)). */
  promptLength: number;
  /** Per step, the processed scores [rows, V] (rows = B·numReturnSequences, or B·numBeams for beam search). */
  scores?: Float32Array[];
  /** Beam search: the final (length-normalised) score of each returned sequence (descending per prompt). */
  sequencesScores?: number[];
  stats: GenerationStats;
}

export interface GenerationStats {
  prefillMs: number;
  decodeMs: number;
  /** Forward steps after the prefill. */
  steps: number;
  /** Tokens produced per second over all rows (prefill excluded from the time, its first token included). */
  tokensPerSecond: number;
  /** New tokens returned, over all rows (beam search: those of the returned hypotheses, not of every beam). */
  newTokens: number;
}

export interface ResolvedOptions extends Required<Omit<GenerateOptions, 'attentionMask' | 'onTokens' | 'eosTokenId' | 'seed' | 'maxLength'>> {
  eos: number[];
  seed: number | readonly number[];
}

export function resolveOptions(model: BioGptForCausalLM, o: GenerateOptions): ResolvedOptions {
  const cfg = model.config;
  const eosIn = o.eosTokenId ?? cfg.eosTokenId ?? 2;
  const r: ResolvedOptions = {
    maxNewTokens: o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS,
    minNewTokens: o.minNewTokens ?? 0,
    doSample: o.doSample ?? false,
    temperature: o.temperature ?? 1,
    topK: o.topK ?? 50,
    topP: o.topP ?? 1,
    repetitionPenalty: o.repetitionPenalty ?? 1,
    noRepeatNgramSize: o.noRepeatNgramSize ?? 0,
    numBeams: o.numBeams ?? 1,
    numReturnSequences: o.numReturnSequences ?? 1,
    lengthPenalty: o.lengthPenalty ?? 1,
    earlyStopping: o.earlyStopping ?? false,
    padTokenId: o.padTokenId ?? cfg.padTokenId ?? 1,
    outputScores: o.outputScores ?? false,
    eos: Array.isArray(eosIn) ? eosIn : [eosIn],
    seed: o.seed ?? 0,
  };
  const bad = (what: string, want: string, got: unknown) => new OpArgumentError('generate', what, want, String(got));
  if (!Number.isInteger(r.maxNewTokens) || r.maxNewTokens < 1) throw bad('maxNewTokens', 'an integer >= 1', r.maxNewTokens);
  if (!Number.isInteger(r.minNewTokens) || r.minNewTokens < 0) throw bad('minNewTokens', 'an integer >= 0', r.minNewTokens);
  if (!Number.isInteger(r.numBeams) || r.numBeams < 1) throw bad('numBeams', 'an integer >= 1', r.numBeams);
  if (!(r.temperature > 0)) throw bad('temperature', 'a positive number', r.temperature);
  if (!Number.isInteger(r.topK) || r.topK < 0) throw bad('topK', 'an integer >= 0', r.topK);
  if (!(r.topP > 0 && r.topP <= 1)) throw bad('topP', 'in (0, 1]', r.topP);
  if (!(r.repetitionPenalty > 0)) throw bad('repetitionPenalty', 'a positive number', r.repetitionPenalty);
  if (!Number.isInteger(r.noRepeatNgramSize) || r.noRepeatNgramSize < 0) throw bad('noRepeatNgramSize', 'an integer >= 0', r.noRepeatNgramSize);
  if (r.numBeams > 1 && r.doSample) {
    throw Object.assign(bad('doSample', `false with numBeams ${r.numBeams} (beam sampling is not supported)`, true), { hint: 'beam search without doSample, or sampling with numBeams 1' });
  }
  checkNumReturnSequences(r);
  checkSeed('generate', r.seed);
  return r;
}

/**
 * transformers' GenerationConfig.validate rules for num_return_sequences, as typed errors naming it
 * (worded with GenerateOptions' names; the CLI words them with its flags).
 */
function checkNumReturnSequences(r: ResolvedOptions): void {
  const n = r.numReturnSequences;
  const err = (expected: string, hint: string) => Object.assign(new OpArgumentError('generate', 'numReturnSequences', expected, String(n)), { hint });
  if (!Number.isInteger(n) || n < 1) throw err('an integer >= 1', 'numReturnSequences counts the sequences returned per prompt');
  if (n === 1) return;
  if (r.numBeams === 1 && !r.doSample) {
    throw err('1 with greedy decoding (it has one answer per prompt; transformers raises too)', 'sample n sequences (doSample) or keep the n best beams (numBeams >= n)');
  }
  if (r.numBeams > 1 && n > r.numBeams) throw err(`at most numBeams (${r.numBeams}): beam search keeps numBeams finished hypotheses`, `raise numBeams to ${n} or more, or lower numReturnSequences`);
}

/** A seed is an integer >= 0, or a list of them (one per prompt): 1.5, NaN or -1 would sample as some other seed. */
function checkSeed(op: string, seed: number | readonly number[]): void {
  const ok = (s: number) => Number.isSafeInteger(s) && s >= 0;
  if (typeof seed === 'number' ? !ok(seed) : !Array.isArray(seed) || !seed.every(ok)) {
    throw new OpArgumentError(op, 'seed', 'an integer >= 0, or a list of them (one per prompt)', typeof seed === 'number' ? String(seed) : JSON.stringify(seed));
  }
}

/** Prompt seeds for prompts first .. first + count - 1 of a run with seed s (what a number seed gives each prompt). */
export function promptSeeds(seed: number, first = 0, count = 1): number[] {
  checkSeed('promptSeeds', seed);
  return Array.from({ length: count }, (_, i) => hashSeed(seed, first + i));
}

/**
 * The seeds of prompts first .. first + count - 1 of a run whose seed is `seed` (a number, or one
 * seed per prompt of the run): what a batch of a larger run passes as GenerateOptions.seed so that
 * its prompts keep the streams they would have in one call over the whole run.
 */
export function seedsForChunk(seed: number | readonly number[], first: number, count: number): number[] {
  return typeof seed === 'number' ? promptSeeds(seed, first, count) : seed.slice(first, first + count);
}

/** One generator per returned sequence (prompt-major), from the prompt's seed and the sample's index. */
function sampleStreams(seed: number | readonly number[], prompts: number, n: number): Rng[] {
  const seeds = typeof seed === 'number' ? promptSeeds(seed, 0, prompts) : seed;
  if (seeds.length !== prompts) {
    throw Object.assign(new OpArgumentError('generate', 'seed', `one seed per prompt (${prompts})`, `${seeds.length} seeds`), {
      hint: 'pass a number, or seedsForChunk(seed, first, count) for a batch of prompts first .. first + count - 1 of a larger run',
    });
  }
  return seeds.flatMap((s) => Array.from({ length: n }, (_, k) => new Rng(hashSeed(s, k))));
}

export function processorConfig(r: ResolvedOptions): ProcessorConfig {
  return {
    repetitionPenalty: r.repetitionPenalty, noRepeatNgramSize: r.noRepeatNgramSize, minNewTokens: r.minNewTokens, eosTokenIds: r.eos,
    doSample: r.doSample, temperature: r.temperature, topK: r.topK, topP: r.topP, minTokensToKeep: 1,
  };
}

/** How generate() words its length errors: GenerateOptions' names, the batch's longest prompt. */
function lengthWording(o: GenerateOptions, B: number, what: string): LengthWording {
  return { ...OPTION_LENGTH_NAMES, limit: describeLengthLimit(o), nameOf: () => (B === 1 ? `the prompt${what}` : `the longest prompt of the batch${what}`) };
}

/**
 * Checks a rectangular prompt batch against the length rules (prompt_length.ts; `o` holds the
 * caller's limit, maxLength not yet turned into maxNewTokens) and derives its mask.
 */
export function preparePrompts(model: BioGptForCausalLM, inputIds: readonly (readonly number[])[], o: GenerateOptions, pad: number): number[][] {
  const B = inputIds.length;
  const T = B ? inputIds[0]!.length : 0;
  if (!B || !T) throw new RadgradError('generate: need at least one prompt with at least one token', { hint: 'a BioGPT prompt starts with </s> (id 2), as the tokenizer encodes it' });
  for (const r of inputIds) if (r.length !== T) throw new RadgradError('generate: prompts must be one rectangular batch', { hint: 'left-pad them (tokenizer.encodeBatch(texts, { padding: true, paddingSide: "left" }))' });
  const maxPos = model.config.maxPositionEmbeddings;
  const mask = o.attentionMask ? o.attentionMask.map((r) => [...r]) : inputIds.map((r) => r.map((t) => (t === pad ? 0 : 1)));
  if (mask.length !== B || mask.some((r) => r.length !== T)) throw new RadgradError(`generate: attentionMask must be [${B}, ${T}] like the prompts`);
  const longest = Math.max(...mask.map((r) => r.reduce((a, b) => a + b, 0)));
  // Positions count real tokens (they come from the mask), so the longest row is what must fit.
  const p = findLengthProblem([longest], maxPos, o);
  if (p) throw lengthProblemError('generate', p, [longest], maxPos, lengthWording(o, B, ''));
  return mask;
}

/**
 * maxLength (total, transformers' max_length) as maxNewTokens for this batch of T-token rows:
 * maxLength - T. maxNewTokens, when given, wins (as in transformers).
 */
export function lengthOptions(inputIds: readonly (readonly number[])[], o: GenerateOptions): GenerateOptions {
  if (o.maxLength === undefined || o.maxNewTokens !== undefined) return o;
  const L = o.maxLength;
  if (!Number.isInteger(L) || L < 2) {
    throw new RadgradError(`generate: maxLength must be an integer >= 2 (a prompt token and a new one), got ${String(L)}`, { hint: 'maxLength counts the prompt and the new tokens, as transformers\' max_length' });
  }
  const T = inputIds.length ? inputIds[0]!.length : 0;
  // The padded length counts here (transformers' max_length does); positions are checked in preparePrompts.
  const p = findLengthProblem([T], Infinity, { maxLength: L });
  if (p) throw lengthProblemError('generate', p, [T], Infinity, lengthWording(o, inputIds.length, ', left padding included'));
  return { ...o, maxNewTokens: L - T };
}

export async function generate(model: BioGptForCausalLM, inputIds: readonly (readonly number[])[], options: GenerateOptions = {}): Promise<GenerateResult> {
  const opts = lengthOptions(inputIds, options);
  const r = resolveOptions(model, opts);
  // The caller's limit (maxLength, not the maxNewTokens it became) is what the length errors name.
  const mask = preparePrompts(model, inputIds, options, r.padTokenId);
  if (r.numBeams > 1) return beamSearch(model, inputIds, mask, r);
  return greedyOrSample(model, inputIds, mask, r, opts.onTokens);
}

async function greedyOrSample(
  model: BioGptForCausalLM, inputIds: readonly (readonly number[])[], mask: number[][], r: ResolvedOptions,
  onTokens?: (tokens: readonly number[], step: number) => void,
): Promise<GenerateResult> {
  const P = inputIds.length;
  const n = r.numReturnSequences;
  // Rows are prompt-major: prompt p's n samples are rows p·n .. p·n + n - 1 (transformers' expansion).
  const B = P * n;
  const T = inputIds[0]!.length;
  const V = model.config.vocabSize;
  const seqs = inputIds.flatMap((row) => Array.from({ length: n }, () => [...row]));
  const unfinished = new Array<boolean>(B).fill(true);
  const pc = processorConfig(r);
  const rngs = r.doSample ? sampleStreams(r.seed, P, n) : [];
  const scoresOut: Float32Array[] = [];
  const stepper = new DecodeStepper(model);
  let newTokens = 0;
  let steps = 0;
  const t0 = performance.now();
  let tPrefill = t0;
  try {
    // Plain greedy for one row: pipelined, device ids feeding the next step (greedyPipelined).
    if (B === 1 && pipelineTuning.use && !r.doSample && !r.outputScores && r.repetitionPenalty === 1 && r.noRepeatNgramSize === 0 && r.minNewTokens === 0) {
      const p = await greedyPipelined(stepper, seqs, mask, r, onTokens);
      return { sequences: seqs, promptLength: T, stats: stats(t0, p.tPrefill, performance.now(), p.steps, p.newTokens) };
    }
    // One prefill per prompt; the cache and the last logits are then copied to its n rows.
    let logits = await stepper.prefill(inputIds, mask);
    tPrefill = performance.now();
    if (n > 1) {
      stepper.reorder(Array.from({ length: B }, (_, i) => Math.floor(i / n)));
      logits = expandRows(logits, V, n);
    }
    // Greedy steps that no processor changes take the argmax on the device (ids read back, not
    // B × V scores); minNewTokens changes the scores only while it bans eos.
    const plainGreedy = !r.doSample && !r.outputScores && r.repetitionPenalty === 1 && r.noRepeatNgramSize === 0;
    const hostStep = (step: number): boolean => !plainGreedy || (r.minNewTokens > 0 && step < r.minNewTokens);
    let ids: Int32Array | null = null;
    for (let step = 0; step < r.maxNewTokens; step++) {
      if (!ids) {
        processScores(logits, V, seqs, T, pc);
        if (r.outputScores) scoresOut.push(Float32Array.from(logits));
      }
      const next: number[] = [];
      for (let b = 0; b < B; b++) {
        const t = ids ? ids[b]! : r.doSample ? sampleRow(logits, b * V, V, rngs[b]!.next()) : argmaxRow(logits, b * V, V);
        next.push(unfinished[b] ? t : r.padTokenId);
        if (unfinished[b]) newTokens++;
      }
      for (let b = 0; b < B; b++) {
        seqs[b]!.push(next[b]!);
        if (r.eos.includes(next[b]!)) unfinished[b] = false;
      }
      onTokens?.(next, step);
      if (!unfinished.some(Boolean) || step + 1 >= r.maxNewTokens) break;
      if (hostStep(step + 1)) {
        ids = null;
        logits = await stepper.step(next);
      } else ids = await stepper.stepArgmax(next);
      steps++;
    }
  } finally {
    stepper.dispose();
  }
  const t1 = performance.now();
  const res: GenerateResult = { sequences: seqs, promptLength: T, stats: stats(t0, tPrefill, t1, steps, newTokens) };
  if (r.outputScores) res.scores = scoresOut;
  return res;
}

/** Each row of `rows` ([R, V]) repeated n times in place: [R·n, V]. */
export function expandRows(rows: Float32Array, V: number, n: number): Float32Array {
  const R = rows.length / V;
  const out = new Float32Array(R * n * V);
  for (let i = 0; i < R * n; i++) out.set(rows.subarray(Math.floor(i / n) * V, (Math.floor(i / n) + 1) * V), i * V);
  return out;
}

/** Switch for tests and benchmarks: false sends batch-1 greedy decoding through the step-by-step loop. */
export const pipelineTuning: { use: boolean } = { use: true };

/**
 * Batch-1 greedy decoding without logits processing, pipelined: step k+1 is encoded from step k's
 * argmax ids on the device (DecodeStepper.stepArgmaxDevice) before step k's token is read back, so
 * the host's encoding of one step overlaps the GPU's run of the previous one instead of both
 * waiting on a round trip per token. When step k's token is eos (or the last one wanted) the
 * speculative step k+1 is dropped. The tokens are those of the step-by-step loop: the same
 * forwards and argmax, only submitted earlier. (Batches keep that loop: a finished row must be fed
 * padding, which only the host knows, and int8 outlier columns are shared across rows.) The first
 * step is not overlapped, so the prefill time in the stats is the prompt's alone.
 */
async function greedyPipelined(
  stepper: DecodeStepper, seqs: number[][], mask: number[][], r: ResolvedOptions, onTokens?: (tokens: readonly number[], step: number) => void,
): Promise<{ tPrefill: number; steps: number; newTokens: number }> {
  type Pending = { ids: Tensor; read: Promise<ArrayLike<number>> };
  const launch = (prev: Pending | null): Pending => {
    const ids = prev ? stepper.stepArgmaxDevice(prev.ids) : stepper.prefillArgmaxDevice(seqs, mask); // [1, 1] i32
    return { ids, read: ids.data() };
  };
  const outstanding = new Set<Pending>();
  const track = (p: Pending) => (outstanding.add(p), p);
  let cur = track(launch(null));
  let tPrefill = performance.now();
  let steps = 0;
  let newTokens = 0;
  try {
    for (let k = 0; ; k++) {
      const next = k > 0 && k + 1 < r.maxNewTokens ? track(launch(cur)) : null;
      const tok = (await cur.read)[0]!;
      if (k === 0) tPrefill = performance.now();
      else steps++;
      seqs[0]!.push(tok);
      newTokens++;
      onTokens?.([tok], k);
      if (r.eos.includes(tok) || k + 1 >= r.maxNewTokens) break;
      const following = next ?? track(launch(cur));
      outstanding.delete(cur);
      cur.ids.dispose();
      cur = following;
    }
  } finally {
    // The current ids and a dropped speculative step: wait for their reads before freeing them.
    for (const p of outstanding) {
      await p.read.catch(() => undefined);
      p.ids.dispose();
    }
  }
  return { tPrefill, steps, newTokens };
}

export function stats(t0: number, tPrefill: number, t1: number, steps: number, newTokens: number): GenerationStats {
  const decodeMs = t1 - tPrefill;
  // The first token comes from the prefill; tokens/s counts those made by decode steps.
  const perRow = steps > 0 ? newTokens * (steps / (steps + 1)) : 0;
  return { prefillMs: tPrefill - t0, decodeMs, steps, newTokens, tokensPerSecond: decodeMs > 0 ? (perRow * 1000) / decodeMs : 0 };
}
