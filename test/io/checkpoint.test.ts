import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { sharedPath } from '../../src/util/paths.js';
import { CHECKPOINT_FILES, openCheckpoint, openCheckpointFile, ShardedReader } from '../../src/io/checkpoint.js';
import { SafetensorsReader, writeSafetensors } from '../../src/io/safetensors.js';
import { TorchBinReader, writeTorchBin } from '../../src/io/torch_bin.js';
import { f32ToBf16, f32ToF16, type HostTensor } from '../../src/io/dtype.js';
import { tmpDir, throwsFormat, sameBytes } from './_util.js';

const tiny = sharedPath('golden', 'tiny_biogpt');

test('golden model.safetensors and pytorch_model.bin hold identical tensors', { skip: !tiny && 'shared/golden/tiny_biogpt absent' }, () => {
  const st = openCheckpoint(tiny!);
  const bin = openCheckpointFile(path.join(tiny!, 'pytorch_model.bin'));
  try {
    assert.ok(st instanceof SafetensorsReader, 'a model dir prefers model.safetensors');
    assert.ok(bin instanceof TorchBinReader);
    assert.deepEqual([...bin.keys()].filter((k) => !st.has(k)), ['output_projection.weight']);
    for (const k of st.keys()) {
      const a: HostTensor = st.read(k);
      const b: HostTensor = bin.read(k);
      assert.equal(a.dtype, b.dtype, k);
      assert.deepEqual(a.shape, b.shape, k);
      assert.ok(sameBytes(a.data, b.data), `${k} differs`);
    }
    assert.ok(sameBytes(bin.read('output_projection.weight').data, st.read('biogpt.embed_tokens.weight').data));
  } finally {
    st.close();
    bin.close();
  }
});

test('openCheckpoint picks the format in a directory and by content', (t) => {
  const dir = tmpDir(t);
  const w = { w: { dtype: 'f32' as const, shape: [2], data: new Float32Array([1, 2]) } };
  const binOnly = path.join(dir, 'bin');
  fs.mkdirSync(binOnly);
  writeTorchBin(path.join(binOnly, 'pytorch_model.bin'), w);
  const r = openCheckpoint(binOnly);
  assert.ok(r instanceof TorchBinReader);
  r.close();
  // content sniffing beats the extension
  const odd = path.join(dir, 'weights.dat');
  fs.copyFileSync(path.join(binOnly, 'pytorch_model.bin'), odd);
  const r2 = openCheckpointFile(odd);
  assert.ok(r2 instanceof TorchBinReader);
  r2.close();
  const empty = path.join(dir, 'empty');
  fs.mkdirSync(empty);
  throwsFormat(() => openCheckpoint(empty), /no checkpoint found/, empty);
  throwsFormat(() => openCheckpoint(path.join(dir, 'absent')), /no such file or directory/);
});

test('a folder with several formats opens what transformers would: safetensors, sharded or not, before .bin', (t) => {
  const dir = tmpDir(t);
  assert.deepEqual([...CHECKPOINT_FILES], ['model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin', 'pytorch_model.bin.index.json']);
  const t1 = { w: { dtype: 'f32' as const, shape: [1], data: new Float32Array([1]) } };
  const t2 = { w: { dtype: 'f32' as const, shape: [1], data: new Float32Array([2]) } };
  // Legacy .bin (stale) beside sharded safetensors: the shards win.
  writeTorchBin(path.join(dir, 'pytorch_model.bin'), t1);
  writeTorchBin(path.join(dir, 'pytorch_model-00001-of-00001.bin'), t1);
  fs.writeFileSync(path.join(dir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { w: 'pytorch_model-00001-of-00001.bin' } }));
  writeSafetensors(path.join(dir, 'model-00001-of-00001.safetensors'), t2);
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { w: 'model-00001-of-00001.safetensors' } }));
  let r = openCheckpoint(dir);
  assert.ok(r instanceof ShardedReader && r.file.endsWith('model.safetensors.index.json'), r.file);
  assert.deepEqual([...r.readF32('w')], [2]);
  r.close();
  // A single model.safetensors beats its own sharded index.
  writeSafetensors(path.join(dir, 'model.safetensors'), { w: { dtype: 'f32', shape: [1], data: new Float32Array([3]) } });
  r = openCheckpoint(dir);
  assert.ok(r instanceof SafetensorsReader);
  assert.deepEqual([...r.readF32('w')], [3]);
  r.close();
  // Without safetensors: the single .bin before its sharded index.
  for (const f of ['model.safetensors', 'model.safetensors.index.json']) fs.rmSync(path.join(dir, f));
  r = openCheckpoint(dir);
  assert.ok(r instanceof TorchBinReader);
  r.close();
  fs.rmSync(path.join(dir, 'pytorch_model.bin'));
  r = openCheckpoint(dir);
  assert.ok(r instanceof ShardedReader && r.file.endsWith('pytorch_model.bin.index.json'), r.file);
  r.close();
});

test('sharded checkpoints through *.index.json', (t) => {
  const dir = tmpDir(t);
  const half = f32ToF16(new Float32Array([0.5, -1]));
  const bf = f32ToBf16(new Float32Array([3, 4]));
  writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), { a: { dtype: 'f32', shape: [2], data: new Float32Array([1, 2]) }, h: { dtype: 'f16', shape: [2], data: half } });
  writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), { b: { dtype: 'bf16', shape: [2], data: bf }, n: { dtype: 'i32', shape: [1], data: new Int32Array([5]) } });
  const index = { metadata: { total_size: 28 }, weight_map: { a: 'model-00001-of-00002.safetensors', h: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors', n: 'model-00002-of-00002.safetensors' } };
  fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index));
  const r = openCheckpoint(dir);
  try {
    assert.ok(r instanceof ShardedReader);
    assert.deepEqual(r.keys(), ['a', 'h', 'b', 'n']);
    assert.deepEqual([...r.readF32('h')], [0.5, -1]);
    assert.deepEqual([...r.readF32('b')], [3, 4]);
    assert.deepEqual(r.info('n'), { dtype: 'i32', shape: [1] });
    const dst = new Uint8Array(4);
    r.readInto('n', dst);
    assert.equal(new Int32Array(dst.buffer)[0], 5);
    throwsFormat(() => r.readF32('n'), /readF32 needs a float tensor/);
    throwsFormat(() => r.read('zz'), /'zz': no such tensor/);
  } finally {
    r.close();
  }

  const binDir = path.join(dir, 'bin');
  fs.mkdirSync(binDir);
  writeTorchBin(path.join(binDir, 'pytorch_model-00001-of-00001.bin'), { x: { dtype: 'f32', shape: [1], data: new Float32Array([9]) } });
  fs.writeFileSync(path.join(binDir, 'pytorch_model.bin.index.json'), JSON.stringify({ weight_map: { x: 'pytorch_model-00001-of-00001.bin', y: 'missing.bin', z: 'pytorch_model-00001-of-00001.bin' } }));
  const rb = openCheckpoint(binDir);
  try {
    assert.deepEqual([...rb.readF32('x')], [9]);
    throwsFormat(() => rb.read('y'), /shard missing\.bin .* is missing/);
    throwsFormat(() => rb.read('z'), /says this shard holds 'z'/);
  } finally {
    rb.close();
  }
  const evil = path.join(dir, 'evil.index.json');
  fs.writeFileSync(evil, JSON.stringify({ weight_map: { x: '../../etc/passwd' } }));
  throwsFormat(() => openCheckpointFile(evil), /weight_map\['x'\] is not a shard file name/, evil);
  fs.writeFileSync(evil, '{not json');
  throwsFormat(() => openCheckpointFile(evil), /index is not valid JSON/, evil);
});
