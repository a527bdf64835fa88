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
import { AdapterShapeError, UnsupportedAdapterError, applyLora, isLoraTarget, loadAdapter, loraModules, readAdapterConfig, saveAdapter, type LoraConfig } from '../../src/nn/lora.js';
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
      ['use_rslora', true],
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
