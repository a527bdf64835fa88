/**
 * Trainer settings checked against the model (tiny golden BioGPT, WebGPU): a maxLength above the
 * model's positions that would stop the run mid-way is refused before step 1.
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

describe('Trainer settings against the model (tiny BioGPT, WebGPU)', { skip: SKIP }, () => {
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
