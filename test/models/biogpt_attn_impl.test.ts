/**
 * attnImplementation 'flash' (fused kernels, src/ops/attention.ts) vs 'eager' (composite path) in
 * BioGPT on one small random-init model: eval logits of a left-padded batch, a training step with
 * attention and hidden dropout (loss and every parameter gradient: the fused kernels draw the same
 * dropout masks from the same module seeds), and cached token-by-token decoding (decode kernel)
 * against the full eager forward. Only padding query rows that see no key may differ (fused gives
 * 0 there, eager a uniform average); the first test checks that they do, so the fused path ran.
 * Such rows exist only with left padding; training batches are right-padded (src/data/collator.ts),
 * where no row is fully masked and the loss is the same. (With left-padded labels, the prediction
 * of the first real token from the last padding slot would differ: that slot's state differs.)
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { setBackend, withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { backward, noGrad } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import '../../src/ops/index.js';
import { manualSeed } from '../../src/nn/module.js';
import { reseedDropout } from '../../src/nn/dropout.js';
import {
  BioGptForCausalLM, biogptConfig, disposeCache, setAttnImplementation, attnImplementationOf, type KvCache,
} from '../../src/models/biogpt/index.js';
import { maxRelErr } from '../helpers/compare.js';

after(() => shutdownGpu());

const fields = {
  vocab_size: 61, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 48,
  max_position_embeddings: 40, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.2,
};
const cfg = biogptConfig(fields);
const V = cfg.vocabSize;

const ids = [
  [2, 17, 45, 30, 12, 9, 7, 25, 33, 5, 40, 21],
  [1, 1, 1, 1, 2, 8, 14, 12, 7, 31, 9, 44],
];
const mask = [
  [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
  [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
];
const T = 12;
const real = (b: number, t: number) => mask[b]![t] !== 0;
// Right-padded training batch, as the collator builds it.
const trainIds = [ids[0]!, [2, 8, 14, 12, 7, 31, 9, 44, 1, 1, 1, 1]];
const trainMask = [mask[0]!, [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]];
const labels = trainIds.map((r, b) => r.map((v, t) => (trainMask[b]![t] ? v : -100)));

/** maxRelErr over the selected rows of [B, T, V] logits (or flat arrays with rowLen). */
function rel(got: ArrayLike<number>, want: ArrayLike<number>, keep: (row: number) => boolean = () => true, rowLen = V): number {
  return maxRelErr(got, want, { keep: (i) => keep(Math.floor(i / rowLen)) });
}

function build(be: Backend): BioGptForCausalLM {
  return withBackend(be, () => {
    manualSeed(99);
    return new BioGptForCausalLM(cfg);
  });
}

async function logits(m: BioGptForCausalLM): Promise<Float32Array> {
  const l = noGrad(() => tidy(() => m.forward({ inputIds: ids, attentionMask: mask }).logits));
  const d = (await l.data()) as Float32Array;
  l.dispose();
  return d;
}

/** Loss and all parameter gradients of one training forward/backward with dropout seeded from `seed`. */
async function trainStep(m: BioGptForCausalLM): Promise<{ loss: number; grads: Float32Array[] }> {
  m.train();
  reseedDropout(m, 7);
  m.zeroGrad();
  const loss = tidy(() => {
    const l = m.forward({ inputIds: trainIds, attentionMask: trainMask, labels }).loss!;
    backward(l);
    return l;
  });
  const out = { loss: ((await loss.data()) as Float32Array)[0]!, grads: [] as Float32Array[] };
  loss.dispose();
  for (const p of m.parameters()) out.grads.push((await p.grad!.data()) as Float32Array);
  m.zeroGrad();
  m.eval();
  return out;
}

for (const [name, getBe] of [['WebGPU', () => initWebGpuBackend()], ['CPU', async () => cpuBackend()]] as const) {
  describe(`BioGPT attnImplementation flash vs eager (${name})`, () => {
    it('config option and eval logits of a left-padded batch', async () => {
      assert.equal(attnImplementationOf(biogptConfig({ ...fields, attn_implementation: 'flash' })), 'flash');
      assert.throws(() => attnImplementationOf(biogptConfig({ ...fields, attn_implementation: 'fast' })), /attn_implementation/);
      const be = await getBe();
      setBackend(be);
      const m = build(be).eval();
      setAttnImplementation(m, 'eager');
      const want = await logits(m);
      setAttnImplementation(m, 'flash');
      const got = await logits(m);
      const e = rel(got, want, (r) => real(Math.floor(r / T), r % T));
      console.log(`[attn impl ${name}] eval logits, real positions: max rel error ${e.toExponential(2)}`);
      assert.ok(e <= 2e-5, `rel error ${e}`);
      // padding queries that see no key: fused 0 vs eager uniform → different logits (fused path ran)
      assert.ok(rel(got, want, (r) => !real(Math.floor(r / T), r % T)) > 1e-3, 'flash path was not used');
      m.dispose();
    });

    it('training step with attention dropout (right padding): same loss and gradients', async () => {
      const be = await getBe();
      setBackend(be);
      const m = build(be);
      setAttnImplementation(m, 'eager');
      const want = await trainStep(m);
      setAttnImplementation(m, 'flash');
      const got = await trainStep(m);
      assert.ok(Math.abs(got.loss - want.loss) <= 1e-5 * Math.abs(want.loss), `loss ${got.loss} vs ${want.loss}`);
      // Relative to each gradient's own scale, floored at 1e-4 of the largest one: k_proj.bias has a
      // zero gradient in exact arithmetic (softmax is shift-invariant), so both paths give rounding noise.
      const scale = Math.max(...want.grads.map((w) => w.reduce((a, x) => Math.max(a, Math.abs(x)), 0)));
      let worst = 0;
      got.grads.forEach((g, i) => {
        const w = want.grads[i]!;
        const d = g.reduce((a, x, e) => Math.max(a, Math.abs(x - w[e]!)), 0);
        worst = Math.max(worst, d / Math.max(w.reduce((a, x) => Math.max(a, Math.abs(x)), 0), 1e-4 * scale));
      });
      console.log(`[attn impl ${name}] train step: loss ${got.loss} (eager ${want.loss}), worst grad rel error ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `grad rel error ${worst}`);
      m.dispose();
    });

    it('cached decoding (decode kernel) = full eager forward', async () => {
      const be = await getBe();
      setBackend(be);
      const m = build(be).eval();
      setAttnImplementation(m, 'eager');
      const want = await logits(m);
      setAttnImplementation(m, 'flash');
      let past: KvCache | undefined;
      let worst = 0;
      for (let pos = 0; pos < T; ) {
        const n = pos === 0 ? 6 : 1;
        const r = noGrad(() => tidy(() => {
          const o = m.forward({ inputIds: ids.map((x) => x.slice(pos, pos + n)), attentionMask: mask.map((x) => x.slice(0, pos + n)), pastKeyValues: past ?? null, useCache: true });
          return { logits: o.logits, cache: o.presentKeyValues! };
        }));
        disposeCache(past);
        past = r.cache;
        const got = (await r.logits.data()) as Float32Array;
        r.logits.dispose();
        for (let b = 0; b < 2; b++) {
          for (let t = 0; t < n; t++) {
            if (!real(b, pos + t)) continue;
            const g = got.subarray((b * n + t) * V, (b * n + t + 1) * V);
            const w = want.subarray((b * T + pos + t) * V, (b * T + pos + t + 1) * V);
            worst = Math.max(worst, rel(g, w));
          }
        }
        pos += n;
      }
      disposeCache(past);
      console.log(`[attn impl ${name}] cached decoding vs full eager: max rel error ${worst.toExponential(2)}`);
      assert.ok(worst <= 2e-5, `rel error ${worst}`);
      m.dispose();
    });
  });
}
