import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { corpusBleu, corpusBleuTokens, sentenceBleu, closestRefLength } from '../../src/eval/bleu.js';
import { tokenize } from '../../src/eval/tokenize.js';
import { OpArgumentError } from '../../src/errors.js';

const close = (a: number, b: number, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

test('tokenize: lowercase, split on whitespace and punctuation (configurable)', () => {
  assert.deepEqual(tokenize('No pleural effusion. Heart-size: NORMAL!'), ['no', 'pleural', 'effusion', 'heart', 'size', 'normal']);
  assert.deepEqual(tokenize('No effusion.', { punctuation: 'keep' }), ['no', 'effusion', '.']);
  assert.deepEqual(tokenize('No Effusion', { lowercase: false }), ['No', 'Effusion']);
  assert.deepEqual(tokenize('1.5 cm'), ['1', '5', 'cm']);
  assert.deepEqual(tokenize('  '), []);
  assert.deepEqual(tokenize('a b', { tokenizer: (s) => [s] }), ['a b']);
});

test('BLEU: the cat sat on the mat (hand-computed)', () => {
  // hyp: the cat sat on the mat | ref: the cat is on the mat
  // p1: the×2 (ref has 2), cat, on, mat match, sat not → 5/6
  // p2: {the cat, on the, the mat} of 5 bigrams → 3/5
  // p3: {on the mat} of 4 → 1/4;  p4: none of 3 → 0  ⇒ unsmoothed BLEU = 0
  const r = sentenceBleu('the cat sat on the mat', 'the cat is on the mat');
  assert.deepEqual(r.matches, [5, 3, 1, 0]);
  assert.deepEqual(r.totals, [6, 5, 4, 3]);
  assert.equal(r.bleu, 0);
  // method1: p4 = 0.1/3; c = r = 6 → BP = exp(1 - 6/6) = 1
  // BLEU = (5/6 · 3/5 · 1/4 · 0.1/3)^(1/4) = (1/240)^(1/4) ≈ 0.2541
  const s = sentenceBleu('the cat sat on the mat', 'the cat is on the mat', { smoothing: 'method1' });
  close(s.bleu, (1 / 240) ** 0.25);
  close(s.brevityPenalty, 1);
});

test('BLEU: clipping with a repeated word (Papineni example)', () => {
  // hyp: the ×7 | ref: the cat is on the mat → "the" clipped to 2: p1 = 2/7, no bigram matches.
  const r = sentenceBleu('the the the the the the the', 'the cat is on the mat');
  close(r.precisions[0]!, 2 / 7);
  assert.equal(r.bleu, 0);
  // method1: p2 = 0.1/6, p3 = 0.1/5, p4 = 0.1/4; c = 7 > r = 6 → BP = 1
  // BLEU = (2/7 · 1/60 · 1/50 · 1/40)^(1/4) = (1/420000)^(1/4) ≈ 0.03928
  close(sentenceBleu('the the the the the the the', 'the cat is on the mat', { smoothing: 'method1' }).bleu, (1 / 420000) ** 0.25);
});

test('BLEU: corpus sums and brevity penalty with the closest reference length', () => {
  // hyp1 "a b c d" vs "a b c d e f": all 4+3+2+1 n-grams match, closest ref len 6
  // hyp2 "w x y z" vs ["w x y z", "w x y z q"]: all match, closest ref len 4
  // p_n = 1 for all n; c = 8, r = 10 → BP = exp(1 - 10/8) = exp(-0.25) ≈ 0.7788
  const r = corpusBleu(['a b c d', 'w x y z'], ['a b c d e f', ['w x y z', 'w x y z q']]);
  assert.deepEqual(r.matches, [8, 6, 4, 2]);
  assert.equal(r.hypLength, 8);
  assert.equal(r.refLength, 10);
  close(r.bleu, Math.exp(-0.25));
});

test('BLEU: closest reference length breaks ties toward the shorter reference', () => {
  assert.equal(closestRefLength([4, 6], 5), 4);
  assert.equal(closestRefLength([6, 4], 5), 4);
  assert.equal(closestRefLength([3, 9, 7], 8), 7);
});

test('BLEU: multiple references clip to the max count in any single reference', () => {
  // hyp "the the cat": "the" appears twice in ref 2 → 2 clipped, cat in ref 1 → 1: p1 = 3/3
  const r = corpusBleuTokens([['the', 'the', 'cat']], [[['the', 'cat'], ['the', 'the', 'dog']]], { maxOrder: 1 });
  assert.deepEqual(r.matches, [3]);
  close(r.bleu, 1); // c = 3, closest r = 3 (tie 2 vs 3 → |3-3| = 0 wins) → BP = 1
});

test('BLEU: NLTK semantics for a hypothesis shorter than n', () => {
  // hyp = ref = "a b": totals per order are max(1, #ngrams) = [2, 1, 1, 1], matches [2, 1, 0, 0]
  const r = sentenceBleu('a b', 'a b');
  assert.deepEqual(r.totals, [2, 1, 1, 1]);
  assert.equal(r.bleu, 0);
  // method1: (1 · 1 · 0.1 · 0.1)^(1/4) = sqrt(0.1)
  close(sentenceBleu('a b', 'a b', { smoothing: 'method1' }).bleu, Math.sqrt(0.1));
});

test('BLEU: edge cases', () => {
  assert.equal(sentenceBleu('', 'no acute disease').bleu, 0); // empty hypothesis
  assert.equal(sentenceBleu('', 'no acute disease').brevityPenalty, 0);
  assert.equal(sentenceBleu('heart size normal lungs clear', 'pneumothorax on the right side').bleu, 0); // no overlap
  assert.equal(sentenceBleu('no overlap at all here', 'xyz', { smoothing: 'method1' }).bleu, 0); // no unigram match, smoothed
  close(sentenceBleu('The lungs are clear. No effusion.', 'the lungs are clear no effusion').bleu, 1); // identical after tokenization
  assert.equal(corpusBleu([], []).bleu, 0);
  assert.throws(() => corpusBleu(['a'], []), OpArgumentError);
  assert.throws(() => corpusBleu(['a'], [[]]), OpArgumentError);
  assert.throws(() => corpusBleu(['a'], ['a'], { maxOrder: 0 }), OpArgumentError);
  // bigram BLEU with custom weights: hyp "a b c", ref "a b d": p1 = 2/3, p2 = 1/2, BP = 1
  close(sentenceBleu('a b c', 'a b d', { weights: [0.5, 0.5] }).bleu, Math.sqrt((2 / 3) * (1 / 2)));
});

const word = fc.constantFrom('no', 'pleural', 'effusion', 'heart', 'size', 'normal', 'the', 'lungs', 'are', 'clear', 'mild', 'atelectasis');
const sentence = (min: number): fc.Arbitrary<string> => fc.array(word, { minLength: min, maxLength: 14 }).map((w) => w.join(' '));

test('BLEU property: an identical corpus scores 1 (sentences of at least 4 tokens)', () => {
  fc.assert(
    fc.property(fc.array(sentence(4), { minLength: 1, maxLength: 6 }), (corpus) => {
      close(corpusBleu(corpus, corpus).bleu, 1, 1e-9);
    }),
  );
});

test('BLEU property: scores lie in [0, 1], smoothed or not', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(sentence(0), sentence(1)), { minLength: 1, maxLength: 5 }), fc.boolean(), (pairs, smooth) => {
      const b = corpusBleu(
        pairs.map((p) => p[0]),
        pairs.map((p) => p[1]),
        smooth ? { smoothing: 'method1' } : {},
      ).bleu;
      assert.ok(b >= 0 && b <= 1 + 1e-12, String(b));
    }),
  );
});
