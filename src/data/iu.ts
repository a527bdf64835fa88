/**
 * `prep iu`: the public Indiana University chest X-ray reports (Open-i, indiana_reports.csv) →
 * prompt/completion JSONL with CheXpert-named labels.
 *
 * IU has no CheXpert labels; its human-coded `Problems`/`MeSH` columns are mapped onto CheXpert names
 * by the table in ./iu_mapping.ts (shared with the labeler validation), which also derives No Finding
 * as CheXpert does (CheXpert's "other findings" rule it out), so IU prompts follow the same
 * convention as MIMIC-CXR's. Terms with no CheXpert counterpart are listed in the coverage summary.
 */
import fs from 'node:fs';
import path from 'node:path';
import { RadgradError } from '../errors.js';
import { readCsvFile, type CsvIssue } from './csv.js';
import { mapIuProblems } from './iu_mapping.js';
import { checkOutputFile, writeJsonlAtomic, type ReportRecord } from './jsonl.js';
import { buildCompletion, buildPrompt, shouldKeep, sortCounts, tallyLabels, type KeepPolicy, type LabelCounts, type LabelValue } from './labels.js';
import { normalizeWhitespace } from './sections.js';

export { IU_MAPPING, mapIuMesh, mapIuProblems, type IuMapping, type IuRule } from './iu_mapping.js';

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
  /** Reports with at least one label (No Finding included) / all valid reports. */
  reportsWithLabels: number;
  reportCoverage: number;
  /** Reports given No Finding by the CheXpert rule (no pathology coded) rather than by a "normal" code. */
  noFindingDerived: number;
  /** Reviewed reports coded with CheXpert "other findings" only: no label at all (No Finding ruled out). */
  otherFindingsOnly: number;
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
  if (opts.out) checkOutputFile(opts.out, 'prep iu', 'data/iu.jsonl');
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
    coverage: { termOccurrences: 0, termsMapped: 0, termCoverage: 0, reportsWithLabels: 0, reportCoverage: 0, noFindingDerived: 0, otherFindingsOnly: 0, distinctTerms: 0, distinctMapped: 0, topUnmapped: [] },
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
      if (m.noFindingDerived) s.coverage.noFindingDerived++;
      if (!Object.keys(m.labels).length && m.otherFindings.length) s.coverage.otherFindingsOnly++;
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
