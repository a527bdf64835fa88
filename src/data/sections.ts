/**
 * Finds the FINDINGS and IMPRESSION sections of a free-text radiology report. Real reports vary:
 * any case, `FINDINGS AND IMPRESSION:`, headers alone on a line or with text after the colon,
 * other sections (TECHNIQUE, NOTIFICATION, RECOMMENDATION(S)...) in between or after, hard-wrapped
 * lines, and reports flattened onto one line. The rule: a header is a known section name in any
 * case, or an ALL-CAPS label, at the start of a line and followed by a colon (known names may also
 * stand alone on their line); FINDINGS/IMPRESSION headers later in a line also split it when they
 * are upper case or follow a sentence end. Mixed-case unknown labels ("Left lung: clear") are text.
 */

export type SectionKind = 'findings' | 'impression' | 'conclusion' | 'combined' | 'other';

export interface ReportSections {
  /** Normalised findings text ('' when absent). */
  findings: string;
  /** Normalised impression text ('' when absent). */
  impression: string;
  /** True when one FINDINGS AND IMPRESSION section supplied one or both slots. */
  combined: boolean;
  /** Every section found, in order, with its normalised header name ('preamble' for text before any). */
  sections: Array<{ name: string; kind: SectionKind; text: string }>;
}

/** Collapses runs of whitespace (wrapped lines, tabs, double spaces) into single spaces. */
export function normalizeWhitespace(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function normName(raw: string): string {
  return raw
    .toLowerCase()
    .replace(/\(s\)/g, 's')
    .replace(/\s*(?:&|\/|\+)\s*/g, ' and ')
    .replace(/[_\s]+/g, ' ')
    .trim();
}

const KIND = new Map<string, SectionKind>();
for (const n of ['findings', 'finding', 'report findings']) KIND.set(n, 'findings');
for (const n of ['impression', 'impressions', 'final impression']) KIND.set(n, 'impression');
for (const n of ['conclusion', 'conclusions']) KIND.set(n, 'conclusion');
for (const n of ['findings and impression', 'findings and impressions', 'impression and findings', 'finding and impression']) KIND.set(n, 'combined');
for (const n of [
  'final report', 'examination', 'exam', 'type of examination', 'type of exam', 'indication', 'indications',
  'clinical indication', 'history', 'clinical history', 'clinical information', 'reason for exam', 'reason for examination',
  'reason for study', 'comparison', 'comparisons', 'technique', 'procedure', 'wet read', 'notification',
  'recommendation', 'recommendations', 'addendum', 'provisional findings impression (pfi)', 'pfi', 'reference exam',
]) {
  KIND.set(n, 'other');
}

/** Headers that may stand alone on a line without a colon (MIMIC prints `FINAL REPORT` that way). */
const BARE_OK = new Set(['final report', 'findings', 'impression', 'impressions', 'conclusion', 'findings and impression', 'addendum']);

const HEADER_RE = /^([A-Za-z][A-Za-z0-9 /&()#'_-]{0,60}?)\s*:(.*)$/;

function matchHeader(line: string): { name: string; kind: SectionKind; rest: string } | undefined {
  const t = line.trim();
  if (!t) return undefined;
  const bare = normName(t);
  if (BARE_OK.has(bare) && t.length <= 40) return { name: bare, kind: KIND.get(bare)!, rest: '' };
  const m = HEADER_RE.exec(t);
  if (!m) return undefined;
  const name = normName(m[1]!);
  const known = KIND.get(name);
  if (known) return { name, kind: known, rest: m[2]! };
  // Unknown labels count only in ALL CAPS (MIMIC style); "Left lung: clear" stays text.
  const raw = m[1]!;
  const letters = raw.replace(/[^A-Za-z]/g, '');
  if (letters.length >= 2 && letters === letters.toUpperCase() && raw.trim().split(/\s+/).length <= 8) {
    return { name, kind: 'other', rest: m[2]! };
  }
  return undefined;
}

const INLINE_RE = /(findings\s*(?:and|&|\/)\s*impressions?|impressions?\s*(?:and|&|\/)\s*findings|findings|impressions?|conclusions?)\s*:/gi;

/** Puts FINDINGS/IMPRESSION headers that sit mid-line onto their own line. */
function splitInlineHeaders(text: string): string {
  return text.replace(INLINE_RE, (match: string, _g: string, offset: number) => {
    if (offset === 0) return match;
    const before = text.slice(Math.max(0, offset - 200), offset);
    const lineBefore = before.slice(before.lastIndexOf('\n') + 1);
    if (!lineBefore.trim()) return match; // already at line start
    if (!/\s$/.test(lineBefore)) return match; // part of a longer word, e.g. "PFI:FINDINGS"
    const upper = match === match.toUpperCase();
    const afterSentence = /[.!?;]\s+$/.test(lineBefore);
    // "PROVISIONAL FINDINGS IMPRESSION (PFI):" does not reach here: it has no colon after IMPRESSION.
    if (upper || afterSentence) return '\n' + match;
    return match;
  });
}

export function extractSections(reportText: string): ReportSections {
  const text = splitInlineHeaders(reportText.replace(/\r\n?/g, '\n'));
  const sections: ReportSections['sections'] = [];
  let cur = { name: 'preamble', kind: 'other' as SectionKind, lines: [] as string[] };
  const close = () => sections.push({ name: cur.name, kind: cur.kind, text: normalizeWhitespace(cur.lines.join('\n')) });
  for (const line of text.split('\n')) {
    const h = matchHeader(line);
    if (h) {
      close();
      cur = { name: h.name, kind: h.kind, lines: [h.rest] };
    } else {
      cur.lines.push(line);
    }
  }
  close();
  // The first non-empty section of a kind wins: later ones are usually addenda or repeats.
  const first = (kind: SectionKind) => sections.find((s) => s.kind === kind && s.text)?.text ?? '';
  let findings = first('findings');
  let impression = first('impression') || first('conclusion');
  let combined = false;
  const both = first('combined');
  if (both) {
    // One section serving as both: it fills whichever slot is empty, so the completion keeps its shape.
    if (!findings) {
      findings = both;
      combined = true;
    }
    if (!impression) {
      impression = both;
      combined = true;
    }
  }
  return { findings, impression, combined, sections: sections.filter((s) => s.name !== 'preamble' || s.text) };
}
