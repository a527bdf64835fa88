import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { sharedPath } from '../../src/util/paths.js';
import { SafetensorsReader, writeSafetensors, readSafetensors, MAX_HEADER_BYTES } from '../../src/io/safetensors.js';
import { TensorFormatError } from '../../src/io/io_errors.js';
import type { HostTensor } from '../../src/io/dtype.js';
import { tmpDir, throwsFormat, sameBytes } from './_util.js';

const golden = sharedPath('golden', 'tiny_biogpt', 'model.safetensors');
const goldenTiny = sharedPath('golden', 'golden_tiny.safetensors');

test('reads the golden tiny BioGPT safetensors', { skip: !golden && 'shared/golden/tiny_biogpt absent' }, () => {
  const r = SafetensorsReader.open(golden!);
  try {
    assert.deepEqual(r.metadata, { format: 'pt' });
    assert.equal(r.keys().length, 36);
    assert.deepEqual(r.info('biogpt.embed_positions.weight'), { dtype: 'f32', shape: [66, 64] });
    const t = r.read('biogpt.layers.0.fc1.weight');
    assert.ok(t.data instanceof Float32Array);
    assert.equal(t.data.length, 256 * 64);
    assert.equal(t.data.byteOffset, 0); // fresh buffer per tensor
    assert.ok(!r.has('output_projection.weight')); // tied head stored once
    const staging = new Uint8Array(256 * 64 * 4);
    r.readInto('biogpt.layers.0.fc1.weight', staging);
    assert.ok(sameBytes(staging, t.data));
    throwsFormat(() => r.readInto('biogpt.layers.0.fc1.bias', staging), /needs a 1024-byte destination/, golden!, TensorFormatError);
    throwsFormat(() => r.read('nope'), /'nope': no such tensor/, golden!, TensorFormatError);
  } finally {
    r.close();
  }
});

test('golden_tiny.safetensors is readable and all f32', { skip: !goldenTiny && 'shared/golden/golden_tiny.safetensors absent' }, () => {
  const r = SafetensorsReader.open(goldenTiny!);
  try {
    assert.ok(r.keys().length > 50);
    for (const k of r.keys()) {
      const t = r.read(k);
      assert.equal(t.dtype, 'f32');
      assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
    }
    assert.deepEqual(r.info('logits').shape, [2, 12, 512]);
    assert.equal(r.readF32('input_ids').length, 24);
  } finally {
    r.close();
  }
});

function allDtypes(): Map<string, HostTensor> {
  const m = new Map<string, HostTensor>();
  m.set('f32', { dtype: 'f32', shape: [2, 3], data: new Float32Array([1, -2, 3.5, NaN, Infinity, -0]) });
  m.set('f64', { dtype: 'f64', shape: [2], data: new Float64Array([Math.PI, -1e300]) });
  m.set('f16', { dtype: 'f16', shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) });
  m.set('bf16', { dtype: 'bf16', shape: [1, 3], data: new Uint16Array([0x3f80, 0xc020, 0x7f7f]) });
  m.set('i8', { dtype: 'i8', shape: [4], data: new Int8Array([-128, -1, 0, 127]) });
  m.set('u8', { dtype: 'u8', shape: [2, 2], data: new Uint8Array([0, 1, 254, 255]) });
  m.set('i16', { dtype: 'i16', shape: [2], data: new Int16Array([-32768, 32767]) });
  m.set('u16', { dtype: 'u16', shape: [1], data: new Uint16Array([65535]) });
  m.set('i32', { dtype: 'i32', shape: [3], data: new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]) });
  m.set('u32', { dtype: 'u32', shape: [1], data: new Uint32Array([2 ** 32 - 1]) });
  m.set('i64', { dtype: 'i64', shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) });
  m.set('u64', { dtype: 'u64', shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) });
  m.set('bool', { dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) });
  m.set('scalar', { dtype: 'f32', shape: [], data: new Float32Array([42]) });
  m.set('empty', { dtype: 'f32', shape: [0, 5], data: new Float32Array(0) });
  m.set('odd.i8', { dtype: 'i8', shape: [3], data: new Int8Array([1, 2, 3]) });
  return m;
}

test('write -> read round trip for every dtype, with metadata', (t) => {
  const dir = tmpDir(t);
  const f = path.join(dir, 'all.safetensors');
  const src = allDtypes();
  writeSafetensors(f, src, { metadata: { format: 'pt', note: 'ünïcode ✓' } });
  const buf = fs.readFileSync(f);
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0, 'data region starts 8-byte aligned');
  const { tensors, metadata } = readSafetensors(f);
  assert.deepEqual(metadata, { format: 'pt', note: 'ünïcode ✓' });
  assert.deepEqual([...tensors.keys()].sort(), [...src.keys()].sort());
  for (const [k, v] of src) {
    const got = tensors.get(k)!;
    assert.equal(got.dtype, v.dtype, k);
    assert.deepEqual(got.shape, v.shape, k);
    assert.equal(got.data.constructor, v.data.constructor, k);
    assert.ok(sameBytes(got.data, v.data), k);
  }
  // the writer orders by itemsize then name, so every tensor is aligned to its element size
  const r = SafetensorsReader.open(f);
  try {
    const keys = r.keys();
    assert.equal(keys[0], 'f64');
    assert.ok(keys.indexOf('f16') > keys.indexOf('u32'));
  } finally {
    r.close();
  }
  assert.deepEqual(fs.readdirSync(dir), ['all.safetensors'], 'no temp files left');
});

test('tensor names that are Object.prototype members round-trip ("__proto__", "constructor")', (t) => {
  const f = path.join(tmpDir(t), 'proto.safetensors');
  const names = ['__proto__', 'constructor', 'toString', 'b'];
  const src = new Map<string, HostTensor>(names.map((k, i) => [k, { dtype: 'f32', shape: [1], data: new Float32Array([i + 1]) }]));
  writeSafetensors(f, src);
  const { tensors } = readSafetensors(f);
  assert.deepEqual([...tensors.keys()].sort(), [...names].sort());
  names.forEach((k, i) => assert.deepEqual([...(tensors.get(k)!.data as Float32Array)], [i + 1], k));
});

test('lazy producers are called once, in order; a failing producer leaves no partial file', (t) => {
  const dir = tmpDir(t);
  const f = path.join(dir, 'lazy.safetensors');
  const calls: string[] = [];
  const lazy = (name: string, v: number) => ({ dtype: 'f32' as const, shape: [2], data: () => (calls.push(name), new Float32Array([v, v])) });
  writeSafetensors(f, { b: lazy('b', 2), a: lazy('a', 1) });
  assert.deepEqual(calls, ['a', 'b']);
  assert.deepEqual([...readSafetensors(f).tensors.get('b')!.data], [2, 2]);
  const before = fs.readFileSync(f);
  assert.throws(
    () =>
      writeSafetensors(f, {
        a: lazy('a', 1),
        z: {
          dtype: 'f32',
          shape: [2],
          data: () => {
            throw new Error('producer failed');
          },
        },
      }),
    /producer failed/,
  );
  assert.ok(fs.readFileSync(f).equals(before), 'previous file intact');
  assert.deepEqual(fs.readdirSync(dir), ['lazy.safetensors']);
  throwsFormat(() => writeSafetensors(f, { x: { dtype: 'f32', shape: [3], data: new Float32Array(2) } }), /2 elements but shape \[3\] needs 3/);
  throwsFormat(() => writeSafetensors(f, { x: { dtype: 'f16', shape: [2], data: new Float32Array(2) } }), /does not match dtype f16/);
  assert.deepEqual(fs.readdirSync(dir), ['lazy.safetensors']);
});

/** A file with the given header (object or raw text) and `dataLen` data bytes. */
function craft(dir: string, name: string, header: unknown, dataLen: number, lenOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lenOverride ?? BigInt(json.length));
  const f = path.join(dir, name);
  fs.writeFileSync(f, Buffer.concat([len, json, Buffer.alloc(dataLen)]));
  return f;
}

test('header validation errors name the file, tensor and problem', (t) => {
  const dir = tmpDir(t);
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'I8', shape: [3], data_offsets: [8, 11] } };
  // sanity: the well-formed one opens
  SafetensorsReader.open(craft(dir, 'ok.st', ok, 11)).close();

  const tiny = path.join(dir, 'tiny.st');
  fs.writeFileSync(tiny, Buffer.from([1, 2, 3]));
  throwsFormat(() => SafetensorsReader.open(tiny), /too short for the 8-byte header length/, tiny);

  let f = craft(dir, 'huge.st', ok, 11, 1n << 40n);
  throwsFormat(() => SafetensorsReader.open(f), new RegExp(`exceeds the ${MAX_HEADER_BYTES}-byte limit`), f);
  f = craft(dir, 'past.st', ok, 0, 5000n);
  throwsFormat(() => SafetensorsReader.open(f), /header length 5000 runs past the end/, f);
  f = craft(dir, 'json.st', '{"a": {"dtype": "F32",', 0);
  throwsFormat(() => SafetensorsReader.open(f), /header is not valid JSON/, f);
  f = craft(dir, 'arr.st', '[1, 2, 3]', 0);
  throwsFormat(() => SafetensorsReader.open(f), /does not start with "\{"/, f);
  f = craft(dir, 'meta.st', { __metadata__: { format: 1 } }, 0);
  throwsFormat(() => SafetensorsReader.open(f), /__metadata__\['format'\] is not a string/, f);
  f = craft(dir, 'dtype.st', { a: { dtype: 'F7', shape: [1], data_offsets: [0, 1] } }, 1);
  throwsFormat(() => SafetensorsReader.open(f), /tensor 'a': unknown dtype 'F7'/, f, TensorFormatError);
  f = craft(dir, 'size.st', { a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8);
  throwsFormat(() => SafetensorsReader.open(f), /tensor 'a': data_offsets span 8 bytes but shape \[3\] of F32 needs 12/, f, TensorFormatError);
  f = craft(dir, 'outside.st', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 4);
  throwsFormat(() => SafetensorsReader.open(f), /tensor 'a': data_offsets \[0, 8\] lie outside the 4-byte data region/, f, TensorFormatError);
  f = craft(dir, 'overlap.st', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8);
  throwsFormat(() => SafetensorsReader.open(f), /tensor 'b': data_offsets \[4, 8\] overlap tensor 'a'/, f, TensorFormatError);
  f = craft(dir, 'hole.st', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, 12);
  throwsFormat(() => SafetensorsReader.open(f), /tensor 'b': .*hole at \[4, 8\)/, f, TensorFormatError);
  f = craft(dir, 'trailing.st', ok, 20);
  throwsFormat(() => SafetensorsReader.open(f), /tensors cover 11 bytes but the data region holds 20/, f);
  f = craft(dir, 'rev.st', { a: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, 4);
  throwsFormat(() => SafetensorsReader.open(f), /reversed/, f);
  f = craft(dir, 'neg.st', { a: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }, 0);
  throwsFormat(() => SafetensorsReader.open(f), /"shape" is not an array of non-negative integers/, f);
  f = craft(dir, 'offs.st', { a: { dtype: 'U8', shape: [1], data_offsets: [0] } }, 1);
  throwsFormat(() => SafetensorsReader.open(f), /"data_offsets" is not a pair/, f);

  // a file truncated inside the data region: the last tensor now lies outside it
  const good = path.join(dir, 'good.st');
  writeSafetensors(good, { w: { dtype: 'f32', shape: [64], data: new Float32Array(64) } });
  const cut = path.join(dir, 'cut.st');
  fs.writeFileSync(cut, fs.readFileSync(good).subarray(0, fs.statSync(good).size - 10));
  throwsFormat(() => SafetensorsReader.open(cut), /tensor 'w': .*outside/, cut, TensorFormatError);
});

test('known-but-undecodable dtypes can be indexed and read as bytes', (t) => {
  const dir = tmpDir(t);
  const f = craft(dir, 'f8.st', { q: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, 4);
  const r = SafetensorsReader.open(f);
  try {
    assert.deepEqual(r.keys(), ['q']);
    assert.equal(r.readBytes('q').length, 4);
    throwsFormat(() => r.read('q'), /dtype F8_E4M3 is not supported/, f, TensorFormatError);
  } finally {
    r.close();
  }
  throwsFormat(() => r.read('q'), /used after close/, f);
});
