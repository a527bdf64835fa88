import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryLabelMetrics, canonicalObservation, closestObservation, isChexpertObservation, labelAgreement, parsePromptLabels, type LabelPair } from '../../src/eval/label_metrics.js';
import { CHEXPERT_OBSERVATIONS } from '../../src/eval/chexpert_phrases.js';
import { OpArgumentError } from '../../src/errors.js';

const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test('parsePromptLabels: the prompt format used for training', () => {
  assert.deepEqual(parsePromptLabels('Atelectasis: 1; Lung Opacity: 1; Pneumonia: uncertain. \nFindings:'), {
    Atelectasis: '1',
    'Lung Opacity': '1',
    Pneumonia: 'uncertain',
  });
  assert.deepEqual(parsePromptLabels('No Finding: 1.\nFindings:'), { 'No Finding': '1' });
  assert.deepEqual(parsePromptLabels('pleural effusion: 0; EDEMA: -1; support  devices: positive. Findings:'), {
    'Pleural Effusion': '0',
    Edema: 'uncertain',
    'Support Devices': '1',
  });
  assert.deepEqual(parsePromptLabels('Findings:'), {});
  assert.deepEqual(parsePromptLabels('Custom Label: 1.'), { 'Custom Label': '1' }); // unknown names kept
  assert.throws(() => parsePromptLabels('Atelectasis 1.'), OpArgumentError);
  assert.throws(() => parsePromptLabels('Atelectasis: maybe.'), OpArgumentError);
  assert.equal(canonicalObservation(' lung   lesion '), 'Lung Lesion');
});

test('binaryLabelMetrics: hand-computed counts and averages', () => {
  // A: truth [1,1,0,0] pred [1,0,1,0] → TP 1, FP 1, FN 1 → P = R = F1 = 0.5
  // B: truth [1,0,0,0] pred [1,0,0,0] → TP 1 → P = R = F1 = 1
  // C: never true, never predicted → left out of the macro average
  const truth = [
    { A: true, B: true, C: false },
    { A: true, B: false, C: false },
    { A: false, B: false, C: false },
    { A: false, B: false, C: false },
  ];
  const pred = [
    { A: true, B: true, C: false },
    { A: false, B: false, C: false },
    { A: true, B: false, C: false },
    { A: false, B: false, C: false },
  ];
  const m = binaryLabelMetrics(truth, pred, ['A', 'B', 'C']);
  const a = m.perLabel[0]!;
  assert.deepEqual([a.tp, a.fp, a.fn, a.tn, a.support], [1, 1, 1, 1, 2]);
  close(a.f1, 0.5);
  assert.equal(m.perLabel[2]!.f1, 0); // 0/0 counts as 0 (zero_division=0)
  assert.deepEqual(m.macroLabels, ['A', 'B']);
  close(m.macro.f1, 0.75); // (0.5 + 1) / 2
  // micro: TP 2, FP 1, FN 1 → P = R = F1 = 2/3
  close(m.micro.f1, 2 / 3);
  close(m.micro.precision, 2 / 3);
  assert.equal(m.count, 4);
  assert.throws(() => binaryLabelMetrics(truth, pred.slice(1), ['A']), OpArgumentError);
});

test('labelAgreement: generated reports against their prompts', () => {
  const pairs: LabelPair[] = [
    // Cardiomegaly stated → TP; Edema asked but negated → FN.
    { promptLabels: { Cardiomegaly: '1', Edema: '1' }, reportText: 'Mild cardiomegaly. No pulmonary edema.' },
    // Normal prompt (No Finding inferred) and a normal report → No Finding TP.
    { promptLabels: {}, reportText: 'The lungs are clear. No acute cardiopulmonary process.' },
    // Pneumonia uncertain in prompt, hedged in report.
    { promptLabels: { Pneumonia: 'uncertain' }, reportText: 'Possible right lower lobe pneumonia.' },
    // Effusion not asked but stated → FP.
    { promptLabels: { 'Pleural Effusion': '0' }, reportText: 'Small left pleural effusion.' },
  ];
  const strict = labelAgreement(pairs);
  const get = (m: typeof strict, l: string) => m.perLabel.find((x) => x.label === l)!;
  assert.deepEqual([get(strict, 'Cardiomegaly').tp, get(strict, 'Edema').fn, get(strict, 'Pleural Effusion').fp], [1, 1, 1]);
  assert.equal(get(strict, 'No Finding').tp, 1);
  assert.equal(get(strict, 'Pneumonia').tp + get(strict, 'Pneumonia').fp + get(strict, 'Pneumonia').fn, 0); // uncertain ≠ positive
  const lenient = labelAgreement(pairs, { uncertainAsPositive: true });
  assert.equal(get(lenient, 'Pneumonia').tp, 1);
  // micro (strict): TP = Cardiomegaly + No Finding (pair 2) = 2; FP = effusion (pair 4) = 1;
  // FN = Edema (pair 1) + No Finding (pair 4: its prompt lists no finding, so No Finding is
  // inferred positive, but the report states an effusion) = 2 → F1 = 2·2 / (2·2 + 1 + 2) = 4/7
  assert.equal(get(strict, 'No Finding').fn, 1);
  close(strict.micro.f1, 4 / 7);
  const only = labelAgreement(pairs, { observations: ['Cardiomegaly'], inferNoFinding: false });
  assert.deepEqual(only.perLabel.map((x) => x.label), ['Cardiomegaly']);
  const custom = labelAgreement(pairs, { labeler: () => ({ Cardiomegaly: 'positive' }), observations: ['Cardiomegaly'] });
  assert.equal(custom.perLabel[0]!.fp, 3);
  assert.throws(() => labelAgreement([{ promptLabels: {}, reportText: 3 as unknown as string }]), OpArgumentError);
});

test('isChexpertObservation / closestObservation: the 14 names in any case; a misspelt name gets the nearest one', () => {
  for (const o of CHEXPERT_OBSERVATIONS) {
    assert.ok(isChexpertObservation(o) && isChexpertObservation(` ${o.toUpperCase()} `), o);
    assert.equal(closestObservation(o.toLowerCase()), o);
  }
  assert.ok(isChexpertObservation('support  devices'));
  for (const n of ['Edemma', 'Pleural Efusion', 'Custom Label', '']) assert.equal(isChexpertObservation(n), false, n);
  assert.equal(closestObservation('Edemma'), 'Edema');
  assert.equal(closestObservation('pleural efusion'), 'Pleural Effusion');
  assert.equal(closestObservation('Cardiomegally'), 'Cardiomegaly');
  assert.equal(closestObservation('no findings'), 'No Finding');
  assert.equal(closestObservation('Pneumothorx'), 'Pneumothorax');
});

test('labelAgreement infers No Finding only when no prompt of the set lists it (prep writes it when positive)', () => {
  // A report that states an "other finding" (granuloma): the labeler leaves No Finding out.
  const other = { promptLabels: { Pneumonia: '0' as const }, reportText: 'Calcified granuloma in the right upper lobe. No pneumonia.' };
  const normal = { promptLabels: { 'No Finding': '1' as const }, reportText: 'The lungs are clear. No acute cardiopulmonary process.' };
  const nf = (r: ReturnType<typeof labelAgreement>) => r.perLabel.find((l) => l.label === 'No Finding')!;
  // Alone, the prompt "Pneumonia: 0" is read as normal (inferred No Finding): a false negative.
  assert.equal(nf(labelAgreement([other])).fn, 1);
  // In a set that lists No Finding elsewhere, its absence is deliberate: no false negative.
  const set = labelAgreement([other, normal]);
  assert.equal(nf(set).fn, 0);
  assert.equal(nf(set).tp, 1);
  // Forcing inference restores the old reading.
  assert.equal(nf(labelAgreement([other, normal], { inferNoFinding: true })).fn, 1);
});
