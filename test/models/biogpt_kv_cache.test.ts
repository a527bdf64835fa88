/**
 * KV-cache forward: a prefix then one or several new tokens per call, reusing presentKeyValues, gives
 * the logits of the full forward at every position (right- and left-padded batches); reorderCache
 * selects batch rows as beam search needs; lastPositionOnly gives the last row of the full logits.
 * Runs on a small random-init model (no shared data needed), on WebGPU and on the CPU reference.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { setBackend, withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { noGrad } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import '../../src/ops/index.js';
import { manualSeed } from '../../src/nn/module.js';
import { BioGptForCausalLM, biogptConfig, cacheLength, disposeCache, reorderCache, type KvCache } from '../../src/models/biogpt/index.js';
import { maxRelErr } from '../helpers/compare.js';

after(() => shutdownGpu());

const cfg = biogptConfig({
  vocab_size: 61, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 48,
  max_position_embeddings: 40, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
});
const V = cfg.vocabSize;
const TOL = 2e-5; // relative to max |logit|; f32 sums in a different order

/** Row b, position t of logits [B, T, V]. */
function at(l: Float32Array, T: number, b: number, t: number): Float32Array {
  return l.subarray((b * T + t) * V, (b * T + t + 1) * V);
}

const ids = [
  [2, 17, 45, 30, 12, 9, 7, 25, 33, 5, 40, 21],
  [2, 8, 14, 12, 7, 31, 9, 1, 1, 1, 1, 1],
];
const rightMask = [
  [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
];
const leftIds = [ids[0]!, [1, 1, 1, 1, 2, 8, 14, 12, 7, 31, 9, 44]];
const leftMask = [rightMask[0]!, [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]];
const cols = (m: number[][], a: number, b: number) => m.map((r) => r.slice(a, b));

function build(be: Backend): BioGptForCausalLM {
  return withBackend(be, () => {
    manualSeed(1234);
    return new BioGptForCausalLM(cfg).eval();
  });
}

/** Full-forward logits, then the same sequence fed in chunks through the cache; returns the worst error. */
async function cacheMatchesFull(be: Backend, model: BioGptForCausalLM, x: number[][], mask: number[][], chunks: number[]): Promise<number> {
  const T = x[0]!.length;
  setBackend(be); // withBackend() would not cover the code after an await
  {
    const full = noGrad(() => tidy(() => model.forward({ inputIds: x, attentionMask: mask }).logits));
    const want = (await full.data()) as Float32Array;
    full.dispose();
    let past: KvCache | undefined;
    let pos = 0;
    let worst = 0;
    for (const n of chunks) {
      const r = noGrad(() =>
        tidy(() => {
          const o = model.forward({ inputIds: cols(x, pos, pos + n), attentionMask: cols(mask, 0, pos + n), pastKeyValues: past ?? null, useCache: true });
          return { logits: o.logits, cache: o.presentKeyValues! };
        }),
      );
      disposeCache(past);
      past = r.cache;
      assert.equal(cacheLength(past), pos + n);
      const got = (await r.logits.data()) as Float32Array;
      r.logits.dispose();
      // Padding query slots are compared too, except fully masked ones (left padding): their softmax is
      // uniform over however many keys exist, which differs between a chunk and the full sequence.
      for (let b = 0; b < x.length; b++) {
        for (let t = 0; t < n; t++) {
          if (!mask[b]!.slice(0, pos + t + 1).some((v) => v !== 0)) continue;
          worst = Math.max(worst, maxRelErr(at(got, n, b, t), at(want, T, b, pos + t)));
        }
      }
      pos += n;
    }
    disposeCache(past);
    assert.equal(pos, T);
    return worst;
  }
}

for (const [name, getBe] of [['WebGPU', () => initWebGpuBackend()], ['CPU', async () => cpuBackend()]] as const) {
  describe(`BioGPT KV cache (${name})`, () => {
    it('prefix + one token at a time = full forward (right padding)', async () => {
      const be = await getBe();
      const m = build(be);
      const e = await cacheMatchesFull(be, m, ids, rightMask, [5, 1, 1, 1, 1, 1, 1, 1]);
      console.log(`[kv cache ${name}] right padding, token by token: max rel error ${e.toExponential(2)}`);
      assert.ok(e <= TOL, `rel error ${e}`);
      withBackend(be, () => m.dispose());
    });

    it('chunks of several tokens = full forward (left padding)', async () => {
      const be = await getBe();
      const m = build(be);
      const e = await cacheMatchesFull(be, m, leftIds, leftMask, [6, 3, 1, 2]);
      console.log(`[kv cache ${name}] left padding, chunks 6+3+1+2: max rel error ${e.toExponential(2)}`);
      assert.ok(e <= TOL, `rel error ${e}`);
      withBackend(be, () => m.dispose());
    });

    it('reorderCache picks (and repeats) batch rows, as beam search needs', async () => {
      const be = await getBe();
      const m = build(be);
      setBackend(be);
      await (async () => {
        const T = 8;
        const full = noGrad(() => tidy(() => m.forward({ inputIds: cols(ids, 0, T), attentionMask: cols(rightMask, 0, T) }).logits));
        const want = (await full.data()) as Float32Array;
        full.dispose();
        const prefix = noGrad(() => tidy(() => m.forward({ inputIds: cols(ids, 0, T - 1), attentionMask: cols(rightMask, 0, T - 1), useCache: true }).presentKeyValues!));
        const order = [1, 1, 0];
        const cache = reorderCache(prefix, order, { dispose: true });
        assert.ok(prefix[0]!.key.isDisposed, 'dispose: true frees the old cache');
        assert.deepEqual([...cache[0]!.key.shape], [3, 4, T - 1, 8]);
        const step = noGrad(() =>
          tidy(() => m.forward({ inputIds: order.map((b) => [ids[b]![T - 1]!]), attentionMask: order.map((b) => rightMask[b]!.slice(0, T)), pastKeyValues: cache }).logits),
        );
        const got = (await step.data()) as Float32Array;
        step.dispose();
        disposeCache(cache);
        order.forEach((b, i) => {
          const e = maxRelErr(at(got, 1, i, 0), at(want, T, b, T - 1));
          assert.ok(e <= TOL, `row ${i} (from ${b}): rel error ${e}`);
        });
      })();
      withBackend(be, () => m.dispose());
    });

    it('lastPositionOnly returns the last row of the full logits', async () => {
      const be = await getBe();
      const m = build(be);
      setBackend(be);
      await (async () => {
        const [a, b] = noGrad(() =>
          tidy(() => [m.forward({ inputIds: ids, attentionMask: rightMask }).logits, m.forward({ inputIds: ids, attentionMask: rightMask, lastPositionOnly: true }).logits]),
        );
        assert.deepEqual([...b!.shape], [2, 1, V]);
        const fa = (await a!.data()) as Float32Array;
        const fb = (await b!.data()) as Float32Array;
        for (let r = 0; r < 2; r++) assert.ok(maxRelErr(at(fb, 1, r, 0), at(fa, 12, r, 11)) <= TOL);
        a!.dispose();
        b!.dispose();
      })();
      withBackend(be, () => m.dispose());
    });

    it('inference frees its temporaries (no device memory growth across calls)', async () => {
      const be = await getBe();
      const m = build(be);
      setBackend(be);
      await (async () => {
        const run = async () => {
          const l = noGrad(() => tidy(() => m.forward({ inputIds: ids, attentionMask: rightMask }).logits));
          await be.sync();
          l.dispose();
        };
        await run();
        const before = be.bytesInUse();
        for (let i = 0; i < 3; i++) await run();
        assert.equal(be.bytesInUse(), before);
      })();
      withBackend(be, () => m.dispose());
    });
  });
}

describe('BioGPT inference residual fusion (addLayerNorm between layers)', () => {
  it('gives the same bits as the summed path, prefill and cached steps, and frees as much', async () => {
    const be = await initWebGpuBackend();
    const model = build(be);
    setBackend(be);
    // outputHiddenStates takes the summed path (add, then layerNorm); without it the layers hand
    // their output on unsummed and each add runs inside the next norm.
    const run = async (hiddenStates: boolean): Promise<Float32Array[]> => {
      const out: Float32Array[] = [];
      let past: KvCache | null = null;
      for (const [a, b] of [[0, 8], [8, 9], [9, 10]] as const) {
        const r = noGrad(() => model.forward({ inputIds: cols(ids, a, b), attentionMask: cols(rightMask, 0, b), pastKeyValues: past, useCache: true, outputHiddenStates: hiddenStates }));
        out.push((await r.logits.data()) as Float32Array);
        r.logits.dispose();
        for (const h of r.hiddenStates ?? []) h.dispose();
        if (past) disposeCache(past);
        past = r.presentKeyValues!;
      }
      disposeCache(past!);
      return out;
    };
    await be.sync();
    await run(true); // warm-up: the first call keeps a few cached buffers (both paths)
    await be.sync();
    const b0 = be.bytesInUse();
    const summed = await run(true);
    await be.sync();
    const b1 = be.bytesInUse();
    const fused = await run(false);
    await be.sync();
    const b2 = be.bytesInUse();
    // Each run of either path leaves the same few KiB in use (outside this change); the fused path
    // must add nothing to it.
    assert.equal(b2 - b1, b1 - b0, 'the fused path frees what it made');
    fused.forEach((l, i) => assert.deepEqual(l, summed[i], `call ${i}`));
    withBackend(be, () => model.dispose());
  });
});
