/**
 * nn modules: HF-style parameter paths, traversal, train/eval, freeze, state dicts, submodule
 * replacement (how LoRA wraps a projection), and the Linear / LayerNorm / Embedding / Dropout
 * forward and backward against plain ops, on the CPU reference and on WebGPU.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shutdownGpu } from '../../src/gpu/device.js';
import { initWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { setBackend } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/types.js';
import { backward } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { add, matmul, mul, sum, tensor, transpose, randNormal } from '../../src/ops/index.js';
import { Dropout, Embedding, LayerNorm, Linear, Module, ModuleError, ModuleList, manualSeed, type LinearModule } from '../../src/nn/index.js';
import { BioGptForCausalLM, biogptConfig } from '../../src/models/biogpt/index.js';
import { assertClose } from '../helpers/compare.js';

after(() => shutdownGpu());

const tiny = biogptConfig({
  vocab_size: 30, hidden_size: 8, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 12,
  max_position_embeddings: 16, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
});

/** Doubles the output of the Linear it wraps (stands in for a LoRA wrapper). */
class Doubler extends Module {
  readonly base: LinearModule;
  constructor(base: LinearModule) {
    super();
    this.base = this.addModule('base', base);
  }
  get inFeatures() {
    return this.base.inFeatures;
  }
  get outFeatures() {
    return this.base.outFeatures;
  }
  forward(x: Tensor): Tensor {
    return mul(this.base.forward(x), 2);
  }
}

describe('Module (CPU reference)', () => {
  setBackend(cpuBackend());

  it('names parameters as transformers does, in module order, the tied head once', () => {
    setBackend(cpuBackend());
    const m = new BioGptForCausalLM(tiny);
    const names = m.namedParameters().map(([n]) => n);
    assert.equal(names.length, 2 + 16 * 2 + 2);
    assert.deepEqual(names.slice(0, 6), [
      'biogpt.embed_tokens.weight', 'biogpt.embed_positions.weight',
      'biogpt.layers.0.self_attn.k_proj.weight', 'biogpt.layers.0.self_attn.k_proj.bias',
      'biogpt.layers.0.self_attn.v_proj.weight', 'biogpt.layers.0.self_attn.v_proj.bias',
    ]);
    assert.deepEqual(names.slice(-2), ['biogpt.layer_norm.weight', 'biogpt.layer_norm.bias']);
    assert.ok(!names.includes('output_projection.weight'));
    assert.deepEqual([...m.getParameter('biogpt.embed_positions.weight').shape], [18, 8], 'max_position_embeddings + 2 rows');
    assert.equal(m.numParameters(), m.parameters().reduce((a, t) => a + t.size, 0));
    m.dispose();
  });

  it('train()/eval() recurse; freeze()/unfreeze() set requiresGrad everywhere', () => {
    setBackend(cpuBackend());
    const m = new BioGptForCausalLM(tiny);
    m.eval();
    assert.ok(m.namedModules().every(([, x]) => !x.training));
    m.train();
    assert.ok(m.namedModules().every(([, x]) => x.training));
    m.freeze();
    assert.equal(m.trainableParameters().length, 0);
    m.biogpt.layers.at(1).unfreeze();
    assert.equal(m.trainableParameters().length, 16);
    m.dispose();
  });

  it('setSubmodule swaps a projection by path; forward and parameters follow', async () => {
    setBackend(cpuBackend());
    manualSeed(3);
    const m = new BioGptForCausalLM(biogptConfig({ ...tiny.raw, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0 })).eval();
    const run = async () => (await tidy(() => m.forward({ inputIds: [[2, 5, 7]] }).logits).data()) as Float32Array;
    const before = await run();
    const path = 'biogpt.layers.0.self_attn.q_proj';
    const q = m.getSubmodule(path) as LinearModule;
    m.setSubmodule(path, new Doubler(q));
    assert.ok(m.biogpt.layers.at(0).self_attn.q_proj instanceof Doubler, 'the field follows the registry');
    assert.ok(m.namedParameters().some(([n]) => n === `${path}.base.weight`));
    const after = await run();
    assert.notDeepEqual(after, before);
    m.setSubmodule(path, q);
    assert.deepEqual(await run(), before);
    assert.throws(() => m.setSubmodule('biogpt.layers.7.fc1', q), ModuleError);
    m.dispose();
  });

  it('loadStateDict: strict lists missing/unexpected keys, shape errors name the parameter', () => {
    setBackend(cpuBackend());
    const lin = new Linear(3, 2);
    assert.throws(() => lin.loadStateDict(new Map([['weight', new Float32Array(6)]])), /missing 1: bias/);
    assert.throws(() => lin.loadStateDict({ weight: new Float32Array(6), bias: new Float32Array(2), extra: new Float32Array(1) }), /unexpected 1: extra/);
    assert.throws(() => lin.loadStateDict({ weight: { shape: [3, 2], data: new Float32Array(6) }, bias: new Float32Array(2) }), /weight.*\[2, 3\].*\[3, 2\]/);
    const r = lin.loadStateDict({ weight: new Float32Array(6).fill(1) }, { strict: false });
    assert.deepEqual(r.missing, ['bias']);
    lin.dispose();
  });

  it('ModuleList indexes and iterates its children', () => {
    setBackend(cpuBackend());
    const l = new ModuleList([new Linear(2, 2), new Linear(2, 3)]);
    assert.equal(l.length, 2);
    assert.equal(l.at(1).outFeatures, 3);
    assert.deepEqual(l.namedParameters().map(([n]) => n), ['0.weight', '0.bias', '1.weight', '1.bias']);
    assert.throws(() => l.at(2), ModuleError);
    l.dispose();
  });
});

for (const [name, getBe] of [['CPU', async () => cpuBackend()], ['WebGPU', () => initWebGpuBackend()]] as [string, () => Promise<Backend>][]) {
  describe(`nn layers (${name})`, () => {
    it('Linear = x @ Wᵀ + b, gradients included (3-D input)', async () => {
      setBackend(await getBe());
      const lin = new Linear(5, 3);
      const x = randNormal([2, 4, 5], 11, 0, 1, { requiresGrad: true });
      const y = lin.forward(x);
      assert.deepEqual([...y.shape], [2, 4, 3]);
      backward(sum(y));
      const g = { x: await x.grad!.data(), w: await lin.weight.grad!.data(), b: await lin.bias!.grad!.data() };
      x.grad!.dispose();
      x.grad = null;
      const W = lin.weight.detach().requiresGrad_(true);
      const B = lin.bias!.detach().requiresGrad_(true);
      const ref = add(matmul(x, transpose(W)), B);
      backward(sum(ref));
      const tol = { rtol: 1e-5, atol: 1e-5 };
      assertClose(await y.data(), await ref.data(), tol);
      assertClose(g.x, await x.grad!.data(), tol);
      assertClose(g.w, await W.grad!.data(), tol);
      assertClose(g.b, await B.grad!.data(), tol);
      lin.dispose();
    });

    it('Embedding: padding row is zero at init and gets no gradient', async () => {
      setBackend(await getBe());
      const e = new Embedding(6, 4, { paddingIdx: 1 });
      const w = await e.weight.data();
      assert.deepEqual(Array.from(w.subarray(4, 8)), [0, 0, 0, 0]);
      const ids = tensor(Int32Array.from([1, 2, 1, 5, 2]), [5], { dtype: 'i32' });
      backward(sum(e.forward(ids)));
      const g = await e.weight.grad!.data();
      assert.deepEqual(Array.from(g), [0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]);
      e.dispose();
    });

    it('LayerNorm normalises the last axis (weight 1, bias 0 at init)', async () => {
      setBackend(await getBe());
      const ln = new LayerNorm(4);
      const y = await ln.forward(tensor([[1, 2, 3, 4]], [1, 4])).data();
      const s = Math.sqrt(1.25 + 1e-5);
      assertClose(y, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], { rtol: 1e-5, atol: 1e-6 });
      ln.dispose();
    });

    it('Dropout: identity in eval or at p = 0; reproducible masks after reseed; fresh mask per call', async () => {
      setBackend(await getBe());
      const x = tensor(new Float32Array(256).fill(1), [256]);
      const d = new Dropout(0.5, { seed: 42 });
      d.eval();
      assert.equal(d.forward(x), x);
      assert.equal(new Dropout(0).forward(x), x);
      d.train();
      const a = await d.forward(x).data();
      const b = await d.forward(x).data();
      assert.notDeepEqual(a, b);
      assert.ok(Array.from(a).every((v) => v === 0 || Math.abs(v - 2) < 1e-6));
      d.reseed(42);
      assert.deepEqual(await d.forward(x).data(), a);
    });
  });
}
