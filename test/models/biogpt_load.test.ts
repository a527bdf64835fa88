/**
 * BioGptForCausalLM.fromPretrained: checkpoint validation errors name the tensor (wrong shape,
 * missing tensor), untied heads load, bare BioGptModel checkpoints (no `biogpt.` prefix) load,
 * f16 checkpoints are widened, deferred parameters refuse use before loading, and the loaded
 * model round-trips through stateDict()/loadStateDict(). CPU reference backend (fast).
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { setBackend } from '../../src/backend/registry.js';
import { noGrad } from '../../src/autograd/tape.js';
import { tidy } from '../../src/tensor/scope.js';
import '../../src/ops/index.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { writeTorchBin } from '../../src/io/torch_bin.js';
import { f32ToF16 } from '../../src/io/dtype.js';
import type { TensorSource } from '../../src/io/reader.js';
import { FileFormatError } from '../../src/errors.js';
import { ModuleError, deferParameterInit, manualSeed } from '../../src/nn/module.js';
import { BioGptForCausalLM, biogptConfig } from '../../src/models/biogpt/index.js';

setBackend(cpuBackend());

const fields = {
  vocab_size: 40, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 24,
  max_position_embeddings: 20, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
};

function tmp(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-biogpt-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A random model's weights as writer sources, plus the model. */
async function randomWeights(extra: Record<string, unknown> = {}): Promise<{ model: BioGptForCausalLM; tensors: Map<string, TensorSource> }> {
  manualSeed(7);
  const model = new BioGptForCausalLM(biogptConfig({ ...fields, ...extra }));
  const tensors = new Map<string, TensorSource>();
  for (const [n, p] of model.namedParameters()) tensors.set(n, { dtype: 'f32', shape: [...p.shape], data: (await p.data()) as Float32Array });
  return { model, tensors };
}

function writeDir(dir: string, tensors: Map<string, TensorSource>, extra: Record<string, unknown> = {}, file = 'model.safetensors'): void {
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'biogpt', ...fields, ...extra }));
  if (file.endsWith('.bin')) writeTorchBin(path.join(dir, file), tensors);
  else writeSafetensors(path.join(dir, file), tensors, { metadata: { format: 'pt' } });
}

/** The CPU reference holds float64 weights; files hold them rounded to float32. */
function assertNear(got: Float32Array, want: Float32Array, what: string, tol = 1e-5): void {
  assert.equal(got.length, want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  assert.ok(worst <= tol, `${what}: max abs diff ${worst}`);
}

async function logitsOf(m: BioGptForCausalLM): Promise<Float32Array> {
  const l = noGrad(() => tidy(() => m.forward({ inputIds: [[2, 5, 9, 13, 1]], attentionMask: [[1, 1, 1, 1, 0]] }).logits));
  const d = (await l.data()) as Float32Array;
  l.dispose();
  return d;
}

describe('BioGptForCausalLM.fromPretrained', () => {
  it('loads what it saved (safetensors and torch .bin) and gives the same logits', async (t) => {
    const { model, tensors } = await randomWeights();
    const want = await logitsOf(model);
    for (const file of ['model.safetensors', 'pytorch_model.bin']) {
      const dir = tmp(t);
      writeDir(dir, tensors, {}, file);
      const m = BioGptForCausalLM.fromPretrained(dir);
      assert.equal(m.training, false, 'eval mode after loading, as transformers');
      assert.equal(m.loadReport!.file, path.join(dir, file));
      assertNear(await logitsOf(m), want, file);
      m.dispose();
    }
    model.dispose();
  });

  it('a wrong shape is reported naming the tensor and both shapes, before anything is allocated', async (t) => {
    const { model, tensors } = await randomWeights();
    model.dispose();
    tensors.set('biogpt.layers.1.fc1.weight', { dtype: 'f32', shape: [23, 16], data: new Float32Array(23 * 16) });
    const dir = tmp(t);
    writeDir(dir, tensors);
    assert.throws(() => BioGptForCausalLM.fromPretrained(dir), (e: Error) => {
      assert.ok(e instanceof FileFormatError, e.name);
      assert.match(e.message, /biogpt\.layers\.1\.fc1\.weight/);
      assert.match(e.message, /\[23, 16\]/);
      assert.match(e.message, /\[24, 16\]/);
      return true;
    });
  });

  it('a missing tensor is reported by name', async (t) => {
    const { model, tensors } = await randomWeights();
    model.dispose();
    tensors.delete('biogpt.layers.0.self_attn.v_proj.bias');
    const dir = tmp(t);
    writeDir(dir, tensors);
    assert.throws(() => BioGptForCausalLM.fromPretrained(dir), /biogpt\.layers\.0\.self_attn\.v_proj\.bias/);
  });

  it('a missing directory or config names the path', (t) => {
    assert.throws(() => BioGptForCausalLM.fromPretrained('/nonexistent/biogpt'), /\/nonexistent\/biogpt/);
    const dir = tmp(t);
    assert.throws(() => BioGptForCausalLM.fromPretrained(dir), /config\.json/);
  });

  it('an untied head (tie_word_embeddings false) loads output_projection.weight', async (t) => {
    const { model, tensors } = await randomWeights({ tie_word_embeddings: false });
    assert.ok(tensors.has('output_projection.weight'));
    const want = await logitsOf(model);
    model.dispose();
    const dir = tmp(t);
    writeDir(dir, tensors, { tie_word_embeddings: false });
    const m = BioGptForCausalLM.fromPretrained(dir);
    assert.equal(m.tied, false);
    assertNear(await logitsOf(m), want, 'untied');
    m.dispose();
  });

  it('bare BioGptModel keys (no "biogpt." prefix) and f16 storage load', async (t) => {
    const { model, tensors } = await randomWeights();
    const bare = new Map<string, TensorSource>();
    for (const [n, s] of tensors) bare.set(n.replace(/^biogpt\./, ''), { dtype: 'f16', shape: s.shape, data: f32ToF16(s.data as Float32Array) });
    const dir = tmp(t);
    writeDir(dir, bare);
    const m = BioGptForCausalLM.fromPretrained(dir);
    const got = await logitsOf(m);
    const want = await logitsOf(model);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    assert.ok(worst < 5e-2, `f16-rounded weights give close logits (max abs diff ${worst})`);
    m.dispose();
    model.dispose();
  });

  it('trainable: false freezes every parameter', async (t) => {
    const { model, tensors } = await randomWeights();
    model.dispose();
    const dir = tmp(t);
    writeDir(dir, tensors);
    const m = BioGptForCausalLM.fromPretrained(dir, { trainable: false });
    assert.equal(m.trainableParameters().length, 0);
    assert.equal(m.numParameters({ trainableOnly: true }), 0);
    m.dispose();
  });

  it('a model built under deferParameterInit refuses use before loading, naming the parameter', () => {
    const m = deferParameterInit(() => new BioGptForCausalLM(biogptConfig(fields)));
    assert.equal(m.namedParameters().length, 0);
    assert.equal(m.parameterShapes().length, 36);
    assert.throws(() => m.forward({ inputIds: [[2, 3]] }), (e: Error) => e instanceof ModuleError && /was never loaded/.test(e.message));
  });

  it('stateDict() → loadStateDict() round trip writes in place', async () => {
    const { model: a } = await randomWeights();
    manualSeed(99);
    const b = new BioGptForCausalLM(biogptConfig(fields));
    const ref = b.getParameter('biogpt.layers.1.fc2.weight');
    b.loadStateDict(a.stateDict());
    assert.equal(b.getParameter('biogpt.layers.1.fc2.weight'), ref, 'same tensor object (in place)');
    assert.deepEqual(await logitsOf(b), await logitsOf(a));
    a.dispose();
    b.dispose();
  });
});
