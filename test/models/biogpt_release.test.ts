/**
 * Early activation release (autograd/release.ts) and the attention-score recompute on a small random
 * BioGPT with every dropout at 0.1 and some padding: a training step (forward + backward) gives the
 * same loss, the same gradients bit for bit and the same dropout counters with both on as with both
 * off, for LoRA on q/v (fused f32 path), LoRA on all six projections, an int8 base, fp16 autocast
 * (the composed LoRA path) and full training without LoRA; the peak of GPU bytes in use is lower.
 * forwardLoss (the trainer's path: the loss's gradient written over the logits) gives the same loss
 * and gradients as forward().loss with a lower peak.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gpu, shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { backward } from '../../src/autograd/tape.js';
import { autocast } from '../../src/autograd/autocast.js';
import { releaseTuning } from '../../src/autograd/release.js';
import { crossEntropyTuning } from '../../src/ops/nn/cross_entropy.js';
import { tidy } from '../../src/tensor/scope.js';
import { mul } from '../../src/ops/elementwise.js';
import '../../src/ops/index.js';
import { BioGptForCausalLM } from '../../src/models/biogpt/index.js';
import { biogptConfig } from '../../src/models/biogpt/config.js';
import { quantizeInt8 } from '../../src/models/biogpt/quantize.js';
import { applyLora } from '../../src/nn/lora.js';
import { reseedDropout } from '../../src/nn/dropout.js';
import { randValues } from '../helpers/ops_harness.js';
import { dropoutCalls, takeGrads } from '../helpers/model_grads.js';

let be: Backend;
before(async () => {
  be = await initWebGpuBackend();
});
after(() => shutdownGpu());

const [B, T, V] = [3, 37, 300];
const ids = Int32Array.from(randValues(B * T, 7, 0, 1), (u) => Math.min(V - 1, 3 + Math.floor(u * (V - 3))));
const mask = Int32Array.from({ length: B * T }, (_, i) => (i % T < T - 5 * (Math.floor(i / T) % 2) ? 1 : 0));
const labels = Int32Array.from(ids, (v, i) => (mask[i] ? v : -100));
const shape = [B, T] as [number, number];

interface Variant {
  name: string;
  lora?: string[];
  int8?: boolean;
  fp16?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'LoRA q/v, f32 base', lora: ['q_proj', 'v_proj'] },
  { name: 'LoRA on all projections', lora: ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'] },
  { name: 'LoRA q/v, int8 base', lora: ['q_proj', 'v_proj'], int8: true },
  { name: 'LoRA q/v, fp16 autocast', lora: ['q_proj', 'v_proj'], fp16: true },
  { name: 'full training (no LoRA)' },
];

function build(v: Variant): BioGptForCausalLM {
  const model = new BioGptForCausalLM(biogptConfig({
    vocab_size: V, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 160, max_position_embeddings: 64,
    hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, activation_dropout: 0.1,
  }));
  if (v.int8) assert.ok(quantizeInt8(model) > 0);
  if (v.lora) applyLora(model, { r: 4, alpha: 8, dropout: 0.1, targetModules: v.lora, bias: 'none' }, 11);
  return model.train(true);
}

async function step(model: BioGptForCausalLM, v: Variant, on: boolean, lossOnly = false): Promise<{ loss: number; grads: Map<string, Float32Array>; calls: number[]; peak: number }> {
  releaseTuning.enabled = on;
  model.attentionRecomputeEnable(on);
  reseedDropout(model, 99);
  const pool = gpu().pool;
  const base = pool.getStats().bytesInUse;
  pool.resetPeak();
  try {
    const loss = tidy(() => {
      const input = { inputIds: { data: ids, shape }, attentionMask: { data: mask, shape }, labels: { data: labels, shape } };
      const run = () => (lossOnly ? model.forwardLoss(input) : model.forward(input).loss!);
      const l = v.fp16 ? autocast('f16', run) : run();
      backward(mul(l, v.fp16 ? 1024 : 1));
      return l;
    });
    const peak = pool.getStats().peakBytesInUse - base;
    const lv = await loss.item();
    loss.dispose();
    // Frozen weights get no gradient buffer at all.
    const grads = await takeGrads(model, true);
    const calls = dropoutCalls(model);
    return { loss: lv, grads, calls, peak };
  } finally {
    releaseTuning.enabled = true;
  }
}

describe('BioGPT training step with activation release and score recompute', () => {
  for (const v of VARIANTS) {
    it(`same loss, gradients (bitwise) and dropout counters; lower peak: ${v.name}`, async (t) => {
      if (v.fp16 && !gpu().caps.f16) {
        t.skip("adapter lacks 'shader-f16'");
        return;
      }
      await withBackend(be, async () => {
        const model = build(v);
        try {
          const off = await step(model, v, false);
          const on = await step(model, v, true);
          assert.ok(Number.isFinite(off.loss));
          assert.equal(on.loss, off.loss, 'loss');
          assert.deepEqual(on.calls, off.calls, 'dropout counters');
          assert.ok(off.calls.some((c) => c > 0), 'dropout ran');
          assert.equal(on.grads.size, off.grads.size);
          assert.ok(off.grads.size > 0);
          for (const [n, want] of off.grads) assert.deepEqual(on.grads.get(n), want, `gradient of ${n}`);
          assert.ok(on.peak < off.peak, `peak ${on.peak} B with release, ${off.peak} B without`);
          console.log(`# ${v.name}: peak ${off.peak} B → ${on.peak} B (${(on.peak / off.peak).toFixed(3)})`);
        } finally {
          model.dispose();
        }
      });
    });
  }

  it('forwardLoss: the same loss and gradients, the logits\' gradient written over them in blocks', async () => {
    await withBackend(be, async () => {
      const saved = crossEntropyTuning.overwriteBlockBytes;
      const v: Variant = { name: 'LoRA q/v', lora: ['q_proj', 'v_proj'] };
      const model = build(v);
      try {
        const plain = await step(model, v, true);
        crossEntropyTuning.overwriteBlockBytes = 7 * V * 4; // 111 rows in 16 blocks
        const own = await step(model, v, true, true);
        assert.equal(own.loss, plain.loss, 'loss');
        for (const [n, want] of plain.grads) assert.deepEqual(own.grads.get(n), want, `gradient of ${n}`);
        assert.ok(own.peak < plain.peak, `peak ${own.peak} B with forwardLoss, ${plain.peak} B with forward().loss`);
      } finally {
        crossEntropyTuning.overwriteBlockBytes = saved;
        model.dispose();
      }
    });
  });
});
