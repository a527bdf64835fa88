/**
 * Character classes exactly as sacremoses sees them, in the two forms the tokenizer needs:
 * regex class bodies (for the rule passes, `u` flag) and O(1) membership tests (for the
 * per-token checks). Python's `re` and `str.split()` use their own whitespace definition, which
 * differs from JavaScript's `\s` (Python includes U+001C-001F and U+0085, excludes U+FEFF), so it
 * is spelled out here too.
 */
import { IS_ALNUM, IS_ALPHA, IS_LOWER, IS_N, IS_SC } from './unicode_classes.js';

/**
 * sacremoses appends these Indic viramas and nuktas to IsAlnum/IsAlpha in MosesTokenizer (not in
 * MosesDetokenizer), so conjuncts are not split apart.
 */
const VIRAMAS = [
  0x094d, 0x09cd, 0x0a4d, 0x0acd, 0x0b4d, 0x0bcd, 0x0c4d, 0x0ccd, 0x0d3b, 0x0d3c, 0x0d4d, 0x0eba, 0x1039,
  0x1714, 0x1bab, 0xa8c4, 0xa8f3, 0xa8f4, 0xa953, 0xaaf6, 0x10a3f, 0x11046, 0x110b9, 0x11133, 0x111c0,
  0x11235, 0x112ea, 0x1134d, 0x11442, 0x114c2, 0x115bf, 0x1163f, 0x116b6, 0x11839, 0x119e0, 0x11a34,
  0x11c3f, 0x11d45, 0x11d97, 0x0dca,
];
const NUKTAS = [
  0x093c, 0x09bc, 0x0a3c, 0x0abc, 0x0afd, 0x0afe, 0x0aff, 0x0b3c, 0x0cbc, 0x1c37, 0x110ba, 0x11173, 0x111ca,
  0x11236, 0x112e9, 0x1133c, 0x11446, 0x114c3, 0x115c0, 0x116b7, 0x1183a, 0x11d42, 0x1e94a,
];

/** Python's str.isspace() set (bidi WS/B/S or category Zs), used by `\s`, split() and strip(). */
export const PY_WHITESPACE: readonly number[] = [
  0x09, 0x0d, 0x1c, 0x20, 0x85, 0x85, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f,
  0x202f, 0x205f, 0x205f, 0x3000, 0x3000,
];

function addPoints(ranges: readonly number[], points: readonly number[]): number[] {
  const all = new Set<number>();
  for (let i = 0; i < ranges.length; i += 2) for (let c = ranges[i]!; c <= ranges[i + 1]!; c++) all.add(c);
  for (const p of points) all.add(p);
  const sorted = [...all].sort((a, b) => a - b);
  const out: number[] = [];
  for (const c of sorted) {
    if (out.length && out[out.length - 1] === c - 1) out[out.length - 1] = c;
    else out.push(c, c);
  }
  return out;
}

/** Tokenizer-side IsAlnum / IsAlpha (with viramas and nuktas). */
export const TOK_ALNUM = addPoints(IS_ALNUM, [...VIRAMAS, ...NUKTAS]);
export const TOK_ALPHA = addPoints(IS_ALPHA, [...VIRAMAS, ...NUKTAS]);
export { IS_ALPHA as DETOK_ALPHA, IS_N, IS_LOWER, IS_SC };

const hex = (c: number) => `\\u{${c.toString(16)}}`;

/** The body of a regex character class (no brackets) for the `u` flag. */
export function classBody(...rangeLists: readonly (readonly number[])[]): string {
  let s = '';
  for (const ranges of rangeLists) {
    for (let i = 0; i < ranges.length; i += 2) {
      const a = ranges[i]!;
      const b = ranges[i + 1]!;
      s += a === b ? hex(a) : `${hex(a)}-${hex(b)}`;
    }
  }
  return s;
}

/** Membership test over sorted inclusive ranges: a BMP bitmap plus a short list for astral points. */
export class CodePointSet {
  private readonly bmp = new Uint8Array(0x10000);
  private readonly astral = new Set<number>();
  constructor(ranges: readonly number[]) {
    for (let i = 0; i < ranges.length; i += 2) {
      for (let c = ranges[i]!; c <= ranges[i + 1]!; c++) {
        if (c <= 0xffff) this.bmp[c] = 1;
        else this.astral.add(c);
      }
    }
  }
  has(cp: number): boolean {
    return cp <= 0xffff ? this.bmp[cp] === 1 : this.astral.has(cp);
  }
}

export const PY_WS_SET = new CodePointSet(PY_WHITESPACE);
export const TOK_ALPHA_SET = new CodePointSet(TOK_ALPHA);
export const IS_LOWER_SET = new CodePointSet(IS_LOWER);

/** Python `str.split()` with no argument: split on runs of Python whitespace, drop empties. */
export function pySplit(text: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const ws = PY_WS_SET.has(text.charCodeAt(i));
    if (ws) {
      if (start >= 0) out.push(text.slice(start, i));
      start = -1;
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(text.slice(start));
  return out;
}

/** Python `str.strip()` with no argument. */
export function pyStrip(text: string): string {
  let a = 0;
  let b = text.length;
  while (a < b && PY_WS_SET.has(text.charCodeAt(a))) a++;
  while (b > a && PY_WS_SET.has(text.charCodeAt(b - 1))) b--;
  return a === 0 && b === text.length ? text : text.slice(a, b);
}

/** First and last code point of a non-empty string (Python's s[0] / s[-1]). */
export function firstCodePoint(s: string): number {
  return s.codePointAt(0)!;
}
export function lastCodePoint(s: string): number {
  const last = s.charCodeAt(s.length - 1);
  if (last >= 0xdc00 && last <= 0xdfff && s.length >= 2) {
    const hi = s.charCodeAt(s.length - 2);
    if (hi >= 0xd800 && hi <= 0xdbff) return (hi - 0xd800) * 0x400 + (last - 0xdc00) + 0x10000;
  }
  return last;
}

/**
 * sacremoses' is_cjk ranges. The 2026 sacremoses release made the range ends inclusive (earlier
 * releases dropped each range's first and last code point); we follow the current release.
 */
const CJK_RANGES = [
  0x1100, 0x11ff, 0x2e80, 0xa4cf, 0xa840, 0xa87f, 0xac00, 0xd7af, 0xf900, 0xfaff, 0xfe30, 0xfe4f, 0xff65,
  0xffdc, 0x20000, 0x2ffff,
];
export function isCjk(cp: number): boolean {
  for (let i = 0; i < CJK_RANGES.length; i += 2) if (cp >= CJK_RANGES[i]! && cp <= CJK_RANGES[i + 1]!) return true;
  return false;
}
