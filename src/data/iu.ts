/**
 * `prep iu`: the public Indiana University chest X-ray reports (Open-i, indiana_reports.csv) →
 * prompt/completion JSONL with CheXpert-named labels.
 *
 * IU has no CheXpert labels; its `Problems` column lists MeSH-style terms ("Cardiomegaly;Pulmonary
 * Atelectasis", "normal"). Each Problems term lines up with one `MeSH` entry that adds qualifiers
 * ("Opacity/lung/base/left", "Cardiac Shadow/enlarged/mild"), so the table below maps a term to
 * CheXpert labels, using the qualifiers where the bare term is ambiguous. The rules follow what the
 * CheXpert labeler would call the same finding (e.g. scarring and interstitial markings are Lung
 * Opacity, vascular congestion is Edema, blunted costophrenic angles hint at effusion). Terms with no
 * CheXpert counterpart (calcified granulomas, degenerative spine, tortuous aorta, hyperinflation,
 * hiatal hernia...) are deliberately unmapped and listed in the coverage summary.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RadgradError } from '../errors.js';
import { readCsvFile, type CsvIssue } from './csv.js';
import { writeJsonlAtomic, type ReportRecord } from './jsonl.js';
import {
  buildCompletion,
  buildPrompt,
  canonicalLabels,
  shouldKeep,
  sortCounts,
  tallyLabels,
  type ChexpertLabel,
  type KeepPolicy,
  type LabelCounts,
  type LabelValue,
} from './labels.js';
import { normalizeWhitespace } from './sections.js';

type Hit = [ChexpertLabel, LabelValue];
type Rule = (q: string[]) => Hit[];

/** Anatomic qualifiers that put an "opacity"/"mass" outside the lung parenchyma. */
const NON_LUNG_SITES = new Set([
  'ribs', 'mediastinum', 'adipose tissue', 'heart', 'supracardiac', 'paratracheal', 'breast', 'abdomen', 'spine',
  'clavicle', 'humerus', 'shoulder', 'thoracic vertebrae', 'lumbar vertebrae', 'neck', 'thorax',
]);
const has = (q: string[], ...words: string[]) => q.some((x) => words.includes(x));
const inLung = (q: string[]) => !q.some((x) => NON_LUNG_SITES.has(x)) || has(q, 'lung');
/** "borderline" qualifier → uncertain; otherwise positive. */
const val = (q: string[]): LabelValue => (has(q, 'borderline') ? 'uncertain' : '1');
const to =
  (...labels: ChexpertLabel[]): Rule =>
  (q) =>
    labels.map((l) => [l, val(q)] as Hit);

/** Problems term → rule; keys are lower-case. */
export const IU_MAPPING: ReadonlyMap<string, { rule: Rule; note: string }> = new Map<string, { rule: Rule; note: string }>([
  ['normal', { rule: () => [['No Finding', '1']], note: 'No Finding' }],
  ['cardiomegaly', { rule: to('Cardiomegaly'), note: 'Cardiomegaly (borderline → uncertain)' }],
  ['cardiac shadow', { rule: (q) => (has(q, 'enlarged', 'borderline') ? [['Cardiomegaly', val(q)]] : []), note: 'Cardiomegaly when enlarged' }],
  ['pulmonary atelectasis', { rule: to('Atelectasis'), note: 'Atelectasis' }],
  ['atelectasis', { rule: to('Atelectasis'), note: 'Atelectasis' }],
  ['volume loss', { rule: () => [['Atelectasis', 'uncertain']], note: 'Atelectasis, uncertain (volume loss suggests collapse)' }],
  ['pleural effusion', { rule: to('Pleural Effusion'), note: 'Pleural Effusion' }],
  ['hemothorax', { rule: to('Pleural Effusion'), note: 'Pleural Effusion (pleural fluid)' }],
  ['hydropneumothorax', { rule: to('Pneumothorax', 'Pleural Effusion'), note: 'Pneumothorax + Pleural Effusion' }],
  ['hemopneumothorax', { rule: to('Pneumothorax', 'Pleural Effusion'), note: 'Pneumothorax + Pleural Effusion' }],
  ['pneumothorax', { rule: to('Pneumothorax'), note: 'Pneumothorax' }],
  ['costophrenic angle', { rule: (q) => (has(q, 'blunted') ? [['Pleural Effusion', 'uncertain']] : []), note: 'blunted → Pleural Effusion, uncertain' }],
  ['sulcus', { rule: (q) => (has(q, 'blunted') ? [['Pleural Effusion', 'uncertain']] : []), note: 'blunted → Pleural Effusion, uncertain' }],
  ['pleura', { rule: (q) => (has(q, 'blunted') ? [['Pleural Effusion', 'uncertain']] : [['Pleural Other', '1']]), note: 'blunted → Pleural Effusion uncertain, else Pleural Other' }],
  ['thickening', { rule: (q) => (has(q, 'pleura') ? [['Pleural Other', '1']] : has(q, 'bronchi') ? [['Lung Opacity', '1']] : []), note: 'pleural → Pleural Other; peribronchial → Lung Opacity' }],
  ['opacity', { rule: (q) => (inLung(q) ? [['Lung Opacity', '1']] : []), note: 'Lung Opacity unless sited outside the lung' }],
  ['density', { rule: (q) => (has(q, 'round') ? [['Lung Lesion', 'uncertain']] : has(q, 'lung', 'retrocardiac') ? [['Lung Opacity', '1']] : []), note: 'lung → Lung Opacity; round → Lung Lesion, uncertain' }],
  ['infiltrate', { rule: to('Lung Opacity'), note: 'Lung Opacity' }],
  ['airspace disease', { rule: to('Lung Opacity'), note: 'Lung Opacity' }],
  ['pulmonary fibrosis', { rule: to('Lung Opacity'), note: 'Lung Opacity (reticular/interstitial)' }],
  ['lung diseases, interstitial', { rule: to('Lung Opacity'), note: 'Lung Opacity (interstitial)' }],
  ['markings', { rule: (q) => (has(q, 'interstitial') ? [['Lung Opacity', '1']] : []), note: 'interstitial markings → Lung Opacity' }],
  ['lung', { rule: (q) => (has(q, 'interstitial') ? [['Lung Opacity', '1']] : []), note: 'interstitial → Lung Opacity (hypo/hyperinflation unmapped)' }],
  ['cicatrix', { rule: (q) => (has(q, 'pleura') ? [['Pleural Other', '1']] : has(q, 'breast') ? [] : [['Lung Opacity', '1']]), note: 'pleural scar → Pleural Other; lung scar → Lung Opacity' }],
  ['consolidation', { rule: to('Consolidation'), note: 'Consolidation' }],
  ['pneumonia', { rule: to('Pneumonia'), note: 'Pneumonia' }],
  ['pulmonary edema', { rule: to('Edema'), note: 'Edema' }],
  ['edema', { rule: to('Edema'), note: 'Edema' }],
  ['pulmonary congestion', { rule: to('Edema'), note: 'Edema (vascular congestion)' }],
  ['heart failure', { rule: to('Edema'), note: 'Edema (heart failure)' }],
  ['fractures, bone', { rule: to('Fracture'), note: 'Fracture (old or new)' }],
  ['fracture', { rule: to('Fracture'), note: 'Fracture' }],
  ['nodule', { rule: (q) => (has(q, 'breast') ? [] : [['Lung Lesion', '1']]), note: 'Lung Lesion' }],
  ['mass', { rule: (q) => (has(q, 'breast') ? [] : [['Lung Lesion', '1']]), note: 'Lung Lesion' }],
  ['cavitation', { rule: to('Lung Lesion'), note: 'Lung Lesion (cavitary lesion)' }],
  ['lung lesion', { rule: to('Lung Lesion'), note: 'Lung Lesion' }],
  ['mediastinum', { rule: (q) => (has(q, 'prominent', 'enlarged', 'widened') ? [['Enlarged Cardiomediastinum', '1']] : []), note: 'prominent/enlarged → Enlarged Cardiomediastinum' }],
  ['aortic aneurysm', { rule: to('Enlarged Cardiomediastinum'), note: 'Enlarged Cardiomediastinum (contour)' }],
  ['catheters, indwelling', { rule: to('Support Devices'), note: 'Support Devices' }],
  ['tube, inserted', { rule: to('Support Devices'), note: 'Support Devices' }],
  ['implanted medical device', { rule: to('Support Devices'), note: 'Support Devices' }],
  ['medical device', { rule: to('Support Devices'), note: 'Support Devices' }],
  ['stents', { rule: to('Support Devices'), note: 'Support Devices' }],
]);

/** Maps one IU report's Problems (and aligned MeSH qualifiers) to CheXpert labels. */
export function mapIuProblems(problems: string, mesh = ''): { labels: Record<string, LabelValue>; mapped: string[]; unmapped: string[] } {
  const terms = problems.split(';').map((t) => t.trim()).filter(Boolean);
  const meshParts = mesh.split(';').map((t) => t.trim());
  // MeSH entries align one to one with Problems terms in this file; if they do not, use no qualifiers.
  const aligned = meshParts.length === terms.length;
  const labels: Record<string, LabelValue> = {};
  const mapped: string[] = [];
  const unmapped: string[] = [];
  terms.forEach((term, i) => {
    const key = term.toLowerCase().replace(/\s+/g, ' ');
    const entry = IU_MAPPING.get(key);
    const q = aligned
      ? meshParts[i]!.split('/').slice(1).map((x) => x.trim().toLowerCase())
      : [];
    const hits = entry ? entry.rule(q) : [];
    if (!hits.length) {
      unmapped.push(term);
      return;
    }
    mapped.push(term);
    for (const [l, v] of hits) if (labels[l] !== '1') labels[l] = v; // positive wins over uncertain
  });
  return { labels: canonicalLabels(labels), mapped, unmapped };
}

export interface PrepIuOptions {
  csv: string;
  /** Where to write the JSONL (atomically); with no record to write, nothing is written and a RadgradError says why. */
  out?: string;
  keep?: KeepPolicy;
}

export interface IuCoverage {
  /** Problem term occurrences, how many mapped to at least one label, and the ratio. */
  termOccurrences: number;
  termsMapped: number;
  termCoverage: number;
  /** Reports with at least one mapped label / all valid reports. */
  reportsWithLabels: number;
  reportCoverage: number;
  /** Distinct terms seen / with a mapping that fired. */
  distinctTerms: number;
  distinctMapped: number;
  /** Most frequent unmapped terms with counts. */
  topUnmapped: Array<[string, number]>;
}

export interface PrepIuSummary {
  source: 'iu-xray';
  csvRows: number;
  malformedRows: number;
  duplicateUids: number;
  studiesRead: number;
  filtered: number;
  noSections: number;
  findingsMissing: number;
  impressionMissing: number;
  written: number;
  labelCounts: LabelCounts;
  coverage: IuCoverage;
  warnings: string[];
  out?: string;
}

const REQUIRED = ['uid', 'problems', 'findings', 'impression'];

export async function prepIu(opts: PrepIuOptions): Promise<{ records: ReportRecord[]; summary: PrepIuSummary }> {
  if (!fs.existsSync(opts.csv)) {
    throw new RadgradError(`IU report file not found: ${opts.csv}`, { hint: 'pass --csv ../shared/data/iu-xray/indiana_reports.csv' });
  }
  const name = path.basename(opts.csv);
  const s: PrepIuSummary = {
    source: 'iu-xray',
    csvRows: 0,
    malformedRows: 0,
    duplicateUids: 0,
    studiesRead: 0,
    filtered: 0,
    noSections: 0,
    findingsMissing: 0,
    impressionMissing: 0,
    written: 0,
    labelCounts: {},
    coverage: { termOccurrences: 0, termsMapped: 0, termCoverage: 0, reportsWithLabels: 0, reportCoverage: 0, distinctTerms: 0, distinctMapped: 0, topUnmapped: [] },
    warnings: [],
  };
  const issues: CsvIssue[] = [];
  const flush = () => {
    for (const is of issues.splice(0)) {
      if (is.dropped) {
        s.csvRows++;
        s.malformedRows++;
      }
      s.warnings.push(`${name} line ${is.line}: ${is.message}`);
    }
  };
  let header: string[] | undefined;
  const col: Record<string, number> = {};
  const rows: Array<{ uid: string; labels: Record<string, LabelValue>; findings: string; impression: string; line: number }> = [];
  const seen = new Set<string>();
  const termCount = new Map<string, number>();
  const unmappedCount = new Map<string, number>();
  const mappedDistinct = new Set<string>();
  try {
    for await (const rec of readCsvFile(opts.csv, issues)) {
      flush();
      if (!header) {
        header = rec.fields.map((f) => f.trim().toLowerCase());
        header.forEach((h, i) => (col[h] = i));
        const absent = REQUIRED.filter((c) => col[c] === undefined);
        if (absent.length) {
          throw new RadgradError(`${name}: header lacks column(s) ${absent.join(', ')}`, {
            hint: 'expected indiana_reports.csv with columns uid, MeSH, Problems, image, indication, comparison, findings, impression',
          });
        }
        continue;
      }
      s.csvRows++;
      const f = rec.fields;
      if (f.length !== header.length) {
        s.malformedRows++;
        s.warnings.push(`${name} line ${rec.line}: expected ${header.length} fields, got ${f.length}; row skipped`);
        continue;
      }
      const uid = f[col.uid!]!.trim();
      if (!/^\d+$/.test(uid)) {
        s.malformedRows++;
        s.warnings.push(`${name} line ${rec.line}: non-numeric uid ${JSON.stringify(uid)}; row skipped`);
        continue;
      }
      if (seen.has(uid)) {
        s.duplicateUids++;
        s.warnings.push(`${name} line ${rec.line}: duplicate uid ${uid}; first row kept`);
        continue;
      }
      seen.add(uid);
      const m = mapIuProblems(f[col.problems!]!, col.mesh !== undefined ? f[col.mesh]! : '');
      for (const t of [...m.mapped, ...m.unmapped]) termCount.set(t, (termCount.get(t) ?? 0) + 1);
      for (const t of m.unmapped) unmappedCount.set(t, (unmappedCount.get(t) ?? 0) + 1);
      for (const t of m.mapped) mappedDistinct.add(t);
      s.coverage.termOccurrences += m.mapped.length + m.unmapped.length;
      s.coverage.termsMapped += m.mapped.length;
      if (Object.keys(m.labels).length) s.coverage.reportsWithLabels++;
      rows.push({ uid, labels: m.labels, findings: normalizeWhitespace(f[col.findings!]!), impression: normalizeWhitespace(f[col.impression!]!), line: rec.line });
    }
  } catch (e) {
    if (e instanceof RadgradError) throw e;
    throw new RadgradError(`cannot read ${opts.csv}: ${(e as Error).message}`, { cause: e, hint: 'expected the plain-text indiana_reports.csv' });
  }
  flush();
  if (!header) throw new RadgradError(`${opts.csv} is empty`, { hint: 'expected indiana_reports.csv with a header row' });
  s.studiesRead = rows.length;
  rows.sort((a, b) => a.uid.length - b.uid.length || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0));
  const records: ReportRecord[] = [];
  for (const r of rows) {
    if (!shouldKeep(r.labels, opts.keep)) {
      s.filtered++;
      continue;
    }
    if (!r.findings && !r.impression) {
      s.noSections++;
      s.warnings.push(`${name} line ${r.line}: uid ${r.uid} has neither findings nor impression; skipped`);
      continue;
    }
    if (!r.findings) s.findingsMissing++;
    if (!r.impression) s.impressionMissing++;
    records.push({ id: `iu-${r.uid}`, prompt: buildPrompt(r.labels), completion: buildCompletion(r.findings, r.impression), labels: r.labels });
    tallyLabels(s.labelCounts, r.labels);
  }
  s.written = records.length;
  s.labelCounts = sortCounts(s.labelCounts);
  const c = s.coverage;
  c.termCoverage = c.termOccurrences ? c.termsMapped / c.termOccurrences : 0;
  c.reportCoverage = s.studiesRead ? c.reportsWithLabels / s.studiesRead : 0;
  c.distinctTerms = termCount.size;
  c.distinctMapped = mappedDistinct.size;
  c.topUnmapped = [...unmappedCount.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 15);
  if (opts.out && !records.length) {
    // An empty JSONL would only fail later, at `train`: nothing is written, and the error says why.
    const hint = !s.studiesRead
      ? `no usable row in ${opts.csv}${s.warnings[0] ? `; first problem: ${s.warnings[0]}` : ''}`
      : s.filtered === s.studiesRead
        ? 'every report was filtered by its labels (most IU reports are normal): add --keep-no-finding, or --keep-all'
        : 'the kept reports have neither findings nor impression text';
    throw new RadgradError(
      `prep iu: no record to write, so ${opts.out} was not written: ${s.studiesRead} reports read (${s.malformedRows} malformed CSV rows), ` +
        `${s.filtered} filtered by labels, ${s.noSections} without findings or impression`,
      { hint },
    );
  }
  if (opts.out) {
    writeJsonlAtomic(opts.out, records);
    s.out = opts.out;
  }
  return { records, summary: s };
}
