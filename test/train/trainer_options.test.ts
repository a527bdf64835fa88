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
import { listCheckpoints } from '../../src/train/checkpoint.js';
import { TrainerError, type TrainSettings } from '../../src/train/trainer.js';
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
const run = (out: string, settings: Partial<TrainSettings>, ctl: TinyRunControl = {}, train = trainSet) =>
  runTinyTrainer(gpu, modelDir!, { train, outDir: out, settings: { ...base, ...settings }, progress: null, report: false }, ctl);

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
