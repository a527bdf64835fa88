/**
 * Trainer setting gradientCheckpointing (--gradient-checkpointing): on the tiny golden BioGPT with
 * LoRA dropout 0.1, 4 steps with it give the same loss curve, eval losses and grad norms as 4 steps
 * without it, and a run interrupted after 2 steps and resumed with checkpointing on continues that
 * same curve (the dropout counters a checkpoint saves advance as without recomputation). And the
 * setting attnImplementation (--attn-implementation): 'flash' switches every attention layer to the
 * fused kernels and follows the eager curve (same dropout mask; rounding only).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import type { Backend } from '../../src/backend/types.js';
import { Rng } from '../../src/data/rng.js';
import type { Example } from '../../src/data/dataset.js';
import type { TrainSettings } from '../../src/train/trainer.js';
import { sharedPath } from '../../src/util/paths.js';
import { runTinyTrainer } from '../helpers/tiny_trainer.js';
import { BioGptAttention } from '../../src/models/biogpt/attention.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const SKIP = modelDir ? false : 'shared/golden/tiny_biogpt is absent';

function examples(n: number, seed: number): Example[] {
  const r = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const len = 8 + Math.floor(r.next() * 14);
    const ids = Int32Array.from({ length: len }, (_, t) => (t === 0 ? 2 : 10 + ((t * 5 + i) % 40)));
    return { id: `ex${i}`, inputIds: ids, promptLength: 3, truncated: false };
  });
}

let gpu: Backend;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-gc-'));
before(async () => {
  if (!SKIP) gpu = await initWebGpuBackend();
});
after(async () => {
  fs.rmSync(tmp, { recursive: true, force: true });
  await shutdownGpu();
});

const base: Partial<TrainSettings> = { batchSize: 2, gradAccum: 2, maxSteps: 4, evalEvery: 2, saveEvery: 0, seed: 3, loraDropout: 0.1, lr: 1e-3, fp16: false };
const trainSet = examples(16, 1);
const evalSet = examples(4, 2);

const run = (out: string, settings: Partial<TrainSettings>, extra: { resume?: string; stopAfter?: number } = {}) =>
  runTinyTrainer(gpu, modelDir!, { train: trainSet, eval: evalSet, outDir: out, settings, progress: null, report: false }, {
    ...extra,
    inspect: (_, model) => assert.equal(model.biogpt.gradientCheckpointing, !!settings.gradientCheckpointing),
  });

describe('Trainer gradientCheckpointing', { skip: SKIP }, () => {
  it('same losses, eval losses and grad norms; resume with it continues the same curve', async () => {
    const plain = await run(path.join(tmp, 'plain'), base);
    const ck = await run(path.join(tmp, 'ck'), { ...base, gradientCheckpointing: true });
    assert.equal(ck.metrics.length, 4);
    for (const [i, m] of plain.metrics.entries()) {
      const c = ck.metrics[i]!;
      assert.ok(Math.abs(c.loss! - m.loss!) <= 1e-6 * Math.abs(m.loss!), `step ${m.step} loss ${c.loss} vs ${m.loss}`);
      assert.ok(Math.abs(c.gradNorm! - m.gradNorm!) <= 1e-5 * m.gradNorm!, `step ${m.step} grad norm ${c.gradNorm} vs ${m.gradNorm}`);
      if (m.evalLoss !== undefined) assert.ok(Math.abs(c.evalLoss! - m.evalLoss) <= 1e-6 * m.evalLoss, `step ${m.step} eval ${c.evalLoss} vs ${m.evalLoss}`);
    }
    // The plain run's steps differ from each other (dropout and updates are real).
    assert.notEqual(plain.metrics[0]!.loss, plain.metrics[1]!.loss);
    const out = path.join(tmp, 'resumed');
    const first = await run(out, { ...base, gradientCheckpointing: true }, { stopAfter: 2 });
    assert.ok(first.interrupted && first.lastCheckpoint);
    const rest = await run(out, { ...base, gradientCheckpointing: true }, { resume: first.lastCheckpoint! });
    const curve = rest.metrics.map((m) => m.loss!);
    plain.metrics.forEach((m, i) => assert.ok(Math.abs(curve[i]! - m.loss!) <= 1e-6 * Math.abs(m.loss!), `resumed step ${m.step}: ${curve[i]} vs ${m.loss}`));
  });
});

describe('Trainer attnImplementation', { skip: SKIP }, () => {
  it("'flash' runs the fused kernels in every layer and follows the eager loss curve", async () => {
    const eager = await run(path.join(tmp, 'eager'), base);
    const flash = await runTinyTrainer(gpu, modelDir!, { train: trainSet, eval: evalSet, outDir: path.join(tmp, 'flash'), settings: { ...base, attnImplementation: 'flash' }, progress: null, report: false }, {
      inspect: (_, model) => {
        const impls = model.namedModules().filter(([, m]) => m instanceof BioGptAttention).map(([, m]) => (m as BioGptAttention).attnImplementation);
        assert.ok(impls.length > 0 && impls.every((i) => i === 'flash'), `attention implementations: ${impls}`);
      },
    });
    assert.equal(flash.metrics.length, 4);
    for (const [i, m] of eager.metrics.entries()) {
      const f = flash.metrics[i]!;
      assert.ok(Math.abs(f.loss! - m.loss!) <= 1e-4 * Math.abs(m.loss!), `step ${m.step} loss ${f.loss} vs ${m.loss}`);
      assert.ok(Math.abs(f.gradNorm! - m.gradNorm!) <= 1e-3 * m.gradNorm!, `step ${m.step} grad norm ${f.gradNorm} vs ${m.gradNorm}`);
    }
  });
});
