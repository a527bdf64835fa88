/**
 * Corpus BLEU (Papineni et al. 2002) with NLTK `corpus_bleu` semantics:
 * - per order n, clipped n-gram matches and hypothesis n-gram counts are summed over the corpus
 *   before dividing (micro-average), a hypothesis n-gram's count being clipped to its largest
 *   count in any one of that hypothesis' references;
 * - like NLTK, a hypothesis contributes max(1, #n-grams) to the order-n denominator, so a
 *   hypothesis shorter than n tokens still counts one (unmatched) n-gram;
 * - brevity penalty from c = total hypothesis length and r = sum of each hypothesis' closest
 *   reference length (ties go to the shorter reference): BP = 1 if c > r, 0 if c = 0,
 *   else exp(1 - r/c);
 * - BLEU = BP · exp(Σ w_n log p_n), uniform weights 1/N (N = 4 by default);
 * - no smoothing by default: any p_n = 0 gives BLEU 0; `smoothing: 'method1'` replaces a zero
 *   numerator by epsilon (0.1), as NLTK's SmoothingFunction().method1. As in NLTK, a corpus with
 *   no unigram match at all scores 0 even when smoothed.
 */
import { OpArgumentError } from '../errors.js';
import { normalizeReferences, tokenize, type TokenizeOptions } from './tokenize.js';

export interface BleuOptions extends TokenizeOptions {
  /** Highest n-gram order (default 4). */
  maxOrder?: number;
  /** Weights per order, summing to 1 (default uniform 1/maxOrder). */
  weights?: readonly number[];
  /** 'none' (default) or 'method1' (epsilon added to zero-match orders). */
  smoothing?: 'none' | 'method1';
  /** Epsilon for method1 (default 0.1, NLTK's). */
  epsilon?: number;
}

export interface BleuResult {
  /** Corpus BLEU in [0, 1]. */
  bleu: number;
  /** Modified precision per order (after smoothing when enabled). */
  precisions: number[];
  /** Clipped matches per order, summed over the corpus. */
  matches: number[];
  /** Hypothesis n-gram counts per order (NLTK's max(1, ·) per hypothesis), summed. */
  totals: number[];
  brevityPenalty: number;
  /** Total hypothesis length c. */
  hypLength: number;
  /** Total closest-reference length r. */
  refLength: number;
}

// n-gram keys join tokens with a char that the tokenizers never produce.
const SEP = '\u0001';

function ngramCounts(tokens: readonly string[], n: number): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = n === 1 ? tokens[i]! : tokens.slice(i, i + n).join(SEP);
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}

/** Length of the reference closest in length to `hypLen`; ties go to the shorter one (NLTK). */
export function closestRefLength(refLens: readonly number[], hypLen: number): number {
  let best = refLens[0]!;
  for (const r of refLens) {
    const d = Math.abs(r - hypLen);
    const bd = Math.abs(best - hypLen);
    if (d < bd || (d === bd && r < best)) best = r;
  }
  return best;
}

function checkOptions(opts: BleuOptions): { maxOrder: number; weights: number[] } {
  const maxOrder = opts.maxOrder ?? opts.weights?.length ?? 4;
  if (!Number.isInteger(maxOrder) || maxOrder < 1) {
    throw new OpArgumentError('corpusBleu', 'maxOrder', 'a positive integer', String(maxOrder));
  }
  const weights = opts.weights ? [...opts.weights] : new Array<number>(maxOrder).fill(1 / maxOrder);
  if (weights.length !== maxOrder || weights.some((w) => !Number.isFinite(w) || w < 0)) {
    throw new OpArgumentError('corpusBleu', 'weights', `${maxOrder} finite non-negative numbers`, JSON.stringify(opts.weights));
  }
  return { maxOrder, weights };
}

/** Corpus BLEU over already-tokenized hypotheses and references (references[i] = refs of hyp i). */
export function corpusBleuTokens(
  hypotheses: readonly (readonly string[])[],
  references: readonly (readonly (readonly string[])[])[],
  opts: BleuOptions = {},
): BleuResult {
  const { maxOrder, weights } = checkOptions(opts);
  if (hypotheses.length !== references.length) {
    throw new OpArgumentError('corpusBleu', 'references', `${hypotheses.length} entries`, `${references.length}`);
  }
  const matches = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let hypLength = 0;
  let refLength = 0;
  hypotheses.forEach((hyp, i) => {
    const refs = references[i]!;
    if (refs.length === 0) throw new OpArgumentError('corpusBleu', `references[${i}]`, 'at least one reference', 'none');
    for (let n = 1; n <= maxOrder; n++) {
      const hc = ngramCounts(hyp, n);
      // Max count of each n-gram over the references, only for n-grams the hypothesis has.
      const maxRef = new Map<string, number>();
      for (const ref of refs) {
        for (const [k, c] of ngramCounts(ref, n)) if (hc.has(k) && c > (maxRef.get(k) ?? 0)) maxRef.set(k, c);
      }
      let m = 0;
      let t = 0;
      for (const [k, c] of hc) {
        m += Math.min(c, maxRef.get(k) ?? 0);
        t += c;
      }
      matches[n - 1]! += m;
      totals[n - 1]! += Math.max(1, t);
    }
    hypLength += hyp.length;
    refLength += closestRefLength(refs.map((r) => r.length), hyp.length);
  });

  const brevityPenalty = hypLength > refLength ? 1 : hypLength === 0 ? 0 : Math.exp(1 - refLength / hypLength);
  const eps = opts.epsilon ?? 0.1;
  const precisions = matches.map((m, k) => {
    const tot = totals[k]!;
    if (tot === 0) return 0;
    if (m === 0 && opts.smoothing === 'method1') return eps / tot;
    return m / tot;
  });
  // No unigram match at all: 0 regardless of smoothing (NLTK does the same).
  if (hypotheses.length === 0 || matches[0] === 0) {
    return { bleu: 0, precisions, matches, totals, brevityPenalty, hypLength, refLength };
  }
  let logSum = 0;
  for (let k = 0; k < maxOrder; k++) {
    const w = weights[k]!;
    if (w === 0) continue;
    const p = precisions[k]!;
    if (p <= 0) return { bleu: 0, precisions, matches, totals, brevityPenalty, hypLength, refLength };
    logSum += w * Math.log(p);
  }
  return { bleu: brevityPenalty * Math.exp(logSum), precisions, matches, totals, brevityPenalty, hypLength, refLength };
}

/**
 * Corpus BLEU over raw strings: references[i] is one reference or a list of references for
 * hypotheses[i]. Text is tokenized with `tokenize` (lowercase, split on non-alphanumerics) unless
 * the options say otherwise.
 */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (string | readonly string[])[],
  opts: BleuOptions = {},
): BleuResult {
  const refs = normalizeReferences('corpusBleu', hypotheses, references);
  return corpusBleuTokens(
    hypotheses.map((h) => tokenize(h, opts)),
    refs.map((rs) => rs.map((r) => tokenize(r, opts))),
    opts,
  );
}

/** BLEU of one hypothesis against its references (a corpus of one). */
export function sentenceBleu(hypothesis: string, references: string | readonly string[], opts: BleuOptions = {}): BleuResult {
  return corpusBleu([hypothesis], [references], opts);
}
