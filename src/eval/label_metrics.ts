/**
 * Label-agreement metrics: do generated reports state the findings their prompt asked for?
 *
 * Each pair holds the prompt's labels ("1" | "uncertain" | "0" per observation) and the
 * generated report; the report is labelled by the CheXpert-style labeler and compared per
 * observation as a binary problem. The positive class is "positive" (and, with
 * `uncertainAsPositive`, "uncertain" on both sides). Observations the prompt does not list count
 * as negative, except No Finding, which is inferred from the prompt the way CheXpert defines it
 * (positive when no listed pathology is 1/uncertain) when no prompt of the set lists it.
 *
 * Averages: micro pools TP/FP/FN over all observations; macro is the mean over observations
 * that occur in the truth or in the predictions (an observation that never occurs on either
 * side has no defined F1 and is left out). Undefined precision/recall (0/0) counts as 0, as in
 * scikit-learn's zero_division=0.
 */
import { OpArgumentError } from '../errors.js';
import { CHEXPERT_OBSERVATIONS, type ChexpertObservation } from './chexpert_phrases.js';
import { labelReport, type ChexpertLabels, type LabelValue } from './chexpert_labeler.js';

export type PromptLabelValue = '1' | 'uncertain' | '0';

export interface LabelPair {
  promptLabels: Record<string, PromptLabelValue>;
  reportText: string;
}

export interface LabelScores {
  precision: number;
  recall: number;
  f1: number;
}

export interface PerLabelMetrics extends LabelScores {
  label: string;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  /** Number of true positives + false negatives (items whose truth is positive). */
  support: number;
}

export interface LabelMetricsResult {
  perLabel: PerLabelMetrics[];
  micro: LabelScores & { tp: number; fp: number; fn: number };
  /** Mean over `macroLabels` (observations occurring in truth or predictions). */
  macro: LabelScores;
  macroLabels: string[];
  /** Number of items (reports) scored. */
  count: number;
}

export interface LabelAgreementOptions {
  /** Count "uncertain" as positive on both sides (default false). */
  uncertainAsPositive?: boolean;
  /** Observations to score (default all 14). */
  observations?: readonly string[];
  /**
   * Infer No Finding from a prompt that does not list it (positive when no listed observation but
   * Support Devices is 1/uncertain). 'auto' (the default) infers only when no prompt of the set
   * lists No Finding: a set that lists it somewhere (as `prep` writes prompts) leaves it out on
   * purpose, since under CheXpert a blank No Finding without a pathology means another finding
   * (granuloma, degenerative changes, ...) was reported.
   */
  inferNoFinding?: boolean | 'auto';
  /** Labeler to use (default the rule-based CheXpert-style labeler). */
  labeler?: (text: string) => Record<string, LabelValue>;
}

const div = (a: number, b: number): number => (b === 0 ? 0 : a / b);

/** Binary per-label metrics from parallel arrays of truth/prediction sets (true = positive). */
export function binaryLabelMetrics(
  truth: readonly Readonly<Record<string, boolean>>[],
  pred: readonly Readonly<Record<string, boolean>>[],
  labels: readonly string[],
): LabelMetricsResult {
  if (truth.length !== pred.length) throw new OpArgumentError('binaryLabelMetrics', 'pred', `${truth.length} items`, `${pred.length}`);
  const perLabel: PerLabelMetrics[] = labels.map((label) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let tn = 0;
    for (let i = 0; i < truth.length; i++) {
      const t = truth[i]![label] === true;
      const p = pred[i]![label] === true;
      if (t && p) tp++;
      else if (p) fp++;
      else if (t) fn++;
      else tn++;
    }
    return { label, tp, fp, fn, tn, support: tp + fn, precision: div(tp, tp + fp), recall: div(tp, tp + fn), f1: div(2 * tp, 2 * tp + fp + fn) };
  });
  const sum = (k: 'tp' | 'fp' | 'fn'): number => perLabel.reduce((s, x) => s + x[k], 0);
  const tp = sum('tp');
  const fp = sum('fp');
  const fn = sum('fn');
  const present = perLabel.filter((x) => x.tp + x.fp + x.fn > 0);
  const mean = (k: keyof LabelScores): number => div(present.reduce((s, x) => s + x[k], 0), present.length);
  return {
    perLabel,
    micro: { tp, fp, fn, precision: div(tp, tp + fp), recall: div(tp, tp + fn), f1: div(2 * tp, 2 * tp + fp + fn) },
    macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') },
    macroLabels: present.map((x) => x.label),
    count: truth.length,
  };
}

const CANONICAL = new Map<string, ChexpertObservation>(CHEXPERT_OBSERVATIONS.map((o) => [o.toLowerCase(), o]));

/** The CheXpert spelling of an observation name (case/space-insensitive), or the trimmed input. */
export function canonicalObservation(name: string): string {
  const key = name.trim().replace(/\s+/g, ' ').toLowerCase();
  return CANONICAL.get(key) ?? name.trim();
}

/** Whether `name` is one of the 14 CheXpert observations (case/space-insensitive, as canonicalObservation). */
export function isChexpertObservation(name: string): boolean {
  return CANONICAL.has(name.trim().replace(/\s+/g, ' ').toLowerCase());
}

/** Levenshtein distance (insert, delete, substitute: 1 each). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The CheXpert observation nearest to `name` by edit distance (case-insensitive; ties: CSV order), for "did you mean" hints. */
export function closestObservation(name: string): ChexpertObservation {
  const key = name.trim().replace(/\s+/g, ' ').toLowerCase();
  let best: ChexpertObservation = CHEXPERT_OBSERVATIONS[0]!;
  let bestD = Infinity;
  for (const o of CHEXPERT_OBSERVATIONS) {
    const d = editDistance(key, o.toLowerCase());
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best;
}

/**
 * Parses the label list at the start of a prompt, e.g.
 * `"Atelectasis: 1; Lung Opacity: 1; Pneumonia: uncertain. \nFindings:"`
 * → `{ Atelectasis: "1", "Lung Opacity": "1", Pneumonia: "uncertain" }`.
 * The list ends at the first "." that ends an entry, a newline, or "Findings:". Values accepted:
 * 1 / positive → "1"; uncertain / u / -1 → "uncertain"; 0 / negative → "0". Names are mapped to
 * the CheXpert spelling when they match one case-insensitively.
 */
export function parsePromptLabels(prompt: string): Record<string, PromptLabelValue> {
  if (typeof prompt !== 'string') throw new OpArgumentError('parsePromptLabels', 'prompt', 'a string', typeof prompt);
  let head = prompt;
  const f = head.search(/\bfindings\s*:/i);
  if (f >= 0) head = head.slice(0, f);
  head = head.split(/\r?\n/)[0] ?? '';
  const out: Record<string, PromptLabelValue> = {};
  for (const raw of head.split(';')) {
    const entry = raw.trim().replace(/\.\s*$/, '').trim();
    if (!entry) continue;
    const m = /^(.+?)\s*:\s*([^\s:]+)$/.exec(entry);
    if (!m) throw new OpArgumentError('parsePromptLabels', 'prompt', '"Name: value" entries separated by ";"', JSON.stringify(entry));
    const v = m[2]!.toLowerCase();
    let value: PromptLabelValue;
    if (v === '1' || v === '1.0' || v === 'positive') value = '1';
    else if (v === 'uncertain' || v === 'u' || v === '-1' || v === '-1.0') value = 'uncertain';
    else if (v === '0' || v === '0.0' || v === 'negative') value = '0';
    else throw new OpArgumentError('parsePromptLabels', m[1]!, '1, uncertain or 0', JSON.stringify(m[2]));
    out[canonicalObservation(m[1]!)] = value;
  }
  return out;
}

function isPositive(v: string | undefined, uncertainAsPositive: boolean): boolean {
  return v === '1' || v === 'positive' || (uncertainAsPositive && v === 'uncertain');
}

/** Per-label and micro/macro P/R/F1 of generated reports against their prompts' labels. */
export function labelAgreement(pairs: readonly LabelPair[], opts: LabelAgreementOptions = {}): LabelMetricsResult {
  const unc = opts.uncertainAsPositive ?? false;
  const observations = opts.observations ?? CHEXPERT_OBSERVATIONS;
  const labeler: (text: string) => Record<string, LabelValue> = opts.labeler ?? ((t: string): ChexpertLabels => labelReport(t));
  const truth: Record<string, boolean>[] = [];
  const pred: Record<string, boolean>[] = [];
  const mode = opts.inferNoFinding ?? 'auto';
  const infer = mode === 'auto' ? !pairs.some((p) => Object.keys(p?.promptLabels ?? {}).some((k) => canonicalObservation(k) === 'No Finding')) : mode;
  for (const [i, pair] of pairs.entries()) {
    if (!pair || typeof pair.reportText !== 'string' || typeof pair.promptLabels !== 'object') {
      throw new OpArgumentError('labelAgreement', `pairs[${i}]`, '{promptLabels, reportText}', JSON.stringify(pair));
    }
    const prompt: Record<string, string> = {};
    for (const [k, v] of Object.entries(pair.promptLabels)) prompt[canonicalObservation(k)] = v;
    if (infer && prompt['No Finding'] === undefined) {
      const finding = Object.entries(prompt).some(([k, v]) => k !== 'Support Devices' && (v === '1' || v === 'uncertain'));
      prompt['No Finding'] = finding ? '0' : '1';
    }
    const labels = labeler(pair.reportText);
    const t: Record<string, boolean> = {};
    const p: Record<string, boolean> = {};
    for (const o of observations) {
      t[o] = isPositive(prompt[o], unc);
      p[o] = isPositive(labels[o], unc);
    }
    truth.push(t);
    pred.push(p);
  }
  return binaryLabelMetrics(truth, pred, observations);
}
