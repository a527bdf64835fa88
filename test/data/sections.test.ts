import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extractSections, normalizeWhitespace } from '../../src/data/sections.js';

const fi = (text: string) => {
  const s = extractSections(text);
  return [s.findings, s.impression];
};

test('sections: MIMIC layout with leading spaces, blank lines and wrapped lines', () => {
  const text = [
    '                                 FINAL REPORT',
    ' EXAMINATION:  CHEST (PA AND LAT)',
    ' ',
    ' INDICATION:  ___F with new onset ascites  // eval for infection',
    ' ',
    ' TECHNIQUE:  Chest PA and lateral',
    ' ',
    ' COMPARISON:  None.',
    ' ',
    ' FINDINGS: ',
    ' ',
    ' There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral',
    ' nodular opacities that most likely represent nipple shadows. The',
    ' cardiomediastinal silhouette is normal.',
    ' ',
    ' IMPRESSION: ',
    ' ',
    ' No acute cardiopulmonary process.',
    '',
  ].join('\n');
  assert.deepEqual(fi(text), [
    'There is no focal consolidation, pleural effusion or pneumothorax. Bilateral nodular opacities that most likely represent nipple shadows. The cardiomediastinal silhouette is normal.',
    'No acute cardiopulmonary process.',
  ]);
  const names = extractSections(text).sections.map((s) => s.name);
  assert.deepEqual(names, ['final report', 'examination', 'indication', 'technique', 'comparison', 'findings', 'impression']);
});

test('sections: text on the header line, any case, plural and bare headers', () => {
  assert.deepEqual(fi('FINDINGS: Lungs are clear.\nIMPRESSION: Normal.'), ['Lungs are clear.', 'Normal.']);
  assert.deepEqual(fi('Findings:\nLungs are clear.\n\nImpression:\nNormal.'), ['Lungs are clear.', 'Normal.']);
  assert.deepEqual(fi('findings:   lungs   clear.\nimpressions: normal.'), ['lungs clear.', 'normal.']);
  assert.deepEqual(fi('FINDINGS\nLungs clear.\nIMPRESSION\nNo acute process.'), ['Lungs clear.', 'No acute process.']);
  assert.deepEqual(fi('FINDINGS :  Lungs clear.\nIMPRESSION :No acute process.'), ['Lungs clear.', 'No acute process.']);
});

test('sections: FINDINGS AND IMPRESSION (and its spellings) fills both slots', () => {
  for (const h of ['FINDINGS AND IMPRESSION:', 'Findings and impression:', 'FINDINGS/IMPRESSION:', 'FINDINGS & IMPRESSION:', 'IMPRESSION AND FINDINGS:']) {
    const s = extractSections(` EXAMINATION: CHEST\n ${h}\n  Stable small left effusion.\n  No pneumothorax.\n`);
    assert.equal(s.findings, 'Stable small left effusion. No pneumothorax.', h);
    assert.equal(s.impression, s.findings, h);
    assert.equal(s.combined, true, h);
  }
  // A separate IMPRESSION wins for its own slot.
  const s = extractSections('FINDINGS AND IMPRESSION: Tube in place.\nIMPRESSION: Tube ok.');
  assert.deepEqual([s.findings, s.impression, s.combined], ['Tube in place.', 'Tube ok.', true]);
});

test('sections: missing sections', () => {
  assert.deepEqual(fi(' EXAMINATION: CHEST\n IMPRESSION: No acute process.\n'), ['', 'No acute process.']);
  assert.deepEqual(fi(' FINDINGS: Heart normal.\n NOTIFICATION: called Dr. ___.\n'), ['Heart normal.', '']);
  assert.deepEqual(fi('Chest radiograph without headers. Lungs clear.'), ['', '']);
  assert.deepEqual(fi(''), ['', '']);
  assert.deepEqual(fi('FINDINGS:\n\nIMPRESSION:\n'), ['', '']);
});

test('sections: other sections in between or after are excluded', () => {
  const text = 'FINDINGS: Small right effusion.\nNOTIFICATION: Discussed with Dr. ___ at 10:30 am.\nIMPRESSION: Small right effusion.\nRECOMMENDATION(S): CT in 3 months.\nADDENDUM\nAddendum text.';
  assert.deepEqual(fi(text), ['Small right effusion.', 'Small right effusion.']);
  // An unknown ALL-CAPS label ends a section too.
  assert.deepEqual(fi('FINDINGS: Lungs clear.\nPA AND LATERAL VIEWS OF THE CHEST: Obtained.\nIMPRESSION: Normal.'), ['Lungs clear.', 'Normal.']);
});

test('sections: mixed-case labels inside a section are text, not headers', () => {
  const text = 'FINDINGS:\nLeft lung: clear.\nRight lung: small effusion.\nNote: ___ comparison.\nIMPRESSION: Small right effusion.';
  assert.deepEqual(fi(text), ['Left lung: clear. Right lung: small effusion. Note: ___ comparison.', 'Small right effusion.']);
});

test('sections: reports flattened onto one line are split at FINDINGS/IMPRESSION', () => {
  assert.deepEqual(fi('EXAMINATION: Chest. FINDINGS: Lungs clear. IMPRESSION: Normal study.'), ['Lungs clear.', 'Normal study.']);
  assert.deepEqual(fi('Indication: cough. Findings: Lungs clear. Impression: Normal study.'), ['Lungs clear.', 'Normal study.']);
  // Lower-case mid-sentence words with a colon do not split.
  assert.deepEqual(fi('FINDINGS: No change in the findings: lungs clear.\nIMPRESSION: Stable.'), ['No change in the findings: lungs clear.', 'Stable.']);
  // "impression" without a colon is just a word.
  assert.deepEqual(fi('FINDINGS: Gives the impression of volume loss.\nIMPRESSION: Volume loss.'), ['Gives the impression of volume loss.', 'Volume loss.']);
});

test('sections: wet read and PFI at the top are not the impression', () => {
  const text = [
    ' WET READ: ___ ___ 4:12 PM',
    '   Small right pleural effusion, possible pneumonia.',
    ' PROVISIONAL FINDINGS IMPRESSION (PFI): ___ ___ right lower lobe pneumonia.',
    ' ',
    '                                 FINAL REPORT',
    ' FINDINGS:  Right lower lobe consolidation.',
    ' IMPRESSION:  Right lower lobe pneumonia.',
  ].join('\n');
  assert.deepEqual(fi(text), ['Right lower lobe consolidation.', 'Right lower lobe pneumonia.']);
});

test('sections: CONCLUSION stands in for a missing IMPRESSION; first non-empty section wins', () => {
  assert.deepEqual(fi('FINDINGS: Clear.\nCONCLUSION: Normal.'), ['Clear.', 'Normal.']);
  assert.deepEqual(fi('FINDINGS: Clear.\nIMPRESSION: First.\nCONCLUSION: Other.'), ['Clear.', 'First.']);
  assert.deepEqual(fi('FINDINGS:\nIMPRESSION:\nFINDINGS: Second try.\nIMPRESSION: Later.'), ['Second try.', 'Later.']);
});

test('sections: CRLF, tabs and runs of spaces are normalised', () => {
  assert.deepEqual(fi('FINDINGS:\r\n\tLungs   are\r\n  clear.\r\nIMPRESSION:\r\n Normal.\r\n'), ['Lungs are clear.', 'Normal.']);
  assert.equal(normalizeWhitespace('  a \n\t b  '), 'a b');
});

test('sections: de-identification tokens and numbered lists survive', () => {
  assert.deepEqual(fi('FINDINGS: Compared to ___, no change.\nIMPRESSION:\n1. Stable effusion.\n2. No pneumothorax.'), [
    'Compared to ___, no change.',
    '1. Stable effusion. 2. No pneumothorax.',
  ]);
});
