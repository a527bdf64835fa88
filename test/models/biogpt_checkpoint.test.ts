/**
 * Gradient checkpointing on the tiny golden BioGPT with LoRA (r 8, alpha 16, dropout 0.1, q/v) and
 * every model dropout at 0.1 (config edited in a temp copy), float32 and int8 base: the loss, the
 * LoRA gradients, the gradient reaching the layer inputs (embedding table made trainable) and the
 * dropout counters after the step equal a plain step's; the peak of GPU bytes in use is lower.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gpu, shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { backward } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import '../../src/ops/index.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { quantizeInt8 } from '../../src/models/biogpt/quantize.js';
import { applyLora } from '../../src/nn/lora.js';
import { reseedDropout } from '../../src/nn/dropout.js';
import { sharedPath } from '../../src/util/paths.js';
import { assertClose } from '../helpers/compare.js';
import { randValues } from '../helpers/ops_harness.js';
import { dropoutCalls, takeGrads } from '../helpers/model_grads.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const SKIP = !modelDir ? 'shared/golden/tiny_biogpt is absent' : false;

let be: Backend;
let dir: string;
before(async () => {
  if (SKIP) return;
  be = await initWebGpuBackend();
  // The golden config has every dropout at 0; the recompute must replay real masks.
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-ckpt-'));
  for (const f of fs.readdirSync(modelDir!)) fs.copyFileSync(path.join(modelDir!, f), path.join(dir, f));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  Object.assign(cfg, { hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, activation_dropout: 0.1 });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
});
after(async () => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  await shutdownGpu();
});

const [B, T, V] = [3, 37, 512];
const idsOf = (seed: number) => Int32Array.from(randValues(B * T, seed, 0, 1), (u) => Math.min(V - 1, 3 + Math.floor(u * (V - 3))));

interface StepResult {
  loss: number;
  grads: Map<string, Float32Array>;
  calls: number[];
  peak: number;
}

async function step(model: BioGptForCausalLM, ck: boolean): Promise<StepResult> {
  model.gradientCheckpointingEnable(ck);
  reseedDropout(model, 1234);
  const ids = idsOf(5);
  const mask = Int32Array.from({ length: B * T }, (_, i) => (i % T < T - 4 * (Math.floor(i / T) % 2) ? 1 : 0)); // some padding
  const labels = Int32Array.from(ids, (v, i) => (mask[i] ? v : -100));
  const shape = [B, T] as [number, number];
  const pool = gpu().pool;
  pool.resetPeak();
  const base = pool.getStats().bytesInUse;
  const loss = tidy(() => {
    const l = model.forward({ inputIds: { data: ids, shape }, attentionMask: { data: mask, shape }, labels: { data: labels, shape } }).loss!;
    backward(l);
    return l;
  });
  const peak = pool.getStats().peakBytesInUse - base;
  const lv = await loss.item();
  loss.dispose();
  const grads = await takeGrads(model);
  const calls = dropoutCalls(model);
  return { loss: lv, grads, calls, peak };
}

describe('BioGPT gradient checkpointing', { skip: SKIP }, () => {
  for (const int8 of [false, true]) {
    it(`same loss, LoRA and input gradients, dropout counters; lower peak (${int8 ? 'int8' : 'float32'} base)`, async () => {
      await withBackend(be, async () => {
        const model = BioGptForCausalLM.fromPretrained(dir, { trainable: false });
        try {
          if (int8) assert.ok(quantizeInt8(model) > 0);
          applyLora(model, { r: 8, alpha: 16, dropout: 0.1, targetModules: ['q_proj', 'v_proj'], bias: 'none' }, 42);
          model.train(true);
          // A trainable embedding table makes the first layer's input require grad, so the gradient
          // the checkpoint hands back to its inputs is checked too (PEFT's enable_input_require_grads).
          model.biogpt.embed_tokens.weight.requiresGrad = true;
          const plain = await step(model, false);
          const ck = await step(model, true);
          assert.ok(Number.isFinite(plain.loss));
          assert.ok(Math.abs(ck.loss - plain.loss) <= 1e-6 * Math.abs(plain.loss), `loss ${ck.loss} vs ${plain.loss}`);
          assert.deepEqual(ck.calls, plain.calls, 'dropout counters after the step');
          assert.ok(plain.calls.some((c) => c > 0), 'dropout ran');
          assert.equal(ck.grads.size, plain.grads.size);
          assert.ok([...plain.grads.keys()].filter((k) => k.includes('lora_')).length === 8, 'LoRA A/B of q/v in 2 layers');
          for (const [n, want] of plain.grads) assertClose(ck.grads.get(n)!, want, { rtol: 1e-5, atol: 1e-7, label: n });
          // Disabled again: the plain path is back (no checkpoint nodes, same numbers).
          const again = await step(model, false);
          assert.equal(again.loss, plain.loss);
          assert.ok(ck.peak < plain.peak, `peak bytes with checkpointing ${ck.peak}, without ${plain.peak}`);
          console.log(`# ${int8 ? 'int8' : 'f32'} base: peak ${plain.peak} B plain, ${ck.peak} B checkpointed (${(ck.peak / plain.peak).toFixed(3)})`);
        } finally {
          model.dispose();
        }
      });
    });
  }
});
