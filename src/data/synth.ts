/**
 * `synth mimic`: a synthetic stand-in for the credentialed MIMIC-CXR release, in its layout:
 *   <out>/mimic-cxr-2.0.0-chexpert.csv.gz (or .csv)  and  <out>/files/pXX/pSUBJECT/sSTUDY.txt
 * Labels come from clinical scenarios (heart failure, pneumonia, ICU, trauma...) so they co-occur
 * realistically, and the report wording follows the labels (see synth_text.ts). Layout quirks found
 * in real reports (wrapping, title-case headers, FINDINGS AND IMPRESSION, missing sections, wet
 * reads, notification sections) and, unless disabled, data faults (malformed CSV rows, duplicate rows,
 * missing/unreadable/section-less reports) are injected at seeded positions. `synth-manifest.json`
 * records the faults and the exact counts `prep mimic` must report with default options.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { RadgradError } from '../errors.js';
import { formatCsvRow } from './csv.js';
import { CHEXPERT_LABELS, shouldKeep, sortCounts, tallyLabels, type ChexpertLabel, type LabelCounts, type LabelValue } from './labels.js';
import { mimicReportPath, type PrepMimicSummary } from './mimic.js';
import { Rng } from './rng.js';
import { composeReport, sampleAttrs } from './synth_text.js';

export interface SynthMimicOptions {
  out: string;
  studies: number;
  seed?: number;
  /** Write mimic-cxr-2.0.0-chexpert.csv.gz (default) or the plain .csv. */
  gzip?: boolean;
  /** Inject malformed rows and missing/unreadable/empty reports (default true). */
  faults?: boolean;
  /** Replace an existing non-empty output folder. */
  force?: boolean;
}

/** The counts `prep mimic` reports for this tree with default options (its summary minus the source tag). */
export type ExpectedPrepCounts = Omit<PrepMimicSummary, 'source' | 'labelCounts' | 'warnings'>;

export interface SynthManifest {
  generator: 'radgrad synth mimic';
  seed: number;
  studies: number;
  subjects: number;
  csv: string;
  faults: {
    malformedRows: Array<{ line: number; kind: string }>;
    duplicateRows: number[];
    missingReports: string[];
    unreadableReports: string[];
    noSectionReports: string[];
  };
  expected: ExpectedPrepCounts;
  /** Label tallies over all generated studies (before faults). */
  labelCounts: LabelCounts;
}

type Spec = Array<[ChexpertLabel, number, number]>; // label, P(positive), P(uncertain)

interface Scenario {
  name: string;
  weight: number;
  labels: Spec;
  negatives: ChexpertLabel[];
  indications: string[];
  portable: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'normal', weight: 0.28, labels: [], negatives: ['Pleural Effusion', 'Pneumothorax', 'Consolidation', 'Edema', 'Cardiomegaly', 'Enlarged Cardiomediastinum'], indications: ['chest pain', 'cough', 'preoperative evaluation', 'shortness of breath, evaluate for acute process'], portable: 0.1 },
  { name: 'heart failure', weight: 0.16, labels: [['Cardiomegaly', 0.75, 0.1], ['Edema', 0.6, 0.2], ['Pleural Effusion', 0.55, 0.15], ['Enlarged Cardiomediastinum', 0.15, 0.1], ['Atelectasis', 0.25, 0.1]], negatives: ['Pneumothorax', 'Consolidation', 'Pneumonia'], indications: ['dyspnea and leg swelling, evaluate for CHF', 'shortness of breath', 'history of heart failure with worsening dyspnea'], portable: 0.4 },
  { name: 'pneumonia', weight: 0.16, labels: [['Lung Opacity', 0.75, 0.1], ['Pneumonia', 0.45, 0.35], ['Consolidation', 0.35, 0.15], ['Pleural Effusion', 0.15, 0.1], ['Atelectasis', 0.15, 0.15]], negatives: ['Pneumothorax', 'Edema', 'Pleural Effusion'], indications: ['cough and fever, evaluate for pneumonia', 'productive cough', 'fever and leukocytosis'], portable: 0.3 },
  { name: 'icu', weight: 0.14, labels: [['Support Devices', 1, 0], ['Atelectasis', 0.45, 0.1], ['Pleural Effusion', 0.4, 0.1], ['Edema', 0.2, 0.1], ['Lung Opacity', 0.2, 0.05], ['Pneumothorax', 0.05, 0.05]], negatives: ['Pneumothorax', 'Edema'], indications: ['intubated patient, evaluate tube position', 'line placement', 'status post cardiac surgery'], portable: 0.95 },
  { name: 'trauma', weight: 0.06, labels: [['Fracture', 0.85, 0.1], ['Pneumothorax', 0.35, 0.1], ['Lung Opacity', 0.15, 0], ['Pleural Effusion', 0.1, 0]], negatives: ['Pneumothorax', 'Pleural Effusion'], indications: ['fall with chest wall pain', 'motor vehicle collision, evaluate for fracture'], portable: 0.5 },
  { name: 'lesion', weight: 0.08, labels: [['Lung Lesion', 0.8, 0.2], ['Lung Opacity', 0.25, 0.05], ['Pleural Effusion', 0.1, 0], ['Enlarged Cardiomediastinum', 0.1, 0]], negatives: ['Pneumothorax', 'Pleural Effusion', 'Consolidation'], indications: ['follow-up of pulmonary nodule', 'weight loss, history of smoking', 'hemoptysis'], portable: 0.05 },
  { name: 'pleural', weight: 0.07, labels: [['Pleural Effusion', 0.7, 0.15], ['Atelectasis', 0.35, 0.1], ['Pleural Other', 0.3, 0.05]], negatives: ['Pneumothorax'], indications: ['pleural effusion follow-up', 'dyspnea'], portable: 0.3 },
  { name: 'other', weight: 0.05, labels: [['Pleural Other', 0.5, 0.1], ['Atelectasis', 0.3, 0.1], ['Enlarged Cardiomediastinum', 0.3, 0.1], ['Cardiomegaly', 0.2, 0.1]], negatives: ['Pleural Effusion', 'Pneumothorax'], indications: ['chronic cough', 'abnormal prior study'], portable: 0.1 },
];

export function sampleLabels(r: Rng): { scenario: Scenario; labels: Partial<Record<ChexpertLabel, LabelValue>> } {
  const scenario = r.weighted(SCENARIOS.map((s) => [s, s.weight] as const));
  const labels: Partial<Record<ChexpertLabel, LabelValue>> = {};
  if (scenario.name === 'normal') {
    labels['No Finding'] = '1';
    if (r.chance(0.05)) labels['Support Devices'] = '1';
  }
  for (const [l, pPos, pUnc] of scenario.labels) {
    const x = r.next();
    if (x < pPos) labels[l] = '1';
    else if (x < pPos + pUnc) labels[l] = 'uncertain';
  }
  if (scenario.labels.length && !Object.values(labels).includes('1')) {
    // Most abnormal studies have a definite finding; the rest stay uncertain-only (filtered by default).
    const primary = scenario.labels[0]![0];
    labels[primary] = r.chance(0.85) ? '1' : 'uncertain';
  }
  for (const l of scenario.negatives) if (!labels[l] && r.chance(scenario.name === 'normal' ? 0.5 : 0.4)) labels[l] = '0';
  // CheXpert's No Finding: no positive or uncertain observation but Support Devices (a devices-only
  // ICU study is normal). No random draw, so the stream and every other label stay as they were.
  const finding = Object.entries(labels).some(([l, v]) => l !== 'Support Devices' && l !== 'No Finding' && (v === '1' || v === 'uncertain'));
  if (!finding) labels['No Finding'] = '1';
  return { scenario, labels };
}

const CSV_VALUE: Record<LabelValue, string> = { '1': '1.0', uncertain: '-1.0', '0': '0.0' };

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(' ')) {
    if (line && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out;
}

type Layout = 'standard' | 'combined' | 'impressionOnly' | 'findingsOnly' | 'noSections';

interface RenderSpec {
  layout: Layout;
  portable: boolean;
  indication: string;
  findings: string[];
  impression: string[];
}

/** Lays a report out the way MIMIC-CXR text files look (leading space, hard wraps near 78 columns). */
function renderReport(s: RenderSpec, r: Rng): string {
  const style = r.weighted([['upper', 0.93], ['title', 0.05], ['lower', 0.02]] as const);
  const h = (name: string) => (style === 'upper' ? name : style === 'title' ? name[0] + name.slice(1).toLowerCase() : name.toLowerCase());
  const wrapped = r.chance(0.8);
  const inline = r.chance(0.25);
  const para = (text: string) => (wrapped ? wrap(text, r.range(70, 78)) : [text]).map((l) => ` ${l}`);
  const lines: string[] = ['                                 FINAL REPORT'];
  if (r.chance(0.03)) lines.push(` WET READ: ___ ___ ${r.range(1, 12)}:${String(r.range(0, 59)).padStart(2, '0')} PM`, `   ${s.impression[0] ?? 'No acute process.'}`, ' ');
  lines.push(` EXAMINATION:  ${s.portable ? 'CHEST (PORTABLE AP)' : 'CHEST (PA AND LAT)'}`, ' ');
  lines.push(...para(`INDICATION:  ___-year-old ${r.pick(['man', 'woman'])} with ${s.indication}.`), ' ');
  if (r.chance(0.6)) lines.push(` TECHNIQUE:  ${s.portable ? 'Portable AP chest radiograph' : 'Chest PA and lateral'}`, ' ');
  lines.push(` COMPARISON:  ${r.pick(['___', 'None.', 'Chest radiograph from ___.', 'Prior study from ___.'])}`, ' ');
  const section = (name: string, sentences: string[]) => {
    const text = sentences.join(r.chance(0.5) ? '  ' : ' ');
    if (inline) {
      const [first, ...rest] = para(`${h(name)}:  ${text}`);
      lines.push(first!, ...rest, ' ');
    } else lines.push(` ${h(name)}:`, ' ', ...para(text), ' ');
  };
  switch (s.layout) {
    case 'standard':
      section('FINDINGS', s.findings);
      if (r.chance(0.02)) lines.push(' NOTIFICATION:  The findings were discussed with the referring clinician.', ' ');
      section('IMPRESSION', s.impression);
      break;
    case 'combined':
      section('FINDINGS AND IMPRESSION', [...s.findings, ...s.impression]);
      break;
    case 'impressionOnly':
      section('IMPRESSION', s.impression);
      break;
    case 'findingsOnly':
      section('FINDINGS', s.findings);
      break;
    case 'noSections':
      lines.push(...para('Study was limited by patient positioning. Please refer to the subsequent study for the complete interpretation.'), ' ');
      break;
  }
  if (s.layout !== 'noSections' && r.chance(0.05)) lines.push(` ${h('RECOMMENDATION(S)')}:  Follow-up chest radiograph after treatment.`, ' ');
  if (s.layout !== 'noSections' && r.chance(0.04)) lines.push(' NOTIFICATION:  Findings communicated by telephone at the time of interpretation.', ' ');
  return lines.join('\n') + '\n';
}

interface GenStudy {
  subject: string;
  study: string;
  labels: Partial<Record<ChexpertLabel, LabelValue>>;
  layout: Layout;
  report: string;
  rng: Rng;
  scenario: Scenario;
  attrs: ReturnType<typeof sampleAttrs>;
}

function uniqueIds(r: Rng, n: number, lo: number, span: number): string[] {
  const seen = new Set<number>();
  while (seen.size < n) seen.add(lo + r.int(span));
  return [...seen].map(String);
}

export function synthMimic(opts: SynthMimicOptions): SynthManifest {
  const n = opts.studies;
  if (!Number.isInteger(n) || n < 1 || n > 2_000_000) {
    throw new RadgradError(`--studies must be an integer in 1..2000000, got ${n}`, { hint: 'e.g. radgrad synth mimic --out data/synth --studies 2000 --seed 1' });
  }
  const seed = opts.seed ?? 0;
  const root = new Rng(seed);
  const faults = opts.faults !== false;
  const csvName = opts.gzip === false ? 'mimic-cxr-2.0.0-chexpert.csv' : 'mimic-cxr-2.0.0-chexpert.csv.gz';

  // Subjects with 1–4 studies each, 8-digit ids in MIMIC's ranges.
  const idRng = root.fork('ids');
  const counts: number[] = [];
  for (let left = n; left > 0; ) {
    const k = Math.min(left, idRng.weighted([[1, 0.55], [2, 0.25], [3, 0.12], [4, 0.08]] as const));
    counts.push(k);
    left -= k;
  }
  const subjects = uniqueIds(idRng, counts.length, 10_000_000, 9_999_999);
  const studyIds = uniqueIds(idRng, n, 50_000_000, 9_999_999);
  const studies: GenStudy[] = [];
  let si = 0;
  counts.forEach((k, s) => {
    for (let j = 0; j < k; j++, si++) {
      const r = root.fork('study', si);
      const { scenario, labels } = sampleLabels(r);
      const layout = r.weighted([['standard', 0.9], ['combined', 0.05], ['impressionOnly', 0.03], ['findingsOnly', 0.02]] as const);
      studies.push({ subject: subjects[s]!, study: studyIds[si]!, labels, layout, report: '', rng: r, scenario, attrs: sampleAttrs(r) });
    }
  });

  // Faults, at seeded positions, on disjoint studies.
  const fr = root.fork('faults');
  const order = fr.shuffle(studies.map((_, i) => i));
  const take = (k: number, ok: (s: GenStudy) => boolean, used: Set<number>) => {
    const got: number[] = [];
    for (const i of order) {
      if (got.length >= k) break;
      if (!used.has(i) && ok(studies[i]!)) {
        got.push(i);
        used.add(i);
      }
    }
    return got;
  };
  const used = new Set<number>();
  const malformedKinds = ['truncated', 'bad-value', 'bad-id', 'unterminated-quote'] as const;
  const perKind = faults ? Math.max(1, Math.floor(n / 250)) : 0;
  const malformed = new Map<number, (typeof malformedKinds)[number]>();
  // Only one unterminated quote: a second quote char would close the first and merge the rows between.
  for (const kind of malformedKinds) {
    for (const i of take(kind === 'unterminated-quote' ? Math.min(1, perKind) : perKind, () => true, used)) malformed.set(i, kind);
  }
  const kept = (s: GenStudy) => shouldKeep(s.labels as Record<string, LabelValue>);
  const duplicated = new Set(take(faults ? Math.max(1, Math.floor(n / 500)) : 0, () => true, used));
  const missing = new Set(take(faults ? Math.max(1, Math.floor(n / 100)) : 0, kept, used));
  const unreadable = new Set(take(faults ? Math.max(1, Math.floor(n / 1000)) : 0, kept, used));
  const noSections = new Set(take(faults ? Math.max(1, Math.floor(n / 150)) : 0, kept, used));
  for (const i of noSections) studies[i]!.layout = 'noSections';

  const labelCounts: LabelCounts = {};
  for (const s of studies) {
    const body = composeReport(s.labels, s.attrs, s.rng);
    s.report = renderReport(
      { layout: s.layout, portable: s.rng.chance(s.scenario.portable), indication: s.rng.pick(s.scenario.indications), findings: body.findings, impression: body.impression },
      s.rng,
    );
    tallyLabels(labelCounts, s.labels as Record<string, LabelValue>);
  }

  // CSV: sorted by subject, studies of a subject in generation order (prep must sort them itself).
  const rows: string[] = [formatCsvRow(['subject_id', 'study_id', ...CHEXPERT_LABELS])];
  const manifestFaults: SynthManifest['faults'] = { malformedRows: [], duplicateRows: [], missingReports: [], unreadableReports: [], noSectionReports: [] };
  const byRow = studies.map((_, i) => i).sort((a, b) => studies[a]!.subject.localeCompare(studies[b]!.subject));
  for (const i of byRow) {
    const s = studies[i]!;
    const cells = [s.subject, s.study, ...CHEXPERT_LABELS.map((l) => (s.labels[l] ? CSV_VALUE[s.labels[l]!] : ''))];
    const kind = malformed.get(i);
    let line: string;
    if (kind === 'truncated') line = cells.slice(0, cells.length - 5).join(',');
    else if (kind === 'bad-value') line = [...cells.slice(0, 5), 'yes', ...cells.slice(6)].join(',');
    else if (kind === 'bad-id') line = [s.subject, `s${s.study}`, ...cells.slice(2)].join(',');
    else if (kind === 'unterminated-quote') line = [s.subject, `"${s.study}`, ...cells.slice(2)].join(',');
    else line = cells.join(',');
    rows.push(line);
    if (kind) manifestFaults.malformedRows.push({ line: rows.length, kind });
    if (duplicated.has(i)) {
      rows.push(line);
      manifestFaults.duplicateRows.push(rows.length);
    }
  }
  const csvText = rows.join('\n') + '\n';

  // Expected prep counts (default options), from ground truth.
  const valid = studies.filter((_, i) => !malformed.has(i));
  const e: ExpectedPrepCounts = {
    csvRows: studies.length + duplicated.size,
    malformedRows: malformed.size,
    duplicateStudies: duplicated.size,
    studiesRead: valid.length,
    filtered: valid.filter((s) => !kept(s)).length,
    reportsMissing: missing.size,
    reportsUnreadable: unreadable.size,
    noSections: noSections.size,
    findingsMissing: 0,
    impressionMissing: 0,
    combinedSections: 0,
    written: 0,
  };
  studies.forEach((s, i) => {
    if (malformed.has(i) || !kept(s) || missing.has(i) || unreadable.has(i) || noSections.has(i)) return;
    e.written++;
    if (s.layout === 'impressionOnly') e.findingsMissing++;
    if (s.layout === 'findingsOnly') e.impressionMissing++;
    if (s.layout === 'combined') e.combinedSections++;
  });
  const id = (s: GenStudy) => `p${s.subject}/s${s.study}`;
  manifestFaults.missingReports = [...missing].map((i) => id(studies[i]!)).sort();
  manifestFaults.unreadableReports = [...unreadable].map((i) => id(studies[i]!)).sort();
  manifestFaults.noSectionReports = [...noSections].map((i) => id(studies[i]!)).sort();
  const manifest: SynthManifest = { generator: 'radgrad synth mimic', seed, studies: n, subjects: counts.length, csv: csvName, faults: manifestFaults, expected: e, labelCounts: sortCounts(labelCounts) };

  writeTree(opts, (dir) => {
    const csvBuf = Buffer.from(csvText, 'utf8');
    fs.writeFileSync(path.join(dir, csvName), opts.gzip === false ? csvBuf : zlib.gzipSync(csvBuf, { level: 6 }));
    const files = path.join(dir, 'files');
    studies.forEach((s, i) => {
      if (missing.has(i)) return;
      const p = mimicReportPath(files, s.subject, s.study);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      if (unreadable.has(i)) fs.mkdirSync(p); // a folder where the file should be: reading it fails with EISDIR
      else fs.writeFileSync(p, s.report);
    });
    fs.writeFileSync(path.join(dir, 'synth-manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  });
  return manifest;
}

/** Builds the tree in a temp sibling and renames it into place, so a failed run leaves nothing half-written. */
function writeTree(opts: SynthMimicOptions, fill: (dir: string) => void): void {
  const out = path.resolve(opts.out);
  if (fs.existsSync(out)) {
    if (!fs.statSync(out).isDirectory()) throw new RadgradError(`--out ${opts.out} exists and is not a folder`, { hint: 'choose a new folder name' });
    if (fs.readdirSync(out).length && !opts.force) {
      throw new RadgradError(`--out ${opts.out} exists and is not empty`, { hint: 'pass --force to replace it, or choose a new folder' });
    }
  }
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
    if (fs.existsSync(out)) fs.rmSync(out, { recursive: true, force: true });
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new RadgradError(`cannot write synthetic tree to ${opts.out}: ${(e as Error).message}`, { cause: e, hint: 'check the folder is writable and has free space' });
  }
}
