/**
 * Generation parity with transformers 5.17 generate() on shared/golden/tiny_biogpt (prompt
 * [2, 17, 45, 300]): token ids of greedy, beam search (4 beams, early_stopping), repetition penalty
 * 1.3 + no-repeat 3-grams and a left-padded greedy batch must match exactly; the per-step greedy
 * scores (raw logits, [16, 512]) within 1e-4 of max |score| (float32 logits, as the model parity).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import '../../src/ops/index.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { BioGptForCausalLM, biogptConfig } from '../../src/models/biogpt/index.js';
import { manualSeed } from '../../src/nn/module.js';
import { generate } from '../../src/generate/index.js';
import { pipelineTuning } from '../../src/generate/generate.js';
import { sharedPath } from '../../src/util/paths.js';

const modelDir = sharedPath('golden', 'tiny_biogpt');
const goldenFile = sharedPath('golden', 'golden_tiny.safetensors');
const goldenJson = sharedPath('golden', 'golden_tiny.json');
const SKIP = !modelDir || !goldenFile || !goldenJson ? 'shared/golden/tiny_biogpt or golden_tiny.* is absent (../shared)' : false;
const PROMPT = [2, 17, 45, 300];
const SCORE_TOL = 1e-4;

interface GoldenGen {
  greedy: number[];
  beam4: number[];
  'greedy_rep1.3_ngram3': number[];
  batch_left_padded_greedy: number[][];
}

let gen: GoldenGen;
let gpu: Backend;
let model: BioGptForCausalLM;

before(async () => {
  if (SKIP) return;
  gen = (JSON.parse(readFileSync(goldenJson!, 'utf8')) as { generation: GoldenGen }).generation;
  gpu = await initWebGpuBackend();
  model = withBackend(gpu, () => BioGptForCausalLM.fromPretrained(modelDir!));
});
after(async () => {
  if (model) withBackend(gpu, () => model.dispose());
  await shutdownGpu();
});

describe('generate parity with transformers (tiny BioGPT)', { skip: SKIP }, () => {
  it('greedy: ids and per-step scores', async () => {
    const want = gen.greedy;
    const r = await generate(model, [PROMPT], { maxNewTokens: want.length - PROMPT.length, outputScores: true });
    assert.deepEqual(r.sequences[0], want);
    const golden = SafetensorsReader.open(goldenFile!).readF32('greedy_scores'); // [16, 512]
    const V = 512;
    assert.equal(r.scores!.length, golden.length / V);
    let d = 0;
    let m = 0;
    r.scores!.forEach((s, step) => {
      for (let v = 0; v < V; v++) {
        d = Math.max(d, Math.abs(s[v]! - golden[step * V + v]!));
        m = Math.max(m, Math.abs(golden[step * V + v]!));
      }
    });
    console.log(`[generate parity] greedy scores: max abs error ${d.toExponential(2)}, rel ${(d / m).toExponential(2)} (max |score| ${m.toFixed(3)})`);
    assert.ok(d / m <= SCORE_TOL, `greedy scores rel error ${d / m}`);
  });

  it('pipelined batch-1 greedy (device ids feed the next step) = the golden ids and the step-by-step loop: any length, eos mid-way, streaming order, no leak', async () => {
    const want = gen.greedy;
    const n = want.length - PROMPT.length;
    // A random model (the tiny golden one repeats the prompt's last token) and a prompt whose
    // greedy output has a token first seen after the first: as eos it stops the pipelined loop
    // with a speculative step in flight, which is dropped.
    const rnd = withBackend(gpu, () => {
      manualSeed(7);
      return new BioGptForCausalLM(biogptConfig({
        architectures: ['BioGptForCausalLM'], vocab_size: 64, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64,
        max_position_embeddings: 64, hidden_act: 'gelu', hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, activation_dropout: 0, layerdrop: 0,
        initializer_range: 1, layer_norm_eps: 1e-5, scale_embedding: true, tie_word_embeddings: true, bos_token_id: 0, pad_token_id: 1, eos_token_id: 2,
      }));
    });
    let mid: { prompt: number[]; eos: number; expect: number[] } | null = null;
    pipelineTuning.use = false;
    for (const prompt of [[2, 10, 20], [2, 5, 6, 7], [2, 11], [2, 30, 17, 45, 9, 8], [2, 40, 41, 42]]) {
      const out = (await generate(rnd, [prompt], { maxNewTokens: n })).sequences[0]!.slice(prompt.length);
      const i = out.findIndex((t, j) => j >= 1 && out.indexOf(t) === j);
      if (i >= 0) {
        mid = { prompt, eos: out[i]!, expect: [...prompt, ...out.slice(0, i + 1)] };
        break;
      }
    }
    assert.ok(mid, 'a prompt with a token first generated mid-way');
    const before = gpu.bytesInUse();
    const cases: Array<[BioGptForCausalLM, number[], number, number, number[]]> = [
      [model, PROMPT, n, 2, want], [model, PROMPT, 1, 2, want.slice(0, PROMPT.length + 1)], [model, PROMPT, 2, 2, want.slice(0, PROMPT.length + 2)],
      [model, PROMPT, n, want[PROMPT.length]!, want.slice(0, PROMPT.length + 1)], [rnd, mid.prompt, n, mid.eos, mid.expect],
    ];
    for (const [m, prompt, maxNewTokens, eosTokenId, expect] of cases) {
      const streamed: number[] = [];
      pipelineTuning.use = true;
      const fast = await generate(m, [prompt], { maxNewTokens, eosTokenId, onTokens: (t, step) => streamed.push(step, t[0]!) });
      pipelineTuning.use = false;
      const slow = await generate(m, [prompt], { maxNewTokens, eosTokenId });
      pipelineTuning.use = true;
      assert.deepEqual(fast.sequences[0], expect, `pipelined, maxNewTokens ${maxNewTokens}, eos ${eosTokenId}`);
      assert.deepEqual(slow.sequences[0], expect, `step by step, maxNewTokens ${maxNewTokens}, eos ${eosTokenId}`);
      assert.deepEqual(streamed, expect.slice(prompt.length).flatMap((t, i) => [i, t]), 'onTokens order');
      assert.equal(fast.stats.steps, slow.stats.steps);
      assert.equal(fast.stats.newTokens, slow.stats.newTokens);
    }
    assert.equal(gpu.bytesInUse(), before, 'GPU bytes in use after pipelined decoding');
    withBackend(gpu, () => rnd.dispose());
  });

  it('beam search (4 beams, early stopping)', async () => {
    const want = gen.beam4;
    const r = await generate(model, [PROMPT], { maxNewTokens: 16, numBeams: 4, earlyStopping: true });
    assert.deepEqual(r.sequences[0], want);
    // Throughput counts the output tokens, not the 4 beams' candidates of every step.
    assert.equal(r.stats.newTokens, want.length - PROMPT.length);
  });

  it('repetition penalty 1.3 + no-repeat 3-grams', async () => {
    const want = gen['greedy_rep1.3_ngram3'];
    const r = await generate(model, [PROMPT], { maxNewTokens: want.length - PROMPT.length, repetitionPenalty: 1.3, noRepeatNgramSize: 3 });
    assert.deepEqual(r.sequences[0], want);
  });

  it('left-padded batch (positions from the mask cumsum)', async () => {
    const want = gen.batch_left_padded_greedy;
    // The golden holds prompt + 8 new tokens; the prompts are [1, 1, 2, 17, 45, 300] and [2, 88, 14, 123, 77, 310]
    // (a 5-token prompt gives 77 next for row 2, so the 6th id is part of the prompt).
    const T = 6;
    const prompts = want.map((r) => r.slice(0, T));
    const r = await generate(model, prompts, { maxNewTokens: want[0]!.length - T });
    assert.deepEqual(r.sequences, want);
  });
});
