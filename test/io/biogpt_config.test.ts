import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { sharedPath } from '../../src/util/paths.js';
import { loadBioGptConfig, parseBioGptConfig, validateCheckpointShapes, expectedBioGptParams, BIOGPT_LAYER_NORM_EPS } from '../../src/io/biogpt_config.js';
import { openCheckpoint, openCheckpointFile } from '../../src/io/checkpoint.js';
import { SafetensorsReader, writeSafetensors } from '../../src/io/safetensors.js';
import { ConfigFieldError, CheckpointMismatchError } from '../../src/io/io_errors.js';
import type { HostTensor } from '../../src/io/dtype.js';
import { tmpDir, throwsFormat } from './_util.js';

const tiny = sharedPath('golden', 'tiny_biogpt');

test('parses the golden tiny BioGPT config.json', { skip: !tiny && 'shared/golden/tiny_biogpt absent' }, () => {
  const c = loadBioGptConfig(tiny!);
  assert.equal(c.vocabSize, 512);
  assert.equal(c.hiddenSize, 64);
  assert.equal(c.numHiddenLayers, 2);
  assert.equal(c.numAttentionHeads, 4);
  assert.equal(c.headDim, 16);
  assert.equal(c.intermediateSize, 256);
  assert.equal(c.maxPositionEmbeddings, 64);
  assert.equal(c.hiddenAct, 'gelu');
  assert.equal(c.hiddenDropoutProb, 0);
  assert.equal(c.attentionProbsDropoutProb, 0);
  assert.equal(c.layerdrop, 0);
  assert.equal(c.scaleEmbedding, true);
  assert.deepEqual([c.padTokenId, c.bosTokenId, c.eosTokenId], [1, 0, 2]);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.layerNormEps, 1e-12); // recorded; the model uses BIOGPT_LAYER_NORM_EPS
  assert.equal(BIOGPT_LAYER_NORM_EPS, 1e-5);
  assert.equal(c.dtype, 'float32');
  assert.equal(c.file, path.join(tiny!, 'config.json'));
});

const SIZES = { vocab_size: 100, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 16 };

test('optional fields take transformers BioGptConfig defaults', () => {
  const c = parseBioGptConfig(SIZES, 'cfg.json');
  assert.equal(c.hiddenDropoutProb, 0.1);
  assert.equal(c.attentionProbsDropoutProb, 0.1);
  assert.equal(c.activationDropout, 0);
  assert.equal(c.layerdrop, 0);
  assert.equal(c.scaleEmbedding, true);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.layerNormEps, 1e-12);
  assert.equal(c.initializerRange, 0.02);
  assert.deepEqual([c.padTokenId, c.bosTokenId, c.eosTokenId], [1, 0, 2]);
  assert.equal(c.dtype, undefined);
  assert.equal(parseBioGptConfig({ ...SIZES, torch_dtype: 'float16', scale_embedding: false }, 'x').dtype, 'float16');
});

test('missing, mistyped and inconsistent config fields are typed errors naming file and field', (t) => {
  const bad = (patch: Record<string, unknown>, field: string, re: RegExp) => {
    const raw: Record<string, unknown> = { ...SIZES, ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete raw[k];
    const e = throwsFormat(() => parseBioGptConfig(raw, '/models/x/config.json'), re, '/models/x/config.json', ConfigFieldError);
    assert.equal((e as ConfigFieldError).field, field);
  };
  bad({ vocab_size: undefined }, 'vocab_size', /'vocab_size': is missing/);
  bad({ hidden_size: '64' }, 'hidden_size', /must be an integer, got "64"/);
  bad({ num_hidden_layers: 0 }, 'num_hidden_layers', /must be positive/);
  bad({ intermediate_size: 2.5 }, 'intermediate_size', /must be an integer/);
  bad({ num_attention_heads: 5 }, 'num_attention_heads', /hidden_size 32 is not divisible by num_attention_heads 5/);
  bad({ hidden_act: 'gelu_new' }, 'hidden_act', /'gelu_new' is not supported/);
  bad({ hidden_dropout_prob: 1.5 }, 'hidden_dropout_prob', /\[0, 1\)/);
  bad({ scale_embedding: 'yes' }, 'scale_embedding', /true or false/);
  bad({ pad_token_id: 100 }, 'pad_token_id', /outside the vocabulary \[0, 100\)/);
  bad({ eos_token_id: [2] }, 'eos_token_id', /integer token id/);
  bad({ model_type: 'gpt2' }, 'model_type', /expected "biogpt"/);
  bad({ layer_norm_eps: -1 }, 'layer_norm_eps', /positive/);
  const dir = tmpDir(t);
  const f = path.join(dir, 'config.json');
  fs.writeFileSync(f, '{"vocab_size": 10,');
  throwsFormat(() => loadBioGptConfig(dir), /config is not valid JSON/, f);
  throwsFormat(() => loadBioGptConfig(path.join(dir, 'nope.json')), /cannot read config/, 'nope.json');
  fs.writeFileSync(f, '[1]');
  throwsFormat(() => loadBioGptConfig(f), /not a JSON object/, f);
});

test('expected parameter list matches the golden checkpoint keys exactly', { skip: !tiny && 'shared/golden/tiny_biogpt absent' }, () => {
  const c = loadBioGptConfig(tiny!);
  const names = expectedBioGptParams(c).map((p) => p.name);
  assert.equal(names.length, 2 + 16 * c.numHiddenLayers + 2 + 1);
  const st = openCheckpoint(tiny!);
  const bin = openCheckpointFile(path.join(tiny!, 'pytorch_model.bin'));
  try {
    assert.deepEqual([...names].sort(), [...bin.keys()].sort());
    const rs = validateCheckpointShapes(c, st);
    assert.equal(rs.prefix, 'biogpt.');
    assert.equal(rs.hasOutputProjection, false);
    assert.deepEqual(rs.unexpected, []);
    const rb = validateCheckpointShapes(c, bin);
    assert.equal(rb.hasOutputProjection, true);
    assert.equal(rb.keyOf.get('biogpt.layers.1.fc2.weight'), 'biogpt.layers.1.fc2.weight');
    // untied config: the safetensors file (head stored once, as the embedding) lacks the head
    const untied = parseBioGptConfig({ ...c.raw, tie_word_embeddings: false }, c.file);
    const e = throwsFormat(() => validateCheckpointShapes(untied, st), /missing 'output_projection.weight' \(tie_word_embeddings is false\)/, 'model.safetensors', CheckpointMismatchError);
    assert.equal((e as CheckpointMismatchError).issues.length, 1);
    validateCheckpointShapes(untied, bin);
    // a config whose sizes disagree with the weights
    const wrong = parseBioGptConfig({ ...c.raw, intermediate_size: 128, max_position_embeddings: 32 }, c.file);
    const e2 = throwsFormat(() => validateCheckpointShapes(wrong, st), /'biogpt.embed_positions.weight' has shape \[66, 64\], config implies \[34, 64\]/, undefined, CheckpointMismatchError);
    assert.equal((e2 as CheckpointMismatchError).issues.length, 1 + 3 * c.numHiddenLayers); // positions + fc1.weight, fc1.bias, fc2.weight per layer
    const more = parseBioGptConfig({ ...c.raw, num_hidden_layers: 3 }, c.file);
    throwsFormat(() => validateCheckpointShapes(more, st), /missing 'biogpt.layers.2.self_attn.k_proj.weight'/, undefined, CheckpointMismatchError);
  } finally {
    st.close();
    bin.close();
  }
});

test('checkpoints without the biogpt. prefix (bare BioGptModel) validate too', (t) => {
  const c = parseBioGptConfig(SIZES, 'cfg.json');
  const tensors = new Map<string, HostTensor>();
  for (const p of expectedBioGptParams(c)) {
    if (p.optional) continue;
    tensors.set(p.name.replace(/^biogpt\./, ''), { dtype: 'f16', shape: p.shape, data: new Uint16Array(p.shape.reduce((a, b) => a * b, 1)) });
  }
  tensors.set('extra.buffer', { dtype: 'i64', shape: [1], data: new BigInt64Array(1) });
  const f = path.join(tmpDir(t), 'bare.safetensors');
  writeSafetensors(f, tensors);
  const r = SafetensorsReader.open(f);
  try {
    const rep = validateCheckpointShapes(c, r);
    assert.equal(rep.prefix, '');
    assert.equal(rep.keyOf.get('biogpt.layers.0.fc1.weight'), 'layers.0.fc1.weight');
    assert.deepEqual(rep.unexpected, ['extra.buffer']);
  } finally {
    r.close();
  }
  // a non-float weight is rejected
  tensors.set('layer_norm.weight', { dtype: 'i32', shape: [32], data: new Int32Array(32) });
  writeSafetensors(f, tensors);
  const r2 = SafetensorsReader.open(f);
  throwsFormat(() => validateCheckpointShapes(c, r2), /'layer_norm.weight' has non-float dtype i32/, f, CheckpointMismatchError);
  r2.close();
});
