import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { sharedPath } from '../../src/util/paths.js';
import { TorchBinReader, writeTorchBin, contiguousStrides } from '../../src/io/torch_bin.js';
import { ZipWriter } from '../../src/io/zip_writer.js';
import { ZipReader } from '../../src/io/zip.js';
import { PickleBuilder, OP } from '../../src/io/pickle.js';
import { TensorFormatError, UnsafePickleError, UnsupportedDTypeError } from '../../src/io/io_errors.js';
import type { HostTensor } from '../../src/io/dtype.js';
import { tmpDir, throwsFormat, sameBytes } from './_util.js';

const goldenBin = sharedPath('golden', 'tiny_biogpt', 'pytorch_model.bin');

test('reads the golden torch.save checkpoint, with the tied head sharing storage', { skip: !goldenBin && 'shared/golden absent' }, () => {
  const r = TorchBinReader.open(goldenBin!);
  try {
    assert.equal(r.prefix, 'pytorch_model');
    assert.equal(r.keys().length, 37);
    assert.deepEqual(r.skipped, []);
    assert.equal(r.storageKey('output_projection.weight'), r.storageKey('biogpt.embed_tokens.weight'));
    assert.notEqual(r.storageKey('biogpt.embed_positions.weight'), r.storageKey('biogpt.embed_tokens.weight'));
    const a = r.read('output_projection.weight');
    const b = r.read('biogpt.embed_tokens.weight');
    assert.deepEqual(a.shape, [512, 64]);
    assert.ok(sameBytes(a.data, b.data));
    assert.notEqual(a.data.buffer, b.data.buffer, 'each read is a fresh buffer');
  } finally {
    r.close();
  }
});

function sample(): Map<string, HostTensor> {
  const emb: HostTensor = { dtype: 'f32', shape: [5, 3], data: Float32Array.from({ length: 15 }, (_, i) => i * 0.5 - 2) };
  return new Map<string, HostTensor>([
    ['emb.weight', emb],
    ['head.weight', emb], // same data object -> one shared storage, as with tied weights
    ['half', { dtype: 'f16', shape: [2, 2], data: new Uint16Array([0x3c00, 0x4000, 0xc000, 0x0001]) }],
    ['bhalf', { dtype: 'bf16', shape: [3], data: new Uint16Array([0x3f80, 0x4000, 0xbf80]) }],
    ['double', { dtype: 'f64', shape: [1], data: new Float64Array([Math.E]) }],
    ['ids', { dtype: 'i64', shape: [2, 1], data: new BigInt64Array([-(2n ** 62n), 12345678901234n]) }],
    ['i32', { dtype: 'i32', shape: [2], data: new Int32Array([-7, 7]) }],
    ['i16', { dtype: 'i16', shape: [2], data: new Int16Array([-7, 7]) }],
    ['i8', { dtype: 'i8', shape: [2], data: new Int8Array([-7, 7]) }],
    ['u8', { dtype: 'u8', shape: [2], data: new Uint8Array([0, 255]) }],
    ['mask', { dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ['scalar', { dtype: 'f32', shape: [], data: new Float32Array([3]) }],
    ['empty', { dtype: 'f32', shape: [0, 4], data: new Float32Array(0) }],
  ]);
}

for (const zip64 of ['auto', 'always'] as const) {
  test(`torch .bin write -> read round trip (zip64 ${zip64})`, (t) => {
    const dir = tmpDir(t);
    const f = path.join(dir, 'model.bin');
    const src = sample();
    writeTorchBin(f, src, { zip64 });
    assert.deepEqual(fs.readdirSync(dir), ['model.bin']);
    const r = TorchBinReader.open(f);
    try {
      assert.equal(r.prefix, 'model');
      assert.deepEqual(r.keys(), [...src.keys()]);
      for (const [k, v] of src) {
        const got = r.read(k);
        assert.equal(got.dtype, v.dtype, k);
        assert.deepEqual(got.shape, v.shape, k);
        assert.ok(sameBytes(got.data, v.data), k);
      }
      assert.equal(r.storageKey('emb.weight'), r.storageKey('head.weight'));
      assert.deepEqual([...r.readF32('half')], [1, 2, -2, 2 ** -24]);
      throwsFormat(() => r.readF32('ids'), /readF32 needs a float tensor/, f, TensorFormatError);
    } finally {
      r.close();
    }
    const z = ZipReader.open(f);
    try {
      const names = z.entries.map((e) => e.name);
      assert.deepEqual(names.slice(0, 4), ['model/data.pkl', 'model/.format_version', 'model/.storage_alignment', 'model/byteorder']);
      assert.equal(names.filter((n) => n.startsWith('model/data/')).length, src.size - 1, 'the tied pair shares one storage record');
      for (const e of z.entries) if (e.name.includes('/data/')) assert.equal(z.dataOffset(e) % 64, 0);
    } finally {
      z.close();
    }
  });
}

test('lazy producers run once per storage; failures leave no file', (t) => {
  const dir = tmpDir(t);
  const f = path.join(dir, 'lazy.bin');
  let calls = 0;
  const produce = () => (calls++, new Float32Array([1, 2, 3, 4]));
  writeTorchBin(f, { a: { dtype: 'f32', shape: [2, 2], data: produce }, b: { dtype: 'f32', shape: [4], data: produce } }, { archiveName: 'archive' });
  assert.equal(calls, 1);
  const r = TorchBinReader.open(f);
  assert.equal(r.prefix, 'archive');
  assert.deepEqual(r.info('b'), { dtype: 'f32', shape: [4] });
  r.close();
  const g = path.join(dir, 'fail.bin');
  assert.throws(() =>
    writeTorchBin(g, {
      a: {
        dtype: 'f32',
        shape: [1],
        data: () => {
          throw new Error('boom');
        },
      },
    }),
  );
  assert.deepEqual(fs.readdirSync(dir), ['lazy.bin']);
  throwsFormat(() => writeTorchBin(g, { a: { dtype: 'u16', shape: [1], data: new Uint16Array(1) } }), /no legacy torch storage type/);
  const shared = new Float32Array(4);
  throwsFormat(() => writeTorchBin(g, { a: { dtype: 'f32', shape: [4], data: shared }, b: { dtype: 'f32', shape: [2], data: shared } }), /shares data with 'a'/);
});

interface View {
  name: string;
  type: string;
  key: string;
  numel: number;
  offset: number;
  shape: number[];
  stride: number[];
}

/** A torch-style archive with a hand-built pickle, for views torch.save would write for non-contiguous tensors. */
function writeArchive(file: string, views: View[], storages: Record<string, Uint8Array>, opts: { byteorder?: string; pickle?: Buffer } = {}): void {
  const pk = new PickleBuilder();
  pk.global('collections', 'OrderedDict').raw(OP.EMPTY_TUPLE, OP.REDUCE, OP.MARK);
  for (const v of views) {
    pk.str(v.name).global('torch._utils', '_rebuild_tensor_v2').raw(OP.MARK);
    pk.raw(OP.MARK).str('storage').global('torch', v.type).str(v.key).str('cpu').int(v.numel).raw(OP.TUPLE, OP.BINPERSID);
    pk.int(v.offset).intTuple(v.shape).intTuple(v.stride).raw(OP.NEWFALSE);
    pk.global('collections', 'OrderedDict').raw(OP.EMPTY_TUPLE, OP.REDUCE, OP.TUPLE, OP.REDUCE);
  }
  pk.raw(OP.SETITEMS);
  const fd = fs.openSync(file, 'w');
  const w = new ZipWriter(fd);
  w.add('archive/data.pkl', opts.pickle ?? pk.finish());
  w.add('archive/byteorder', Buffer.from(opts.byteorder ?? 'little'));
  for (const [k, b] of Object.entries(storages)) w.add(`archive/data/${k}`, b, { align: 64 });
  w.add('archive/version', Buffer.from('3\n'));
  w.finish();
  fs.closeSync(fd);
}

/** Reference strided gather over plain numbers. */
function strided(storage: ArrayLike<number>, offset: number, shape: number[], stride: number[]): number[] {
  const out: number[] = [];
  const rec = (d: number, base: number) => {
    if (d === shape.length) return void out.push(storage[base]!);
    for (let i = 0; i < shape[d]!; i++) rec(d + 1, base + i * stride[d]!);
  };
  rec(0, offset);
  return out;
}

test('storage offsets and non-contiguous strides produce contiguous output', (t) => {
  const f = path.join(tmpDir(t), 'views.bin');
  const store = Float32Array.from({ length: 48 }, (_, i) => i);
  const i64 = BigInt64Array.from({ length: 12 }, (_, i) => BigInt(i) * 1000000000000n);
  const views: View[] = [
    { name: 'transposed', type: 'FloatStorage', key: '0', numel: 48, offset: 0, shape: [3, 4], stride: [1, 3] },
    { name: 'offset_slice', type: 'FloatStorage', key: '0', numel: 48, offset: 5, shape: [2, 2], stride: [6, 2] },
    { name: 'expanded', type: 'FloatStorage', key: '0', numel: 48, offset: 7, shape: [3, 2], stride: [0, 1] },
    { name: 'rank3', type: 'FloatStorage', key: '0', numel: 48, offset: 1, shape: [2, 3, 4], stride: [1, 16, 4] },
    { name: 'contig_offset', type: 'FloatStorage', key: '0', numel: 48, offset: 40, shape: [2, 4], stride: [4, 1] },
    { name: 'size1_dims', type: 'FloatStorage', key: '0', numel: 48, offset: 3, shape: [1, 5, 1], stride: [99, 1, 7] },
    { name: 'long_t', type: 'LongStorage', key: '1', numel: 12, offset: 0, shape: [4, 3], stride: [1, 4] },
  ];
  writeArchive(f, views, { '0': new Uint8Array(store.buffer), '1': new Uint8Array(i64.buffer) });
  const r = TorchBinReader.open(f);
  try {
    for (const v of views.slice(0, 6)) {
      const got = r.read(v.name);
      assert.deepEqual(got.shape, v.shape, v.name);
      assert.deepEqual([...(got.data as Float32Array)], strided(store, v.offset, v.shape, v.stride), v.name);
    }
    // readInto a reused staging buffer (at an odd offset, so the gather goes through a temp)
    const staging = new Uint8Array(1 + 48);
    const dst = staging.subarray(1, 49);
    r.readInto('transposed', dst);
    assert.deepEqual([...new Float32Array(dst.slice().buffer)], strided(store, 0, [3, 4], [1, 3]));
    r.readInto('contig_offset', staging.subarray(0, 32));
    assert.deepEqual([...new Float32Array(staging.slice(0, 32).buffer)], strided(store, 40, [2, 4], [4, 1]));
    throwsFormat(() => r.readInto('transposed', new Uint8Array(47)), /needs a 48-byte destination, got 47/, f, TensorFormatError);
    const lt = r.read('long_t');
    assert.deepEqual([...(lt.data as BigInt64Array)].map(Number), strided(Array.from(i64, Number), 0, [4, 3], [1, 4]));
  } finally {
    r.close();
  }
  assert.deepEqual(contiguousStrides([2, 0, 3]), [3, 3, 1]);
});

test('big-endian archives are byte-swapped on read', (t) => {
  const f = path.join(tmpDir(t), 'be.bin');
  const vals = new Float32Array([1.5, -2, 1e-3]);
  const be = Buffer.alloc(12);
  vals.forEach((v, i) => be.writeFloatBE(v, 4 * i));
  writeArchive(f, [{ name: 'w', type: 'FloatStorage', key: '0', numel: 3, offset: 0, shape: [3], stride: [1] }], { '0': be }, { byteorder: 'big' });
  const r = TorchBinReader.open(f);
  assert.deepEqual([...r.readF32('w')], [...vals]);
  r.close();
});

test('torch .bin errors: forbidden globals, missing/short storages, bad views, wrong formats', (t) => {
  const dir = tmpDir(t);
  const one: View = { name: 'w', type: 'FloatStorage', key: '0', numel: 4, offset: 0, shape: [4], stride: [1] };

  let f = path.join(dir, 'evil.bin');
  writeArchive(f, [], {}, { pickle: Buffer.from('\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.', 'latin1') });
  const e = throwsFormat(() => TorchBinReader.open(f), /forbidden global 'os\.system'/, f, UnsafePickleError);
  assert.equal((e as UnsafePickleError).global, 'os.system');
  f = path.join(dir, 'eval.bin');
  writeArchive(f, [], {}, { pickle: Buffer.from('\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x031+1\x85R.', 'latin1') });
  throwsFormat(() => TorchBinReader.open(f), /forbidden global 'builtins\.eval'/, f, UnsafePickleError);
  f = path.join(dir, 'untyped.bin');
  writeArchive(f, [{ ...one, type: 'Tensor' }], { '0': new Uint8Array(16) });
  throwsFormat(() => TorchBinReader.open(f), /forbidden global 'torch\.Tensor'/, f, UnsafePickleError);
  // A state dict of a dtype we do not read is named as such, not called an unsafe pickle.
  for (const [type, dtype] of [['ComplexFloatStorage', 'complex64'], ['Float8_e4m3fnStorage', 'float8_e4m3fn'], ['UInt16Storage', 'uint16']]) {
    f = path.join(dir, `${type}.bin`);
    writeArchive(f, [{ ...one, type }], { '0': new Uint8Array(32) });
    const u = throwsFormat(() => TorchBinReader.open(f), new RegExp(`tensor dtype ${dtype} \\(torch\\.${type}\\) is not supported; supported: float64, float32`), f, UnsupportedDTypeError);
    assert.equal((u as UnsupportedDTypeError).dtype, dtype);
    assert.match(u.hint!, /cast those tensors to one of the supported dtypes above/);
    assert.doesNotMatch(u.hint!, /integer/, 'uint16/32/64 are integer dtypes that are refused: the hint must not suggest them');
  }

  f = path.join(dir, 'nostorage.bin');
  writeArchive(f, [one], {});
  throwsFormat(() => TorchBinReader.open(f), /storage '0' has no archive\/data\/0 record/, f);
  f = path.join(dir, 'short.bin');
  writeArchive(f, [one], { '0': new Uint8Array(12) });
  throwsFormat(() => TorchBinReader.open(f), /storage '0' needs 16 bytes \(4 × f32\) but its record holds 12/, f);
  f = path.join(dir, 'view.bin');
  writeArchive(f, [{ ...one, offset: 2, shape: [2, 2], stride: [2, 1] }], { '0': new Uint8Array(16) });
  throwsFormat(() => TorchBinReader.open(f), /tensor 'w': view .* reaches element 5 of a 4-element storage/, f, TensorFormatError);
  f = path.join(dir, 'huge.bin');
  writeArchive(f, [{ ...one, shape: [2 ** 40, 2 ** 20], stride: [0, 0] }], { '0': new Uint8Array(16) });
  throwsFormat(() => TorchBinReader.open(f), /tensor 'w': shape .* too large to materialize/, f, TensorFormatError);
  f = path.join(dir, 'notdict.bin');
  writeArchive(f, [], {}, { pickle: Buffer.from('\x80\x02]q\x00.', 'latin1') });
  throwsFormat(() => TorchBinReader.open(f), /not a dict/, f);

  f = path.join(dir, 'legacy.bin');
  fs.writeFileSync(f, Buffer.from('\x80\x02\x8a\x0alz\xfc\x9cF\xf9 j\xa8P\x19.', 'latin1'));
  throwsFormat(() => TorchBinReader.open(f), /legacy \(pre-zip\) torch serialization/, f);
  f = path.join(dir, 'text.bin');
  fs.writeFileSync(f, 'hello');
  throwsFormat(() => TorchBinReader.open(f), /not a zip archive/, f);
  f = path.join(dir, 'nopkl.bin');
  const fd = fs.openSync(f, 'w');
  const w = new ZipWriter(fd);
  w.add('x/other', Buffer.from('1'));
  w.finish();
  fs.closeSync(fd);
  throwsFormat(() => TorchBinReader.open(f), /no <dir>\/data\.pkl record/, f);
  // a torch file cut short loses its end records
  const good = path.join(dir, 'good.bin');
  writeTorchBin(good, sample());
  f = path.join(dir, 'cut.bin');
  fs.writeFileSync(f, fs.readFileSync(good).subarray(0, 1000));
  throwsFormat(() => TorchBinReader.open(f), /no end-of-central-directory record/, f);
});

test('opt-in: a real > 4 GiB zip64 torch checkpoint (RADGRAD_IO_BIG=1)', { skip: process.env.RADGRAD_IO_BIG !== '1' && 'set RADGRAD_IO_BIG=1 to write ~4.3 GB' }, (t) => {
  const f = path.join(tmpDir(t), 'big.bin');
  const n = 270_000_000; // 1.08 GB of f32 per tensor, 4 tensors -> offsets past 4 GiB
  const make = (v: number) => () => new Float32Array(n).fill(v);
  writeTorchBin(f, { a: { dtype: 'f32', shape: [n], data: make(1) }, b: { dtype: 'f32', shape: [n], data: make(2) }, c: { dtype: 'f32', shape: [n], data: make(3) }, d: { dtype: 'f32', shape: [n], data: make(4) } });
  assert.ok(fs.statSync(f).size > 2 ** 32);
  const r = TorchBinReader.open(f);
  try {
    const d = r.read('d').data as Float32Array;
    assert.equal(d.length, n);
    assert.equal(d[0], 4);
    assert.equal(d[n - 1], 4);
  } finally {
    r.close();
  }
});
