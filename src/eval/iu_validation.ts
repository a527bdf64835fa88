/**
 * Validation of the rule-based labeler on the real IU X-ray reports (indiana_reports.csv).
 *
 * Ground truth comes from the human-coded MeSH/Problems columns, mapped onto CheXpert observations
 * by the same table `prep iu` uses (src/data/iu_mapping.ts), No Finding included (CheXpert's rule:
 * no observation other than Support Devices is positive or uncertain, and no "other finding" from
 * CheXpert's list is coded). Truth comes from the coders' codes, predictions from the report text,
 * each side following CheXpert's definitions in its own implementation; so the scores measure how
 * the labeler reads text, not whether a convention both sides share is right (docs/LABELER.md).
 * The codes have no negatives, so the comparison is binary (present vs. not). A code the table
 * marks uncertain ("borderline cardiomegaly", a blunted costophrenic angle) is scored like the
 * labeler's uncertain: present when uncertain counts as positive, absent otherwise.
 */
import { parseCsv } from '../data/csv.js';
import { isUnindexed, mapIuMesh } from '../data/iu_mapping.js';
import { RadgradError } from '../errors.js';
import { CHEXPERT_OBSERVATIONS, type ChexpertObservation } from './chexpert_phrases.js';
import { labelReport } from './chexpert_labeler.js';
import { binaryLabelMetrics, type LabelMetricsResult } from './label_metrics.js';

export interface IuReport {
  uid: string;
  mesh: string;
  problems: string;
  findings: string;
  impression: string;
}

/** Rows of the CSV (the project's RFC 4180 parser; blank lines dropped). */
function csvRows(text: string): string[][] {
  return parseCsv(text).records.map((r) => r.fields).filter((f) => f.length > 1 || f[0] !== '');
}

/** Parses indiana_reports.csv text into reports (columns found by header name). */
export function parseIuReports(csvText: string): IuReport[] {
  const [header, ...rows] = csvRows(csvText.replace(/^\uFEFF/, ''));
  if (!header) throw new RadgradError('indiana_reports.csv: empty file');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new RadgradError(`indiana_reports.csv: missing column '${name}' (have ${header.join(', ')})`);
    return i;
  };
  const [u, m, p, f, im] = [col('uid'), col('MeSH'), col('Problems'), col('findings'), col('impression')];
  return rows.map((r) => ({ uid: r[u] ?? '', mesh: r[m] ?? '', problems: r[p] ?? '', findings: r[f] ?? '', impression: r[im] ?? '' }));
}

/**
 * CheXpert observations present according to a report's MeSH codes (No Finding derived); codes mapped
 * to "uncertain" count unless `uncertainAsPositive` is false. "No Indexing" gives an empty set.
 */
export function iuTruth(mesh: string, opts: { uncertainAsPositive?: boolean } = {}): Set<ChexpertObservation> {
  const unc = opts.uncertainAsPositive ?? true;
  const { labels } = mapIuMesh(mesh);
  return new Set(CHEXPERT_OBSERVATIONS.filter((o) => labels[o] === '1' || (unc && labels[o] === 'uncertain')));
}

export interface IuValidationResult {
  metrics: LabelMetricsResult;
  /** Reports scored, and reports skipped (no text, or never reviewed: "No Indexing" or no code). */
  scored: number;
  skipped: number;
  /** Per report: uid, truth, predicted positives (for error analysis). */
  items: Array<{ uid: string; text: string; truth: ChexpertObservation[]; predicted: ChexpertObservation[] }>;
}

/** Runs the labeler on findings + impression of every report and scores it against the codes. */
export function validateOnIuReports(reports: readonly IuReport[], opts: { uncertainAsPositive?: boolean } = {}): IuValidationResult {
  const unc = opts.uncertainAsPositive ?? true;
  const truth: Record<string, boolean>[] = [];
  const pred: Record<string, boolean>[] = [];
  const items: IuValidationResult['items'] = [];
  let skipped = 0;
  for (const r of reports) {
    const text = [r.findings.trim(), r.impression.trim()].filter(Boolean).join('\n');
    // Never reviewed by the coders (the rule prep iu applies): no ground truth to score against.
    if (!text || isUnindexed(r.problems.split(';')) || isUnindexed(r.mesh.split(';'))) {
      skipped++;
      continue;
    }
    const t = iuTruth(r.mesh, { uncertainAsPositive: unc });
    const labels = labelReport(text);
    const p = CHEXPERT_OBSERVATIONS.filter((o) => labels[o] === 'positive' || (unc && labels[o] === 'uncertain'));
    truth.push(Object.fromEntries(CHEXPERT_OBSERVATIONS.map((o) => [o, t.has(o)])));
    pred.push(Object.fromEntries(CHEXPERT_OBSERVATIONS.map((o) => [o, p.includes(o)])));
    items.push({ uid: r.uid, text, truth: [...t], predicted: p });
  }
  return { metrics: binaryLabelMetrics(truth, pred, CHEXPERT_OBSERVATIONS), scored: items.length, skipped, items };
}

/** A markdown table of per-label and micro/macro metrics. */
export function formatLabelMetricsTable(m: LabelMetricsResult): string {
  const f = (x: number): string => x.toFixed(3);
  const lines = ['| Observation | Support | TP | FP | FN | Precision | Recall | F1 |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const x of m.perLabel) lines.push(`| ${x.label} | ${x.support} | ${x.tp} | ${x.fp} | ${x.fn} | ${f(x.precision)} | ${f(x.recall)} | ${f(x.f1)} |`);
  lines.push(`| **micro** | ${m.micro.tp + m.micro.fn} | ${m.micro.tp} | ${m.micro.fp} | ${m.micro.fn} | ${f(m.micro.precision)} | ${f(m.micro.recall)} | **${f(m.micro.f1)}** |`);
  lines.push(`| **macro** (${m.macroLabels.length} labels) | | | | | ${f(m.macro.precision)} | ${f(m.macro.recall)} | **${f(m.macro.f1)}** |`);
  return lines.join('\n');
}
