/**
 * Prompt/completion records → token sequences for causal-LM fine-tuning, plus deterministic
 * train/eval splitting.
 *
 * Text layout: the sequence is the tokenization of `prompt + "\n" + completion`, then `</s>`. The
 * newline guarantees a word boundary between "Findings:" and the first completion word, so for a
 * word-level tokenizer (BioGPT: Moses + BPE, which treats the newline as a space) the tokens of the
 * prompt alone are a prefix of the tokens of the whole text — exactly what the model sees at
 * generation time, when it is fed `encode(prompt)`. We check that prefix property per example; if a
 * tokenizer ever breaks it, the example is built as `encode(prompt) ++ encode(completion)` (minus the
 * second leading special) so the prompt/target boundary is still exact, and the event is counted.
 * The appended `</s>` teaches the model to stop after the impression.
 */
import { OpArgumentError } from '../errors.js';
import { readJsonl } from './jsonl.js';
import { permutation } from './rng.js';

/** The minimal tokenizer surface the data pipeline needs (the BioGPT tokenizer satisfies it). */
export interface TextEncoder {
  encode(text: string): number[];
  padId: number;
}

export interface PromptCompletion {
  id?: string;
  prompt: string;
  completion: string;
}

export interface Example {
  id: string;
  /** Token ids, at most maxLength long. */
  inputIds: Int32Array;
  /** Leading positions that belong to the prompt (never targets). */
  promptLength: number;
  truncated: boolean;
}

export interface DatasetOptions {
  /** Truncate sequences to this many tokens (default 512, BioGPT's context). */
  maxLength?: number;
  /** Token appended after the completion (default: the encoder's `eosId` if it has one, else 2, BioGPT's `</s>`); null appends nothing. */
  eosId?: number | null;
  /** Text between prompt and completion (default "\n"). */
  separator?: string;
}

export interface DatasetStats {
  examples: number;
  /** Examples cut at maxLength (their completion, and `</s>`, lost a tail). */
  truncated: number;
  /** Records dropped because the prompt alone filled maxLength (no target left). */
  droppedNoTarget: number;
  /** Examples where encode(prompt) was not a prefix of encode(prompt + sep + completion). */
  boundaryMismatches: number;
  /** Token counts before truncation. */
  maxTokens: number;
  meanTokens: number;
  /** Completion tokens kept (the training targets). */
  targetTokens: number;
}

function startsWith(a: readonly number[], prefix: readonly number[]): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

export class SftDataset {
  private constructor(
    readonly examples: readonly Example[],
    readonly stats: DatasetStats,
  ) {}

  static fromRecords(records: readonly PromptCompletion[], encoder: TextEncoder, options: DatasetOptions = {}): SftDataset {
    const maxLength = options.maxLength ?? 512;
    const eos = options.eosId === undefined ? ((encoder as { eosId?: number }).eosId ?? 2) : options.eosId;
    const sep = options.separator ?? '\n';
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new OpArgumentError('SftDataset', 'maxLength', 'an integer >= 2', String(maxLength));
    const specials = encoder.encode('').length; // leading specials every encode() adds (BioGPT: one </s>)
    const stats: DatasetStats = { examples: 0, truncated: 0, droppedNoTarget: 0, boundaryMismatches: 0, maxTokens: 0, meanTokens: 0, targetTokens: 0 };
    const examples: Example[] = [];
    let total = 0;
    records.forEach((rec, i) => {
      const promptIds = encoder.encode(rec.prompt);
      let ids = encoder.encode(rec.prompt + sep + rec.completion);
      if (!startsWith(ids, promptIds)) {
        stats.boundaryMismatches++;
        ids = promptIds.concat(encoder.encode(rec.completion).slice(specials));
      }
      if (eos !== null) ids.push(eos);
      total += ids.length;
      stats.maxTokens = Math.max(stats.maxTokens, ids.length);
      const promptLength = promptIds.length;
      if (promptLength >= maxLength || promptLength >= ids.length) {
        stats.droppedNoTarget++;
        return;
      }
      const truncated = ids.length > maxLength;
      if (truncated) stats.truncated++;
      const kept = Int32Array.from(truncated ? ids.slice(0, maxLength) : ids);
      stats.targetTokens += kept.length - promptLength;
      examples.push({ id: rec.id ?? String(i), inputIds: kept, promptLength, truncated });
    });
    stats.examples = examples.length;
    stats.meanTokens = records.length ? total / records.length : 0;
    return new SftDataset(examples, stats);
  }

  /** Reads a prepared JSONL file (see `radgrad prep`) and tokenizes it. */
  static fromJsonl(file: string, encoder: TextEncoder, options: DatasetOptions = {}): SftDataset {
    return SftDataset.fromRecords(readJsonl(file), encoder, options);
  }

  get length(): number {
    return this.examples.length;
  }

  get(i: number): Example {
    const e = this.examples[i];
    if (!e) throw new RangeError(`SftDataset.get: index ${i} out of range 0..${this.examples.length - 1}`);
    return e;
  }
}

export interface SplitOptions<T> {
  seed: number;
  /** Fraction of items (or of groups' items) for evaluation, in [0, 1). */
  evalFraction?: number;
  /** Exact number of eval items (wins over evalFraction). */
  evalCount?: number;
  /** Items with the same key land on the same side (e.g. one patient's studies), avoiding leakage. */
  groupOf?: (item: T, index: number) => string;
}

/**
 * Deterministic train/eval split: the same items and seed always give the same split, each side
 * keeps the input order. With groups, whole groups are moved to eval in seeded order until the
 * target count is reached (so the count may overshoot by less than one group).
 */
export function splitTrainEval<T>(items: readonly T[], opts: SplitOptions<T>): { train: T[]; eval: T[] } {
  const n = items.length;
  let target: number;
  if (opts.evalCount !== undefined) {
    if (!Number.isInteger(opts.evalCount) || opts.evalCount < 0 || opts.evalCount > n) {
      throw new RangeError(`splitTrainEval: evalCount must be an integer in 0..${n}, got ${opts.evalCount}`);
    }
    target = opts.evalCount;
  } else {
    const f = opts.evalFraction ?? 0.1;
    if (!(f >= 0 && f < 1)) throw new OpArgumentError('splitTrainEval', 'evalFraction', 'a number in [0, 1)', String(f));
    target = Math.round(n * f);
    // A non-zero fraction of a small set still yields one eval item, and never leaves train empty.
    if (f > 0 && n >= 2) target = Math.min(n - 1, Math.max(1, target));
  }
  const isEval = new Uint8Array(n);
  if (opts.groupOf) {
    const groups = new Map<string, number[]>();
    items.forEach((it, i) => {
      const k = opts.groupOf!(it, i);
      const g = groups.get(k);
      if (g) g.push(i);
      else groups.set(k, [i]);
    });
    // Groups in first-seen order, then permuted by the seed: independent of Map internals.
    const keys = [...groups.keys()];
    let count = 0;
    for (const gi of permutation(keys.length, opts.seed, 0)) {
      if (count >= target) break;
      for (const i of groups.get(keys[gi]!)!) isEval[i] = 1;
      count += groups.get(keys[gi]!)!.length;
    }
  } else {
    const perm = permutation(n, opts.seed, 0);
    for (let k = 0; k < target; k++) isEval[perm[k]!] = 1;
  }
  const train: T[] = [];
  const ev: T[] = [];
  items.forEach((it, i) => (isEval[i] ? ev : train).push(it));
  return { train, eval: ev };
}

/** Patient key of a prepared record id: "p10000032/s50414267" → "p10000032"; other ids map to themselves. */
export function subjectOf(id: string): string {
  const slash = id.indexOf('/');
  return slash > 0 ? id.slice(0, slash) : id;
}
