/**
 * BioGPT cached decode on the fused attention kernels, with its launch savings: keys and values
 * appended in one kvAppend launch per layer, the key padding mask derived once per forward instead
 * of per layer, (power-of-two head_dim^-0.5, f32) the q scaling passed to the decode kernel
 * instead of a multiply, and the q, k and v projections in one linear3 launch. The logits must keep the bits of the path without these savings: with
 * frozen parameters and gradients on, the same kernels run with q multiplied first, per-layer
 * masks and concat'ed caches. Small random-init model; padded batches so that decode steps carry
 * a bias (the mask is live).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gpu, shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { setBackend, withBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import type { KernelDecl, LaunchArgs } from '../../src/gpu/index.js';
import { noGrad } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import '../../src/ops/index.js';
import { manualSeed } from '../../src/nn/module.js';
import { BioGptForCausalLM, biogptConfig, disposeCache, type KvCache } from '../../src/models/biogpt/index.js';
import { qkvTuning, setAttnImplementation } from '../../src/models/biogpt/attention.js';

after(() => shutdownGpu());

const L = 3;
// head_dim 16 → scaling 1/4 (folded); head_dim 8 → 8^-0.5 (not a power of two: multiplied).
const config = (heads: number) => biogptConfig({
  vocab_size: 61, hidden_size: 64, num_hidden_layers: L, num_attention_heads: heads, intermediate_size: 48,
  max_position_embeddings: 40, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, attn_implementation: 'flash',
});

const ids = [
  [2, 17, 45, 30, 12, 9, 7, 25, 33, 5],
  [2, 8, 14, 12, 7, 31, 9, 1, 1, 1],
];
const mask = [
  [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
];
const cols = (m: number[][], a: number, b: number) => m.map((r) => r.slice(a, b));

function build(be: Backend, heads: number): BioGptForCausalLM {
  return withBackend(be, () => {
    manualSeed(99);
    return new BioGptForCausalLM(config(heads)).eval();
  });
}

/** Logits of a prefill of 6 then 4 single-token steps; launches per kernel name of the last step. */
async function decode(model: BioGptForCausalLM, grad: boolean): Promise<{ logits: Float32Array[]; launches: Map<string, number> }> {
  const logits: Float32Array[] = [];
  const q = gpu().queue;
  const dispatch = q.dispatch;
  let launches = new Map<string, number>();
  q.dispatch = function (decl: KernelDecl, args: LaunchArgs): void {
    launches.set(decl.name, (launches.get(decl.name) ?? 0) + 1);
    dispatch.call(q, decl, args);
  };
  try {
    let past: KvCache | null = null;
    for (const [a, b] of [[0, 6], [6, 7], [7, 8], [8, 9], [9, 10]] as const) {
      launches = new Map();
      const step = () => model.forward({ inputIds: cols(ids, a, b), attentionMask: cols(mask, 0, b), pastKeyValues: past, useCache: true });
      const r = grad ? tidy(() => {
        const o = step();
        return { logits: o.logits, presentKeyValues: o.presentKeyValues };
      }) : noGrad(step);
      logits.push((await r.logits.data()) as Float32Array);
      r.logits.dispose();
      if (past) disposeCache(past);
      past = r.presentKeyValues!;
    }
    disposeCache(past!);
  } finally {
    q.dispatch = dispatch;
  }
  return { logits, launches };
}

const count = (m: Map<string, number>, prefix: string) => [...m].filter(([k]) => k.startsWith(prefix)).reduce((a, [, n]) => a + n, 0);

describe('BioGPT fused cached decode: fewer launches, same bits', () => {
  for (const heads of [4, 8]) {
    it(`head_dim ${64 / heads}: logits bit-identical to the unsaved path, launches as planned, no memory growth`, async () => {
      const be = await initWebGpuBackend();
      const model = build(be, heads);
      setBackend(be);
      model.requiresGrad_(false);
      const ref = await decode(model, true);
      await be.sync();
      // Device memory left behind by a run (no tidy around it: the model frees its own temporaries),
      // against the eager path (no kvAppend, no shared mask): a few KiB either way, outside this
      // path, so the fused one must leave exactly as much.
      const growth = async (): Promise<number> => {
        await decode(model, false); // warm-up (pool buffers)
        await be.sync();
        const b0 = be.bytesInUse();
        await decode(model, false);
        await be.sync();
        return be.bytesInUse() - b0;
      };
      setAttnImplementation(model, 'eager');
      const eagerGrowth = await growth();
      setAttnImplementation(model, 'flash');
      assert.equal(await growth(), eagerGrowth, 'the fused decode frees what it made');
      const got = await decode(model, false);
      got.logits.forEach((l, i) => assert.deepEqual(l, ref.logits[i], `call ${i}`));
      const n = got.launches;
      const r = ref.launches;
      assert.equal(count(n, 'attention_decode'), L);
      assert.equal(count(r, 'attention_decode'), L, 'the reference runs the decode kernel too');
      assert.equal(count(n, 'kv_append'), L);
      assert.equal(count(r, 'kv_append'), 0);
      // Reference: per layer the q multiply, the mask's affine and relu and its slice copy, the
      // cache concat (two copies per tensor, the heads permute is free for one position).
      const folded = heads === 4 ? 1 : 0;
      assert.equal(count(r, 'unary') - count(n, 'unary'), L * (2 + folded) - 2, 'unary launches saved');
      assert.equal(count(r, 'strided_copy') - count(n, 'strided_copy'), L * 5 - 1, 'copies saved');
      // q, k and v projections in one linear3 launch per layer (the reference records three).
      assert.equal(count(n, 'matmul_skinny_vec4_f32_linear3'), L);
      assert.equal(count(r, 'matmul_skinny_vec4_f32_linear3'), 0);
      assert.equal(count(r, 'matmul') - count(n, 'matmul'), 2 * L, 'projection launches saved');
      // Switched off, the three projections run apart: same bits, two launches more per layer.
      qkvTuning.fuse = false;
      try {
        const apart = await decode(model, false);
        apart.logits.forEach((l, i) => assert.deepEqual(l, ref.logits[i], `unfused projections, call ${i}`));
        assert.equal(count(apart.launches, 'matmul_skinny_vec4_f32_linear3'), 0);
        assert.equal(count(apart.launches, 'matmul') - count(n, 'matmul'), 2 * L);
      } finally {
        qkvTuning.fuse = true;
      }
      withBackend(be, () => model.dispose());
    });
  }
});
