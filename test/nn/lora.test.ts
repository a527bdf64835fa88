/**
 * PEFT adapter configs radgrad cannot honour are refused, not loaded silently: every field that
 * changes PEFT's forward pass (modules_to_save, lora_bias, trainable_token_indices, ...) and every
 * tensor that is not a lora_A/lora_B weight gives an UnsupportedAdapterError naming the field, its
 * value and what is supported. exclude_modules / layers_to_transform / layers_pattern are
 * implemented (PEFT's check_target_module_exists) and round-trip through saveAdapter/loadAdapter.
 * The golden PEFT adapters keep loading. Models are the tiny BioGPT on the CPU reference backend.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuBackend } from '../../src/backend/cpu/index.js';
import { setBackend } from '../../src/backend/registry.js';
import { BioGptForCausalLM, biogptConfig } from '../../src/models/biogpt/index.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readPeftAdapter } from '../../src/io/peft_adapter.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import type { HostTensor } from '../../src/io/dtype.js';
import { AdapterShapeError, UnsupportedAdapterError, allLinearTargets, applyLora, isLoraTarget, loadAdapter, loraModules, readAdapterConfig, saveAdapter, type LoraConfig } from '../../src/nn/lora.js';
import { tensor } from '../../src/ops/creation.js';
import { sharedPath } from '../../src/util/paths.js';

const init = sharedPath('golden', 'tiny_lora_init');
const trained = sharedPath('golden', 'tiny_lora_trained');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-lora-'));

const tiny = biogptConfig({
  vocab_size: 30, hidden_size: 8, num_hidden_layers: 3, num_attention_heads: 2, intermediate_size: 12,
  max_position_embeddings: 16, hidden_dropout_prob: 0, attention_probs_dropout_prob: 0,
});

/** A copy of the golden init adapter with `patch` merged into its config and `extra` tensors added. */
function variant(patch: Record<string, unknown>, extra: Record<string, HostTensor> = {}): string {
  const d = tmp();
  const cfg = { ...JSON.parse(fs.readFileSync(path.join(init!, ADAPTER_CONFIG), 'utf8')), ...patch };
  fs.writeFileSync(path.join(d, ADAPTER_CONFIG), JSON.stringify(cfg));
  const t = new Map<string, HostTensor>(readSafetensors(path.join(init!, ADAPTER_WEIGHTS)).tensors);
  for (const [k, v] of Object.entries(extra)) t.set(k, v);
  writeSafetensors(path.join(d, ADAPTER_WEIGHTS), t, { metadata: { format: 'pt' } });
  return d;
}

function refused(fn: () => unknown, field: string, value: unknown): UnsupportedAdapterError {
  let e: unknown;
  try {
    fn();
  } catch (err) {
    e = err;
  }
  assert.ok(e instanceof UnsupportedAdapterError, `expected UnsupportedAdapterError for ${field}, got ${e instanceof Error ? e.message : String(e)}`);
  assert.equal(e.field, field);
  assert.deepEqual(e.value, value);
  assert.match(e.message, new RegExp(`'${field}' is .*; radgrad supports `));
  assert.ok(e.hint && e.hint.length > 10, 'has a hint');
  return e;
}

describe('adapters radgrad cannot honour are refused', { skip: !init && 'shared/golden/tiny_lora_init is absent' }, () => {
  it('the golden PEFT adapters still load', () => {
    for (const d of [init!, trained!].filter(Boolean)) {
      const c = readAdapterConfig(d);
      assert.equal(c.r, 8);
      assert.deepEqual(c.targetModules, ['v_proj', 'q_proj']);
    }
  });

  it('every field that changes the forward pass, with its value and what is supported', () => {
    const cases: Array<[string, unknown]> = [
      ['modules_to_save', ['output_projection']],
      ['lora_bias', true],
      ['trainable_token_indices', [5, 7]],
      ['layer_replication', [[0, 2], [1, 2]]],
      ['alora_invocation_tokens', [11, 12]],
      ['target_parameters', ['mlp.experts.down_proj']],
      ['use_dora', true],
      ['rank_pattern', { q_proj: 4 }],
      ['alpha_pattern', { q_proj: 4 }],
      ['bias', 'all'],
      ['init_lora_weights', 'pissa'],
      ['ensure_weight_tying', true],
      ['megatron_config', { tensor_model_parallel_size: 2 }],
      ['arrow_config', { top_k: 2 }],
      ['layers_to_transform', 'first'],
      ['exclude_modules', 3],
      ['some_future_option', { on: true }], // a field PEFT 0.21 does not have
    ];
    setBackend(cpuBackend());
    const m = new BioGptForCausalLM(tiny);
    for (const [field, value] of cases) {
      const d = variant({ [field]: value });
      const e = refused(() => readAdapterConfig(d), field, value);
      assert.ok(e.file.endsWith(ADAPTER_CONFIG), e.file);
      refused(() => loadAdapter(m, d), field, value);
      assert.equal(loraModules(m).size, 0, 'refused before any change to the model');
    }
    m.dispose();
    // fields that do not change the outputs load
    readAdapterConfig(variant({ revision: 'main', peft_version: '0.17.1', fan_in_fan_out: true, init_lora_weights: 'gaussian', task_type: null, some_null_option: null }));
  });

  it('the review repro: modules_to_save + lora_bias with their tensors', () => {
    const d = variant({ modules_to_save: ['output_projection'], lora_bias: true }, {
      'base_model.model.output_projection.weight': { dtype: 'f32', shape: [30, 8], data: new Float32Array(240).fill(1) },
    });
    assert.throws(() => readAdapterConfig(d), UnsupportedAdapterError);
  });

  it('tensors that are not lora_A/lora_B weights', () => {
    setBackend(cpuBackend());
    const bias = 'base_model.model.biogpt.layers.0.self_attn.q_proj.lora_B.bias';
    const head = 'base_model.model.output_projection.weight';
    const d = variant({}, { [bias]: { dtype: 'f32', shape: [64], data: new Float32Array(64) }, [head]: { dtype: 'f32', shape: [4, 64], data: new Float32Array(256) } });
    assert.deepEqual(readPeftAdapter(d).otherTensors.sort(), [head, bias].sort());
    const want = [`${bias} (lora_bias)`, `${head} (modules_to_save?)`];
    const e = refused(() => readAdapterConfig(d), 'tensors', want);
    assert.ok(e.file.endsWith(ADAPTER_WEIGHTS), e.file);
    const m = new BioGptForCausalLM(tiny);
    refused(() => loadAdapter(m, d), 'tensors', want);
    assert.equal(loraModules(m).size, 0, 'the model is untouched');
    m.dispose();
  });
});

describe('exclude_modules, layers_to_transform, layers_pattern (PEFT check_target_module_exists)', () => {
  const q = (l: number) => `biogpt.layers.${l}.self_attn.q_proj`;
  const t = (c: Partial<LoraConfig>) => (p: string) => isLoraTarget(p, { targetModules: ['q_proj', 'v_proj'], ...c });

  it('matches as PEFT', () => {
    assert.deepEqual([0, 1, 2].map((l) => t({ layersToTransform: [0, 2] })(q(l))), [true, false, true]);
    assert.deepEqual([0, 1, 2].map((l) => t({ layersToTransform: 1 })(q(l))), [false, true, false]);
    assert.deepEqual([0, 1].map((l) => t({ layersToTransform: [1], layersPattern: 'layers' })(q(l))), [false, true]);
    assert.deepEqual([0, 1].map((l) => t({ layersToTransform: [1], layersPattern: ['h', 'layers'] })(q(l))), [false, true]);
    assert.equal(t({ layersToTransform: [1], layersPattern: 'blocks' })(q(1)), false, 'pattern not in the path');
    assert.equal(t({ layersToTransform: [] })(q(1)), true, 'empty list: every layer');
    assert.equal(t({ layersToTransform: [0] })('v_proj'), true, 'an exact target_modules entry ignores layers');
    assert.equal(isLoraTarget(q(1), { targetModules: '.*q_proj', layersToTransform: [0] }), true, 'a regex ignores layers');
    assert.deepEqual([0, 1].map((l) => t({ excludeModules: [`layers.1.self_attn.q_proj`] })(q(l))), [true, false]);
    assert.equal(t({ excludeModules: [q(0)] })(q(0)), false, 'exact exclude');
    assert.equal(t({ excludeModules: '.*\\.0\\..*' })(q(0)), false, 'regex exclude');
    assert.equal(t({ excludeModules: '0\\..*' })(q(0)), true, 'regex exclude is a full match');
  });

  it('applyLora honours them; the adapter saves them and loads into a fresh model', async () => {
    setBackend(cpuBackend());
    const base: LoraConfig = { r: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'], bias: 'none' };
    const m = new BioGptForCausalLM(tiny);
    const paths = applyLora(m, { ...base, layersToTransform: [0, 2], layersPattern: 'layers', excludeModules: ['layers.2.self_attn.v_proj'] }, 3);
    assert.deepEqual([...paths].sort(), ['biogpt.layers.0.self_attn.q_proj', 'biogpt.layers.0.self_attn.v_proj', 'biogpt.layers.2.self_attn.q_proj']);
    const d = path.join(tmp(), 'adapter');
    await saveAdapter(m, d);
    const raw = JSON.parse(fs.readFileSync(path.join(d, ADAPTER_CONFIG), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([raw.layers_to_transform, raw.layers_pattern, raw.exclude_modules], [[0, 2], 'layers', ['layers.2.self_attn.v_proj']]);
    const fresh = new BioGptForCausalLM(tiny);
    const c = loadAdapter(fresh, d);
    assert.deepEqual([...loraModules(fresh).keys()].sort(), [...paths].sort());
    assert.deepEqual(c.layersToTransform, [0, 2]);
    m.dispose();
    fresh.dispose();
  });
});

describe('target_modules "all-linear" (PEFT _maybe_include_all_linear_layers)', () => {
  const untied = biogptConfig({ ...tiny.raw, tie_word_embeddings: false });
  const every = [0, 1, 2].flatMap((l) => ['fc1', 'fc2', 'self_attn.k_proj', 'self_attn.out_proj', 'self_attn.q_proj', 'self_attn.v_proj'].map((m) => `biogpt.layers.${l}.${m}`)).sort();

  it('is every Linear layer but the output head, saved as those module paths', async () => {
    setBackend(cpuBackend());
    const m = new BioGptForCausalLM(untied);
    assert.ok(m.output_projection, 'the untied model has a Linear head');
    assert.deepEqual(allLinearTargets(m), every);
    const paths = applyLora(m, { r: 2, alpha: 4, dropout: 0, targetModules: 'all-linear', bias: 'none' });
    assert.deepEqual([...paths].sort(), every);
    const d = path.join(tmp(), 'adapter');
    await saveAdapter(m, d);
    const raw = JSON.parse(fs.readFileSync(path.join(d, ADAPTER_CONFIG), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(raw.target_modules, every, 'expanded as PEFT saves it');
    const fresh = new BioGptForCausalLM(untied);
    loadAdapter(fresh, d);
    assert.deepEqual([...loraModules(fresh).keys()].sort(), every);
    // the list form ["all-linear"] (how --target-modules all-linear arrives) and any case
    const l = new BioGptForCausalLM(tiny);
    assert.deepEqual([...applyLora(l, { r: 2, alpha: 4, dropout: 0, targetModules: ['All-Linear'], bias: 'none' })].sort(), every);
    for (const x of [m, fresh, l]) x.dispose();
  });
});

describe('rsLoRA (use_rslora: scaling alpha/sqrt(r))', () => {
  it('scales the branch by alpha/sqrt(r) in forward, saves use_rslora and loads it back', async () => {
    setBackend(cpuBackend());
    const m = new BioGptForCausalLM(tiny);
    applyLora(m, { r: 4, alpha: 6, dropout: 0, targetModules: ['q_proj'], bias: 'none', useRslora: true }, 1);
    const l = loraModules(m).get('biogpt.layers.0.self_attn.q_proj')!;
    assert.equal(l.scaling, 3, '6 / sqrt(4)');
    // a non-zero B, then y - base(x) must be 3 · x Aᵀ Bᵀ
    const B = Float32Array.from({ length: 8 * 4 }, (_, i) => ((i % 7) - 3) / 10);
    l.lora_B.loadStateDict({ weight: { shape: [8, 4], data: B } });
    const x = tensor(Float32Array.from({ length: 2 * 8 }, (_, i) => Math.sin(i)), [2, 8]);
    const y = await l.forward(x).data();
    const base = await l.base_layer.forward(x).data();
    const A = await l.lora_A.weight.data();
    const xs = await x.data();
    for (let r = 0; r < 2; r++) {
      for (let o = 0; o < 8; o++) {
        let v = 0;
        for (let k = 0; k < 4; k++) {
          let xa = 0;
          for (let i = 0; i < 8; i++) xa += xs[r * 8 + i]! * A[k * 8 + i]!;
          v += xa * B[o * 4 + k]!;
        }
        assert.ok(Math.abs(y[r * 8 + o]! - base[r * 8 + o]! - 3 * v) < 1e-5, `row ${r} out ${o}`);
      }
    }
    const d = path.join(tmp(), 'adapter');
    await saveAdapter(m, d);
    assert.equal((JSON.parse(fs.readFileSync(path.join(d, ADAPTER_CONFIG), 'utf8')) as { use_rslora: boolean }).use_rslora, true);
    const fresh = new BioGptForCausalLM(tiny);
    assert.equal(loadAdapter(fresh, d).useRslora, true);
    const lf = loraModules(fresh).get('biogpt.layers.0.self_attn.q_proj')!;
    assert.equal(lf.scaling, 3);
    // the fresh model's base weights are its own: compare the LoRA branch, y - base(x)
    const [yf, bf] = [await lf.forward(x).data(), await lf.base_layer.forward(x).data()];
    assert.ok(yf.every((v, i) => Math.abs(v - bf[i]! - (y[i]! - base[i]!)) < 1e-5), 'the loaded adapter computes the same branch');
    m.dispose();
    fresh.dispose();
  });

  it('a PEFT adapter with use_rslora true loads (scaling lora_alpha/sqrt(r)); plain LoRA keeps alpha/r', { skip: !init && 'shared/golden/tiny_lora_init is absent' }, () => {
    setBackend(cpuBackend());
    const big = biogptConfig({ ...tiny.raw, hidden_size: 64, num_attention_heads: 4, intermediate_size: 256, num_hidden_layers: 2, vocab_size: 512 });
    const alpha = (JSON.parse(fs.readFileSync(path.join(init!, ADAPTER_CONFIG), 'utf8')) as { lora_alpha: number }).lora_alpha;
    for (const [rs, want] of [[true, alpha / Math.sqrt(8)], [false, alpha / 8]] as const) {
      const m = new BioGptForCausalLM(big);
      loadAdapter(m, variant({ use_rslora: rs }));
      assert.equal([...loraModules(m).values()][0]!.scaling, want);
      m.dispose();
    }
  });
});

describe('an adapter whose tensor shapes do not fit the model', { skip: !init && 'shared/golden/tiny_lora_init is absent' }, () => {
  it('AdapterShapeError names the adapter, the tensor key, expected and got shapes, with a hint', () => {
    setBackend(cpuBackend());
    const m = new BioGptForCausalLM(biogptConfig({ ...tiny.raw, num_hidden_layers: 2 })); // hidden 8; the golden adapter was trained on hidden 64
    assert.throws(() => loadAdapter(m, init!), (e: unknown) => {
      assert.ok(e instanceof AdapterShapeError, String(e));
      assert.equal(e.adapter, init);
      assert.match(e.key, /^base_model\.model\.biogpt\.layers\.\d\.self_attn\.[qv]_proj\.lora_A\.weight$/);
      assert.deepEqual([e.expected, e.got], [[8, 8], [8, 64]]);
      assert.equal(e.message, `adapter ${init}: tensor ${e.key} has shape [8, 64], the model expects [8, 8]`);
      assert.match(e.hint!, /trained on a model of another size .*base model it was trained on/);
      return true;
    });
    m.dispose();
  });
});
