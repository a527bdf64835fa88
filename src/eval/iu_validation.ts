/**
 * Validation of the rule-based labeler on the real IU X-ray reports (indiana_reports.csv).
 *
 * Ground truth comes from the human-coded MeSH/Problems columns. Each MeSH entry's head term is
 * the Problems term ("Cardiac Shadow/enlarged/mild" → "Cardiac Shadow"), and the qualifiers
 * disambiguate a few terms (Thickening of the pleura vs. of a bronchus). The mapping below is
 * ours and deliberately strict: only terms that name a CheXpert observation map; CheXpert's own
 * exclusions are respected (calcified granulomas are not Lung Lesion; surgical clips and
 * sternotomy wires are not Support Devices). No Finding is true when no mapped observation other
 * than Support Devices is present — CheXpert's definition, so it is comparable with the labeler.
 * The codes are positive-only, so the comparison is binary (positive vs. not).
 */
import { parseCsv } from '../data/csv.js';
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

/** Rules from a MeSH entry (head term + "/"-separated qualifiers) to a CheXpert observation. */
const IU_RULES: Array<{ head: string; when?: RegExp; obs: ChexpertObservation }> = [
  { head: 'Pulmonary Atelectasis', obs: 'Atelectasis' },
  { head: 'Cardiomegaly', obs: 'Cardiomegaly' },
  { head: 'Cardiac Shadow', when: /enlarged/, obs: 'Cardiomegaly' },
  { head: 'Consolidation', obs: 'Consolidation' },
  { head: 'Pulmonary Edema', obs: 'Edema' },
  { head: 'Pulmonary Congestion', obs: 'Edema' },
  { head: 'Heart Failure', obs: 'Edema' },
  { head: 'Mediastinum', obs: 'Enlarged Cardiomediastinum' },
  { head: 'Fractures, Bone', obs: 'Fracture' },
  { head: 'Nodule', obs: 'Lung Lesion' },
  { head: 'Mass', obs: 'Lung Lesion' },
  // A "round" opacity/density is a nodular one: CheXpert counts nodular opacities as Lung Lesion.
  { head: 'Opacity', when: /round/, obs: 'Lung Lesion' },
  { head: 'Density', when: /round/, obs: 'Lung Lesion' },
  { head: 'Opacity', obs: 'Lung Opacity' },
  { head: 'Airspace Disease', obs: 'Lung Opacity' },
  { head: 'Infiltrate', obs: 'Lung Opacity' },
  { head: 'Density', when: /^(?!.*round).*lung/, obs: 'Lung Opacity' },
  { head: 'Markings', when: /interstitial/, obs: 'Lung Opacity' },
  { head: 'Lung Diseases, Interstitial', obs: 'Lung Opacity' },
  { head: 'Pleural Effusion', obs: 'Pleural Effusion' },
  { head: 'Hydropneumothorax', obs: 'Pleural Effusion' },
  { head: 'Hemothorax', obs: 'Pleural Effusion' },
  { head: 'Thickening', when: /pleura/, obs: 'Pleural Other' },
  { head: 'Cicatrix', when: /pleura/, obs: 'Pleural Other' },
  { head: 'Pleura', obs: 'Pleural Other' },
  { head: 'Pneumonia', obs: 'Pneumonia' },
  { head: 'Pneumothorax', obs: 'Pneumothorax' },
  { head: 'Hydropneumothorax', obs: 'Pneumothorax' },
  { head: 'Hemopneumothorax', obs: 'Pneumothorax' },
  { head: 'Catheters, Indwelling', obs: 'Support Devices' },
  { head: 'Implanted Medical Device', obs: 'Support Devices' },
  { head: 'Medical Device', obs: 'Support Devices' },
  { head: 'Tube, Inserted', obs: 'Support Devices' },
  { head: 'Stents', obs: 'Support Devices' },
];

/** CheXpert observations present according to a report's MeSH codes (No Finding derived). */
export function iuTruth(mesh: string): Set<ChexpertObservation> {
  const out = new Set<ChexpertObservation>();
  for (const entry of mesh.split(';')) {
    const [head = '', ...quals] = entry.split('/').map((x) => x.trim());
    const q = quals.join('/').toLowerCase();
    for (const r of IU_RULES) if (r.head === head && (!r.when || r.when.test(q))) out.add(r.obs);
  }
  if (![...out].some((o) => o !== 'Support Devices')) out.add('No Finding');
  return out;
}

export interface IuValidationResult {
  metrics: LabelMetricsResult;
  /** Reports scored, and reports skipped (no text, or "No Indexing" codes). */
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
    if (!text || /No Indexing/i.test(r.problems)) {
      skipped++;
      continue;
    }
    const t = iuTruth(r.mesh);
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
