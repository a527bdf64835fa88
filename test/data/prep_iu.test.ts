import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatJsonl } from '../../src/data/jsonl.js';
import { IU_MAPPING, mapIuMesh, mapIuProblems, prepIu } from '../../src/data/iu.js';
import { RadgradError } from '../../src/errors.js';
import { sharedPath } from '../../src/util/paths.js';

const IU_CSV = sharedPath('data', 'iu-xray', 'indiana_reports.csv');
const skip = IU_CSV ? false : 'shared/data/iu-xray/indiana_reports.csv not found (set RADGRAD_SHARED or place ../shared)';

test('iu mapping: direct terms, qualifiers, uncertainty, canonical order', () => {
  assert.deepEqual(mapIuProblems('normal', 'normal').labels, { 'No Finding': '1' });
  const a = mapIuProblems('Cardiomegaly;Pulmonary Atelectasis', 'Cardiomegaly/borderline;Pulmonary Atelectasis/base/left');
  assert.deepEqual(a.labels, { Atelectasis: '1', Cardiomegaly: 'uncertain' });
  assert.deepEqual(Object.keys(a.labels), ['Atelectasis', 'Cardiomegaly']);
  // An opacity of the ribs is no lung finding, so the report is normal (CheXpert's No Finding rule).
  assert.deepEqual(mapIuProblems('Opacity', 'Opacity/ribs/left').labels, { 'No Finding': '1' });
  assert.deepEqual(mapIuProblems('Opacity', 'Opacity/lung/base/left').labels, { 'Lung Opacity': '1' });
  assert.deepEqual(mapIuProblems('Costophrenic Angle', 'Costophrenic Angle/left/blunted').labels, { 'Pleural Effusion': 'uncertain' });
  assert.deepEqual(mapIuProblems('Hydropneumothorax', 'Hydropneumothorax/right').labels, { 'Pleural Effusion': '1', Pneumothorax: '1' });
  assert.deepEqual(mapIuProblems('Thickening;Cicatrix', 'Thickening/pleura/apex;Cicatrix/lung/base').labels, { 'Lung Opacity': '1', 'Pleural Other': '1' });
  assert.deepEqual(mapIuProblems('Catheters, Indwelling;Fractures, Bone', 'Catheters, Indwelling/right;Fractures, Bone/ribs/left').labels, { Fracture: '1', 'Support Devices': '1' });
  // Positive beats uncertain when two terms hit one label.
  assert.deepEqual(mapIuProblems('Cardiac Shadow;Cardiomegaly', 'Cardiac Shadow/borderline;Cardiomegaly/mild').labels, { Cardiomegaly: '1' });
  // Unmapped terms are reported, not guessed; those on CheXpert's other-findings list are named.
  const u = mapIuProblems('Calcified Granuloma;Thoracic Vertebrae;Nodule', 'Calcified Granuloma/lung/base;Thoracic Vertebrae/degenerative;Nodule/lung/lingula');
  assert.deepEqual(u.labels, { 'Lung Lesion': '1' });
  assert.deepEqual(u.unmapped, ['Calcified Granuloma', 'Thoracic Vertebrae']);
  assert.deepEqual(u.otherFindings, [['Calcified Granuloma', 'calcifi'], ['Thoracic Vertebrae', 'degenera']]);
  // MeSH out of step with Problems: qualifiers are ignored rather than misapplied.
  assert.deepEqual(mapIuProblems('Opacity;Nodule', 'Opacity/ribs').labels, { 'Lung Opacity': '1', 'Lung Lesion': '1' });
  // Stray ';' (trailing, doubled) in either column do not break the alignment of qualifiers.
  for (const [problems, mesh] of [['Opacity', 'Opacity/ribs/left;'], ['Opacity;', 'Opacity/ribs/left'], ['Opacity', ';Opacity/ribs/left;;'], [';Opacity', 'Opacity/ribs/left; ;']]) {
    assert.deepEqual(mapIuProblems(problems, mesh).labels, { 'No Finding': '1' }, `${problems} | ${mesh}`);
  }
  assert.deepEqual(mapIuMesh('Opacity/ribs/left;').labels, { 'No Finding': '1' });
  assert.deepEqual(mapIuMesh('Cardiomegaly/borderline;;Opacity/ribs/left').labels, { Cardiomegaly: 'uncertain' });
  assert.ok(IU_MAPPING.size >= 30);
});

test('iu mapping: No Finding follows CheXpert (no finding other than Support Devices, no other finding); No Indexing stays unlabeled', () => {
  // uid 10: only a CheXpert "other finding" (its no_finding phrase list): no label at all, as
  // CheXpert and MIMIC-CXR's chexpert.csv leave every column blank for such a study.
  const g = mapIuProblems('Calcified Granuloma', 'Calcified Granuloma/lung/upper lobe/right');
  assert.deepEqual(g.labels, {});
  assert.equal(g.noFindingDerived, false);
  assert.deepEqual(g.unmapped, ['Calcified Granuloma']);
  // A code that is neither an observation nor on the list leaves the study normal.
  const t = mapIuProblems('Aorta;Surgical Instruments', 'Aorta/tortuous;Surgical Instruments/thorax');
  assert.deepEqual([t.labels, t.noFindingDerived, t.otherFindings], [{ 'No Finding': '1' }, true, []]);
  assert.deepEqual(mapIuProblems('Technical Quality of Image Unsatisfactory', 'Technical Quality of Image Unsatisfactory ').labels, { 'No Finding': '1' });
  // A device does not make a study abnormal (uid 1653-style)...
  assert.deepEqual(mapIuProblems('Implanted Medical Device', 'Implanted Medical Device/left').labels, { 'No Finding': '1', 'Support Devices': '1' });
  // ...but the other findings beside it do (uid 62: degenerative spine, calcified nodes).
  assert.deepEqual(mapIuProblems('Stents;Spine;Calcinosis', 'Stents/coronary vessels;Spine/degenerative;Calcinosis/mediastinum/lymph nodes').labels, {
    'Support Devices': '1',
  });
  // Other findings by CheXpert's stems in term or qualifiers, by the shared variants, and by IU's own MeSH names.
  const other: Array<[string, string]> = [
    ['Emphysema/mild', 'emphysema'], ['Hernia, Hiatal/small', 'hernia'], ['Scoliosis/thoracic vertebrae/right', 'scoliosis'],
    ['Kyphosis/severe', 'kyphosis'], ['Atherosclerosis/aorta', 'atherosclero'], ['Granulomatous Disease', 'granuloma'],
    ['Aorta/prominent', 'prominen'], ['Diaphragmatic Eventration/right', 'eventration'], ['Density/ribs/right/round/multiple', 'density'],
    ['Deformity/clavicle/left', 'deformity'], ['Volume Loss/lung/right', 'volume loss'], ['Hypertension, Pulmonary', 'hypertension'],
    ['Osteophyte/thoracic vertebrae/multiple', 'osteophytosis'], ['Spondylosis/thoracic vertebrae', 'degenera'], ['Diaphragm/left/elevated', 'elevation'],
    ['Pulmonary Disease, Chronic Obstructive', 'copd'], ['Arthritis/spine', 'arthropathy'], ['Osteoporosis', 'osteopenia'], ['Pectus Carinatum', 'deformity'],
    ['Calcinosis/aorta', 'calcifi'], ['Lung/bilateral/hyperdistention', 'hyperinflat'], ['Lung, Hyperlucent/apex', 'hyperinflat'], ['Blister/lung/apex/bilateral', 'bullae'],
    ['Bone Diseases, Metabolic/spine', 'osteopenia'], ['Funnel Chest/mild', 'deformity'],
  ];
  for (const [code, stem] of other) {
    const m = mapIuMesh(code);
    assert.deepEqual([m.labels, m.otherFindings.map(([, s]) => s)], [{}, [stem]], code);
  }
  // Not other findings: the study stays normal.
  for (const code of ['Aorta/tortuous', 'Lung/hypoinflation', 'Mediastinum/lymph nodes', 'Opacity/ribs/left', 'Sclerosis/humerus/right']) {
    assert.deepEqual(mapIuMesh(code).labels, { 'No Finding': '1' }, code);
  }
  // An uncertain finding is a finding.
  assert.deepEqual(mapIuProblems('Cardiac Shadow', 'Cardiac Shadow/borderline').labels, { Cardiomegaly: 'uncertain' });
  // A "normal" code is not "derived"; never reviewed → no label at all.
  assert.equal(mapIuProblems('normal', 'normal').noFindingDerived, false);
  assert.deepEqual(mapIuProblems('No Indexing', 'No Indexing').labels, {});
  assert.deepEqual(mapIuProblems('', '').labels, {});
  // The choices shared with the labeler validation (src/eval/iu_validation.ts).
  assert.deepEqual(mapIuProblems('Cicatrix', 'Cicatrix/lung/apex/bilateral').labels, { 'Lung Opacity': '1' });
  assert.deepEqual(mapIuProblems('Cicatrix', 'Cicatrix/pleura/right').labels, { 'Pleural Other': '1' });
  assert.deepEqual(mapIuProblems('Opacity', 'Opacity/lung/lingula/round').labels, { 'Lung Lesion': '1', 'Lung Opacity': '1' });
  assert.deepEqual(mapIuProblems('Density', 'Density/lung/upper lobe/right/round').labels, { 'Lung Lesion': '1' });
  assert.deepEqual(mapIuProblems('Density', 'Density/ribs/right/round/multiple').labels, {}); // CheXpert's "density": an other finding
  assert.deepEqual(mapIuProblems('Pulmonary Fibrosis', 'Pulmonary Fibrosis/lower lobe/bilateral').labels, { 'Pleural Other': '1' }); // CheXpert's "fibrosis"
  assert.deepEqual(mapIuProblems('Mediastinum', 'Mediastinum/prominent/mild').labels, { 'Enlarged Cardiomediastinum': '1' });
  assert.deepEqual(mapIuProblems('Mediastinum', 'Mediastinum/lymph nodes').labels, { 'No Finding': '1' });
});

test('prep iu: the real Open-i reports — counts, a known uid, coverage, determinism', { skip }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-iu-'));
  try {
    const out = path.join(dir, 'iu.jsonl');
    const { records, summary: s } = await prepIu({ csv: IU_CSV!, out, keep: { noFinding: true } });
    assert.equal(s.csvRows, 2695);
    assert.equal(s.malformedRows, 0);
    assert.equal(s.duplicateUids, 0);
    assert.equal(s.studiesRead, 2695);
    assert.equal(s.studiesRead, s.filtered + s.noSections + s.written);
    assert.equal(s.noSections, 15); // reports with empty findings and impression (with a mapped label)
    // Filtered: the 61 "No Indexing" reports, the 564 coded with CheXpert "other findings" only (no
    // label at all), and the 26 whose only findings are uncertain (2 of them beside a device).
    assert.deepEqual([s.filtered, s.written], [651, 2029]);
    assert.equal(s.labelCounts['No Finding']!.positive, 1141);
    assert.equal(fs.readFileSync(out, 'utf8'), formatJsonl(records));

    const r1 = records.find((r) => r.id === 'iu-1')!;
    assert.equal(r1.prompt, 'No Finding: 1. \nFindings:');
    assert.equal(
      r1.completion,
      ' The cardiac silhouette and mediastinum size are within normal limits. There is no pulmonary edema. There is no focal consolidation. There are no XXXX of a pleural effusion. There is no evidence of pneumothorax. \nImpression: Normal chest x-XXXX.',
    );
    // Only other findings (a calcified granuloma): no label, as MIMIC-CXR's chexpert.csv; a device
    // beside other findings: Support Devices alone, No Finding blank; a device alone: normal.
    assert.equal(records.find((r) => r.id === 'iu-10'), undefined);
    assert.equal(records.find((r) => r.id === 'iu-62')!.prompt, 'Support Devices: 1. \nFindings:');
    assert.equal(records.find((r) => r.id === 'iu-1653')!.prompt, 'No Finding: 1; Support Devices: 1. \nFindings:');
    assert.equal(records.find((r) => r.id === 'iu-43'), undefined); // No Indexing
    const r202 = records.find((r) => r.id === 'iu-202')!;
    assert.equal(r202.prompt, 'Cardiomegaly: 1; Edema: 1; Lung Opacity: 1; Pleural Effusion: 1. \nFindings:');
    assert.match(r202.completion, /^ AP and lateral view of the chest\. \nImpression: 1\. Cardiomegaly with central vascular congestion/);
    const r374 = records.find((r) => r.id === 'iu-374')!; // empty findings column
    assert.match(r374.completion, /^ \nImpression: Cardiomegaly\. Left lung clear\./);
    // Ordered by uid.
    const uids = records.map((r) => Number(r.id.slice(3)));
    assert.deepEqual(uids, [...uids].sort((a, b) => a - b));

    const c = s.coverage;
    assert.equal(c.termOccurrences, 5540);
    assert.ok(c.termCoverage > 0.5, `term coverage ${c.termCoverage}`);
    assert.ok(c.reportCoverage > 0.7, `report coverage ${c.reportCoverage}`);
    assert.equal(c.reportsWithLabels, 2695 - 61 - 564); // all but No Indexing and other findings only
    assert.equal(c.noFindingDerived, 177);
    assert.equal(c.otherFindingsOnly, 564);
    // The CheXpert-relevant vocabulary is covered: none of it is among the most frequent unmapped terms.
    const core = ['normal', 'Cardiomegaly', 'Pulmonary Atelectasis', 'Pleural Effusion', 'Opacity', 'Airspace Disease', 'Infiltrate', 'Pneumonia', 'Pneumothorax', 'Consolidation', 'Nodule', 'Mass', 'Catheters, Indwelling', 'Fractures, Bone', 'Pulmonary Edema', 'Pulmonary Congestion'];
    for (const [t] of c.topUnmapped) assert.ok(!core.includes(t), `core term unmapped: ${t}`);
    for (const l of ['No Finding', 'Cardiomegaly', 'Atelectasis', 'Pleural Effusion', 'Lung Opacity', 'Support Devices', 'Edema', 'Lung Lesion', 'Fracture', 'Pneumonia', 'Pneumothorax', 'Consolidation']) {
      assert.ok((s.labelCounts[l]?.positive ?? 0) > 10, `${l}: ${JSON.stringify(s.labelCounts[l])}`);
    }

    const again = await prepIu({ csv: IU_CSV!, keep: { noFinding: true } });
    assert.deepEqual(again.records, records);
    // Default policy drops the normals, those with only a device included.
    const def = await prepIu({ csv: IU_CSV! });
    assert.equal(def.summary.written, 855);
    assert.equal(def.records.find((r) => r.id === 'iu-62'), undefined);
    assert.ok(def.records.every((r) => Object.entries(r.labels).some(([k, v]) => k !== 'No Finding' && k !== 'Support Devices' && v === '1')));
    // --keep-all keeps every labelled report: all but No Indexing, other findings only and the 15 without text.
    const all = await prepIu({ csv: IU_CSV!, keep: { all: true } });
    assert.deepEqual([all.summary.filtered, all.summary.written], [625, 2055]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('prep iu: malformed rows are counted with line numbers; missing columns are errors', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-iu-'));
  try {
    const f = path.join(dir, 'r.csv');
    fs.writeFileSync(
      f,
      'uid,MeSH,Problems,image,indication,comparison,findings,impression\r\n' +
        '2,Cardiomegaly/mild,Cardiomegaly,x,y,z,"Heart is\r\nenlarged.",Cardiomegaly.\r\n' +
        '1,normal,normal,x,y,z,Clear.,Normal.\r\n' +
        '3,Opacity,Opacity,x,y\r\n' +
        '2,normal,normal,x,y,z,Dup.,Dup.\r\n' +
        'x,normal,normal,x,y,z,a,b\r\n',
    );
    const { records, summary } = await prepIu({ csv: f, keep: { noFinding: true } });
    assert.deepEqual([summary.csvRows, summary.malformedRows, summary.duplicateUids, summary.written], [5, 2, 1, 2]);
    assert.deepEqual(records.map((r) => r.id), ['iu-1', 'iu-2']);
    assert.equal(records[1]!.completion, ' Heart is enlarged. \nImpression: Cardiomegaly.');
    assert.match(summary.warnings.join('\n'), /line 5: expected 8 fields, got 5/);
    assert.match(summary.warnings.join('\n'), /line 6: duplicate uid 2/);
    fs.writeFileSync(f, 'uid,findings\n1,x\n');
    await assert.rejects(prepIu({ csv: f }), (e: unknown) => e instanceof RadgradError && /problems/.test(e.message));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('prep iu: nothing to write is an error with a hint, and no output file appears', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-iu-'));
  try {
    const f = path.join(dir, 'r.csv');
    fs.writeFileSync(f, 'uid,MeSH,Problems,image,indication,comparison,findings,impression\n1,normal,normal,x,y,z,Clear.,Normal.\n');
    const out = path.join(dir, 'iu.jsonl');
    await assert.rejects(prepIu({ csv: f, out }), (e: unknown) => {
      assert.ok(e instanceof RadgradError);
      assert.match(e.message, /prep iu: no record to write, so .*iu\.jsonl was not written: 1 reports read \(0 malformed CSV rows\), 1 filtered by labels/);
      assert.match(e.hint!, /--keep-no-finding/);
      return true;
    });
    assert.equal(fs.existsSync(out), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
