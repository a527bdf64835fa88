/**
 * Trainer on the tiny golden BioGPT (WebGPU): resume continues the same loss curve (6 steps straight
 * vs 3, Ctrl-C-style abort + checkpoint, resume, 3 more; losses equal within 1e-6), gradient
 * accumulation is the token mean over the whole accumulated batch (batch 2 × accum 2 == batch 4 ×
 * accum 1), the outputs exist (metrics.jsonl, adapter, checkpoint, report.html). Plus schedule and
 * loss-scaler units.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gpu as gpuCtx, shutdownGpu } from '../../src/gpu/device.js';

/** What the adapter offers (fp16 training needs shader-f16; NVIDIA exposes it only with the unsafe toggles). */
const gpuCaps = () => gpuCtx().caps;
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import type { Backend } from '../../src/backend/types.js';
import { Rng } from '../../src/data/rng.js';
import type { Example } from '../../src/data/dataset.js';
import { NonFiniteGradientError, ResumeMismatchError, Trainer, type TrainSettings } from '../../src/train/trainer.js';
import { withBackend } from '../../src/backend/registry.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { collate } from '../../src/data/collator.js';
import { loraModules } from '../../src/nn/lora.js';
import { Progress } from '../../src/train/progress.js';
import { lrFactor } from '../../src/train/schedule.js';
import { LossScaler } from '../../src/train/loss_scale.js';
import { sharedPath } from '../../src/util/paths.js';
import { runTinyTrainer } from '../helpers/tiny_trainer.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const SKIP = modelDir ? false : 'shared/golden/tiny_biogpt is absent';

function examples(n: number, seed: number): Example[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const len = 8 + Math.floor(r.next() * 14);
    // A learnable pattern (a few repeating 4-grams) so the loss can visibly fall in a few steps.
    const pat = [10 + r.int(4) * 4, 11, 12, 13].map((v, k) => (k ? v + r.int(1) + 0 : v));
    const ids = Int32Array.from({ length: len }, (_, t) => (t === 0 ? 2 : pat[t % 4]! + (t % 4 ? pat[0]! - 10 : 0)));
    return { id: `ex${i}`, inputIds: ids, promptLength: 3 + Math.floor(r.next() * 3), truncated: false };
  });
}

let gpu: Backend;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-trainer-'));
before(async () => {
  if (!SKIP) gpu = await initWebGpuBackend();
});
after(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await shutdownGpu();
});

const base: Partial<TrainSettings> = { batchSize: 2, gradAccum: 2, maxSteps: 6, evalEvery: 3, saveEvery: 0, seed: 7, loraDropout: 0.1, lr: 1e-3 };
const trainSet = examples(20, 1);
const evalSet = examples(6, 2);

const run = (out: string, settings: Partial<TrainSettings>, extra: { resume?: string; stopAfter?: number } = {}) =>
  runTinyTrainer(gpu, modelDir!, { train: trainSet, eval: evalSet, outDir: out, settings, f16Available: gpuCaps().f16, progress: null }, extra);

describe('Trainer (tiny BioGPT, WebGPU)', { skip: SKIP }, () => {
  it('resumes onto the same loss curve (6 straight vs 3 + interrupt + resume + 3)', async () => {
    const straight = await run(path.join(tmp, 'a'), base);
    assert.equal(straight.steps, 6);
    assert.ok(!straight.interrupted);
    const first = await run(path.join(tmp, 'b'), base, { stopAfter: 3 });
    assert.ok(first.interrupted);
    assert.equal(first.steps, 3);
    assert.equal(path.basename(first.lastCheckpoint!), 'checkpoint-3');
    const resumed = await run(path.join(tmp, 'b'), base, { resume: first.lastCheckpoint! });
    assert.equal(resumed.steps, 6);
    const la = straight.metrics.map((m) => m.loss!);
    const lb = resumed.metrics.map((m) => m.loss!);
    assert.equal(lb.length, 6, 'metrics history carried over');
    const maxDiff = Math.max(...la.map((v, i) => Math.abs(v - lb[i]!)));
    console.log(`losses straight ${la.map((v) => v.toFixed(6)).join(' ')}\nlosses resumed  ${lb.map((v) => v.toFixed(6)).join(' ')}\nmax |Δ| ${maxDiff.toExponential(2)}`);
    assert.ok(maxDiff <= 1e-6, `resumed curve differs by ${maxDiff}`);
    const ea = straight.finalEvalLoss!;
    const eb = resumed.finalEvalLoss!;
    assert.ok(Math.abs(ea - eb) <= 1e-6, `eval loss ${ea} vs ${eb}`);
    const ev = straight.metrics.filter((m) => m.evalLoss !== undefined).map((m) => m.evalLoss!);
    console.log(`eval loss at steps 3, 6: ${ev.map((v) => v.toFixed(4)).join(', ')}`);
    assert.ok(ev[1]! < ev[0]!, 'held-out loss falls');
    for (const f of ['metrics.jsonl', 'report.html', 'adapter/adapter_model.safetensors', 'checkpoint-6/trainer_state.json', 'checkpoint-6/optimizer.safetensors']) {
      assert.ok(fs.existsSync(path.join(tmp, 'b', f)), f);
    }
    const lines = fs.readFileSync(path.join(tmp, 'b', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    assert.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4, 5, 6]);
    for (const k of ['step', 'epoch', 'loss', 'lr', 'tokensPerSec', 'lossScale', 'gradNorm', 'time']) assert.ok(k in lines[0]!, k);
    assert.equal(lines[0]!.lossScale, gpuCaps().f16 ? 65536 : 1); // loss scaling only with fp16 (shader-f16)
  });

  it('gradient accumulation is the token mean over the accumulated batch', async () => {
    const s = { ...base, maxSteps: 1, loraDropout: 0, evalEvery: 0 };
    const a = await run(path.join(tmp, 'c'), { ...s, batchSize: 2, gradAccum: 2 });
    const b = await run(path.join(tmp, 'd'), { ...s, batchSize: 4, gradAccum: 1 });
    const [ma, mb] = [a.metrics[0]!, b.metrics[0]!];
    console.log(`accum 2x2: loss ${ma.loss} norm ${ma.gradNorm}; batch 4: loss ${mb.loss} norm ${mb.gradNorm}`);
    assert.ok(Math.abs(ma.loss! - mb.loss!) <= 1e-5 * mb.loss!);
    assert.ok(Math.abs(ma.gradNorm! - mb.gradNorm!) <= 1e-4 * mb.gradNorm!);
  });

  it('evalOnStart records the untrained held-out loss as step 0, once (not again on resume)', async () => {
    const s = { ...base, evalOnStart: true };
    const out = path.join(tmp, 'e');
    const first = await run(out, s, { stopAfter: 3 });
    const resumed = await run(out, s, { resume: first.lastCheckpoint! });
    const plain = await run(path.join(tmp, 'f'), base, { stopAfter: 3 });
    assert.deepEqual(resumed.metrics.map((m) => m.step), [0, 1, 2, 3, 4, 5, 6]);
    const e0 = resumed.metrics[0]!;
    assert.equal(e0.loss, undefined, 'step 0 has no train loss');
    const evals = resumed.metrics.filter((m) => m.evalLoss !== undefined).map((m) => m.evalLoss!);
    console.log(`eval loss at steps 0, 3, 6: ${evals.map((v) => v.toFixed(4)).join(', ')}`);
    assert.equal(evals.length, 3);
    assert.ok(evals[2]! < evals[1]! && evals[1]! < evals[0]!, 'held-out loss falls from the untrained adapter');
    // the step-0 evaluation is read-only: the run continues exactly as one without it
    assert.deepEqual(plain.metrics.map((m) => m.step), [1, 2, 3]);
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(plain.metrics[i]!.loss! - resumed.metrics[i + 1]!.loss!) <= 1e-6, `step ${i + 1} loss`);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    assert.ok(!/NaN/.test(html), 'report has no NaN');
  });

  it('metrics.jsonl: a fresh run starts it anew; a resume keeps only the rows up to the checkpoint', async () => {
    const out = path.join(tmp, 'g');
    const steps = () => fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number }).step);
    const s = { ...base, maxSteps: 4, saveEvery: 2, evalEvery: 0 };
    await run(out, s);
    assert.deepEqual(steps(), [1, 2, 3, 4]);
    await run(out, { ...s, maxSteps: 2 }); // a second fresh run into the same --out
    assert.deepEqual(steps(), [1, 2], "the earlier run's rows are gone");
    await run(out, s); // steps 1-4 again, checkpoint-2 and -4
    // as after a crash at step 4: resuming from checkpoint-2 undoes steps 3 and 4, in the file too
    const r = await run(out, s, { resume: path.join(out, 'checkpoint-2') });
    assert.deepEqual(r.metrics.map((m) => m.step), [1, 2, 3, 4]);
    assert.deepEqual(steps(), [1, 2, 3, 4]);
  });

  it('resume compares the settings that matter with the checkpoint (and the eval split it saved)', async () => {
    const out = path.join(tmp, 'h');
    const s = { ...base, maxSteps: 4, evalEvery: 0 };
    const data = { evalFraction: 0.05 };
    const first = await runTinyTrainer(gpu, modelDir!, { train: trainSet, eval: evalSet, outDir: out, settings: s, dataSettings: data, progress: null, report: false }, { stopAfter: 2 });
    const ckpt = first.lastCheckpoint!;
    const state = JSON.parse(fs.readFileSync(path.join(ckpt, 'trainer_state.json'), 'utf8')) as { data: Record<string, unknown> };
    assert.deepEqual(state.data, { trainExamples: 20, evalExamples: 6, evalFraction: 0.05 });
    const resume = (settings: Partial<TrainSettings>, extra: Record<string, unknown> = {}) =>
      runTinyTrainer(gpu, modelDir!, { train: trainSet, eval: evalSet, outDir: out, settings, dataSettings: data, progress: null, report: false, ...extra }, { resume: ckpt });
    await assert.rejects(resume({ ...s, lr: 5e-4, seed: 8, loraR: 4, warmupSteps: 1 }), (e: unknown) => {
      assert.ok(e instanceof ResumeMismatchError, String(e));
      assert.deepEqual(e.differences.map((d) => d.name), ['seed', 'lr', 'warmupSteps', 'loraR']);
      assert.match(e.message, /lr: checkpoint 0\.001, this run 0\.0005/);
      assert.match(e.hint!, /same flags/);
      return true;
    });
    await assert.rejects(resume(s, { dataSettings: { evalFraction: 0.1 } }), /data\.evalFraction: checkpoint 0\.05, this run 0\.1/);
    await assert.rejects(resume(s, { eval: evalSet.slice(1) }), /data\.evalExamples: checkpoint 6, this run 5/);
    // the same settings (target modules in another order) resume; an explicit override continues with the new lr
    assert.equal((await resume({ ...s, targetModules: ['v_proj', 'q_proj'] })).steps, 4);
    const logged: string[] = [];
    const r = await resume({ ...s, lr: 5e-4 }, { allowSettingChanges: true, progress: new Progress(4, { silent: false, stream: { write: (x: string) => logged.push(x), isTTY: false } as unknown as NodeJS.WriteStream }) });
    assert.equal(r.steps, 4);
    assert.deepEqual(r.metrics.map((m) => +m.lr!.toExponential(6)), [1e-3, 7.5e-4, 2.5e-4, 1.25e-4], 'steps 3-4 use the new lr');
    assert.match(logged.join(''), /--allow-setting-changes: .*\n  lr: checkpoint 0\.001, this run 0\.0005/);
  });

  it('non-finite gradients: f32 says so (no loss-scale talk) and stops after N skips in a row; fp16 stops below scale 2^-24', async () => {
    const nanB = (_t: unknown, model: { namedModules(): Array<[string, unknown]> }) => {
      const l = [...loraModules(model as never).values()][0]!;
      l.lora_B.loadStateDict({ weight: { shape: [...l.lora_B.weight.shape], data: new Float32Array(l.lora_B.weight.size).fill(Number.NaN) } });
    };
    const capture = () => {
      const lines: string[] = [];
      return { lines, progress: new Progress(6, { stream: { write: (x: string) => lines.push(x), isTTY: false } as unknown as NodeJS.WriteStream }) };
    };
    const cases: Array<{ name: string; fp16: boolean; extra: Record<string, unknown>; skips: number; re: RegExp }> = [
      { name: 'f32', fp16: false, extra: { maxConsecutiveSkips: 3 }, skips: 3, re: /non-finite \(NaN\/inf\) in float32 for 3 steps in a row/ },
    ];
    if (gpuCaps().f16) cases.push({ name: 'fp16', fp16: true, extra: { lossScaler: { initScale: 2 ** -22 } }, skips: 3, re: /loss scale fell to 2\.98\d*e-8 \(below 2\^-24\) after 3 skipped steps/ });
    for (const c of cases) {
      const out = path.join(tmp, `nan-${c.name}`);
      const { lines, progress } = capture();
      await assert.rejects(
        runTinyTrainer(gpu, modelDir!, { train: trainSet, outDir: out, settings: { ...base, maxSteps: 6, evalEvery: 0, fp16: c.fp16 }, f16Available: gpuCaps().f16, progress, report: false, ...c.extra }, { inspect: nanB }),
        (e: unknown) => {
          assert.ok(e instanceof NonFiniteGradientError, String(e));
          assert.equal(e.step, c.skips);
          assert.match(e.message, c.re);
          assert.match(e.message, /weights are those of step 0; no adapter was written/);
          assert.ok(e.hint);
          return true;
        },
      );
      const log = lines.join('');
      if (!c.fp16) {
        assert.match(log, /step 1: non-finite gradient norm \(NaN\/inf\) in float32, step skipped/);
        assert.doesNotMatch(log, /loss scale now/);
      }
      assert.ok(!fs.existsSync(path.join(out, 'adapter')), 'no adapter from a failed run');
      const rows = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; skipped?: boolean });
      assert.deepEqual(rows.map((r) => [r.step, r.skipped]), [[1, true], [2, true], [3, true]]);
    }
  });

  it('evaluate() is the token mean over the whole held-out set, not HF eval_loss (mean of batch means by batch size)', async () => {
    await withBackend(gpu, async () => {
      const model = BioGptForCausalLM.fromPretrained(modelDir!);
      try {
        const t = new Trainer({ model, train: trainSet, eval: evalSet, outDir: path.join(tmp, 'ev'), settings: { ...base, fp16: false }, progress: null, report: false });
        const all = (await t.evaluate())!;
        let [tokSum, tokN, hfSum, hfN] = [0, 0, 0, 0];
        for (let i = 0; i < evalSet.length; i += base.batchSize!) {
          const batch = evalSet.slice(i, i + base.batchSize!);
          const l = (await t.evaluate(batch))!; // that batch's token mean, as HF's per-batch loss
          const n = collate(batch, { padId: 1, padding: 'longest' }).numTargetTokens;
          [tokSum, tokN, hfSum, hfN] = [tokSum + l * n, tokN + n, hfSum + l * batch.length, hfN + batch.length];
        }
        console.log(`eval loss: radgrad (token mean) ${all.toFixed(6)}, HF-style (batch means × batch size) ${(hfSum / hfN).toFixed(6)}`);
        assert.ok(Math.abs(all - tokSum / tokN) <= 1e-5 * all, 'token mean over the set');
        assert.ok(Math.abs(all - hfSum / hfN) > 1e-4, 'differs from the HF aggregation when batches hold different token counts');
      } finally {
        model.dispose();
      }
    });
  });
});

describe('schedule and loss scaler', () => {
  it('linear schedule with warmup as transformers', () => {
    const o = { warmupSteps: 2, totalSteps: 10 };
    assert.deepEqual([0, 1, 2, 6, 10, 11].map((s) => lrFactor(s, o)), [0, 0.5, 1, 0.5, 0, 0]);
    assert.equal(lrFactor(0, { totalSteps: 4 }), 1);
  });
  it('GradScaler semantics', () => {
    const s = new LossScaler({ growthInterval: 3 });
    assert.equal(s.scale, 65536);
    assert.equal(s.update(Infinity), false);
    assert.equal(s.scale, 32768);
    assert.equal(s.update(NaN), false);
    assert.equal(s.scale, 16384);
    for (let i = 0; i < 3; i++) assert.equal(s.update(1), true);
    assert.equal(s.scale, 32768);
    const off = new LossScaler({ enabled: false });
    assert.equal(off.scale, 1);
    assert.equal(off.update(1), true);
  });
});
