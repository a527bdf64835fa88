import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { FileFormatError, OpArgumentError } from '../../src/errors.js';
import { DataLoader, IGNORE_INDEX, collate, type Batch } from '../../src/data/collator.js';
import { SftDataset, splitTrainEval, subjectOf, type Example, type TextEncoder } from '../../src/data/dataset.js';
import { prepIu } from '../../src/data/iu.js';
import { readJsonl, writeJsonlAtomic } from '../../src/data/jsonl.js';
import { Rng, hashSeed, permutation } from '../../src/data/rng.js';
import { sharedPath } from '../../src/util/paths.js';

/**
 * A stand-in for the BioGPT tokenizer with the property that matters here: word-level (Moses-like:
 * whitespace, newlines included, separates words; punctuation is its own token) with a leading `</s>`=2.
 */
class WordEncoder implements TextEncoder {
  readonly padId = 1;
  private vocab = new Map<string, number>();
  encode(text: string): number[] {
    const toks = text.split(/\s+/).flatMap((w) => w.split(/([.,:;])/)).filter(Boolean);
    return [2, ...toks.map((t) => this.id(t))];
  }
  id(t: string): number {
    let v = this.vocab.get(t);
    if (v === undefined) this.vocab.set(t, (v = 4 + this.vocab.size));
    return v;
  }
}

/** A tokenizer that merges across the prompt/completion boundary (":\n" is one token): breaks the prefix property. */
class MergingEncoder implements TextEncoder {
  readonly padId = 1;
  encode(text: string): number[] {
    const out = [2];
    for (let i = 0; i < text.length; i++) {
      if (text[i] === ':' && text[i + 1] === '\n') {
        out.push(999);
        i++;
      } else out.push(text.charCodeAt(i) + 1000);
    }
    return out;
  }
}

const REC = { id: 'r1', prompt: 'Atelectasis: 1. \nFindings:', completion: ' Lungs clear. \nImpression: Normal.' };

test('dataset: prompt tokens are a prefix; labels cover only the completion and </s>', () => {
  const enc = new WordEncoder();
  const ds = SftDataset.fromRecords([REC], enc);
  const e = ds.get(0);
  const promptIds = enc.encode(REC.prompt);
  assert.equal(e.promptLength, promptIds.length);
  assert.equal(e.promptLength, 7); // </s> Atelectasis : 1 . Findings :
  assert.deepEqual([...e.inputIds], [...enc.encode(REC.prompt + '\n' + REC.completion), 2]);
  assert.deepEqual(ds.stats, { examples: 1, truncated: 0, droppedNoTarget: 0, boundaryMismatches: 0, maxTokens: 15, meanTokens: 15, targetTokens: 8 });

  const b = collate([e], { padId: 1, maxLength: 20 });
  assert.equal(b.seqLen, 20);
  assert.deepEqual([...b.labels], [...Array(7).fill(IGNORE_INDEX), ...e.inputIds.slice(7), ...Array(5).fill(IGNORE_INDEX)]);
  assert.deepEqual([...b.attentionMask], [...Array(15).fill(1), ...Array(5).fill(0)]);
  assert.deepEqual([...b.inputIds.slice(15)], [1, 1, 1, 1, 1]);
  assert.equal(b.numTargetTokens, 8);
  assert.deepEqual(b.ids, ['r1']);
});

test('dataset: eos can be turned off; a tokenizer that breaks the prefix property falls back exactly', () => {
  const noEos = SftDataset.fromRecords([REC], new WordEncoder(), { eosId: null });
  assert.equal(noEos.get(0).inputIds.length, 14);
  const enc = new MergingEncoder();
  const ds = SftDataset.fromRecords([REC], enc);
  assert.equal(ds.stats.boundaryMismatches, 1);
  const e = ds.get(0);
  const p = enc.encode(REC.prompt);
  assert.equal(e.promptLength, p.length);
  assert.deepEqual([...e.inputIds], [...p, ...enc.encode(REC.completion).slice(1), 2]);
});

test('dataset: truncation at maxLength and records with no room for a target', () => {
  const enc = new WordEncoder();
  const ds = SftDataset.fromRecords([REC, { prompt: 'a b c d e f g h i j k l', completion: ' x' }], enc, { maxLength: 10 });
  assert.equal(ds.length, 1);
  assert.equal(ds.stats.droppedNoTarget, 1);
  assert.equal(ds.stats.truncated, 1);
  const e = ds.get(0);
  assert.equal(e.inputIds.length, 10);
  assert.equal(e.truncated, true);
  assert.equal(ds.stats.targetTokens, 3);
  // The collator also enforces maxLength on longer inputs.
  const b = collate([{ id: 'x', inputIds: Int32Array.from([2, 5, 6, 7, 8, 9]), promptLength: 2, truncated: false }], { padId: 1, maxLength: 4 });
  assert.deepEqual([...b.inputIds], [2, 5, 6, 7]);
  assert.deepEqual([...b.labels], [-100, -100, 6, 7]);
  assert.throws(() => SftDataset.fromRecords([REC], enc, { maxLength: 1 }), (e: Error) => e instanceof OpArgumentError && /SftDataset: argument 'maxLength' expected an integer >= 2, got 1/.test(e.message));
});

test('collator: max_length vs longest padding, multiple-of rounding, row-major layout', () => {
  const ex = (n: number, p: number, id: string): Example => ({ id, inputIds: Int32Array.from({ length: n }, (_, i) => (i === 0 ? 2 : 10 + i)), promptLength: p, truncated: false });
  const rows = [ex(5, 2, 'a'), ex(9, 3, 'b'), ex(3, 1, 'c')];
  const full = collate(rows, { padId: 1 });
  assert.equal(full.seqLen, 512);
  assert.equal(full.inputIds.length, 3 * 512);
  const dyn = collate(rows, { padId: 1, padding: 'longest' });
  assert.equal(dyn.seqLen, 9);
  assert.deepEqual([...dyn.inputIds.slice(9, 18)], [2, 11, 12, 13, 14, 15, 16, 17, 18]);
  assert.deepEqual([...dyn.inputIds.slice(18, 27)], [2, 11, 12, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual([...dyn.labels.slice(18, 27)], [-100, 11, 12, -100, -100, -100, -100, -100, -100]);
  assert.equal(dyn.numTargetTokens, 3 + 6 + 2);
  assert.equal(collate(rows, { padId: 1, padding: 'longest', padToMultipleOf: 8 }).seqLen, 16);
  assert.equal(collate(rows, { padId: 1, padding: 'longest', padToMultipleOf: 8, maxLength: 12 }).seqLen, 12);
  assert.throws(() => collate([], { padId: 1 }), RangeError);
});

function checkBatch(b: Batch, examples: readonly Example[], padId: number): void {
  let targets = 0;
  for (let r = 0; r < b.batchSize; r++) {
    const e = examples[r]!;
    for (let t = 0; t < b.seqLen; t++) {
      const k = r * b.seqLen + t;
      if (b.attentionMask[k] === 0) {
        assert.equal(b.labels[k], IGNORE_INDEX, 'target on a pad position');
        assert.equal(b.inputIds[k], padId);
      } else {
        assert.equal(b.inputIds[k], e.inputIds[t]);
        if (t < e.promptLength) assert.equal(b.labels[k], IGNORE_INDEX, 'target on a prompt position');
        else assert.equal(b.labels[k], e.inputIds[t]);
      }
      if (t >= 1 && b.labels[k] !== IGNORE_INDEX) targets++;
    }
    // Padding is on the right: the mask is 1...1 0...0.
    const mask = [...b.attentionMask.slice(r * b.seqLen, (r + 1) * b.seqLen)];
    assert.deepEqual(mask, [...Array(Math.min(e.inputIds.length, b.seqLen)).fill(1), ...Array(b.seqLen - Math.min(e.inputIds.length, b.seqLen)).fill(0)]);
  }
  assert.equal(b.numTargetTokens, targets);
}

const exampleArb = fc
  .tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 40 }))
  .chain(([p, c]) => fc.record({ ids: fc.array(fc.integer({ min: 0, max: 50000 }), { minLength: p + c, maxLength: p + c }), p: fc.constant(p) }))
  .map(({ ids, p }): Example => ({ id: 'e', inputIds: Int32Array.from(ids), promptLength: p, truncated: false }));

test('collator property: no target on pad or prompt positions, right padding, exact target count', () => {
  fc.assert(
    fc.property(
      fc.array(exampleArb, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 0, max: 3 }),
      fc.constantFrom<'longest' | 'max_length'>('longest', 'max_length'),
      fc.integer({ min: 1, max: 64 }),
      (examples, padId, padding, maxLength) => {
        // Pad ids may collide with real ids: masking must go by position, never by id.
        checkBatch(collate(examples, { padId, padding, maxLength }), examples, padId);
      },
    ),
    { numRuns: 300 },
  );
});

test('dataset property: for random texts, labels start exactly at the completion', () => {
  const word = fc.constantFrom('lungs', 'clear', 'effusion', 'no', 'Heart', '1', 'uncertain', '.', ':', ';');
  const text = fc.array(word, { maxLength: 12 }).map((w) => w.join(' '));
  fc.assert(
    fc.property(fc.array(fc.record({ prompt: text, completion: text }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 4, max: 30 }), (recs, maxLength) => {
      const enc = new WordEncoder();
      const ds = SftDataset.fromRecords(recs, enc, { maxLength });
      assert.equal(ds.stats.boundaryMismatches, 0);
      assert.equal(ds.length + ds.stats.droppedNoTarget, recs.length);
      for (const e of ds.examples) assert.ok(e.promptLength < e.inputIds.length && e.inputIds.length <= maxLength);
      if (ds.length) checkBatch(collate(ds.examples, { padId: 1, maxLength, padding: 'longest' }), ds.examples, 1);
    }),
    { numRuns: 200 },
  );
});

test('loader: seeded epoch-dependent shuffles, full coverage, dropLast', () => {
  const examples: Example[] = Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, inputIds: Int32Array.from([2, 10 + i]), promptLength: 1, truncated: false }));
  const L = (o: Partial<ConstructorParameters<typeof DataLoader>[1]> = {}) => new DataLoader(examples, { batchSize: 3, padId: 1, padding: 'longest', seed: 42, ...o });
  const ids = (l: DataLoader, epoch: number) => [...l.batches(epoch)].flatMap((b) => b.ids);
  assert.deepEqual(ids(L(), 0), ids(L(), 0));
  assert.notDeepEqual(ids(L(), 0), ids(L(), 1));
  assert.notDeepEqual(ids(L(), 0), ids(L({ seed: 43 }), 0));
  assert.deepEqual([...ids(L(), 3)].sort(), examples.map((e) => e.id).sort());
  assert.equal(L().numBatches, 4);
  assert.equal(L({ dropLast: true }).numBatches, 3);
  assert.equal(ids(L({ dropLast: true }), 0).length, 9);
  assert.deepEqual(ids(L({ shuffle: false }), 5), examples.map((e) => e.id));
  assert.deepEqual([...L().batches(0)].map((b) => b.batchSize), [3, 3, 3, 1]);
  assert.throws(() => L({ batchSize: 0 }), RangeError);
});

test('split: deterministic, disjoint, order-preserving; fraction, count and groups', () => {
  const items = Array.from({ length: 100 }, (_, i) => `p${10 + (i % 37)}/s${5000 + i}`);
  const a = splitTrainEval(items, { seed: 1, evalFraction: 0.1 });
  assert.deepEqual(a, splitTrainEval(items, { seed: 1, evalFraction: 0.1 }));
  assert.notDeepEqual(a.eval, splitTrainEval(items, { seed: 2, evalFraction: 0.1 }).eval);
  assert.equal(a.eval.length, 10);
  assert.equal(a.train.length, 90);
  assert.deepEqual([...a.train, ...a.eval].sort(), [...items].sort());
  assert.deepEqual(a.eval, items.filter((x) => a.eval.includes(x))); // input order kept
  assert.equal(splitTrainEval(items, { seed: 1, evalCount: 7 }).eval.length, 7);
  assert.equal(splitTrainEval(['x', 'y'], { seed: 1, evalFraction: 0.01 }).eval.length, 1);
  assert.equal(splitTrainEval(items, { seed: 1, evalFraction: 0 }).eval.length, 0);
  const g = splitTrainEval(items, { seed: 3, evalFraction: 0.2, groupOf: subjectOf });
  const evalSubjects = new Set(g.eval.map(subjectOf));
  assert.ok(g.train.every((x) => !evalSubjects.has(subjectOf(x))), 'a subject on both sides');
  assert.ok(g.eval.length >= 20 && g.eval.length < 20 + 3);
  assert.throws(() => splitTrainEval(items, { seed: 1, evalFraction: 1 }), (e: Error) => e instanceof OpArgumentError && /splitTrainEval: argument 'evalFraction' expected a number in \[0, 1\), got 1/.test(e.message));
  assert.throws(() => splitTrainEval(items, { seed: 1, evalCount: 101 }), RangeError);
  assert.equal(subjectOf('p10000032/s50414267'), 'p10000032');
  assert.equal(subjectOf('iu-12'), 'iu-12');
});

test('rng: deterministic streams, ranges, permutations', () => {
  const a = new Rng(5);
  const b = new Rng(5);
  const xs = Array.from({ length: 100 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 100 }, () => b.next()));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  assert.notDeepEqual(xs.slice(0, 5), Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(6))));
  const r = new Rng('seed');
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[r.int(4)]!++;
  assert.ok(counts.every((c) => c > 850 && c < 1150), String(counts));
  for (let i = 0; i < 100; i++) {
    const v = r.range(-2, 2);
    assert.ok(v >= -2 && v <= 2 && Number.isInteger(v));
  }
  const p = permutation(50, 9, 2);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(p, permutation(50, 9, 2));
  assert.notDeepEqual(p, permutation(50, 9, 3));
  assert.notEqual(hashSeed(1, 'a'), hashSeed('a', 1));
  assert.notEqual(hashSeed(2 ** 32), hashSeed(0));
  // Pinned values: the generator must not drift between releases (synthetic data depends on it).
  assert.deepEqual(Array.from({ length: 3 }, ((g) => () => g.nextU32())(new Rng(0))), PINNED);
});
const PINNED = [2673918951, 1525398398, 1851933717];

test('dataset with the real BioGPT tokenizer on IU reports: the prompt is always an exact token prefix', async (t) => {
  const vocab = sharedPath('data', 'biogpt-vocab');
  const csv = sharedPath('data', 'iu-xray', 'indiana_reports.csv');
  if (!vocab || !csv) return t.skip('shared/data/biogpt-vocab or iu-xray not found');
  // Loaded dynamically: the tokenizer lives in another module that may still be changing.
  let tok: TextEncoder & { eosId?: number };
  try {
    const mod = (await import('../../src/tokenizer/index.js')) as { BioGptTokenizer: { fromDir(d: string): TextEncoder & { eosId?: number } } };
    tok = mod.BioGptTokenizer.fromDir(vocab);
  } catch (e) {
    return t.skip(`BioGPT tokenizer unavailable: ${(e as Error).message}`);
  }
  const { records } = await prepIu({ csv, keep: { all: true } });
  const ds = SftDataset.fromRecords(records.slice(0, 400), tok);
  assert.equal(ds.stats.boundaryMismatches, 0);
  assert.equal(ds.stats.droppedNoTarget, 0);
  assert.equal(tok.padId, 1);
  for (const e of ds.examples) {
    assert.equal(e.inputIds[0], 2); // leading </s>
    assert.equal(e.inputIds[e.inputIds.length - 1], 2); // appended </s>
  }
  const b = collate(ds.examples.slice(0, 4), { padId: tok.padId, padding: 'longest' });
  checkBatch(b, ds.examples.slice(0, 4), tok.padId);
});

test('jsonl: fromJsonl reads prepared files; bad lines are errors naming the line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-jsonl-'));
  try {
    const f = path.join(dir, 'd.jsonl');
    writeJsonlAtomic(f, [{ ...REC, labels: { Atelectasis: '1' } }, { id: 'r2', prompt: 'Edema: 1. \nFindings:', completion: ' Edema. \nImpression: Edema.', labels: { Edema: '1' } }]);
    assert.deepEqual(fs.readdirSync(dir), ['d.jsonl']);
    const ds = SftDataset.fromJsonl(f, new WordEncoder());
    assert.deepEqual(ds.examples.map((e) => e.id), ['r1', 'r2']);
    fs.writeFileSync(f, '{"prompt":"a","completion":"b"}\n\n{"prompt":1}\n');
    assert.throws(() => readJsonl(f), (e: unknown) => e instanceof FileFormatError && /line 3/.test(e.message));
    fs.writeFileSync(f, '{"prompt":"a",\n');
    assert.throws(() => readJsonl(f), /line 1: invalid JSON/);
    assert.throws(() => readJsonl(path.join(dir, 'missing.jsonl')), (e: unknown) => e instanceof FileFormatError && /radgrad prep/.test(e.hint ?? ''));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
