/**
 * Trainer settings are checked for type and range (TrainSettingsError names the setting, what was
 * expected and what was got, with a hint): fractional warmupSteps (HF's warmup_ratio), unknown
 * schedule names, negative weight decay and clip, dropout >= 1, 'constant' with warmup. On the tiny
 * golden BioGPT (WebGPU), warmupRatio sets the warmup the trainer uses and baseModelNameOrPath
 * goes into adapter_config.json.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { DEFAULT_TRAIN_SETTINGS, TrainSettingsError, checkTrainSettings, resolveTrainSettings, resumeDifferences } from '../../src/train/settings.js';
import type { Example } from '../../src/data/dataset.js';
import { sharedPath } from '../../src/util/paths.js';
import { runTinyTrainer } from '../helpers/tiny_trainer.js';

function rejects(s: Record<string, unknown>, setting: string, re: RegExp, hint?: RegExp): void {
  assert.throws(() => checkTrainSettings(s, 'test'), (e: unknown) => {
    assert.ok(e instanceof TrainSettingsError, String(e));
    assert.equal(e.setting, setting);
    assert.match(e.message, re);
    assert.ok(e.hint, 'has a hint');
    if (hint) assert.match(e.hint, hint);
    return true;
  });
}

describe('checkTrainSettings', () => {
  it('accepts the defaults and HF schedule names', () => {
    checkTrainSettings({ ...DEFAULT_TRAIN_SETTINGS });
    for (const schedule of ['linear', 'cosine', 'constant', 'constant_with_warmup']) checkTrainSettings({ schedule });
    checkTrainSettings({ schedule: 'constant_with_warmup', warmupSteps: 10 });
    checkTrainSettings({ warmupRatio: 0.1, maxGradNorm: 0, weightDecay: 0.01, maxSteps: 0, loraDropout: 0 });
  });
  it('refuses wrong types and ranges, naming the setting, expected and got', () => {
    rejects({ warmupSteps: 0.1 }, 'warmupSteps', /test: setting 'warmupSteps' expected an integer >= 0, got 0\.1/, /warmupRatio/);
    rejects({ schedule: 'cosine_with_restarts' }, 'schedule', /expected one of linear, cosine, constant, constant_with_warmup, got "cosine_with_restarts"/, /constant_with_warmup/);
    rejects({ weightDecay: -0.1 }, 'weightDecay', /expected a finite number >= 0, got -0\.1/);
    rejects({ maxGradNorm: -1 }, 'maxGradNorm', /expected a finite number >= 0/);
    rejects({ loraDropout: 1 }, 'loraDropout', /expected a number in \[0, 1\), got 1/);
    rejects({ maxSteps: -1 }, 'maxSteps', /expected an integer >= 0/);
    rejects({ batchSize: '4' }, 'batchSize', /expected a positive integer, got "4"/);
    rejects({ epochs: 1.5 }, 'epochs', /expected a positive integer/);
    rejects({ warmupRatio: 1.5 }, 'warmupRatio', /expected a number in \[0, 1\]/);
    rejects({ lr: Number.NaN }, 'lr', /expected a finite number >= 0/);
    rejects({ betas: [0.9] }, 'betas', /expected two numbers in \[0, 1\)/);
    rejects({ targetModules: 'q_proj' }, 'targetModules', /expected a non-empty list/);
    rejects({ fp16: 'yes' }, 'fp16', /expected true or false/);
    rejects({ warmup_steps: 10 }, 'warmup_steps', /known settings/, /warmupSteps/);
    rejects({ baseModelNameOrPath: '' }, 'baseModelNameOrPath', /expected a non-empty string or null/, /microsoft\/biogpt/);
  });
  it("'constant' is HF's constant schedule: with warmup it is refused, pointing to constant_with_warmup", () => {
    rejects({ schedule: 'constant', warmupSteps: 5 }, 'schedule', /expected 'constant_with_warmup' when warming up, got "constant"/, /warmupSteps 5 would be ignored/);
    rejects({ schedule: 'constant', warmupRatio: 0.1 }, 'schedule', /constant_with_warmup/, /warmupRatio 0\.1/);
  });
  it('resolveTrainSettings: undefined does not override a default', () => {
    const s = resolveTrainSettings({ lr: undefined, warmupRatio: 0.2 });
    assert.equal(s.lr, DEFAULT_TRAIN_SETTINGS.lr);
    assert.equal(s.warmupRatio, 0.2);
    assert.throws(() => resolveTrainSettings({ warmupSteps: 0.5 }), TrainSettingsError);
  });
});

describe('resumeDifferences', () => {
  const now = resolveTrainSettings({ lr: 1e-4, targetModules: ['v_proj', 'q_proj'] });
  it('lists each setting that matters, old checkpoints counting missing settings as defaults', () => {
    const saved = { ...now, targetModules: ['q_proj', 'v_proj'], evalEvery: 7, fp16: false } as Record<string, unknown>;
    assert.deepEqual(resumeDifferences(saved, now), [], 'order of targets, eval cadence and precision do not matter');
    delete saved.warmupRatio; // written before warmupRatio existed
    assert.deepEqual(resumeDifferences(saved, now), []);
    assert.deepEqual(resumeDifferences({ ...saved, lr: 2e-4, gradAccum: 2, betas: [0.9, 0.99] }, now), [
      { name: 'gradAccum', checkpoint: 2, now: 4 }, { name: 'lr', checkpoint: 2e-4, now: 1e-4 }, { name: 'betas', checkpoint: [0.9, 0.99], now: [0.9, 0.999] },
    ]);
  });
  it('compares the data keys both sides recorded', () => {
    assert.deepEqual(resumeDifferences({ ...now }, now, { evalFraction: 0.05, trainExamples: 9 }, { evalFraction: 0.1, trainExamples: 9, evalData: 'x' }), [{ name: 'data.evalFraction', checkpoint: 0.05, now: 0.1 }]);
    assert.deepEqual(resumeDifferences({ ...now }, now, undefined, { evalFraction: 0.1 }), [], 'a checkpoint without data (older) is not compared');
  });
});

const modelDir = sharedPath('golden', 'tiny_biogpt');
describe('Trainer warmupRatio (tiny BioGPT, WebGPU)', { skip: !modelDir && 'shared/golden/tiny_biogpt is absent' }, () => {
  after(() => shutdownGpu());
  it('warms up over ceil(ratio · total steps); constant_with_warmup then stays', async () => {
    const gpu = await initWebGpuBackend();
    const train: Example[] = Array.from({ length: 4 }, (_, i) => ({ id: `e${i}`, inputIds: Int32Array.from([2, 10 + i, 11, 12, 13, 14]), promptLength: 2, truncated: false }));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-settings-'));
    try {
      const base = { batchSize: 1, gradAccum: 1, maxSteps: 4, evalEvery: 0, saveEvery: 0, fp16: false, lr: 1e-3, warmupRatio: 0.3 };
      let warm = -1;
      const lin = await runTinyTrainer(gpu, modelDir!, { train, outDir: out, settings: base, progress: null, report: false }, { inspect: (t) => (warm = t.warmupSteps) });
      assert.equal(warm, 2, 'ceil(0.3 · 4)');
      assert.deepEqual(lin.metrics.map((m) => m.lr), [0, 0.5e-3, 1e-3, 0.5e-3]);
      const cw = await runTinyTrainer(gpu, modelDir!, { train, outDir: out, settings: { ...base, schedule: 'constant_with_warmup' }, progress: null, report: false });
      assert.deepEqual(cw.metrics.map((m) => m.lr), [0, 0.5e-3, 1e-3, 1e-3]);

      // base_model_name_or_path: the setting, else reportSettings.model (what the CLI's --model gives), else null
      const written = async (settings: Record<string, unknown>, reportSettings?: Record<string, unknown>) => {
        await runTinyTrainer(gpu, modelDir!, { train, outDir: out, settings: { ...base, maxSteps: 1, ...settings }, progress: null, report: false, ...(reportSettings ? { reportSettings } : {}) });
        return (JSON.parse(fs.readFileSync(path.join(out, 'adapter', 'adapter_config.json'), 'utf8')) as Record<string, unknown>).base_model_name_or_path;
      };
      assert.equal(await written({ baseModelNameOrPath: 'microsoft/biogpt' }, { model: 'models/biogpt' }), 'microsoft/biogpt');
      assert.equal(await written({}, { model: 'models/biogpt' }), 'models/biogpt');
      assert.equal(await written({}), null);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
