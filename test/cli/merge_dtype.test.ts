// `radgrad merge` writes the base checkpoint's dtype, as PEFT's merge_and_unload + save_pretrained
// keep it (an f16 base comes back f16, a bf16 pytorch_model.bin base bf16), or --dtype; config.json's
// dtype and torch_dtype name what was written.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot, sharedPath } from '../../src/util/paths.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { writeTorchBin } from '../../src/io/torch_bin.js';
import { f16ToF32, f32ToBf16, f32ToF16, type HostTensor } from '../../src/io/dtype.js';

const root = packageRoot();
const model = sharedPath('golden', 'tiny_biogpt');
const adapter = sharedPath('golden', 'tiny_lora_trained');
const SKIP = !model || !adapter ? 'shared/golden/tiny_biogpt or tiny_lora_trained is absent' : false;
const radgrad = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'cli/index.ts'), ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });

function tmp(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'radgrad-merge-dtype-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The tiny golden model re-saved with its weights in f16 (model.safetensors) or bf16 (pytorch_model.bin), and config.json's dtype fields replaced. */
function baseIn(dir: string, dtype: 'f16' | 'bf16', config: Record<string, unknown>): string {
  fs.mkdirSync(dir);
  const src = readSafetensors(path.join(model!, 'model.safetensors')).tensors;
  const conv = new Map([...src].map(([k, t]) => [k, { dtype, shape: t.shape, data: (dtype === 'f16' ? f32ToF16 : f32ToBf16)(t.data as Float32Array) }] as const));
  if (dtype === 'f16') writeSafetensors(path.join(dir, 'model.safetensors'), conv, { metadata: { format: 'pt' } });
  else writeTorchBin(path.join(dir, 'pytorch_model.bin'), conv);
  const { dtype: _d, torch_dtype: _t, ...cfg } = JSON.parse(fs.readFileSync(path.join(model!, 'config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...cfg, ...config }));
  return dir;
}

function merged(out: string): { tensors: Map<string, HostTensor>; config: { dtype?: string; torch_dtype?: string } } {
  return { tensors: readSafetensors(path.join(out, 'model.safetensors')).tensors, config: JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as { dtype?: string; torch_dtype?: string } };
}
const dtypes = (m: Map<string, HostTensor>) => [...new Set([...m.values()].map((t) => t.dtype))];
const Q = 'biogpt.layers.0.self_attn.q_proj.weight'; // a LoRA target of tiny_lora_trained
const LN = 'biogpt.layers.0.self_attn_layer_norm.weight'; // not a target

test('merge keeps the base dtype (f32, f16 safetensors, bf16 .bin) or writes --dtype; config.json names it', { skip: SKIP }, (t) => {
  const d = tmp(t);
  const run = (base: string, out: string, ...extra: string[]) => {
    const r = radgrad('merge', '--model', base, '--adapter', adapter!, '--out', path.join(d, out), '--json', ...extra);
    assert.equal(r.status, 0, r.stderr);
    return { summary: JSON.parse(r.stdout) as { dtype: string; dtypeFrom: string }, ...merged(path.join(d, out)) };
  };
  // float32 base: float32, as before
  const f32 = run(model!, 'f32');
  assert.deepEqual(dtypes(f32.tensors), ['f32']);
  assert.deepEqual([f32.config.dtype, f32.config.torch_dtype, f32.summary.dtype], ['float32', 'float32', 'float32']);
  const ref = f32.tensors.get(Q)!.data as Float32Array;

  // f16 weights (config torch_dtype float16, transformers 4.x style): every tensor f16
  const f16 = run(baseIn(path.join(d, 'base16'), 'f16', { torch_dtype: 'float16' }), 'f16');
  assert.deepEqual(dtypes(f16.tensors), ['f16']);
  assert.deepEqual([f16.config.dtype, f16.config.torch_dtype, f16.summary.dtype, f16.summary.dtypeFrom], ['float16', 'float16', 'float16', 'the base weights']);
  const base16 = readSafetensors(path.join(d, 'base16', 'model.safetensors')).tensors;
  assert.deepEqual([...f16.tensors.get(LN)!.data], [...base16.get(LN)!.data], 'an untouched tensor round-trips bit for bit');
  const q16 = f16ToF32(f16.tensors.get(Q)!.data as Uint16Array);
  assert.notDeepEqual([...f16.tensors.get(Q)!.data], [...base16.get(Q)!.data], 'the LoRA delta is merged');
  const err = Math.max(...q16.map((v, i) => Math.abs(v - ref[i]!)));
  assert.ok(err < 2e-3, `f16 merge within f16 rounding of the f32 merge (max |diff| ${err})`);

  // bf16 weights in pytorch_model.bin, no dtype in config.json: bf16 from the tensors
  const bf16 = run(baseIn(path.join(d, 'base-bf16'), 'bf16', {}), 'bf16');
  assert.deepEqual(dtypes(bf16.tensors), ['bf16']);
  assert.deepEqual([bf16.config.dtype, bf16.config.torch_dtype], ['bfloat16', 'bfloat16']);

  // --dtype overrides: an f32 base written as f16 is the f32 merge rounded to f16, exactly
  const over = run(model!, 'over16', '--dtype', 'float16');
  assert.deepEqual(dtypes(over.tensors), ['f16']);
  assert.deepEqual([over.config.dtype, over.config.torch_dtype, over.summary.dtypeFrom], ['float16', 'float16', '--dtype']);
  assert.deepEqual([...over.tensors.get(Q)!.data], [...f32ToF16(ref)]);
  const up = run(path.join(d, 'base16'), 'up32', '--dtype', 'float32');
  assert.deepEqual(dtypes(up.tensors), ['f32']);
  assert.deepEqual([up.config.dtype, up.config.torch_dtype], ['float32', 'float32']);
});

test('merge --dtype refuses other names before any work', { skip: SKIP }, (t) => {
  const d = tmp(t);
  const r = radgrad('merge', '--model', model!, '--adapter', adapter!, '--out', path.join(d, 'out'), '--dtype', 'float64');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /^error: --dtype must be float32, float16 or bfloat16, got "float64"$/m);
  assert.match(r.stderr, /^hint: leave it out to keep the base checkpoint's dtype$/m);
  assert.equal(fs.existsSync(path.join(d, 'out')), false);
});
