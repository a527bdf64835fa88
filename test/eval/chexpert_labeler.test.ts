import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHEXPERT_OBSERVATIONS } from '../../src/eval/chexpert_phrases.js';
import { labelReport, labelReportDetailed, normalizeSentence, splitSentences, type ChexpertLabels } from '../../src/eval/chexpert_labeler.js';
import { OpArgumentError } from '../../src/errors.js';

/** The labels that are not 'absent', as "Name=value" strings, for compact assertions. */
function present(l: ChexpertLabels): string[] {
  return Object.entries(l)
    .filter(([, v]) => v !== 'absent')
    .map(([k, v]) => `${k}=${v}`)
    .sort();
}

test('sentence splitting and normalization', () => {
  assert.deepEqual(splitSentences('Nodule 1.5 cm. No effusion; no pneumothorax\nImpression: clear'), [
    'Nodule 1.5 cm',
    'No effusion',
    'no pneumothorax',
    'Impression',
    'clear',
  ]);
  assert.deepEqual(splitSentences('left lung apex.There are'), ['left lung apex', 'There are']);
  assert.equal(normalizeSentence('Left-sided PICC, tip at the SVC/RA junction.'), 'left sided picc , tip at the svc ra junction');
});

test('every observation is reported; an empty report is No Finding', () => {
  const l = labelReport('');
  assert.deepEqual(Object.keys(l).sort(), [...CHEXPERT_OBSERVATIONS].sort());
  assert.deepEqual(present(l), ['No Finding=positive']);
  assert.throws(() => labelReport(42 as unknown as string), OpArgumentError);
});

const cases: Array<[string, string[]]> = [
  ['No pneumothorax or pleural effusion. Heart size is normal.', ['Cardiomegaly=negative', 'No Finding=positive', 'Pleural Effusion=negative', 'Pneumothorax=negative']],
  // Negation does not cross a scope breaker.
  ['No effusion, but there is left basilar atelectasis.', ['Atelectasis=positive', 'Pleural Effusion=negative']],
  ['There is no focal consolidation, pleural effusion, or pneumothorax.', ['Consolidation=negative', 'No Finding=positive', 'Pleural Effusion=negative', 'Pneumothorax=negative']],
  ['Lungs are clear without focal airspace disease.', ['Lung Opacity=negative', 'No Finding=positive']],
  ['Negative for pneumonia. Free of edema.', ['Edema=negative', 'No Finding=positive', 'Pneumonia=negative']],
  // Uncertainty, including negation words inside an uncertainty cue.
  ['Cannot exclude pneumonia.', ['Pneumonia=uncertain']],
  ['Pneumonia is not excluded.', ['Pneumonia=uncertain']],
  ['Possible right lower lobe pneumonia.', ['Pneumonia=uncertain']],
  ['Atelectasis versus pneumonia in the left base.', ['Atelectasis=uncertain', 'Pneumonia=uncertain']],
  ['Left basilar opacity which may represent atelectasis.', ['Atelectasis=uncertain', 'Lung Opacity=positive']],
  ['Left lower lobe consolidation, likely pneumonia.', ['Consolidation=positive', 'Pneumonia=uncertain']],
  ['Findings suggestive of mild pulmonary edema.', ['Edema=uncertain']],
  ['The differential includes infection, aspiration, or edema.', ['Edema=uncertain', 'Pneumonia=uncertain']],
  // Negation wins over a later uncertainty cue in its scope.
  ['No focal consolidation to suggest pneumonia.', ['Consolidation=negative', 'No Finding=positive', 'Pneumonia=negative']],
  // Post-mention negation and pseudo-negation.
  ['Previously seen pneumothorax has resolved.', ['No Finding=positive', 'Pneumothorax=negative']],
  ['No change in the small left pleural effusion.', ['Pleural Effusion=positive']],
  // Positive findings and anatomy with qualifiers.
  ['Mild cardiomegaly. Pulmonary edema. Small bilateral pleural effusions.', ['Cardiomegaly=positive', 'Edema=positive', 'Pleural Effusion=positive']],
  ['The heart is not significantly enlarged. The lungs are clear.', ['Cardiomegaly=negative', 'No Finding=positive']],
  ['The heart is enlarged.', ['Cardiomegaly=positive']],
  ['Heart size at the upper limits of normal.', ['Cardiomegaly=negative', 'No Finding=positive']],
  ['Borderline cardiomegaly.', ['Cardiomegaly=uncertain']],
  ['Heart size is upper limits of normal or mildly enlarged.', ['Cardiomegaly=uncertain']],
  ['The mediastinum is widened.', ['Enlarged Cardiomediastinum=positive']],
  // A hedge between the anatomy and its qualifier.
  ['The mediastinum may be mildly widened, possibly due to technique.', ['Enlarged Cardiomediastinum=uncertain']],
  ['The heart is possibly enlarged.', ['Cardiomegaly=uncertain']],
  ['The heart is not enlarged.', ['Cardiomegaly=negative', 'No Finding=positive']],
  ['Normal heart size and mediastinal contours.', ['Cardiomegaly=negative', 'Enlarged Cardiomediastinum=negative', 'No Finding=positive']],
  ['Pulmonary vascular congestion.', ['Edema=uncertain']],
  ['Blunting of the left costophrenic angle.', ['Pleural Effusion=uncertain']],
  // CheXpert's other findings (its no_finding phrase list) set no label but rule out No Finding.
  ['Calcified granuloma in the right upper lobe. No acute disease.', []],
  ['Nodular opacity in the left base, consistent with a nipple shadow.', ['Lung Opacity=positive']],
  ['Spiculated 2 cm mass in the right upper lobe.', ['Lung Lesion=positive']],
  ['Residuals of prior granulomatous infection.', []],
  ['Acute fracture of the right 5th rib.', ['Fracture=positive']],
  ['Biapical pleural thickening.', ['Pleural Other=positive']],
  // Scarring is Lung Opacity (CheXpert's "scar"), pleural scarring Pleural Other only (CheXpert's
  // Lung Opacity unmention "pleural scar"); its pleuro-parenchymal and pleuro-pericardial scars are
  // Pleural Other and, through "scar", Lung Opacity; its plain "fibrosis" is Pleural Other.
  ['Stable scarring in the right lung apex.', ['Lung Opacity=positive']],
  ['Left pleural scarring.', ['Pleural Other=positive']],
  ['Pleuro-parenchymal scarring at the left apex.', ['Lung Opacity=positive', 'Pleural Other=positive']],
  ['Pleuroparenchymal scar at the right apex.', ['Lung Opacity=positive', 'Pleural Other=positive']],
  ['Pleuro-pericardial scar.', ['Lung Opacity=positive', 'Pleural Other=positive']],
  ['Pulmonary fibrosis.', ['Pleural Other=positive']],
  ['Lungs are clear without evidence of fibrosis.', ['No Finding=positive', 'Pleural Other=negative']],
  ['No scarring.', ['Lung Opacity=negative', 'No Finding=positive']],
  // Support Devices do not cancel No Finding (CheXpert's rule).
  ['Right IJ central venous catheter tip in the SVC. Lungs are clear.', ['No Finding=positive', 'Support Devices=positive']],
  ['The endotracheal tube has been removed.', ['No Finding=positive', 'Support Devices=negative']],
  // Aggregation: positive beats negative and uncertain.
  ['No effusion on the right. Small left pleural effusion.', ['Pleural Effusion=positive']],
];

for (const [text, expected] of cases) {
  test(`labels: ${text}`, () => assert.deepEqual(present(labelReport(text)), expected));
}

test('detailed output names the cue that decided each mention', () => {
  const d = labelReportDetailed('No pneumothorax. Possible pneumonia.');
  const byObs = Object.fromEntries(d.mentions.map((m) => [m.observation, m]));
  assert.equal(byObs['Pneumothorax']!.status, 'negative');
  assert.match(byObs['Pneumothorax']!.reason, /"no"/);
  assert.equal(byObs['Pneumonia']!.status, 'uncertain');
  assert.match(byObs['Pneumonia']!.reason, /possible/);
  assert.equal(byObs['Pneumonia']!.sentenceIndex, 1);
});

test("No Finding follows CheXpert's other findings: a positive or uncertain one rules it out, a negated one does not", () => {
  const blocked = [
    'Degenerative changes of the thoracic spine. No acute disease.',
    'Mild kyphoscoliosis.', // "scoliosis" anywhere in the word, as CheXpert's substring search
    'Lungs are hyperexpanded but clear.',
    'Small T-spine osteophytes.', // a variant of CheXpert's "osteophytosis"
    'Thoracic spondylosis. No acute process.',
    'Elevated right hemidiaphragm.',
    'Possible mild emphysema.', // uncertain counts, as in CheXpert
    'History of COPD.',
    'Small hiatal hernia.',
  ];
  for (const text of blocked) {
    const d = labelReportDetailed(text);
    assert.deepEqual(present(d.labels), [], text);
    assert.ok(d.mentions.some((m) => m.observation === 'No Finding' && m.status !== 'negative'), `${text}: an other-finding mention`);
  }
  // A tracheostomy is a device and, in CheXpert's list, an other finding too.
  assert.deepEqual(present(labelReport('Tracheostomy tube in place. Lungs are clear.')), ['Support Devices=positive']);
  for (const text of ['No emphysema.', 'No evidence of aspiration.', 'Without pleural thickening or effusion.']) {
    assert.ok(present(labelReport(text)).includes('No Finding=positive'), text);
  }
  const g = labelReportDetailed('Calcified granuloma in the right upper lobe.').mentions.find((m) => m.observation === 'No Finding')!;
  assert.deepEqual([g.text, g.status], ['calcified', 'positive']);
});

test('deterministic and fast', () => {
  const report =
    'The cardiomediastinal silhouette is within normal limits. There is left basilar opacity, which may represent atelectasis. ' +
    'No pneumothorax or large pleural effusion. Mild degenerative changes of the thoracic spine. Impression: 1. Possible left basilar pneumonia.';
  const first = JSON.stringify(labelReportDetailed(report));
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) assert.equal(JSON.stringify(labelReportDetailed(report)), first);
  // ~0.2 ms per report on a laptop core; the bound leaves room for slow CI machines.
  assert.ok(performance.now() - t0 < 5000, 'labeling 500 reports took over 5 s');
});
