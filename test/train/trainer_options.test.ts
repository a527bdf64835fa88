/**
 * Trainer options HF/PEFT users expect (tiny golden BioGPT, WebGPU): saveTotalLimit keeps the newest
 * N checkpoints and never the one a resume started from; targetModules ["all-linear"] and useRslora
 * reach the LoRA layers and the saved adapter_config.json; and a maxLength above the model's
 * positions that would stop the run mid-way is refused before step 1.
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
import { loraModules } from '../../src/nn/lora.js';
import { listCheckpoints, readTrainerState } from '../../src/train/checkpoint.js';
import { TrainSettingsError, TrainerError, type TrainSettings } from '../../src/train/trainer.js';
import { sharedPath } from '../../src/util/paths.js';
import { runTinyTrainer, type TinyRunControl } from '../helpers/tiny_trainer.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const SKIP = modelDir ? false : 'shared/golden/tiny_biogpt is absent';

const ex = (n: number, len: number): Example[] => Array.from({ length: n }, (_, i) => ({ id: `e${i}`, inputIds: Int32Array.from({ length: len }, (_, t) => (t ? 10 + ((t + i) % 7) : 2)), promptLength: 3, truncated: false }));
const trainSet = ex(8, 12);
const base: Partial<TrainSettings> = { batchSize: 2, gradAccum: 1, maxSteps: 4, evalEvery: 0, saveEvery: 1, seed: 3, fp16: false };

let gpu: Backend;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-trainer-opts-'));
before(async () => {
  if (!SKIP) gpu = await initWebGpuBackend();
});
after(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await shutdownGpu();
});
const run = (out: string, settings: Partial<TrainSettings>, ctl: TinyRunControl = {}, train = trainSet, evalSet?: Example[]) =>
  runTinyTrainer(gpu, modelDir!, { train, ...(evalSet ? { eval: evalSet } : {}), outDir: out, settings: { ...base, ...settings }, progress: null, report: false }, ctl);
/** Examples whose completion is `tok` repeated: training on one token makes another's eval loss rise. */
const constant = (n: number, tok: number): Example[] => Array.from({ length: n }, (_, i) => ({ id: `c${tok}-${i}`, inputIds: Int32Array.from({ length: 12 }, (_, t) => (t === 0 ? 2 : t < 3 ? 20 + i : tok)), promptLength: 3, truncated: false }));

describe('Trainer options (tiny BioGPT, WebGPU)', { skip: SKIP }, () => {
  it('saveTotalLimit keeps the newest N checkpoints; the --resume checkpoint is never deleted', async () => {
    const out = path.join(tmp, 'limit');
    await run(out, { saveTotalLimit: 2 });
    assert.deepEqual(listCheckpoints(out), ['checkpoint-3', 'checkpoint-4']);
    const again = path.join(tmp, 'limit-resume');
    await run(again, {}, { stopAfter: 2 });
    assert.deepEqual(listCheckpoints(again), ['checkpoint-1', 'checkpoint-2']);
    await run(again, { saveTotalLimit: 1 }, { resume: path.join(again, 'checkpoint-1') });
    assert.deepEqual(listCheckpoints(again), ['checkpoint-1', 'checkpoint-4'], 'the resumed-from checkpoint stays, beside the newest');
  });

  it('loadBestModelAtEnd writes the lowest-eval-loss checkpoint as adapter/, records it in trainer_state.json and keeps it under saveTotalLimit', async () => {
    const out = path.join(tmp, 'best');
    const evalSet = [...constant(2, 11), ...constant(2, 10)];
    const r = await run(out, { loadBestModelAtEnd: true, evalEvery: 1, saveEvery: 2, maxSteps: 8, saveTotalLimit: 1, lr: 0.05, loraDropout: 0 }, {}, constant(8, 10), evalSet);
    const evals = r.metrics.filter((m) => m.evalLoss !== undefined).map((m) => [m.step, m.evalLoss!] as const);
    const saved = evals.filter(([step]) => step % 2 === 0);
    const [bestStep, bestLoss] = saved.reduce((a, b) => (b[1] < a[1] ? b : a));
    assert.notEqual(bestStep, 8, `the data should make the best an earlier checkpoint: ${JSON.stringify(evals)}`);
    assert.deepEqual(r.best, { step: bestStep, metric: bestLoss, checkpoint: path.join(out, `checkpoint-${bestStep}`) });
    assert.deepEqual(listCheckpoints(out), [`checkpoint-${bestStep}`, 'checkpoint-8'], 'the best stays beside the newest');
    const bytes = (d: string) => fs.readFileSync(path.join(d, 'adapter_model.safetensors'));
    assert.ok(bytes(path.join(out, 'adapter')).equals(bytes(r.best!.checkpoint)), "adapter/ is the best checkpoint's adapter");
    assert.ok(!bytes(path.join(out, 'adapter')).equals(bytes(path.join(out, 'checkpoint-8'))), 'not the last step');
    const st = readTrainerState(path.join(out, 'checkpoint-8'));
    assert.deepEqual([st.best_metric, st.best_model_checkpoint, st.best_global_step], [bestLoss, r.best!.checkpoint, bestStep]);
    // a resumed run takes the best from the checkpoint's trainer_state.json
    const resumed = path.join(tmp, 'best-resume');
    const settings = { loadBestModelAtEnd: true, evalEvery: 1, saveEvery: 2, maxSteps: 8, lr: 0.05, loraDropout: 0 };
    await run(resumed, settings, { stopAfter: bestStep }, constant(8, 10), evalSet);
    const r3 = await run(resumed, settings, { resume: path.join(resumed, `checkpoint-${bestStep}`) }, constant(8, 10), evalSet);
    assert.equal(r3.best?.step, bestStep);
    assert.ok(Math.abs(r3.best!.metric - bestLoss) < 1e-5, `${r3.best!.metric} vs ${bestLoss}`);
    assert.ok(bytes(path.join(resumed, 'adapter')).equals(bytes(path.join(resumed, `checkpoint-${bestStep}`))));
    // off: adapter/ is the last step, the best fields null (as HF without metric_for_best_model)
    const last = path.join(tmp, 'best-off');
    const r2 = await run(last, { evalEvery: 1, saveEvery: 2, maxSteps: 8, lr: 0.05, loraDropout: 0 }, {}, constant(8, 10), evalSet);
    assert.equal(r2.best, undefined);
    assert.ok(bytes(path.join(last, 'adapter')).equals(bytes(path.join(last, 'checkpoint-8'))));
    const off = readTrainerState(path.join(last, 'checkpoint-8'));
    assert.deepEqual([off.best_metric, off.best_model_checkpoint, off.best_global_step], [null, null, null]);
  });

  it('loadBestModelAtEnd refuses no eval set and save steps that are not a multiple of the eval steps', async () => {
    await assert.rejects(run(path.join(tmp, 'best-noeval'), { loadBestModelAtEnd: true, evalEvery: 1, saveEvery: 2 }), (e: unknown) => {
      assert.ok(e instanceof TrainerError, String(e));
      assert.match(e.message, /no eval set/);
      assert.match(e.hint!, /--eval-data/);
      return true;
    });
    for (const [evalEvery, saveEvery, setting] of [[2, 3, 'saveEvery'], [0, 2, 'evalEvery'], [2, 0, 'saveEvery']] as const) {
      await assert.rejects(run(path.join(tmp, 'best-bad'), { loadBestModelAtEnd: true, evalEvery, saveEvery }, {}, trainSet, trainSet), (e: unknown) => {
        assert.ok(e instanceof TrainSettingsError, String(e));
        assert.equal(e.setting, setting);
        assert.match(e.hint!, /multiple of evalEvery \(--eval-every\)/);
        return true;
      });
    }
  });

  it('targetModules ["all-linear"] puts LoRA on every projection and saves their paths', async () => {
    const out = path.join(tmp, 'all-linear');
    let paths: string[] = [];
    await run(out, { targetModules: ['all-linear'], maxSteps: 1 }, { inspect: (_t, m) => (paths = [...loraModules(m).keys()].sort()) });
    const want = [0, 1].flatMap((l) => ['fc1', 'fc2', 'self_attn.k_proj', 'self_attn.out_proj', 'self_attn.q_proj', 'self_attn.v_proj'].map((m) => `biogpt.layers.${l}.${m}`)).sort();
    assert.deepEqual(paths, want);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'adapter', 'adapter_config.json'), 'utf8')) as { target_modules: string[] };
    assert.deepEqual(cfg.target_modules, want);
  });

  it('useRslora trains with scaling alpha/sqrt(r), writes use_rslora and resumes with it', async () => {
    const out = path.join(tmp, 'rslora');
    let scaling = 0;
    await run(out, { useRslora: true, loraR: 4, loraAlpha: 8, maxSteps: 2 }, { stopAfter: 1, inspect: (_t, m) => (scaling = [...loraModules(m).values()][0]!.scaling) });
    assert.equal(scaling, 4);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint-1', 'adapter_config.json'), 'utf8')) as { use_rslora: boolean };
    assert.equal(cfg.use_rslora, true);
    let resumed = 0;
    await run(out, { useRslora: true, loraR: 4, loraAlpha: 8, maxSteps: 2 }, { resume: path.join(out, 'checkpoint-1'), inspect: (_t, m) => (resumed = [...loraModules(m).values()][0]!.scaling) });
    assert.equal(resumed, 4);
    assert.equal((JSON.parse(fs.readFileSync(path.join(out, 'adapter', 'adapter_config.json'), 'utf8')) as { use_rslora: boolean }).use_rslora, true);
  });

  it('maxLength above max_position_embeddings with a longer example is refused before step 1', async () => {
    const long = [...trainSet, ...ex(1, 70)]; // the tiny model has 64 positions
    await assert.rejects(run(path.join(tmp, 'long'), { maxLength: 100 }, {}, long), (e: unknown) => {
      assert.ok(e instanceof TrainerError, String(e));
      assert.match(e.message, /^maxLength 100 exceeds the model's 64 positions \(max_position_embeddings\), and 1 training \/ 0 eval examples are longer than 64 tokens$/);
      assert.match(e.hint!, /at most 64/);
      return true;
    });
    // cut to maxLength 64 it fits
    assert.equal((await run(path.join(tmp, 'long-ok'), { maxLength: 64, maxSteps: 1, saveEvery: 0 }, {}, long)).steps, 1);
  });
});
