/**
 * sacremoses' MosesDetokenizer(lang="en").detokenize(tokens): undo the aggressive dash split and the
 * XML escapes, then glue tokens left or right depending on what they are (currency and openers attach
 * rightwards, closing punctuation leftwards, English contractions leftwards, quotes alternate).
 */
import { DETOK_ALPHA, IS_SC, classBody, firstCodePoint, isCjk, lastCodePoint, pySplit } from './char_classes.js';

const CURRENCY_OR_OPENER = new RegExp(`^[${classBody(IS_SC)}(\\[{¿¡]+$`, 'u');
const CLOSING_PUNCTUATION = /^[,.?!:;\\%}\])]+$/u;
const CONTRACTION = new RegExp(`^'[${classBody(DETOK_ALPHA)}]`, 'u');
const QUOTES = /^['"„“`]+$/u;
const DOUBLE_QUOTE_VARIANTS = /^[„“”]+$/u;

/** Entity replacements in sacremoses' order (legacy Moses names first, "&amp;" last). */
const UNESCAPES: readonly [string, string][] = [
  ['&bar;', '|'],
  ['&#124;', '|'],
  ['&lt;', '<'],
  ['&gt;', '>'],
  ['&bra;', '['],
  ['&ket;', ']'],
  ['&quot;', '"'],
  ['&apos;', "'"],
  ['&#91;', '['],
  ['&#93;', ']'],
  ['&amp;', '&'],
];

export function unescapeXml(text: string): string {
  if (!text.includes('&')) return text;
  for (const [from, to] of UNESCAPES) if (text.includes(from)) text = text.split(from).join(to);
  return text;
}

/** Join Moses tokens back into text. */
export function mosesDetokenize(tokensIn: readonly string[]): string {
  let text = ` ${tokensIn.join(' ')} `;
  if (text.includes(' @-@ ')) text = text.replace(/ @-@ /g, '-');
  text = unescapeXml(text);
  const tokens = pySplit(text);
  const quoteCounts = new Map<string, number>([
    ["'", 0],
    ['"', 0],
    ['``', 0],
    ['`', 0],
    ["''", 0],
  ]);
  let prependSpace = ' ';
  let out = '';
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (isCjk(firstCodePoint(token))) {
      // A CJK word right after another CJK character attaches without a space.
      out += i > 0 && isCjk(lastCodePoint(tokens[i - 1]!)) ? token : prependSpace + token;
      prependSpace = ' ';
    } else if (CURRENCY_OR_OPENER.test(token)) {
      out += prependSpace + token;
      prependSpace = '';
    } else if (CLOSING_PUNCTUATION.test(token)) {
      out += token;
      prependSpace = ' ';
    } else if (i > 0 && CONTRACTION.test(token)) {
      out += token;
      prependSpace = ' ';
    } else if (QUOTES.test(token)) {
      const key = DOUBLE_QUOTE_VARIANTS.test(token) ? '"' : token;
      const count = quoteCounts.get(key) ?? 0;
      if (count % 2 === 0) {
        if (token === "'" && i > 0 && tokens[i - 1]!.endsWith('s')) {
          // Possessive after a plural: "the Jones' house".
          out += token;
          prependSpace = ' ';
          quoteCounts.set(key, count);
        } else {
          out += prependSpace + token;
          prependSpace = '';
          quoteCounts.set(key, count + 1);
        }
      } else {
        out += token;
        prependSpace = ' ';
        quoteCounts.set(key, count + 1);
      }
    } else {
      out += prependSpace + token;
      prependSpace = ' ';
    }
  }
  out = out.replace(/ {2,}/g, ' ');
  return out.replace(/^ +| +$/g, '');
}
