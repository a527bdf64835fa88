/**
 * A deterministic, rule-based CheXpert-style labeler for chest X-ray reports.
 *
 * Pipeline (per report): split into sentences → normalize each → find mentions of the 13
 * matched observations (phrase tables in chexpert_phrases.ts) → classify each mention as
 * positive / uncertain / negative from cues in its clause → aggregate per observation
 * (positive > uncertain > negative, as CheXpert does) → No Finding is positive when no
 * observation other than Support Devices is positive or uncertain and no "other finding" of
 * CheXpert's list (emphysema, calcified granuloma, degenerative change, scoliosis...: see
 * src/data/other_findings.ts) is mentioned positively or uncertainly; otherwise absent, as in
 * CheXpert, which leaves it blank.
 *
 * Mention classification, in order (the first rule that fires wins):
 *   1. an uncertainty cue that contains a negation word ("cannot exclude", "not ruled out");
 *   2. a negation cue before the mention in its clause ("no", "without", "negative for"), or
 *      right after it ("... has resolved", "is not seen");
 *   3. an uncertainty cue just before the mention ("possible", "may represent") or right after it
 *      ("versus", "is suspected"); a comma stops these short-range cues;
 *   4. otherwise positive (or uncertain for mentions that are hedges by themselves, e.g.
 *      "vascular congestion" for Edema).
 * A clause ends at sentence punctuation and at scope breakers ("but", "however", "which",
 * "there is"...), so "No effusion, but there is atelectasis" keeps atelectasis positive.
 * Anatomy mentions ("heart size", "mediastinum") take their label from the nearest qualifier.
 */
import { OpArgumentError } from '../errors.js';
import {
  CHEXPERT_OBSERVATIONS,
  CUES,
  OBSERVATION_PHRASES,
  OTHER_FINDING_PATTERNS,
  QUALIFIERS,
  type ChexpertObservation,
  type MatchedObservation,
} from './chexpert_phrases.js';

export type MentionStatus = 'positive' | 'uncertain' | 'negative';
export type LabelValue = MentionStatus | 'absent';
export type ChexpertLabels = Record<ChexpertObservation, LabelValue>;

export interface Mention {
  /** The observation; 'No Finding' for one of CheXpert's other findings (it can only rule No Finding out). */
  observation: ChexpertObservation;
  /** The matched words (normalized). */
  text: string;
  /** Index of the sentence in the report, and the normalized sentence. */
  sentenceIndex: number;
  sentence: string;
  status: MentionStatus;
  /** Which rule decided the status, with the cue words (for debugging and docs). */
  reason: string;
}

export interface LabelerResult {
  labels: ChexpertLabels;
  mentions: Mention[];
}

/** Windows (in words) for the cue rules; pre-negation reaches across list items. */
const WINDOW = { preNegation: 14, postNegation: 6, preUncertain: 8, postUncertain: 4, qualifier: 10, qualifierBefore: 2, explained: 10 } as const;

const MATCHED = CHEXPERT_OBSERVATIONS.filter((o): o is MatchedObservation => o !== 'No Finding');
const RANK: Record<LabelValue, number> = { absent: 0, negative: 1, uncertain: 2, positive: 3 };

function compile(patterns: readonly string[]): RegExp {
  // Longer alternatives first so the regex prefers "pleural effusion" over "effusion".
  const alts = [...patterns].sort((a, b) => b.length - a.length);
  return new RegExp(`(?<![a-z0-9])(?:${alts.join('|')})(?![a-z0-9])`, 'g');
}

interface Span {
  start: number;
  end: number;
  text: string;
}

function spans(re: RegExp | undefined, s: string): Span[] {
  if (!re) return [];
  const out: Span[] = [];
  for (const m of s.matchAll(re)) out.push({ start: m.index, end: m.index + m[0].length, text: m[0] });
  return out;
}

const overlaps = (a: Span, b: Span): boolean => a.start < b.end && b.start < a.end;

type MentionKind = 'mention' | 'hedged' | 'anatomy' | 'anatomyHedged';

interface CompiledObservation {
  mention?: RegExp;
  hedged?: RegExp;
  anatomy?: RegExp;
  anatomyHedged?: RegExp;
  unmention?: RegExp;
  explainedBy?: RegExp;
}

const OBS_RE = Object.fromEntries(
  MATCHED.map((o) => {
    const p = OBSERVATION_PHRASES[o];
    const c: CompiledObservation = {};
    if (p.mention.length) c.mention = compile(p.mention);
    if (p.hedged?.length) c.hedged = compile(p.hedged);
    if (p.anatomy?.length) c.anatomy = compile(p.anatomy);
    if (p.anatomyHedged?.length) c.anatomyHedged = compile(p.anatomyHedged);
    if (p.unmention?.length) c.unmention = compile(p.unmention);
    if (p.explainedBy?.length) c.explainedBy = compile(p.explainedBy);
    return [o, c];
  }),
) as Record<MatchedObservation, CompiledObservation>;

const OTHER_FINDING_RE = compile(OTHER_FINDING_PATTERNS);

const CUE_RE = {
  preNegationUncertain: compile(CUES.preNegationUncertain),
  preNegation: compile(CUES.preNegation),
  postNegation: compile(CUES.postNegation),
  preUncertain: compile(CUES.preUncertain),
  preUncertainList: compile(CUES.preUncertainList),
  postUncertain: compile(CUES.postUncertain),
  pseudoNegation: compile(CUES.pseudoNegation),
  scopeBreakers: compile(CUES.scopeBreakers),
};

const QUALIFIER_RE = compile([...QUALIFIERS.abnormal, ...QUALIFIERS.borderline, ...QUALIFIERS.normal]);
const QUALIFIER_SINGLE = Object.fromEntries(
  (['abnormal', 'borderline', 'normal'] as const).map((c) => [c, new RegExp(`^(?:${QUALIFIERS[c].join('|')})$`)]),
) as Record<'abnormal' | 'borderline' | 'normal', RegExp>;

function qualifierClass(text: string): 'abnormal' | 'borderline' | 'normal' {
  // Prefer the most specific class when a phrase fits several ("mildly prominent").
  if (QUALIFIER_SINGLE.normal.test(text)) return 'normal';
  if (QUALIFIER_SINGLE.borderline.test(text)) return 'borderline';
  return 'abnormal';
}

/**
 * Splits a report into sentences at . ! ? ; : and newlines. A dot between two digits ("1.5 cm")
 * does not split; "apex.There" does.
 */
export function splitSentences(text: string): string[] {
  return text
    .split(/(?<!\d)\.|\.(?!\d)|[!?;:\n\r]+/)
    .map((s) => s.trim())
    .filter((s) => /[\p{L}\p{N}]/u.test(s));
}

/** Normalization the phrase tables are written against (see chexpert_phrases.ts). */
export function normalizeSentence(sentence: string): string {
  return sentence
    .toLowerCase()
    .replace(/[-/]/g, ' ')
    .replace(/,/g, ' , ')
    .replace(/[^a-z0-9, ]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function wordsBetween(s: string, from: number, to: number): number {
  if (to <= from) return 0;
  const seg = s.slice(from, to).trim();
  return seg ? seg.split(' ').filter((w) => w !== ',').length : 0;
}

interface SentenceContext {
  s: string;
  breakers: Span[];
  cues: Record<Exclude<keyof typeof CUE_RE, 'pseudoNegation' | 'scopeBreakers'>, Span[]>;
  qualifiers: Span[];
}

function buildContext(s: string): SentenceContext {
  const pseudo = spans(CUE_RE.pseudoNegation, s);
  // A cue strictly inside a pseudo-negation span ("no" in "no change") is not a cue.
  const keep = (xs: Span[]): Span[] =>
    xs.filter((x) => !pseudo.some((p) => p.start <= x.start && x.end <= p.end && p.end - p.start > x.end - x.start));
  return {
    s,
    breakers: spans(CUE_RE.scopeBreakers, s),
    cues: {
      preNegationUncertain: spans(CUE_RE.preNegationUncertain, s),
      preNegation: keep(spans(CUE_RE.preNegation, s)),
      postNegation: keep(spans(CUE_RE.postNegation, s)),
      preUncertain: spans(CUE_RE.preUncertain, s),
      preUncertainList: spans(CUE_RE.preUncertainList, s),
      postUncertain: spans(CUE_RE.postUncertain, s),
    },
    qualifiers: spans(QUALIFIER_RE, s),
  };
}

/** The clause around [start, end): from the last breaker before it to the first one after. */
function clauseOf(ctx: SentenceContext, m: Span): [number, number] {
  let lo = 0;
  let hi = ctx.s.length;
  for (const b of ctx.breakers) {
    if (b.end <= m.start && b.end > lo) lo = b.end;
    if (b.start >= m.end && b.start < hi) hi = b.start;
  }
  return [lo, hi];
}

function findPre(ctx: SentenceContext, cues: Span[], m: Span, lo: number, window: number, stopAtComma: boolean): Span | undefined {
  let best: Span | undefined;
  for (const c of cues) {
    if (c.start < lo || c.end > m.start || overlaps(c, m)) continue;
    if (wordsBetween(ctx.s, c.end, m.start) > window) continue;
    if (stopAtComma && ctx.s.slice(c.end, m.start).includes(',')) continue;
    if (!best || c.end > best.end) best = c;
  }
  return best;
}

function findPost(ctx: SentenceContext, cues: Span[], m: Span, hi: number, window: number, stopAtComma: boolean): Span | undefined {
  for (const c of cues) {
    if (c.start < m.end || c.end > hi || overlaps(c, m)) continue;
    if (wordsBetween(ctx.s, m.end, c.start) > window) continue;
    if (stopAtComma && ctx.s.slice(m.end, c.start).includes(',')) continue;
    return c;
  }
  return undefined;
}

function classify(ctx: SentenceContext, m: Span, hedged: boolean): { status: MentionStatus; reason: string } {
  const [lo, hi] = clauseOf(ctx, m);
  const c = ctx.cues;
  const nu = findPre(ctx, c.preNegationUncertain, m, lo, WINDOW.preNegation, false) ?? findPost(ctx, c.preNegationUncertain, m, hi, WINDOW.postNegation, false);
  if (nu) return { status: 'uncertain', reason: `uncertain: "${nu.text}"` };
  const neg = findPre(ctx, c.preNegation, m, lo, WINDOW.preNegation, false) ?? findPost(ctx, c.postNegation, m, hi, WINDOW.postNegation, true);
  if (neg) return { status: 'negative', reason: `negated: "${neg.text}"` };
  const unc =
    findPre(ctx, c.preUncertain, m, lo, WINDOW.preUncertain, true) ??
    findPre(ctx, c.preUncertainList, m, lo, WINDOW.preNegation, false) ??
    findPost(ctx, c.postUncertain, m, hi, WINDOW.postUncertain, true);
  if (unc) return { status: 'uncertain', reason: `uncertain: "${unc.text}"` };
  return hedged ? { status: 'uncertain', reason: 'hedged mention' } : { status: 'positive', reason: 'asserted' };
}

/** Label from the qualifier nearest to an anatomy mention, or undefined when none is near. */
function classifyAnatomy(ctx: SentenceContext, m: Span): { status: MentionStatus; reason: string } | undefined {
  const [lo, hi] = clauseOf(ctx, m);
  let best: Span | undefined;
  let bestDist = Infinity;
  for (const q of ctx.qualifiers) {
    if (q.start < lo || q.end > hi || overlaps(q, m)) continue;
    const before = q.end <= m.start;
    const [a, b] = before ? [q.end, m.start] : [m.end, q.start];
    const gap = ctx.s.slice(a, b);
    // A qualifier before the anatomy is adjectival ("enlarged heart"): adjacent, no comma or
    // "with" between. After it, it is predicative ("heart size is normal") and may follow a
    // list ("heart, mediastinum, and hila are normal"), so commas are allowed at a cost.
    const d = wordsBetween(ctx.s, a, b) + (gap.includes(',') ? 3 : 0);
    // ... or reaches over a coordinated anatomy: "normal heart size and mediastinal contours".
    const coordinated = / and $/.test(gap) && wordsBetween(ctx.s, a, b) <= WINDOW.qualifierBefore + 2;
    if (before && ((wordsBetween(ctx.s, a, b) > WINDOW.qualifierBefore && !coordinated) || gap.includes(','))) continue;
    if (/(?:^| )with(?: |$)/.test(gap)) continue;
    if (d <= WINDOW.qualifier && d < bestDist) {
      best = q;
      bestDist = d;
    }
  }
  if (!best) return undefined;
  const cls = qualifierClass(best.text);
  // "upper limits of normal or mildly enlarged", "normal to borderline enlarged": a hedge.
  for (const q of ctx.qualifiers) {
    const [a, b] = q.start >= best.end ? [best, q] : q.end <= best.start ? [q, best] : [undefined, undefined];
    if (!a || !b || qualifierClass(q.text) === cls) continue;
    if (/^ (?:or|to|versus|vs|and or) $/.test(ctx.s.slice(a.end, b.start))) return { status: 'uncertain', reason: `between "${a.text}" and "${b.text}"` };
  }
  if (cls === 'normal') return { status: 'negative', reason: `normal: "${best.text}"` };
  if (cls === 'borderline') return { status: 'uncertain', reason: `borderline: "${best.text}"` };
  // An abnormal qualifier can itself be hedged or negated ("possibly enlarged", "no enlarged"),
  // also between anatomy and qualifier ("the mediastinum may be widened"): cues are looked for
  // before the later of the two and after it.
  const r = classify(ctx, best.start > m.start ? best : m, false);
  return { status: r.status, reason: r.status === 'positive' ? `abnormal: "${best.text}"` : r.reason };
}

/** Runs the labeler and returns the per-observation labels and every mention with its reason. */
export function labelReportDetailed(text: string): LabelerResult {
  if (typeof text !== 'string') throw new OpArgumentError('labelReport', 'text', 'a string', typeof text);
  const labels = Object.fromEntries(CHEXPERT_OBSERVATIONS.map((o) => [o, 'absent'])) as ChexpertLabels;
  const mentions: Mention[] = [];
  let otherFinding = false;
  const sentences = splitSentences(text).map(normalizeSentence);
  sentences.forEach((s, sentenceIndex) => {
    const ctx = buildContext(s);
    for (const obs of MATCHED) {
      const re = OBS_RE[obs];
      const blocked = spans(re.unmention, s);
      // Longest span first, then no overlaps: "congestive heart failure" beats "heart failure".
      const cands: Array<{ span: Span; kind: MentionKind }> = [
        ...spans(re.hedged, s).map((span) => ({ span, kind: 'hedged' as const })),
        ...spans(re.mention, s).map((span) => ({ span, kind: 'mention' as const })),
        ...spans(re.anatomy, s).map((span) => ({ span, kind: 'anatomy' as const })),
        ...spans(re.anatomyHedged, s).map((span) => ({ span, kind: 'anatomyHedged' as const })),
      ].sort((a, b) => b.span.end - b.span.start - (a.span.end - a.span.start) || a.span.start - b.span.start);
      const found: typeof cands = [];
      for (const c of cands) {
        if (blocked.some((b) => overlaps(b, c.span)) || found.some((f) => overlaps(f.span, c.span))) continue;
        found.push(c);
      }
      found.sort((a, b) => a.span.start - b.span.start);
      const explained = spans(re.explainedBy, s);
      for (const f of found) {
        if (explained.some((x) => x.start >= f.span.end && x.end <= clauseOf(ctx, f.span)[1] && wordsBetween(s, f.span.end, x.start) <= WINDOW.explained)) continue;
        const r =
          f.kind === 'anatomy' || f.kind === 'anatomyHedged' ? classifyAnatomy(ctx, f.span) : classify(ctx, f.span, f.kind === 'hedged');
        if (!r) continue;
        if (f.kind === 'anatomyHedged' && r.status === 'positive') r.status = 'uncertain';
        mentions.push({ observation: obs, text: f.span.text, sentenceIndex, sentence: s, ...r });
        if (RANK[r.status] > RANK[labels[obs]]) labels[obs] = r.status;
      }
    }
    // CheXpert's other findings: classified like any mention, they only rule No Finding out.
    for (const span of spans(OTHER_FINDING_RE, s)) {
      const r = classify(ctx, span, false);
      mentions.push({ observation: 'No Finding', text: span.text, sentenceIndex, sentence: s, ...r });
      if (r.status !== 'negative') otherFinding = true;
    }
  });
  const anyFinding = otherFinding || MATCHED.some((o) => o !== 'Support Devices' && (labels[o] === 'positive' || labels[o] === 'uncertain'));
  labels['No Finding'] = anyFinding ? 'absent' : 'positive';
  return { labels, mentions };
}

/** Per-observation labels for one report (all 14 CheXpert observations). */
export function labelReport(text: string): ChexpertLabels {
  return labelReportDetailed(text).labels;
}
