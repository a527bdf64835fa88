import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { lcsLength, rougeL, rougeLTokens, sentenceRougeL } from '../../src/eval/rouge.js';
import { OpArgumentError } from '../../src/errors.js';

const close = (a: number, b: number, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

test('LCS length', () => {
  assert.equal(lcsLength(['a', 'b', 'c', 'd'], ['a', 'c', 'd']), 3);
  assert.equal(lcsLength([], ['a']), 0);
  assert.equal(lcsLength(['x'], ['y']), 0);
  assert.equal(lcsLength('abcbdab'.split(''), 'bdcaba'.split('')), 4); // CLRS example: "bcba"
});

test('ROUGE-L: hand-computed sentence scores', () => {
  // hyp: the cat sat on the mat | ref: the cat is on the mat
  // LCS = "the cat on the mat" = 5 → P = 5/6, R = 5/6, F = 5/6
  const a = sentenceRougeL('the cat sat on the mat', 'the cat is on the mat');
  close(a.precision, 5 / 6);
  close(a.recall, 5 / 6);
  close(a.f, 5 / 6);
  // hyp: a b c | ref: a x b y c z → LCS 3: P = 3/3 = 1, R = 3/6 = 0.5, F = 2·1·0.5/1.5 = 2/3
  const b = sentenceRougeL('a b c', 'a x b y c z');
  close(b.precision, 1);
  close(b.recall, 0.5);
  close(b.f, 2 / 3);
  // beta = 2: F = (1+4)·P·R / (R + 4·P) = 5·0.5 / (0.5 + 4) = 2.5/4.5
  close(sentenceRougeL('a b c', 'a x b y c z', { beta: 2 }).f, 2.5 / 4.5);
  // word order: "police killed the gunman" vs "the gunman police killed" → LCS 2 → P = R = F = 0.5
  close(sentenceRougeL('police killed the gunman', 'the gunman police killed').f, 0.5);
});

test('ROUGE-L: several references take the best F; corpus is the sentence mean', () => {
  // refs for "a b c": "a x b y c z" (F 2/3) and "a b c d" (LCS 3: P 1, R 3/4, F 6/7) → 6/7
  close(sentenceRougeL('a b c', ['a x b y c z', 'a b c d']).f, 6 / 7);
  // corpus of [5/6, 2/3] → mean F = 0.75; mean P = (5/6 + 1)/2; mean R = (5/6 + 1/2)/2
  const c = rougeL(['the cat sat on the mat', 'a b c'], ['the cat is on the mat', 'a x b y c z']);
  close(c.f, 0.75);
  close(c.precision, (5 / 6 + 1) / 2);
  close(c.recall, (5 / 6 + 0.5) / 2);
  assert.equal(c.count, 2);
  assert.equal(c.perSentence.length, 2);
});

test('ROUGE-L: edge cases', () => {
  assert.deepEqual(sentenceRougeL('', 'no acute disease'), { precision: 0, recall: 0, f: 0 }); // empty hypothesis
  assert.deepEqual(sentenceRougeL('no acute disease', ''), { precision: 0, recall: 0, f: 0 });
  assert.equal(sentenceRougeL('heart normal', 'pneumothorax present').f, 0); // no overlap
  close(sentenceRougeL('The lungs are clear.', 'the lungs are clear').f, 1); // identical after tokenization
  assert.deepEqual(rougeL([], []), { precision: 0, recall: 0, f: 0, count: 0, perSentence: [] });
  assert.throws(() => rougeL(['a'], ['a', 'b']), OpArgumentError);
  assert.throws(() => rougeLTokens(['a'], ['a'], 0), OpArgumentError);
});

const word = fc.constantFrom('no', 'effusion', 'heart', 'normal', 'the', 'lungs', 'clear', 'mild', 'atelectasis', 'left');
const toks = fc.array(word, { maxLength: 12 });

test('ROUGE-L properties: F in [0, 1], symmetric F, identical → 1', () => {
  fc.assert(
    fc.property(toks, toks, (h, r) => {
      const a = rougeLTokens(h, r);
      const b = rougeLTokens(r, h);
      assert.ok(a.f >= 0 && a.f <= 1 && a.precision <= 1 && a.recall <= 1);
      close(a.f, b.f, 1e-12);
      close(a.precision, b.recall, 1e-12);
      if (h.length) close(rougeLTokens(h, h).f, 1);
    }),
  );
});
