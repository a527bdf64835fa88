/**
 * ROUGE-L (Lin 2004) as the `rouge-score` package computes it by default: per hypothesis,
 * LCS length l over the token sequences, P = l/|hyp|, R = l/|ref|,
 * F_beta = (1+β²)·P·R / (R + β²·P) with β = 1, and 0 when either side is empty or nothing
 * matches. With several references a hypothesis takes the reference giving the highest F (as
 * `score_multi` does). Corpus scores are the plain means of the sentence-level P, R and F.
 */
import { OpArgumentError } from '../errors.js';
import { normalizeReferences, tokenize, type TokenizeOptions } from './tokenize.js';

export interface RougeScore {
  precision: number;
  recall: number;
  f: number;
}

export interface RougeLOptions extends TokenizeOptions {
  /** F-measure beta (default 1). */
  beta?: number;
}

export interface RougeLResult extends RougeScore {
  /** Number of hypotheses averaged. */
  count: number;
  /** Sentence-level scores, in input order. */
  perSentence: RougeScore[];
}

/** Length of the longest common subsequence of two token arrays (O(|a|·|b|) time, O(|b|) memory). */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return 0;
  let prev = new Uint32Array(b.length + 1);
  let cur = new Uint32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    const ai = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = ai === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/** ROUGE-L of one tokenized hypothesis against one tokenized reference. */
export function rougeLTokens(hyp: readonly string[], ref: readonly string[], beta = 1): RougeScore {
  if (!(beta > 0) || !Number.isFinite(beta)) throw new OpArgumentError('rougeL', 'beta', 'a finite number > 0', String(beta));
  const l = lcsLength(hyp, ref);
  if (l === 0) return { precision: 0, recall: 0, f: 0 };
  const precision = l / hyp.length;
  const recall = l / ref.length;
  const b2 = beta * beta;
  return { precision, recall, f: ((1 + b2) * precision * recall) / (recall + b2 * precision) };
}

/** Sentence-level ROUGE-L of one hypothesis string against one or more references (best F). */
export function sentenceRougeL(hypothesis: string, references: string | readonly string[], opts: RougeLOptions = {}): RougeScore {
  const refs = typeof references === 'string' ? [references] : references;
  if (refs.length === 0) throw new OpArgumentError('rougeL', 'references', 'at least one reference', 'none');
  const h = tokenize(hypothesis, opts);
  let best: RougeScore | undefined;
  for (const r of refs) {
    const s = rougeLTokens(h, tokenize(r, opts), opts.beta ?? 1);
    if (!best || s.f > best.f) best = s;
  }
  return best!;
}

/** Corpus ROUGE-L: mean of sentence-level P, R, F. An empty corpus scores 0 with count 0. */
export function rougeL(
  hypotheses: readonly string[],
  references: readonly (string | readonly string[])[],
  opts: RougeLOptions = {},
): RougeLResult {
  const refs = normalizeReferences('rougeL', hypotheses, references);
  const perSentence = hypotheses.map((h, i) => sentenceRougeL(h, refs[i]!, opts));
  const n = perSentence.length;
  const mean = (k: keyof RougeScore): number => (n === 0 ? 0 : perSentence.reduce((s, x) => s + x[k], 0) / n);
  return { precision: mean('precision'), recall: mean('recall'), f: mean('f'), count: n, perSentence };
}
