/**
 * The Moses tokenizer as sacremoses runs it for BioGPT: MosesTokenizer(lang="en").tokenize(text,
 * aggressive_dash_splits=True, escape=True). Each rule is a regex pass with Python `re` semantics
 * (leftmost, non-overlapping, code point based), so the passes are written as `u`-flag regexes over
 * the exact sacremoses character classes. Passes that cannot match are skipped by a cheap check.
 */
import { EN_NONBREAKING_PREFIXES, EN_NUMERIC_ONLY_PREFIXES } from './nonbreaking_prefixes.js';
import {
  IS_LOWER_SET,
  IS_N,
  PY_WHITESPACE,
  TOK_ALNUM,
  TOK_ALPHA,
  TOK_ALPHA_SET,
  classBody,
  firstCodePoint,
  pySplit,
  pyStrip,
} from './char_classes.js';

const WS = classBody(PY_WHITESPACE);
const ALNUM = classBody(TOK_ALNUM);
const ALPHA = classBody(TOK_ALPHA);
const NUM = classBody(IS_N);

const DEDUPLICATE_SPACE = new RegExp(`[${WS}]+`, 'gu');
const ASCII_JUNK = /[\u0000-\u001f]/gu;
const PAD_NOT_ISALNUM = new RegExp(`([^${ALNUM}${WS}.'\`,\\-])`, 'gu');
const AGGRESSIVE_HYPHEN_SPLIT = new RegExp(`([${ALNUM}])-(?=[${ALNUM}])`, 'gu');
const COMMA_SEPARATE_1 = new RegExp(`([^${NUM}]),`, 'gu');
const COMMA_SEPARATE_2 = new RegExp(`,([^${NUM}])`, 'gu');
const COMMA_SEPARATE_3 = new RegExp(`([${NUM}]),$`, 'u');
const EN_APOSTROPHE: readonly [RegExp, string][] = [
  [new RegExp(`([^${ALPHA}])'([^${ALPHA}])`, 'gu'), "$1 ' $2"],
  [new RegExp(`([^${ALPHA}${NUM}])'([${ALPHA}])`, 'gu'), "$1 ' $2"],
  [new RegExp(`([${ALPHA}])'([^${ALPHA}])`, 'gu'), "$1 ' $2"],
  [new RegExp(`([${ALPHA}])'([${ALPHA}])`, 'gu'), "$1 '$2"],
  [new RegExp(`([${NUM}])'(s)`, 'gu'), "$1 '$2"],
];
const TRAILING_DOT_APOSTROPHE = /\.' ?$/u;
const NEEDS_ESCAPE = /[&|<>'"[\]]/g;
const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '|': '&#124;',
  '<': '&lt;',
  '>': '&gt;',
  "'": '&apos;',
  '"': '&quot;',
  '[': '&#91;',
  ']': '&#93;',
};

/**
 * sacremoses' replace_multidots: a run of k >= 2 dots becomes " " + "DOT"*k + "MULTI", plus a space
 * before whatever follows it. Closed form of its peel-one-dot-per-loop algorithm; when the text
 * already contains the marker word the literal loop is run instead, since then the two can differ.
 */
export function replaceMultidots(text: string): string {
  if (text.includes('DOTMULTI')) return replaceMultidotsLiteral(text);
  return text.replace(/\.\.+/g, (run: string, offset: number, whole: string) => {
    const follows = offset + run.length < whole.length;
    return ' ' + 'DOT'.repeat(run.length) + 'MULTI' + (follows ? ' ' : '');
  });
}

/** The original loop, kept for marker-containing input and as the reference in tests. */
export function replaceMultidotsLiteral(text: string): string {
  text = text.replace(/\.(\.+)/g, ' DOTMULTI$1');
  while (text.includes('DOTMULTI.')) {
    text = text.replace(/DOTMULTI\.([^.])/gu, 'DOTDOTMULTI $1');
    text = text.replace(/DOTMULTI\./g, 'DOTDOTMULTI');
  }
  return text;
}

/** restore_multidots: every "DOT"*k + "MULTI" (k >= 1) back to k dots. */
export function restoreMultidots(text: string): string {
  if (!text.includes('MULTI')) return text;
  return text.replace(/(?:DOT)+MULTI/g, (m: string) => '.'.repeat((m.length - 5) / 3));
}

/** The original restore loop (reference for tests). */
export function restoreMultidotsLiteral(text: string): string {
  while (text.includes('DOTDOTMULTI')) text = text.split('DOTDOTMULTI').join('DOTMULTI.');
  return text.split('DOTMULTI').join('.');
}

function anyAlpha(s: string): boolean {
  for (const ch of s) if (TOK_ALPHA_SET.has(ch.codePointAt(0)!)) return true;
  return false;
}

/**
 * handles_nonbreaking_prefixes: split the final "." off a token unless the word is a known
 * abbreviation, contains an inner "." and a letter, is followed by a lowercase-initial token, or is a
 * numeric-only prefix ("No.", "Art.", "pp.") followed by a digit.
 */
export function handleNonbreakingPrefixes(text: string): string {
  const tokens = pySplit(text);
  const n = tokens.length;
  for (let i = 0; i < n; i++) {
    const token = tokens[i]!;
    if (token.length < 2 || token.charCodeAt(token.length - 1) !== 0x2e) continue;
    const prefix = token.slice(0, -1);
    const next = i + 1 < n ? tokens[i + 1]! : undefined;
    if (
      (prefix.includes('.') && anyAlpha(prefix)) ||
      (EN_NONBREAKING_PREFIXES.has(prefix) && !EN_NUMERIC_ONLY_PREFIXES.has(prefix)) ||
      (next !== undefined && IS_LOWER_SET.has(firstCodePoint(next)))
    ) {
      continue;
    }
    if (EN_NUMERIC_ONLY_PREFIXES.has(prefix) && next !== undefined && /^[0-9]/.test(next)) continue;
    tokens[i] = prefix + ' .';
  }
  return tokens.join(' ');
}

/** Moses-tokenize `text` (English, aggressive dash splits, XML escaping) into tokens. */
export function mosesTokenize(text: string): string[] {
  text = text.replace(DEDUPLICATE_SPACE, ' ');
  text = text.replace(ASCII_JUNK, '');
  text = pyStrip(text);
  if (text.length === 0) return [];
  text = text.replace(PAD_NOT_ISALNUM, ' $1 ');
  if (text.includes('-')) text = text.replace(AGGRESSIVE_HYPHEN_SPLIT, '$1 @-@ ');
  if (text.includes('..') || text.includes('DOTMULTI')) text = replaceMultidots(text);
  if (text.includes(',')) {
    text = text.replace(COMMA_SEPARATE_1, '$1 , ');
    text = text.replace(COMMA_SEPARATE_2, ' , $1');
    text = text.replace(COMMA_SEPARATE_3, '$1 , ');
  }
  if (text.includes("'")) for (const [re, sub] of EN_APOSTROPHE) text = text.replace(re, sub);
  if (text.includes('.')) text = handleNonbreakingPrefixes(text);
  text = pyStrip(text.replace(DEDUPLICATE_SPACE, ' '));
  if (text.includes(".'")) text = text.replace(TRAILING_DOT_APOSTROPHE, " . ' ");
  text = restoreMultidots(text);
  text = text.replace(NEEDS_ESCAPE, (c: string) => ESCAPES[c]!);
  return pySplit(text);
}
