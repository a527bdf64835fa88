/**
 * `radgrad pretrain`'s loop (src/train/pretrain.ts) follows the Trainer's conventions: no weight
 * decay on biases and LayerNorm weights, HF's linear warmup (lr 0 at step 0, step/warmup after),
 * and non-finite gradients skipped, then NonFiniteGradientError after N in a row. CPU reference
 * backend, a fresh tiny BioGPT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import { BioGptForCausalLM, biogptConfig } from '../../src/models/biogpt/index.js';
import { manualSeed } from '../../src/nn/module.js';
import type { Example } from '../../src/data/dataset.js';
import { pretrainLoop, type PretrainOptions, type PretrainStep } from '../../src/train/pretrain.js';
import { isNoDecayParameter } from '../../src/train/param_groups.js';
import { NonFiniteGradientError } from '../../src/train/trainer.js';

const cfg = biogptConfig({
  vocab_size: 24, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16,
  max_position_embeddings: 16, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
});
const examples: Example[] = Array.from({ length: 6 }, (_, i) => ({ id: `e${i}`, inputIds: Int32Array.from({ length: 5 + i }, (_, t) => 4 + ((t * (i + 1)) % 19)), promptLength: 2, truncated: false }));
const opts: PretrainOptions = { steps: 1, batchSize: 2, maxLength: 12, lr: 1e-2, warmupSteps: 0, weightDecay: 0, seed: 3 };

/** Trains a fresh model (same init every call) and returns its parameters on the host, by name. */
async function run(o: Partial<PretrainOptions>, prepare?: (m: BioGptForCausalLM) => void): Promise<{ params: Map<string, Float64Array>; steps: PretrainStep[] }> {
  return withBackend(cpuBackend(), async () => {
    manualSeed(5);
    const model = new BioGptForCausalLM(cfg).train();
    prepare?.(model);
    const steps: PretrainStep[] = [];
    try {
      await pretrainLoop(model, examples, { ...opts, ...o, onStep: (s) => steps.push(s) });
      const params = new Map<string, Float64Array>();
      for (const [n, t] of model.namedParameters()) params.set(n, Float64Array.from(await t.data()));
      return { params, steps };
    } finally {
      model.dispose();
    }
  });
}

test('weight decay skips biases and LayerNorm weights (HF get_decay_parameter_names)', async () => {
  const plain = await run({ weightDecay: 0 });
  const decayed = await run({ weightDecay: 0.5 });
  const names = [...plain.params.keys()];
  const exempt = names.filter(isNoDecayParameter);
  assert.ok(exempt.some((n) => n.includes('layer_norm.weight')) && exempt.some((n) => n.endsWith('.bias')));
  for (const n of names) {
    const same = plain.params.get(n)!.every((v, i) => v === decayed.params.get(n)![i]);
    // One step from the same init: only the decay term can differ, and only where it applies.
    assert.equal(same, isNoDecayParameter(n), `${n}: ${same ? 'unchanged by' : 'changed by'} weight decay`);
  }
});

test("the learning rate follows HF's linear schedule with warmup (0 at step 0)", async () => {
  const { steps } = await run({ steps: 4, warmupSteps: 2, lr: 1 });
  assert.deepEqual(steps.map((s) => s.lr), [0, 0.5, 1, 0.5]);
});

test('non-finite gradients: the step is skipped, and N in a row stop with NonFiniteGradientError', async () => {
  const seen: PretrainStep[] = [];
  await assert.rejects(
    withBackend(cpuBackend(), async () => {
      manualSeed(5);
      const model = new BioGptForCausalLM(cfg).train();
      const w = model.biogpt.embed_tokens.weight;
      model.biogpt.embed_tokens.loadStateDict({ weight: { shape: [...w.shape], data: new Float32Array(w.size).fill(Number.NaN) } });
      try {
        await pretrainLoop(model, examples, { ...opts, steps: 10, maxConsecutiveSkips: 3, onStep: (s) => seen.push(s) });
      } finally {
        model.dispose();
      }
    }),
    (e: unknown) => {
      assert.ok(e instanceof NonFiniteGradientError, String(e));
      assert.equal(e.step, 3);
      assert.match(e.message, /non-finite \(NaN\/inf\) in float32 for 3 steps in a row.*no model was written/);
      return true;
    },
  );
  assert.deepEqual(seen.map((s) => s.skipped), [true, true, true]);
});

test('a skipped (non-finite) step does not advance the schedule, as the Trainer and HF (optimizer_step_was_skipped) do', async () => {
  const seen: PretrainStep[] = [];
  const be = cpuBackend();
  // withBackend scopes the synchronous calls only: each load after an await is wrapped again.
  const { model, emb, finite } = withBackend(be, () => {
    manualSeed(5);
    const m = new BioGptForCausalLM(cfg).train();
    const e = m.biogpt.embed_tokens;
    return { model: m, emb: e, finite: e.weight };
  });
  const good = { shape: [...finite.shape], data: Float32Array.from(await finite.data()) };
  withBackend(be, () => emb.loadStateDict({ weight: { shape: good.shape, data: new Float32Array(good.data.length).fill(Number.NaN) } }));
  try {
    await withBackend(be, () => pretrainLoop(model, examples, {
      ...opts, steps: 4, warmupSteps: 2, lr: 1,
      onStep: (s) => {
        seen.push(s);
        // The first step is skipped; the weights are finite again from the second on.
        if (s.step === 1) withBackend(be, () => emb.loadStateDict({ weight: good }));
      },
    }));
  } finally {
    withBackend(be, () => model.dispose());
  }
  assert.deepEqual(seen.map((s) => s.skipped), [true, false, false, false]);
  // Schedule positions 0, 0, 1, 2 (warmup 2 over 4 steps: 0, 0.5, 1, 0.5): the skipped step's position is reused.
  assert.deepEqual(seen.map((s) => s.lr), [0, 0, 0.5, 1]);
});
