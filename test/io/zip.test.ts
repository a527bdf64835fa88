import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { sharedPath } from '../../src/util/paths.js';
import { ZipReader, SIG_CENTRAL, SIG_LOCAL, SIG_ZIP64_EOCD } from '../../src/io/zip.js';
import { ZipWriter } from '../../src/io/zip_writer.js';
import { tmpDir, throwsFormat } from './_util.js';

const goldenBin = sharedPath('golden', 'tiny_biogpt', 'pytorch_model.bin');

function makeZip(file: string, zip64: 'auto' | 'always' = 'auto'): Map<string, Buffer> {
  const contents = new Map<string, Buffer>([
    ['top/a.txt', Buffer.from('hello zip')],
    ['top/data/0', Buffer.from(Float32Array.from({ length: 100 }, (_, i) => i).buffer)],
    ['top/deflated', Buffer.from('abcabcabc'.repeat(200))],
    ['top/empty', Buffer.alloc(0)],
    ['top/ünï', Buffer.from('utf8 name')],
  ]);
  const fd = fs.openSync(file, 'w');
  try {
    const w = new ZipWriter(fd, { zip64 });
    for (const [k, v] of contents) w.add(k, v, { align: k.includes('/data/') ? 64 : 0, deflate: k.endsWith('deflated') });
    w.finish();
  } finally {
    fs.closeSync(fd);
  }
  return contents;
}

for (const mode of ['auto', 'always'] as const) {
  test(`zip write -> read round trip (zip64 ${mode})`, (t) => {
    const f = path.join(tmpDir(t), `rt-${mode}.zip`);
    const contents = makeZip(f, mode);
    const z = ZipReader.open(f);
    try {
      assert.deepEqual(z.entries.map((e) => e.name), [...contents.keys()]);
      for (const [k, v] of contents) assert.ok(z.read(z.get(k)!).equals(v), k);
      const e = z.get('top/data/0')!;
      assert.equal(z.dataOffset(e) % 64, 0, 'aligned data');
      assert.equal(z.get('top/deflated')!.method, 8);
      assert.ok(z.get('top/deflated')!.compressedSize < 1800);
      const part = new Uint8Array(8);
      z.readRange(e, 4 * 10, part);
      assert.deepEqual([...new Float32Array(part.buffer)], [10, 11]);
      const dpart = new Uint8Array(3);
      z.readRange(z.get('top/deflated')!, 4, dpart);
      assert.equal(Buffer.from(dpart).toString(), 'bca');
      throwsFormat(() => z.readRange(e, 399, new Uint8Array(2)), /outside the 400-byte entry/, f);
    } finally {
      z.close();
    }
    if (mode === 'always') {
      // every entry's central header carries the zip64 extra field, and the end record placeholders
      const buf = fs.readFileSync(f);
      assert.equal(buf.readUInt32LE(buf.length - 22 + 16), 0xffffffff);
      assert.equal(buf.readUInt16LE(buf.length - 22 + 10), 0xffff);
    }
  });
}

test('reads an archive without zip64 records (classic end record only)', (t) => {
  const dir = tmpDir(t);
  const f = path.join(dir, 'z.zip');
  const contents = makeZip(f);
  const buf = fs.readFileSync(f);
  // drop the 56-byte zip64 end record and 20-byte locator that precede the classic end record
  const classic = Buffer.concat([buf.subarray(0, buf.length - 22 - 76), buf.subarray(buf.length - 22)]);
  assert.notEqual(classic.readUInt32LE(classic.length - 22 - 20), 0x07064b50, 'no zip64 locator left');
  const g = path.join(dir, 'classic.zip');
  fs.writeFileSync(g, classic);
  const z = ZipReader.open(g);
  try {
    for (const [k, v] of contents) assert.ok(z.read(z.get(k)!).equals(v), k);
  } finally {
    z.close();
  }
});

test('the golden torch checkpoint is a zip64-terminated archive of stored entries', { skip: !goldenBin && 'shared/golden absent' }, () => {
  const z = ZipReader.open(goldenBin!);
  try {
    assert.equal(z.entries.length, 42);
    assert.ok(z.entries.every((e) => e.method === 0));
    assert.equal(z.read(z.get('pytorch_model/byteorder')!).toString(), 'little');
    // torch sets the data-descriptor flag (sizes only in the central directory)
    assert.ok(z.entries.every((e) => e.flags & 8));
    assert.equal(z.dataOffset(z.get('pytorch_model/data/0')!) % 64, 0);
  } finally {
    z.close();
  }
});

test('zip corruption is reported, never misread', (t) => {
  const dir = tmpDir(t);
  const f = path.join(dir, 'base.zip');
  makeZip(f);
  const base = fs.readFileSync(f);
  const variant = (name: string, mutate: (b: Buffer) => Buffer): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, mutate(Buffer.from(base)));
    return p;
  };
  const cdStart = base.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  assert.equal(base.readUInt32LE(cdStart), SIG_CENTRAL);

  let p = variant('trunc.zip', (b) => b.subarray(0, b.length - 30));
  throwsFormat(() => ZipReader.open(p), /no end-of-central-directory record/, p);
  p = variant('half.zip', (b) => b.subarray(0, 200));
  throwsFormat(() => ZipReader.open(p), /no end-of-central-directory record/, p);
  p = variant('notzip.zip', () => Buffer.from('this is not a zip file at all'));
  throwsFormat(() => ZipReader.open(p), /not a zip archive/, p);
  p = variant('cdsig.zip', (b) => (b.writeUInt32LE(0x12345678, cdStart), b));
  throwsFormat(() => ZipReader.open(p), /bad central directory header #0/, p);
  p = variant('z64sig.zip', (b) => (b.writeUInt32LE(0, b.length - 22 - 76), b));
  throwsFormat(() => ZipReader.open(p), /bad zip64 end-of-central-directory signature/, p);
  assert.equal(base.readUInt32LE(base.length - 22 - 76), SIG_ZIP64_EOCD);
  p = variant('cdoff.zip', (b) => (b.writeBigUInt64LE(BigInt(b.length * 2), b.length - 22 - 76 + 48), b));
  throwsFormat(() => ZipReader.open(p), /central directory .* runs past/, p);

  // entry-level damage shows up when the entry is read
  const open = (name: string, mutate: (b: Buffer) => Buffer) => ZipReader.open(variant(name, mutate));
  let z = open('localsig.zip', (b) => (b.writeUInt32LE(0, 0), b));
  throwsFormat(() => z.read(z.get('top/a.txt')!), /zip entry 'top\/a.txt': bad local header signature/);
  z.close();
  const aData = base.indexOf(Buffer.from('hello zip'));
  z = open('crc.zip', (b) => ((b[aData] = 0x48), b));
  throwsFormat(() => z.read(z.get('top/a.txt')!), /zip entry 'top\/a.txt': CRC-32 mismatch/);
  z.close();
  z = open('method.zip', (b) => (b.writeUInt16LE(12, cdStart + 10), b));
  throwsFormat(() => z.read(z.get('top/a.txt')!), /compression method 12 is not supported/);
  z.close();
  const defl = ZipReader.open(f);
  const de = defl.get('top/deflated')!;
  const dOff = defl.dataOffset(de);
  defl.close();
  z = open('deflate.zip', (b) => (b.fill(0xff, dOff, dOff + 8), b));
  throwsFormat(() => z.read(z.get('top/deflated')!), /deflate data is corrupt|CRC-32 mismatch|inflated to/);
  z.close();
  assert.equal(base.readUInt32LE(0), SIG_LOCAL);
});
