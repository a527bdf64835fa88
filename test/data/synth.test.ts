import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { RadgradError } from '../../src/errors.js';
import { CHEXPERT_LABELS } from '../../src/data/labels.js';
import { prepMimic } from '../../src/data/mimic.js';
import { synthMimic } from '../../src/data/synth.js';
import { labelAgreement, parsePromptLabels } from '../../src/eval/label_metrics.js';

function withTmp(fn: (dir: string) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-synth-'));
    try {
      await fn(dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

function treeHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      h.update(path.relative(dir, p));
      if (fs.statSync(p).isDirectory()) walk(p);
      else h.update(fs.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

test(
  'synth → prep mimic: prep reports exactly the counts the generator planted',
  withTmp(async (dir) => {
    const out = path.join(dir, 'tree');
    const m = synthMimic({ out, studies: 600, seed: 7 });
    assert.ok(m.faults.malformedRows.length >= 4 && m.faults.missingReports.length >= 1 && m.faults.unreadableReports.length === 1);
    const { records, summary } = await prepMimic({ chexpertCsv: path.join(out, m.csv), reportsDir: out });
    const { warnings, labelCounts: _l, source: _s, out: _o, ...got } = summary;
    assert.deepEqual(got, m.expected);
    // Every malformed row is warned about at its line.
    for (const f of m.faults.malformedRows) assert.ok(warnings.some((w) => w.includes(`line ${f.line}:`)), `line ${f.line} (${f.kind})`);
    for (const id of m.faults.missingReports) assert.ok(warnings.some((w) => w.includes(`report missing for ${id}`)), id);
    // Sorted by subject then study, numerically.
    const keys = records.map((r) => r.id.match(/^p(\d+)\/s(\d+)$/)!.slice(1).map(Number) as [number, number]);
    for (let i = 1; i < keys.length; i++) assert.ok(keys[i - 1]![0] < keys[i]![0] || (keys[i - 1]![0] === keys[i]![0] && keys[i - 1]![1] < keys[i]![1]));
    for (const r of records) {
      assert.match(r.prompt, /^([A-Z][A-Za-z ]+: (1|uncertain))(; [A-Z][A-Za-z ]+: (1|uncertain))*\. \nFindings:$/);
      assert.match(r.completion, /^( \S[^\n]*)? \nImpression:( \S[^\n]*)?$/);
    }
  }),
);

test(
  'synth: clean trees (--no-faults, plain csv) prep without warnings',
  withTmp(async (dir) => {
    const out = path.join(dir, 'clean');
    const m = synthMimic({ out, studies: 200, seed: 3, faults: false, gzip: false });
    assert.equal(m.csv, 'mimic-cxr-2.0.0-chexpert.csv');
    const header = fs.readFileSync(path.join(out, m.csv), 'utf8').split('\n')[0];
    assert.equal(header, 'subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices');
    const { summary } = await prepMimic({ chexpertCsv: path.join(out, m.csv), reportsDir: out });
    assert.deepEqual(summary.warnings, []);
    assert.equal(summary.studiesRead, 200);
    assert.equal(summary.written, 200 - summary.filtered);
    assert.equal(summary.written, m.expected.written);
  }),
);

test(
  'synth: same seed, same bytes; another seed, another tree; gz holds the same CSV',
  withTmp((dir) => {
    synthMimic({ out: path.join(dir, 'a'), studies: 120, seed: 11 });
    synthMimic({ out: path.join(dir, 'b'), studies: 120, seed: 11 });
    synthMimic({ out: path.join(dir, 'c'), studies: 120, seed: 12 });
    synthMimic({ out: path.join(dir, 'd'), studies: 120, seed: 11, gzip: false });
    assert.equal(treeHash(path.join(dir, 'a')), treeHash(path.join(dir, 'b')));
    assert.notEqual(treeHash(path.join(dir, 'a')), treeHash(path.join(dir, 'c')));
    const gz = zlib.gunzipSync(fs.readFileSync(path.join(dir, 'a', 'mimic-cxr-2.0.0-chexpert.csv.gz'))).toString('utf8');
    assert.equal(gz, fs.readFileSync(path.join(dir, 'd', 'mimic-cxr-2.0.0-chexpert.csv'), 'utf8'));
  }),
);

/** Words a report must contain for a label, and hedges for uncertain ones: the text follows the labels. */
const KEYWORDS: Record<string, RegExp> = {
  Atelectasis: /atelectasis/i,
  Cardiomegaly: /cardiomegaly|heart|cardiac/i,
  Consolidation: /consolidation/i,
  Edema: /edema/i,
  'Enlarged Cardiomediastinum': /mediastin/i,
  Fracture: /fracture/i,
  'Lung Lesion': /nodule|mass/i,
  'Lung Opacity': /opacit/i,
  'Pleural Effusion': /effusion|pleural fluid/i,
  'Pleural Other': /pleural (thickening|plaques)/i,
  Pneumonia: /pneumonia/i,
  Pneumothorax: /pneumothorax/i,
  'Support Devices': /tube|catheter|line|pacemaker/i,
};
const HEDGE = /possible|cannot be excluded|cannot exclude|may (represent|be|reflect)|borderline|top-normal/i;

test(
  'synth: report wording follows the labels (positives named, uncertain ones hedged)',
  withTmp(async (dir) => {
    const out = path.join(dir, 't');
    const m = synthMimic({ out, studies: 400, seed: 5, faults: false });
    const { records } = await prepMimic({ chexpertCsv: path.join(out, m.csv), reportsDir: out, keep: { all: true } });
    let hedged = 0;
    let uncertain = 0;
    for (const r of records) {
      for (const [label, v] of Object.entries(r.labels)) {
        if (label === 'No Finding') continue;
        assert.match(r.completion, KEYWORDS[label]!, `${r.id} ${label}=${v}: ${r.completion}`);
        if (v === 'uncertain') {
          uncertain++;
          if (HEDGE.test(r.completion)) hedged++;
        }
      }
      if (r.labels['No Finding'] === '1') assert.match(r.completion, /no acute|normal|clear|\bno\b/i);
    }
    assert.ok(uncertain > 20);
    assert.equal(hedged, uncertain);
    // Label co-occurrence is realistic: CHF-type studies pair cardiomegaly with edema more than chance.
    const n = records.length;
    const p = (f: (l: Record<string, string>) => boolean) => records.filter((r) => f(r.labels)).length / n;
    const both = p((l) => l['Cardiomegaly'] === '1' && l['Edema'] === '1');
    assert.ok(both > p((l) => l['Cardiomegaly'] === '1') * p((l) => l['Edema'] === '1') * 1.5);
    // Labels in the CSV are all CheXpert names.
    for (const k of Object.keys(m.labelCounts)) assert.ok((CHEXPERT_LABELS as readonly string[]).includes(k));
  }),
);

test(
  'synth: the labeler reads every reference report as exactly its labels (no stray Lung Opacity)',
  withTmp(async (dir) => {
    // A sentence written for one label must not mention another: "streaky opacities consistent
    // with atelectasis" is Lung Opacity too, which capped the demo's Lung Opacity F1 near 0.86.
    const out = path.join(dir, 't');
    const m = synthMimic({ out, studies: 600, seed: 3, faults: false });
    const { records } = await prepMimic({ chexpertCsv: path.join(out, m.csv), reportsDir: out, keep: { all: true } });
    const pairs = records.map((r) => ({ promptLabels: parsePromptLabels(r.prompt), reportText: r.completion }));
    for (const uncertainAsPositive of [false, true]) {
      const a = labelAgreement(pairs, { uncertainAsPositive });
      const off = a.perLabel.filter((x) => x.fp || x.fn).map((x) => `${x.label}: fp ${x.fp} fn ${x.fn}`);
      assert.deepEqual(off, [], `uncertainAsPositive ${uncertainAsPositive}`);
      assert.ok(a.perLabel.find((x) => x.label === 'Lung Opacity')!.support > 50);
    }
  }),
);

test(
  'synth: refuses a non-empty --out without force, replaces it with force; bad --studies',
  withTmp((dir) => {
    const out = path.join(dir, 'x');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'x');
    assert.throws(() => synthMimic({ out, studies: 5, seed: 1 }), (e: unknown) => e instanceof RadgradError && /--force/.test(e.hint ?? ''));
    synthMimic({ out, studies: 5, seed: 1, force: true });
    assert.ok(!fs.existsSync(path.join(out, 'keep.txt')));
    assert.ok(fs.existsSync(path.join(out, 'synth-manifest.json')));
    assert.deepEqual(fs.readdirSync(dir), ['x']); // no temp folder left
    assert.throws(() => synthMimic({ out: path.join(dir, 'y'), studies: 0 }), RadgradError);
  }),
);
