/**
 * `prep mimic`: MIMIC-CXR CheXpert labels + free-text reports → prompt/completion JSONL.
 * Every study ends in exactly one bucket of the funnel
 *   studiesRead = filtered + reportsMissing + reportsUnreadable + noSections + written
 * and every CSV row is either a study, a duplicate or malformed, so nothing disappears uncounted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RadgradError } from '../errors.js';
import { readCsvFile, type CsvIssue } from './csv.js';
import { checkOutputFile, writeJsonlAtomic, type ReportRecord } from './jsonl.js';
import {
  CHEXPERT_LABELS,
  buildCompletion,
  buildPrompt,
  shouldKeep,
  sortCounts,
  tallyLabels,
  type KeepPolicy,
  type LabelCounts,
  type LabelValue,
} from './labels.js';
import { extractSections } from './sections.js';

export interface PrepMimicOptions {
  /** mimic-cxr-2.0.0-chexpert.csv or .csv.gz (gzip is detected by content). */
  chexpertCsv: string;
  /** Folder holding `files/pXX/pSUBJECT/sSTUDY.txt` (or the `files` folder itself). */
  reportsDir: string;
  /**
   * Where to write the JSONL (atomically); omitted → records are only returned. With no record to
   * write, nothing is written and a RadgradError says where the studies went.
   */
  out?: string;
  /** Emit 0.0 labels as "0" (default: skipped like blanks). */
  includeNegative?: boolean;
  keep?: KeepPolicy;
}

export interface PrepMimicSummary {
  source: 'mimic-cxr';
  /** Data rows in the CSV, header excluded (rows dropped by the CSV parser included). */
  csvRows: number;
  malformedRows: number;
  duplicateStudies: number;
  studiesRead: number;
  filtered: number;
  reportsMissing: number;
  reportsUnreadable: number;
  /** Reports with neither FINDINGS nor IMPRESSION: skipped. */
  noSections: number;
  /** Among written records: FINDINGS absent / IMPRESSION absent / filled from FINDINGS AND IMPRESSION. */
  findingsMissing: number;
  impressionMissing: number;
  combinedSections: number;
  written: number;
  labelCounts: LabelCounts;
  warnings: string[];
  out?: string;
}

const MAX_WARNINGS = 10000;

interface Study {
  subject: string;
  study: string;
  labels: Record<string, LabelValue>;
}

/** CheXpert cell → label value; undefined = blank; null = not a valid CheXpert value. */
function parseCell(cell: string): number | undefined | null {
  const t = cell.trim();
  if (t === '') return undefined;
  const v = Number(t);
  return v === 1 || v === 0 || v === -1 ? v : null;
}

function numericOrder(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** `<reports>/files/p10/p10000032/s50414267.txt`; accepts the MIMIC root or its `files` folder. */
export function mimicReportPath(reportsRoot: string, subject: string, study: string): string {
  return path.join(reportsRoot, `p${subject.slice(0, 2)}`, `p${subject}`, `s${study}.txt`);
}

export function resolveReportsRoot(dir: string): string {
  const files = path.join(dir, 'files');
  if (fs.existsSync(files) && fs.statSync(files).isDirectory()) return files;
  if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) return dir;
  throw new RadgradError(`reports folder not found: ${dir}`, {
    hint: 'pass the folder that contains files/pXX/pSUBJECT/sSTUDY.txt (e.g. the unpacked mimic-cxr-reports)',
  });
}

/**
 * Synchronous on purpose: on ~30k small local files readFileSync measured faster than a pool of
 * async reads (each fs.promises.readFile pays open/fstat/read/close round trips through the pool).
 */
function readReport(root: string, reportsDir: string, st: Study): string | { error: 'missing' | 'unreadable'; message: string } {
  const p = mimicReportPath(root, st.subject, st.study);
  try {
    return fs.readFileSync(p, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: code === 'ENOENT' ? 'missing' : 'unreadable', message: `${path.relative(reportsDir, p)}: ${code ?? (e as Error).message}` };
  }
}

export async function prepMimic(opts: PrepMimicOptions): Promise<{ records: ReportRecord[]; summary: PrepMimicSummary }> {
  if (!fs.existsSync(opts.chexpertCsv)) {
    throw new RadgradError(`CheXpert label file not found: ${opts.chexpertCsv}`, {
      hint: 'pass --chexpert path/to/mimic-cxr-2.0.0-chexpert.csv.gz (or run `radgrad synth mimic` for synthetic data)',
    });
  }
  if (opts.out) checkOutputFile(opts.out, 'prep mimic', 'data/mimic.jsonl');
  const root = resolveReportsRoot(opts.reportsDir);
  const csvName = path.basename(opts.chexpertCsv);
  const s: PrepMimicSummary = {
    source: 'mimic-cxr',
    csvRows: 0,
    malformedRows: 0,
    duplicateStudies: 0,
    studiesRead: 0,
    filtered: 0,
    reportsMissing: 0,
    reportsUnreadable: 0,
    noSections: 0,
    findingsMissing: 0,
    impressionMissing: 0,
    combinedSections: 0,
    written: 0,
    labelCounts: {},
    warnings: [],
  };
  let suppressed = 0;
  const warn = (msg: string) => {
    if (s.warnings.length < MAX_WARNINGS) s.warnings.push(msg);
    else suppressed++;
  };
  // CSV warnings are gathered with their line and sorted: an unterminated quote is only detected at EOF.
  const csvWarnings: Array<[number, string]> = [];
  const warnLine = (line: number, msg: string) => csvWarnings.push([line, `${csvName} line ${line}: ${msg}`]);

  // --- labels -------------------------------------------------------------------------------
  const issues: CsvIssue[] = [];
  const studies: Study[] = [];
  const seen = new Set<string>();
  let header: string[] | undefined;
  let subjCol = -1;
  let studyCol = -1;
  let labelCols: Array<[string, number]> = [];
  const flushIssues = () => {
    for (const is of issues.splice(0)) {
      if (is.dropped) {
        s.csvRows++;
        s.malformedRows++;
      }
      warnLine(is.line, is.message);
    }
  };
  try {
    for await (const rec of readCsvFile(opts.chexpertCsv, issues)) {
      flushIssues();
      if (!header) {
        header = rec.fields.map((f) => f.trim());
        subjCol = header.indexOf('subject_id');
        studyCol = header.indexOf('study_id');
        if (subjCol < 0 || studyCol < 0) {
          throw new RadgradError(`${csvName} line ${rec.line}: header lacks subject_id/study_id (got: ${header.slice(0, 4).join(', ')}...)`, {
            hint: 'expected the header of mimic-cxr-2.0.0-chexpert.csv: subject_id,study_id,Atelectasis,...',
          });
        }
        // Columns are matched by name but emitted in canonical CheXpert order.
        labelCols = CHEXPERT_LABELS.filter((n) => header!.includes(n)).map((n) => [n, header!.indexOf(n)] as [string, number]);
        const absent = CHEXPERT_LABELS.filter((n) => !header!.includes(n));
        if (absent.length) warnLine(rec.line, `header lacks label columns: ${absent.join(', ')}`);
        continue;
      }
      s.csvRows++;
      const f = rec.fields;
      if (f.length !== header.length) {
        s.malformedRows++;
        warnLine(rec.line, `expected ${header.length} fields, got ${f.length}; row skipped`);
        continue;
      }
      const subject = f[subjCol]!.trim();
      const study = f[studyCol]!.trim();
      if (!/^\d+$/.test(subject) || !/^\d+$/.test(study)) {
        s.malformedRows++;
        warnLine(rec.line, `non-numeric subject_id/study_id (${JSON.stringify(subject)}, ${JSON.stringify(study)}); row skipped`);
        continue;
      }
      const labels: Record<string, LabelValue> = {};
      let bad: string | undefined;
      for (const [name, col] of labelCols) {
        const v = parseCell(f[col]!);
        if (v === null) {
          bad = `${name}=${JSON.stringify(f[col])}`;
          break;
        }
        if (v === 1) labels[name] = '1';
        else if (v === -1) labels[name] = 'uncertain';
        else if (v === 0 && opts.includeNegative) labels[name] = '0';
      }
      if (bad) {
        s.malformedRows++;
        warnLine(rec.line, `invalid label value ${bad} (expected 1.0, 0.0, -1.0 or blank); row skipped`);
        continue;
      }
      const key = `${subject}/${study}`;
      if (seen.has(key)) {
        s.duplicateStudies++;
        warnLine(rec.line, `duplicate study p${subject}/s${study}; first row kept`);
        continue;
      }
      seen.add(key);
      studies.push({ subject, study, labels });
    }
  } catch (e) {
    if (e instanceof RadgradError) throw e;
    throw new RadgradError(`cannot read ${opts.chexpertCsv}: ${(e as Error).message}`, {
      cause: e,
      hint: 'is it a (gzipped) CSV? a truncated .gz download fails here',
    });
  }
  flushIssues();
  for (const [, msg] of csvWarnings.sort((a, b) => a[0] - b[0])) warn(msg);
  if (!header) throw new RadgradError(`${opts.chexpertCsv} is empty`, { hint: 'expected mimic-cxr-2.0.0-chexpert.csv with a header row' });
  s.studiesRead = studies.length;
  studies.sort((a, b) => numericOrder(a.subject, b.subject) || numericOrder(a.study, b.study));

  // --- reports ------------------------------------------------------------------------------
  const kept = studies.filter((st) => shouldKeep(st.labels, opts.keep));
  s.filtered = studies.length - kept.length;
  const records: ReportRecord[] = [];
  let firstMissing: string | undefined;
  for (let i = 0; i < kept.length; i++) {
    const st = kept[i]!;
    const t = readReport(root, opts.reportsDir, st);
    const id = `p${st.subject}/s${st.study}`;
    if (typeof t !== 'string') {
      if (t.error === 'missing') {
        firstMissing ??= mimicReportPath(root, st.subject, st.study);
        s.reportsMissing++;
        warn(`report missing for ${id}: ${t.message}`);
      } else {
        s.reportsUnreadable++;
        warn(`report unreadable for ${id}: ${t.message}`);
      }
      continue;
    }
    const sec = extractSections(t);
    if (!sec.findings && !sec.impression) {
      s.noSections++;
      warn(`report for ${id} has neither FINDINGS nor IMPRESSION; skipped`);
      continue;
    }
    if (!sec.findings) s.findingsMissing++;
    if (!sec.impression) s.impressionMissing++;
    if (sec.combined) s.combinedSections++;
    records.push({ id, prompt: buildPrompt(st.labels), completion: buildCompletion(sec.findings, sec.impression), labels: st.labels });
    tallyLabels(s.labelCounts, st.labels);
  }
  s.written = records.length;
  s.labelCounts = sortCounts(s.labelCounts);
  if (suppressed) s.warnings.push(`... ${suppressed} more warnings not listed`);
  if (opts.out && !records.length) throw nothingToWrite(opts, s, kept.length, firstMissing);
  if (opts.out) {
    writeJsonlAtomic(opts.out, records);
    s.out = opts.out;
  }
  return { records, summary: s };
}

/**
 * No study made it into the output: an empty JSONL would only fail later, at `train`, so nothing is
 * written and the error says where the studies went, with a hint for the likeliest cause.
 */
function nothingToWrite(opts: PrepMimicOptions, s: PrepMimicSummary, kept: number, firstMissing: string | undefined): RadgradError {
  const funnel =
    `${s.studiesRead} studies read (${s.malformedRows} malformed CSV rows), ${s.filtered} filtered by labels, ${s.reportsMissing} reports missing, ` +
    `${s.reportsUnreadable} unreadable, ${s.noSections} without FINDINGS or IMPRESSION`;
  let hint: string;
  if (!s.studiesRead) hint = `no usable row in ${opts.chexpertCsv}${s.warnings[0] ? `; first problem: ${s.warnings[0]}` : ''}`;
  else if (!kept) hint = 'every study was filtered by its labels: add --keep-no-finding, --keep-uncertain or --keep-all';
  else if (s.reportsMissing === kept) {
    hint = `no report found under --reports ${opts.reportsDir} (the first one looked for: ${firstMissing}); pass the folder that holds files/pXX/pSUBJECT/sSTUDY.txt (or that files/ folder)`;
  } else hint = `the reports found were unreadable or had no FINDINGS/IMPRESSION section${s.warnings[0] ? `; first problem: ${s.warnings[0]}` : ''}`;
  return new RadgradError(`prep mimic: no record to write, so ${opts.out} was not written: ${funnel}`, { hint });
}
