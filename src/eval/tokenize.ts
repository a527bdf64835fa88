/**
 * Tokenization shared by the text metrics (BLEU, ROUGE-L).
 *
 * Default: lowercase, then split on anything that is not a letter or a digit, dropping the
 * separators. For ASCII text this is exactly the `rouge-score` package's default tokenizer
 * (lowercase, replace [^a-z0-9] by spaces, split), so ROUGE-L numbers are comparable with it.
 * Note "1.5 cm" becomes ["1", "5", "cm"] and "x-ray" becomes ["x", "ray"].
 *
 * `punctuation: 'keep'` instead keeps every punctuation character as its own token
 * ("effusion." → ["effusion", "."]), closer to the Moses-style tokenization some papers use.
 */
import { OpArgumentError } from '../errors.js';

export interface TokenizeOptions {
  /** Lowercase before splitting (default true). */
  lowercase?: boolean;
  /** 'drop' (default): punctuation only separates tokens; 'keep': each punctuation char is a token. */
  punctuation?: 'drop' | 'keep';
  /** A custom tokenizer; when given, the two options above are ignored. */
  tokenizer?: (text: string) => string[];
}

const WORDS = /[\p{L}\p{N}]+/gu;
const WORDS_AND_PUNCT = /[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu;

/** Splits one text into tokens according to `opts` (see the module comment for the rules). */
export function tokenize(text: string, opts: TokenizeOptions = {}): string[] {
  if (typeof text !== 'string') throw new OpArgumentError('tokenize', 'text', 'a string', typeof text);
  if (opts.tokenizer) return opts.tokenizer(text);
  const t = opts.lowercase === false ? text : text.toLowerCase();
  return t.match(opts.punctuation === 'keep' ? WORDS_AND_PUNCT : WORDS) ?? [];
}

/** Normalizes a references argument (one string or several per hypothesis) to string[][]. */
export function normalizeReferences(
  op: string,
  hypotheses: readonly string[],
  references: readonly (string | readonly string[])[],
): string[][] {
  if (hypotheses.length !== references.length) {
    throw new OpArgumentError(op, 'references', `${hypotheses.length} entries (one per hypothesis)`, `${references.length}`);
  }
  return references.map((r, i) => {
    const list = typeof r === 'string' ? [r] : [...r];
    if (list.length === 0) throw new OpArgumentError(op, `references[${i}]`, 'at least one reference', 'an empty list');
    return list;
  });
}
