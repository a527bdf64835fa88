import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { sharedPath } from '../../src/util/paths.js';
import { readPeftAdapter, writePeftAdapter, makeAdapterConfig, formatAdapterConfig, peftKey, ADAPTER_CONFIG, ADAPTER_WEIGHTS } from '../../src/io/peft_adapter.js';
import { pyFloatRepr, pyJsonDumps, PyFloat } from '../../src/io/pyjson.js';
import { writeSafetensors, readSafetensors } from '../../src/io/safetensors.js';
import { writeTorchBin } from '../../src/io/torch_bin.js';
import { ConfigFieldError, TensorFormatError } from '../../src/io/io_errors.js';
import type { HostTensor } from '../../src/io/dtype.js';
import { tmpDir, throwsFormat, sameBytes } from './_util.js';

const init = sharedPath('golden', 'tiny_lora_init');
const trained = sharedPath('golden', 'tiny_lora_trained');

test('reads the golden PEFT adapter', { skip: !init && 'shared/golden/tiny_lora_init absent' }, () => {
  const a = readPeftAdapter(init!);
  assert.equal(a.config.r, 8);
  assert.equal(a.config.loraAlpha, 16);
  assert.equal(a.config.loraDropout, 0);
  assert.equal(a.config.scaling, 2);
  assert.deepEqual(a.config.targetModules, ['v_proj', 'q_proj']);
  assert.equal(a.config.baseModelNameOrPath, 'tiny_biogpt');
  assert.deepEqual([...a.modules.keys()], ['biogpt.layers.0.self_attn.q_proj', 'biogpt.layers.0.self_attn.v_proj', 'biogpt.layers.1.self_attn.q_proj', 'biogpt.layers.1.self_attn.v_proj']);
  const q0 = a.modules.get('biogpt.layers.0.self_attn.q_proj')!;
  assert.deepEqual(q0.loraA.shape, [8, 64]);
  assert.deepEqual(q0.loraB.shape, [64, 8]);
  assert.equal(a.tensors.get('base_model.model.biogpt.layers.0.self_attn.q_proj.lora_A.weight'), q0.loraA);
});

test('PEFT adapter round trip: read -> write -> read is identical, files byte-identical to PEFT', { skip: !init && 'shared/golden/tiny_lora_init absent' }, (t) => {
  const a = readPeftAdapter(init!);
  const out = path.join(tmpDir(t), 'adapter');
  writePeftAdapter(out, { config: a.config.raw, modules: a.modules });
  assert.deepEqual(fs.readdirSync(out).sort(), [ADAPTER_CONFIG, ADAPTER_WEIGHTS]);
  const b = readPeftAdapter(out);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, ADAPTER_CONFIG), 'utf8')), JSON.parse(fs.readFileSync(path.join(init!, ADAPTER_CONFIG), 'utf8')));
  assert.deepEqual([...b.tensors.keys()], [...a.tensors.keys()]);
  for (const [k, v] of a.tensors) {
    const w = b.tensors.get(k)!;
    assert.deepEqual(w.shape, v.shape, k);
    assert.ok(sameBytes(w.data, v.data), k);
  }
  // stronger than equivalence: both files come out exactly as PEFT wrote them
  assert.equal(fs.readFileSync(path.join(out, ADAPTER_CONFIG), 'utf8'), fs.readFileSync(path.join(init!, ADAPTER_CONFIG), 'utf8'));
  assert.ok(fs.readFileSync(path.join(out, ADAPTER_WEIGHTS)).equals(fs.readFileSync(path.join(init!, ADAPTER_WEIGHTS))));
});

test('makeAdapterConfig reproduces PEFT 0.21 adapter_config.json from LoraConfig arguments', { skip: !init && 'shared/golden/tiny_lora_init absent' }, () => {
  const cfg = makeAdapterConfig({ r: 8, lora_alpha: 16, lora_dropout: 0, target_modules: ['v_proj', 'q_proj'], base_model_name_or_path: 'tiny_biogpt', init_lora_weights: false });
  assert.equal(formatAdapterConfig(cfg), fs.readFileSync(path.join(init!, ADAPTER_CONFIG), 'utf8'));
  const d = makeAdapterConfig({ target_modules: ['q_proj'], lora_dropout: 0.05 });
  assert.equal(d.r, 8);
  assert.equal(d.lora_alpha, 8);
  assert.equal(d.init_lora_weights, true);
  assert.equal(d.inference_mode, true);
  assert.match(formatAdapterConfig(d), /"lora_dropout": 0\.05,/);
});

test('the trained adapter reads and differs from the initial one', { skip: (!init || !trained) && 'shared/golden absent' }, () => {
  const a = readPeftAdapter(init!);
  const b = readPeftAdapter(trained!);
  let differ = 0;
  for (const [k, v] of a.tensors) if (!sameBytes(v.data, b.tensors.get(k)!.data)) differ++;
  assert.ok(differ > 0);
});

function tinyModules(r = 2): Map<string, { loraA: HostTensor; loraB: HostTensor }> {
  const m = new Map<string, { loraA: HostTensor; loraB: HostTensor }>();
  for (const mod of ['biogpt.layers.0.self_attn.q_proj', 'biogpt.layers.0.self_attn.v_proj']) {
    m.set(mod, {
      loraA: { dtype: 'f32', shape: [r, 4], data: Float32Array.from({ length: r * 4 }, (_, i) => i) },
      loraB: { dtype: 'f32', shape: [4, r], data: new Float32Array(4 * r) },
    });
  }
  return m;
}

test('adapter directory writes are atomic: a failed write leaves the old adapter intact', (t) => {
  const root = tmpDir(t);
  const out = path.join(root, 'adapter');
  const config = { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'] };
  writePeftAdapter(out, { config, modules: tinyModules() });
  const before = fs.readFileSync(path.join(out, ADAPTER_WEIGHTS));
  // overwrite works
  writePeftAdapter(out, { config: { ...config, lora_alpha: 8 }, modules: tinyModules() });
  assert.equal(readPeftAdapter(out).config.scaling, 4);
  const mods = tinyModules();
  mods.get('biogpt.layers.0.self_attn.q_proj')!.loraB = { dtype: 'f32', shape: [4, 2], data: new Float32Array(3) };
  throwsFormat(() => writePeftAdapter(out, { config, modules: mods }), /3 elements but shape \[4, 2\] needs 8/);
  assert.ok(fs.readFileSync(path.join(out, ADAPTER_WEIGHTS)).equals(before));
  assert.deepEqual(fs.readdirSync(root), ['adapter'], 'no temp directories left');
  throwsFormat(() => writePeftAdapter(out, { config: { ...config, r: 0 }, modules: tinyModules() }), /'r': must be a positive integer/, undefined, ConfigFieldError);
  throwsFormat(() => writePeftAdapter(out, { config }), /no tensors/);
});

test('adapter errors: bad config, unpaired or mis-ranked matrices, adapter-named keys', (t) => {
  const root = tmpDir(t);
  let n = 0;
  const make = (cfg: unknown, tensors: Map<string, HostTensor> | null, cfgText?: string): string => {
    const d = path.join(root, `a${n++}`);
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, ADAPTER_CONFIG), cfgText ?? JSON.stringify(cfg));
    if (tensors) writeSafetensors(path.join(d, ADAPTER_WEIGHTS), tensors, { metadata: { format: 'pt' } });
    return d;
  };
  const cfg = makeAdapterConfig({ r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'] });
  const flat = () => {
    const m = new Map<string, HostTensor>();
    for (const [mod, w] of tinyModules()) {
      m.set(peftKey(mod, 'A'), w.loraA);
      m.set(peftKey(mod, 'B'), w.loraB);
    }
    return m;
  };
  readPeftAdapter(make(cfg, flat())); // control

  let d = make({ ...cfg, peft_type: 'IA3' }, flat());
  throwsFormat(() => readPeftAdapter(d), /'peft_type': .*only "LORA"/, d, ConfigFieldError);
  d = make({ ...cfg, r: 4 }, flat());
  throwsFormat(() => readPeftAdapter(d), /rank 2 differs from r=4/, d, TensorFormatError);
  d = make({ ...cfg, target_modules: ['k_proj'] }, flat());
  throwsFormat(() => readPeftAdapter(d), /not among target_modules \[k_proj\]/, d, TensorFormatError);
  d = make({ ...cfg, target_modules: 7 }, flat());
  throwsFormat(() => readPeftAdapter(d), /'target_modules': must be a list/, d, ConfigFieldError);
  d = make(null, flat(), '{"r": 2,');
  throwsFormat(() => readPeftAdapter(d), /not valid JSON/, d);
  let m = flat();
  m.delete(peftKey('biogpt.layers.0.self_attn.v_proj', 'B'));
  d = make(cfg, m);
  throwsFormat(() => readPeftAdapter(d), /v_proj\.lora_B\.weight': missing \(LoRA A and B come in pairs\)/, d, TensorFormatError);
  m = flat();
  m.set(peftKey('biogpt.layers.0.self_attn.q_proj', 'B'), { dtype: 'f32', shape: [4, 3], data: new Float32Array(12) });
  d = make(cfg, m);
  throwsFormat(() => readPeftAdapter(d), /does not match lora_A rank 2/, d, TensorFormatError);
  m = flat();
  const a = m.get(peftKey('biogpt.layers.0.self_attn.q_proj', 'A'))!;
  m.set('base_model.model.biogpt.layers.0.self_attn.q_proj.lora_A.default.weight', a);
  d = make(cfg, m);
  throwsFormat(() => readPeftAdapter(d), /carries an adapter name/, d, TensorFormatError);
  d = make(cfg, null);
  throwsFormat(() => readPeftAdapter(d), /missing \(and no adapter_model\.bin either\)/);
  d = path.join(root, 'none');
  fs.mkdirSync(d);
  throwsFormat(() => readPeftAdapter(d), /adapter_config\.json: missing/);

  // older PEFT saved adapter_model.bin; it is read through the torch reader
  d = make(cfg, null);
  writeTorchBin(path.join(d, 'adapter_model.bin'), flat());
  const old = readPeftAdapter(d);
  assert.equal(old.modules.size, 2);
  assert.ok(sameBytes(old.modules.get('biogpt.layers.0.self_attn.q_proj')!.loraA.data, a.data));
  assert.equal(readSafetensors(path.join(make(cfg, flat()), ADAPTER_WEIGHTS)).metadata?.format, 'pt');
});

test('Python-style JSON: float repr, ASCII escaping, layout', () => {
  const cases: [number, string][] = [
    [0, '0.0'],
    [-0, '-0.0'],
    [0.05, '0.05'],
    [1e-5, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [0.0001, '0.0001'],
    [123, '123.0'],
    [-0.5, '-0.5'],
    [1e16, '1e+16'],
    [1234567890123456.8, '1234567890123456.8'],
    [2.5e20, '2.5e+20'],
    [1 / 3, '0.3333333333333333'],
    [NaN, 'NaN'],
    [-Infinity, '-Infinity'],
  ];
  for (const [x, s] of cases) assert.equal(pyFloatRepr(x), s, String(x));
  assert.equal(pyJsonDumps({ b: [1, new PyFloat(2), 'é\n"'], a: {}, c: [], d: { z: null, y: true } }), '{\n  "a": {},\n  "b": [\n    1,\n    2.0,\n    "\\u00e9\\n\\""\n  ],\n  "c": [],\n  "d": {\n    "y": true,\n    "z": null\n  }\n}');
  assert.equal(pyJsonDumps({ p: 0.1, q: 3 }, { floatKeys: new Set(['q']) }), '{\n  "p": 0.1,\n  "q": 3.0\n}');
});
