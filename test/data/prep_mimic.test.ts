import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { RadgradError } from '../../src/errors.js';
import { formatJsonl, readJsonl } from '../../src/data/jsonl.js';
import { CHEXPERT_LABELS } from '../../src/data/labels.js';
import { prepMimic, type PrepMimicSummary } from '../../src/data/mimic.js';

const HEADER = ['subject_id', 'study_id', ...CHEXPERT_LABELS].join(',');

function row(subject: string, study: string, labels: Partial<Record<string, string>>): string {
  return [subject, study, ...CHEXPERT_LABELS.map((l) => labels[l] ?? '')].join(',');
}

const STANDARD = (findings: string, impression: string) =>
  `                                 FINAL REPORT\n EXAMINATION:  CHEST (PA AND LAT)\n \n INDICATION:  ___ with cough.\n \n FINDINGS:\n \n ${findings}\n \n IMPRESSION:\n \n ${impression}\n`;

/** A hand-made tree whose every count is known (see the expectations in the tests). */
function buildFixture(dir: string, opts: { gzip?: boolean } = {}): { csv: string } {
  const lines = [
    HEADER, // line 1
    row('10000001', '50000002', { Atelectasis: '1.0', 'Lung Opacity': '1.0', Pneumonia: '-1.0', Edema: '0.0' }), // 2: A
    row('10000001', '50000001', { Cardiomegaly: '1.0' }), // 3: J (same subject, earlier study)
    row('10000002', '50000003', { 'No Finding': '1.0', 'Pleural Effusion': '0.0' }), // 4: B normal
    row('10000003', '50000004', { Pneumonia: '-1.0' }), // 5: C uncertain only
    row('10000004', '50000005', { Cardiomegaly: '1.0' }), // 6: D report missing
    row('10000005', '50000006', { Edema: '1.0' }), // 7: E no sections
    '10000006,50000007,1.0,,', // 8: F truncated
    row('10000007', '50000008', { Fracture: '2.0' }), // 9: G bad value
    row('10000001', '50000002', { Edema: '1.0' }), // 10: H duplicate of A
    row('10000008', '50000009', { 'Pleural Effusion': '1.0' }), // 11: K combined section
    row('10000009', '50000010', { 'No Finding': '1.0', 'Support Devices': '1.0' }), // 12: L impression only, normal with a device
    row('10000010', '50000011', { Fracture: '1.0' }), // 13: M unreadable
    row('abc', '50000012', { Fracture: '1.0' }), // 14: N bad id
    row('10000011', '"50000013', { Edema: '1.0' }), // 15: O unterminated quote
    row('10000012', '50000014', { Pneumothorax: '1.0' }), // 16: P after the bad quote
  ];
  const csvText = lines.join('\n') + '\n';
  const csv = path.join(dir, opts.gzip ? 'mimic-cxr-2.0.0-chexpert.csv.gz' : 'mimic-cxr-2.0.0-chexpert.csv');
  fs.writeFileSync(csv, opts.gzip ? zlib.gzipSync(csvText) : csvText);
  const report = (subject: string, study: string, text: string | null) => {
    const p = path.join(dir, 'files', `p${subject.slice(0, 2)}`, `p${subject}`, `s${study}.txt`);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (text === null) fs.mkdirSync(p);
    else fs.writeFileSync(p, text);
  };
  report('10000001', '50000002', STANDARD('Patchy opacity at the left base,\n likely atelectasis.  Pneumonia\n cannot be excluded.', 'Left basilar atelectasis; possible\n pneumonia.'));
  report('10000001', '50000001', 'Findings:\nThe heart is enlarged.\n\nImpression:\nCardiomegaly.\n');
  report('10000002', '50000003', STANDARD('The lungs are clear. No pleural effusion.', 'No acute cardiopulmonary process.'));
  report('10000003', '50000004', STANDARD('Subtle opacity.', 'Possible pneumonia.'));
  report('10000005', '50000006', ' FINAL REPORT\n EXAMINATION: CHEST\n Limited study, see subsequent report.\n');
  report('10000007', '50000008', STANDARD('Rib fracture.', 'Rib fracture.'));
  report('10000008', '50000009', ' FINAL REPORT\n FINDINGS AND IMPRESSION:\n Small right pleural effusion.\n');
  report('10000009', '50000010', ' FINAL REPORT\n IMPRESSION:  ET tube 4 cm above the carina.\n');
  report('10000010', '50000011', null);
  report('10000011', '50000013', STANDARD('Edema.', 'Edema.'));
  report('10000012', '50000014', STANDARD('Small right apical pneumothorax.', 'Small right pneumothorax.'));
  return { csv };
}

function withTmp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-prep-'));
    try {
      await fn(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

function counts(s: PrepMimicSummary) {
  const { warnings: _w, labelCounts: _l, out: _o, source: _s, ...rest } = s;
  return rest;
}

test(
  'prep mimic: every count of a hand-made tree, exact records, sorted order, atomic output',
  withTmp(async (dir) => {
    const { csv } = buildFixture(dir);
    const out = path.join(dir, 'out', 'mimic.jsonl');
    const { records, summary } = await prepMimic({ chexpertCsv: csv, reportsDir: dir, out });
    assert.deepEqual(counts(summary), {
      csvRows: 15,
      malformedRows: 4,
      duplicateStudies: 1,
      studiesRead: 10,
      filtered: 3,
      reportsMissing: 1,
      reportsUnreadable: 1,
      noSections: 1,
      findingsMissing: 0,
      impressionMissing: 0,
      combinedSections: 1,
      written: 4,
    });
    // L (No Finding + Support Devices) is normal under CheXpert's rule, so the default drops it.
    assert.deepEqual(records.map((r) => r.id), ['p10000001/s50000001', 'p10000001/s50000002', 'p10000008/s50000009', 'p10000012/s50000014']);
    const a = records[1]!;
    assert.equal(a.prompt, 'Atelectasis: 1; Lung Opacity: 1; Pneumonia: uncertain. \nFindings:');
    assert.equal(a.completion, ' Patchy opacity at the left base, likely atelectasis. Pneumonia cannot be excluded. \nImpression: Left basilar atelectasis; possible pneumonia.');
    assert.deepEqual(a.labels, { Atelectasis: '1', 'Lung Opacity': '1', Pneumonia: 'uncertain' });
    assert.deepEqual(Object.keys(a.labels), ['Atelectasis', 'Lung Opacity', 'Pneumonia']);
    assert.equal(records[0]!.completion, ' The heart is enlarged. \nImpression: Cardiomegaly.');
    assert.equal(records[2]!.completion, ' Small right pleural effusion. \nImpression: Small right pleural effusion.');
    // Warnings name the CSV lines, in line order, then the reports.
    const w = summary.warnings;
    for (const [i, line] of [8, 9, 10, 14, 15].entries()) assert.match(w[i]!, new RegExp(`chexpert\\.csv line ${line}: `));
    assert.match(w[4]!, /unterminated quoted field/);
    assert.ok(w.some((x) => /report missing for p10000004\/s50000005/.test(x)));
    assert.ok(w.some((x) => /report unreadable for p10000010\/s50000011: .*EISDIR/.test(x)));
    assert.ok(w.some((x) => /p10000005\/s50000006 has neither FINDINGS nor IMPRESSION/.test(x)));
    // The file holds exactly the records; no temp file is left beside it.
    assert.equal(fs.readFileSync(out, 'utf8'), formatJsonl(records));
    assert.deepEqual(readJsonl(out), records);
    assert.deepEqual(fs.readdirSync(path.dirname(out)), ['mimic.jsonl']);
    assert.equal(summary.labelCounts['Atelectasis']!.positive, 1);
    assert.equal(summary.labelCounts['Pneumonia']!.uncertain, 1);
  }),
);

test(
  'prep mimic: keep policies and --include-negative',
  withTmp(async (dir) => {
    const { csv } = buildFixture(dir);
    const nf = await prepMimic({ chexpertCsv: csv, reportsDir: dir, keep: { noFinding: true } });
    assert.equal(nf.summary.filtered, 1);
    assert.equal(nf.summary.written, 6);
    const b = nf.records.find((r) => r.id === 'p10000002/s50000003')!;
    assert.equal(b.prompt, 'No Finding: 1. \nFindings:');
    const l = nf.records.find((r) => r.id === 'p10000009/s50000010')!;
    assert.equal(l.prompt, 'No Finding: 1; Support Devices: 1. \nFindings:');
    assert.equal(l.completion, ' \nImpression: ET tube 4 cm above the carina.');
    assert.equal(nf.summary.findingsMissing, 1);
    const unc = await prepMimic({ chexpertCsv: csv, reportsDir: dir, keep: { uncertain: true } });
    assert.deepEqual([unc.summary.filtered, unc.summary.written], [2, 5]);
    const all = await prepMimic({ chexpertCsv: csv, reportsDir: dir, keep: { all: true } });
    assert.deepEqual([all.summary.filtered, all.summary.written], [0, 7]);
    const neg = await prepMimic({ chexpertCsv: csv, reportsDir: dir, includeNegative: true, keep: { noFinding: true } });
    const a = neg.records.find((r) => r.id === 'p10000001/s50000002')!;
    assert.equal(a.prompt, 'Atelectasis: 1; Edema: 0; Lung Opacity: 1; Pneumonia: uncertain. \nFindings:');
    assert.equal(neg.records.find((r) => r.id === 'p10000002/s50000003')!.prompt, 'No Finding: 1; Pleural Effusion: 0. \nFindings:');
  }),
);

test(
  'prep mimic: gzip input and a reports path pointing at files/ give identical output',
  withTmp(async (dir) => {
    const plainDir = path.join(dir, 'plain');
    const gzDir = path.join(dir, 'gz');
    fs.mkdirSync(plainDir);
    fs.mkdirSync(gzDir);
    const p = buildFixture(plainDir);
    const g = buildFixture(gzDir, { gzip: true });
    const a = await prepMimic({ chexpertCsv: p.csv, reportsDir: plainDir });
    const b = await prepMimic({ chexpertCsv: g.csv, reportsDir: path.join(gzDir, 'files') });
    assert.deepEqual(b.records, a.records);
    assert.deepEqual(counts(b.summary), counts(a.summary));
  }),
);

test(
  'prep mimic: CRLF CSV with a BOM and reordered columns',
  withTmp(async (dir) => {
    const cols = ['study_id', 'subject_id', ...[...CHEXPERT_LABELS].reverse()];
    const line = (vals: Record<string, string>) => cols.map((c) => vals[c] ?? '').join(',');
    const text = '\uFEFF' + [cols.join(','), line({ subject_id: '10000001', study_id: '50000001', Edema: '1.0', Atelectasis: '-1.0' })].join('\r\n') + '\r\n';
    fs.writeFileSync(path.join(dir, 'labels.csv'), text);
    const p = path.join(dir, 'files', 'p10', 'p10000001', 's50000001.txt');
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, 'FINDINGS:\r\nMild edema.\r\nIMPRESSION:\r\nMild edema.\r\n');
    const { records, summary } = await prepMimic({ chexpertCsv: path.join(dir, 'labels.csv'), reportsDir: dir });
    assert.equal(summary.written, 1);
    assert.equal(records[0]!.prompt, 'Atelectasis: uncertain; Edema: 1. \nFindings:');
    assert.equal(records[0]!.completion, ' Mild edema. \nImpression: Mild edema.');
  }),
);

test(
  'prep mimic: bad inputs are RadgradErrors with hints',
  withTmp(async (dir) => {
    await assert.rejects(prepMimic({ chexpertCsv: path.join(dir, 'nope.csv'), reportsDir: dir }), (e: unknown) => e instanceof RadgradError && !!e.hint);
    fs.writeFileSync(path.join(dir, 'bad.csv'), 'a,b\n1,2\n');
    await assert.rejects(prepMimic({ chexpertCsv: path.join(dir, 'bad.csv'), reportsDir: dir }), (e: unknown) => e instanceof RadgradError && /subject_id/.test(e.message));
    fs.writeFileSync(path.join(dir, 'empty.csv'), '');
    await assert.rejects(prepMimic({ chexpertCsv: path.join(dir, 'empty.csv'), reportsDir: dir }), /empty/);
    await assert.rejects(prepMimic({ chexpertCsv: path.join(dir, 'bad.csv'), reportsDir: path.join(dir, 'nowhere') }), (e: unknown) => e instanceof RadgradError && !!e.hint);
    fs.writeFileSync(path.join(dir, 'trunc.csv.gz'), zlib.gzipSync(HEADER + '\n' + row('10000001', '50000001', { Edema: '1.0' }) + '\n').subarray(0, 30));
    await assert.rejects(prepMimic({ chexpertCsv: path.join(dir, 'trunc.csv.gz'), reportsDir: dir }), (e: unknown) => e instanceof RadgradError && /cannot read/.test(e.message));
  }),
);

test(
  'prep mimic: nothing to write is an error with a hint, and no output file appears',
  withTmp(async (dir) => {
    const { csv } = buildFixture(dir);
    const out = path.join(dir, 'p4.jsonl');
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    await assert.rejects(prepMimic({ chexpertCsv: csv, reportsDir: elsewhere, out }), (e: unknown) => {
      assert.ok(e instanceof RadgradError);
      assert.match(e.message, /no record to write, so .*p4\.jsonl was not written: 10 studies read \(4 malformed CSV rows\), 3 filtered by labels, 7 reports missing/);
      assert.match(e.hint!, /no report found under --reports .*elsewhere \(the first one looked for: .*elsewhere\/p10\/p10000001\/s50000001\.txt\); pass the folder that holds files\/pXX\/pSUBJECT\/sSTUDY\.txt/);
      return true;
    });
    assert.equal(fs.existsSync(out), false);
    // Every study filtered by its labels: the hint names the keep flags.
    fs.writeFileSync(path.join(dir, 'normal.csv'), [HEADER, row('10000002', '50000003', { 'No Finding': '1.0' })].join('\n') + '\n');
    await assert.rejects(prepMimic({ chexpertCsv: path.join(dir, 'normal.csv'), reportsDir: dir, out }), (e: unknown) => e instanceof RadgradError && /--keep-no-finding/.test(e.hint!));
    assert.equal(fs.existsSync(out), false);
    // Without --out the (empty) records are simply returned.
    assert.equal((await prepMimic({ chexpertCsv: path.join(dir, 'normal.csv'), reportsDir: dir })).records.length, 0);
  }),
);
