/**
 * HF TrainerState fields in each checkpoint's trainer_state.json: log_history is metrics.jsonl up to
 * the checkpoint's step in HF's key names (a train log {loss, grad_norm, learning_rate, epoch, step},
 * then the step's evaluation {eval_loss, epoch, step}); a resume takes it from the checkpoint and
 * the next checkpoint continues it; a checkpoint without the HF fields (written before them) still
 * resumes; a resume into a folder whose metrics.jsonl does not hold the history rebuilds it. The
 * conversions are also checked on their own (no GPU).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { shutdownGpu } from '../../src/gpu/device.js';
import type { Backend } from '../../src/backend/types.js';
import type { Example } from '../../src/data/dataset.js';
import { TRAINER_STATE, hfEpoch, hfLogEntries, metricsFromLogHistory, readTrainerState, sameLogHistory, type HfLogEntry } from '../../src/train/checkpoint.js';
import type { MetricRecord, TrainSettings } from '../../src/train/trainer.js';
import { Progress } from '../../src/train/progress.js';
import { sharedPath } from '../../src/util/paths.js';
import { runTinyTrainer, type TinyRunControl } from '../helpers/tiny_trainer.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const SKIP = modelDir ? false : 'shared/golden/tiny_biogpt is absent';

describe('HF log_history conversions', () => {
  it('a metrics row becomes a train log then an eval log, with HF key names, and converts back', () => {
    const rows = [
      { step: 0, epoch: 0, evalLoss: 6.5 },
      { step: 1, epoch: 0.25, loss: 6.25, lr: 1e-3, gradNorm: 0.5, tokensPerSec: 100, time: 1 },
      { step: 2, epoch: 0.5, loss: 6.0, lr: 5e-4, gradNorm: Number.NaN, evalLoss: 6.1, time: 2 },
    ];
    const h = rows.flatMap(hfLogEntries);
    assert.deepEqual(h.map((e) => Object.keys(e)), [
      ['eval_loss', 'epoch', 'step'],
      ['loss', 'grad_norm', 'learning_rate', 'epoch', 'step'],
      ['loss', 'grad_norm', 'learning_rate', 'epoch', 'step'],
      ['eval_loss', 'epoch', 'step'],
    ]);
    assert.deepEqual(h[1], { loss: 6.25, grad_norm: 0.5, learning_rate: 1e-3, epoch: 0.25, step: 1 });
    // written as JSON and read back: NaN is null on both sides
    const back = JSON.parse(JSON.stringify(h)) as HfLogEntry[];
    assert.equal(back[2]!.grad_norm, null);
    assert.ok(sameLogHistory(h, back));
    assert.ok(sameLogHistory(back.map((e) => Object.fromEntries(Object.entries(e).reverse())), h), 'key order does not matter');
    assert.ok(!sameLogHistory(h, back.slice(1)));
    assert.ok(!sameLogHistory(h, back.map((e, i) => (i === 1 ? { ...e, loss: 6.26 } : e))));
    assert.deepEqual(metricsFromLogHistory(back), [
      { step: 0, epoch: 0, evalLoss: 6.5 },
      { step: 1, epoch: 0.25, loss: 6.25, lr: 1e-3, gradNorm: 0.5 },
      { step: 2, epoch: 0.5, loss: 6.0, lr: 5e-4, gradNorm: null, evalLoss: 6.1 },
    ]);
  });
});

describe("HF's epoch (no GPU)", () => {
  it('is the micro-batches consumed over the micro-batches per epoch, the last update of an epoch taking those left', () => {
    // transformers: epoch + (step + 1 + steps_skipped) / len(train_dataloader), step counting micro-batches.
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((g) => hfEpoch(g, 10, 4)), [0, 0.4, 0.8, 1, 1.4, 1.8, 2]);
    assert.deepEqual([1, 2, 3, 5, 6].map((g) => hfEpoch(g, 10, 2)), [0.2, 0.4, 0.6, 1, 1.2], 'accumulation dividing the epoch: steps / steps per epoch');
    assert.deepEqual([1, 2, 3].map((g) => hfEpoch(g, 3, 4)), [1, 2, 3], 'an epoch shorter than one accumulation');
    assert.deepEqual([1, 2].map((g) => hfEpoch(g, 7, 1)), [1 / 7, 2 / 7]);
  });
});

const ex = (n: number, seed: number): Example[] => Array.from({ length: n }, (_, i) => ({
  id: `e${seed}-${i}`, inputIds: Int32Array.from({ length: 9 + ((i * 5 + seed) % 7) }, (_, t) => (t ? 10 + ((t * 3 + i + seed) % 11) : 2)), promptLength: 3, truncated: false,
}));
const trainSet = ex(20, 1);
const evalSet = ex(4, 2);
// 20 examples / (batch 2 × accum 2) = 5 steps per epoch; 7 steps run into the second epoch.
const settings: Partial<TrainSettings> = { batchSize: 2, gradAccum: 2, maxSteps: 7, evalEvery: 2, saveEvery: 2, evalOnStart: true, seed: 5, loraDropout: 0.1, lr: 1e-3, fp16: false };

let gpu: Backend;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-trainer-state-'));
before(async () => {
  if (!SKIP) gpu = await initWebGpuBackend();
});
after(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await shutdownGpu();
});
const run = (out: string, ctl: TinyRunControl = {}, progress: Progress | null = null) =>
  runTinyTrainer(gpu, modelDir!, { train: trainSet, eval: evalSet, outDir: out, settings, progress, report: false }, ctl);
const metricsFile = (out: string) => fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as MetricRecord);
const stateOf = (dir: string) => readTrainerState(dir);
/** log_history as written (JSON), for comparison with rows read back from metrics.jsonl. */
const asJson = (h: readonly HfLogEntry[]) => JSON.parse(JSON.stringify(h)) as HfLogEntry[];

describe('trainer_state.json HF fields (tiny BioGPT, WebGPU)', { skip: SKIP }, () => {
  it('log_history is metrics.jsonl up to the step in HF names; a resume continues it', async () => {
    const out = path.join(tmp, 'a');
    const first = await run(out, { stopAfter: 4 });
    assert.equal(first.lastCheckpoint, path.join(out, 'checkpoint-4'));
    const s2 = stateOf(path.join(out, 'checkpoint-2'));
    const s4 = stateOf(path.join(out, 'checkpoint-4'));
    const rows = metricsFile(out);
    assert.deepEqual(rows.map((r) => r.step), [0, 1, 2, 3, 4]);
    assert.deepEqual(s4.log_history, asJson(rows.flatMap(hfLogEntries)));
    assert.deepEqual(s2.log_history, asJson(rows.filter((r) => r.step <= 2).flatMap(hfLogEntries)));
    // the entries themselves: eval on start, then per step the train log and (every 2) the evaluation
    assert.deepEqual(s4.log_history!.map((e) => [e.step, 'eval_loss' in e ? 'eval' : 'train']), [[0, 'eval'], [1, 'train'], [2, 'train'], [2, 'eval'], [3, 'train'], [4, 'train'], [4, 'eval']]);
    const r1 = rows[1]!;
    assert.deepEqual(s4.log_history![1], { loss: r1.loss, grad_norm: r1.gradNorm, learning_rate: r1.lr, epoch: 0.2, step: 1 });
    assert.deepEqual(s4.log_history![6], { eval_loss: rows[4]!.evalLoss, epoch: 0.8, step: 4 });
    // HF's scalar fields
    assert.deepEqual(
      [s4.global_step, s4.max_steps, s4.num_train_epochs, s4.logging_steps, s4.eval_steps, s4.save_steps, s4.train_batch_size, s4.num_input_tokens_seen],
      [4, 7, 2, 1, 2, 2, 2, s4.tokensSeen],
    );
    assert.ok(s4.tokensSeen > 0);
    assert.equal(s4.epoch, 0.8);
    assert.deepEqual([s4.best_metric, s4.best_model_checkpoint, s4.best_global_step], [null, null, null], 'no best without loadBestModelAtEnd, as HF');
    assert.equal(s4.format, 'radgrad-trainer-1');

    const resumed = await run(out, { resume: path.join(out, 'checkpoint-2') });
    assert.equal(resumed.steps, 7);
    const all = metricsFile(out);
    assert.deepEqual(all.map((r) => r.step), [0, 1, 2, 3, 4, 5, 6, 7]);
    const s6 = stateOf(path.join(out, 'checkpoint-6'));
    const s7 = stateOf(path.join(out, 'checkpoint-7'));
    assert.deepEqual(s7.log_history, asJson(all.flatMap(hfLogEntries)), 'the last checkpoint holds the whole run');
    assert.deepEqual(s6.log_history, asJson(all.filter((r) => r.step <= 6).flatMap(hfLogEntries)));
    assert.deepEqual(s7.log_history!.slice(0, s2.log_history!.length), s2.log_history, 'the resumed checkpoint\'s history is kept as it was');
    // the resumed steps 3-4 repeat the first run's
    assert.deepEqual(s7.log_history!.slice(0, s4.log_history!.length), s4.log_history);
    assert.equal(s7.num_train_epochs, 2);
    assert.equal(s7.log_history!.at(-1)!.eval_loss, resumed.finalEvalLoss);
  });

  it('a checkpoint written before the HF fields resumes; later checkpoints get log_history from metrics.jsonl', async () => {
    const src = path.join(tmp, 'a');
    const out = path.join(tmp, 'old');
    fs.mkdirSync(out);
    fs.cpSync(path.join(src, 'checkpoint-4'), path.join(out, 'checkpoint-4'), { recursive: true });
    // metrics.jsonl as the first run left it (rows 0-4), plus a torn line from a crash
    const rows = metricsFile(src).filter((r) => r.step <= 4);
    fs.writeFileSync(path.join(out, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r) + '\n').join('') + '{"step": 5, "lo');
    const file = path.join(out, 'checkpoint-4', TRAINER_STATE);
    const st = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    const hfKeys = Object.keys(st).filter((k) => /^[a-z]+(_[a-z]+)+$/.test(k) || k === 'log_history');
    assert.ok(hfKeys.includes('log_history') && hfKeys.includes('global_step') && hfKeys.includes('best_metric'), hfKeys.join(','));
    for (const k of hfKeys) delete st[k];
    fs.writeFileSync(file, JSON.stringify(st, null, 2));
    assert.equal(stateOf(path.join(out, 'checkpoint-4')).log_history, undefined);

    const r = await run(out, { resume: path.join(out, 'checkpoint-4') });
    assert.equal(r.steps, 7);
    const all = metricsFile(out);
    assert.deepEqual(all.map((m) => m.step), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(all.slice(0, 5), rows, 'the rows up to the checkpoint are the file\'s');
    assert.deepEqual(stateOf(path.join(out, 'checkpoint-7')).log_history, asJson(all.flatMap(hfLogEntries)));
    // the same continuation as the run that had the HF fields
    assert.deepEqual(stateOf(path.join(out, 'checkpoint-7')).log_history, stateOf(path.join(src, 'checkpoint-7')).log_history);
  });

  it('epoch follows HF when gradient accumulation does not divide the epoch: metrics.jsonl, log_history and trainer_state.json agree', async () => {
    const out = path.join(tmp, 'accum');
    // 10 examples, batch 1: 10 micro-batches per epoch; accumulation 4: updates of 4, 4, 2 micro-batches.
    const r = await runTinyTrainer(gpu, modelDir!, {
      train: trainSet.slice(0, 10), outDir: out, progress: null, report: false,
      settings: { batchSize: 1, gradAccum: 4, maxSteps: 4, evalEvery: 0, saveEvery: 3, seed: 5, loraDropout: 0, lr: 1e-3, fp16: false },
    });
    assert.equal(r.steps, 4);
    const want = [0.4, 0.8, 1, 1.4];
    assert.deepEqual(metricsFile(out).map((m) => m.epoch), want, 'metrics.jsonl');
    const s4 = stateOf(path.join(out, 'checkpoint-4'));
    assert.deepEqual(s4.log_history!.map((e) => e.epoch), want, 'log_history');
    assert.equal(s4.epoch, 1.4);
    assert.equal(stateOf(path.join(out, 'checkpoint-3')).epoch, 1, 'the epoch\'s last update ends it');
    assert.equal(s4.num_train_epochs, 2);
  });

  it('a resume into a folder whose metrics.jsonl was rewritten by another run rebuilds the rows from the checkpoint\'s log_history', async () => {
    const src = path.join(tmp, 'a');
    const want = stateOf(path.join(src, 'checkpoint-4')).log_history!;
    const out = path.join(tmp, 'rewritten');
    fs.mkdirSync(out);
    fs.cpSync(path.join(src, 'checkpoint-4'), path.join(out, 'checkpoint-4'), { recursive: true });
    // Another run's rows in the same --out: other losses, and a step the checkpoint never saw.
    const other = metricsFile(src).filter((m) => m.step <= 5).map((m) => ({ ...m, ...(m.loss !== undefined ? { loss: m.loss + 1 } : {}) }));
    fs.writeFileSync(path.join(out, 'metrics.jsonl'), other.map((m) => JSON.stringify(m) + '\n').join(''));
    const logged: string[] = [];
    const progress = new Progress(7, { silent: false, stream: { write: (x: string) => logged.push(x), isTTY: false } as unknown as NodeJS.WriteStream });
    const r = await run(out, { resume: path.join(out, 'checkpoint-4') }, progress);
    assert.equal(r.steps, 7);
    assert.match(logged.join(''), /metrics\.jsonl does not hold the log_history of .*checkpoint-4 \(missing, or written by another run\).*rebuilt/);
    const all = metricsFile(out);
    assert.deepEqual(all.map((m) => m.step), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(asJson(all.filter((m) => m.step <= 4).flatMap(hfLogEntries)), want, 'the other run\'s rows are gone');
    assert.equal(all[1]!.time, undefined, 'rebuilt rows have no time');
    assert.deepEqual(stateOf(path.join(out, 'checkpoint-7')).log_history, stateOf(path.join(src, 'checkpoint-7')).log_history);
  });

  it('a resume whose metrics.jsonl does not hold the checkpoint\'s log_history rebuilds the rows from it', async () => {
    const src = path.join(tmp, 'a');
    const want = stateOf(path.join(src, 'checkpoint-4')).log_history!;
    const logged: string[] = [];
    const progress = new Progress(7, { silent: false, stream: { write: (x: string) => logged.push(x), isTTY: false } as unknown as NodeJS.WriteStream });
    // --out is another folder: no metrics.jsonl there
    const out = path.join(tmp, 'elsewhere');
    const r = await run(out, { resume: path.join(src, 'checkpoint-4') }, progress);
    assert.equal(r.steps, 7);
    assert.match(logged.join(''), /metrics\.jsonl does not hold the log_history of .*checkpoint-4 .*rebuilt/);
    const all = metricsFile(out);
    assert.deepEqual(all.map((m) => m.step), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(asJson(all.filter((m) => m.step <= 4).flatMap(hfLogEntries)), want);
    assert.equal(all[1]!.time, undefined, 'rebuilt rows have no time');
    assert.equal(typeof all[5]!.time, 'number');
    assert.deepEqual(stateOf(path.join(out, 'checkpoint-7')).log_history, stateOf(path.join(src, 'checkpoint-7')).log_history);
  });
});
