import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NON_PATHOLOGY_LABELS, shouldKeep } from '../../src/data/labels.js';

test('keep policy: Support Devices is not a pathology (CheXpert No Finding rule)', () => {
  assert.deepEqual([...NON_PATHOLOGY_LABELS].sort(), ['No Finding', 'Support Devices']);
  // A normal study with a line (MIMIC writes No Finding 1 and Support Devices 1).
  assert.equal(shouldKeep({ 'No Finding': '1', 'Support Devices': '1' }), false);
  assert.equal(shouldKeep({ 'Support Devices': '1' }), false);
  assert.equal(shouldKeep({ 'Support Devices': 'uncertain' }, { uncertain: true }), false);
  // --keep-no-finding keeps every normal study, with or without a device.
  assert.equal(shouldKeep({ 'No Finding': '1', 'Support Devices': '1' }, { noFinding: true }), true);
  assert.equal(shouldKeep({ 'Support Devices': '1' }, { noFinding: true }), true);
  assert.equal(shouldKeep({ 'No Finding': '1' }, { noFinding: true }), true);
  // A device beside a pathology: kept for the pathology.
  assert.equal(shouldKeep({ Atelectasis: '1', 'Support Devices': '1' }), true);
  assert.equal(shouldKeep({ Pneumonia: 'uncertain', 'Support Devices': '1' }), false);
  assert.equal(shouldKeep({ Pneumonia: 'uncertain', 'Support Devices': '1' }, { uncertain: true }), true);
  // A device beside an uncertain pathology is not a normal study (CheXpert leaves No Finding blank),
  // so --keep-no-finding does not select it; --keep-uncertain does.
  assert.equal(shouldKeep({ 'Lung Opacity': 'uncertain', 'Support Devices': '1' }, { noFinding: true }), false);
  assert.equal(shouldKeep({ 'Lung Opacity': 'uncertain', 'Support Devices': '1' }, { noFinding: true, uncertain: true }), true);
  assert.equal(shouldKeep({ 'Lung Opacity': '0', 'Support Devices': '1' }, { noFinding: true }), true);
  assert.equal(shouldKeep({ 'Lung Opacity': 'uncertain' }, { noFinding: true }), false);
  // Nothing positive, or no label at all.
  assert.equal(shouldKeep({ Edema: '0' }, { noFinding: true }), false);
  assert.equal(shouldKeep({ Edema: '0' }, { all: true }), true);
  assert.equal(shouldKeep({}, { all: true }), false);
});
