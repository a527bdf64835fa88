/**
 * A streaming zip writer for torch-style archives: entries are written one after another to a file
 * descriptor (stored, or deflated for tests), data optionally aligned with a padding extra field as
 * torch does (so torch.load(mmap=True) can map storages), then the central directory, a zip64 end
 * record + locator (torch always writes them), and the classic end record.
 */
import zlib from 'node:zlib';
import { crc32, writeAll } from './fd.js';
import { SIG_CENTRAL, SIG_EOCD, SIG_LOCAL, SIG_ZIP64_EOCD, SIG_ZIP64_LOCATOR, U16_MAX, U32_MAX } from './zip.js';

export interface ZipWriterOptions {
  /**
   * 'auto' uses zip64 extra fields only for entries whose size or offset needs them; 'always'
   * forces them on every entry (exercises the zip64 read path without writing 4 GiB).
   */
  zip64?: 'auto' | 'always';
}

interface Written {
  name: Buffer;
  method: number;
  crc: number;
  csize: number;
  usize: number;
  offset: number;
}

const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const FLAG_UTF8 = 0x0800;

export class ZipWriter {
  private pos = 0;
  private readonly written: Written[] = [];
  private readonly forceZip64: boolean;

  constructor(
    private readonly fd: number,
    opts: ZipWriterOptions = {},
  ) {
    this.forceZip64 = opts.zip64 === 'always';
  }

  private put(b: Uint8Array): void {
    writeAll(this.fd, b);
    this.pos += b.byteLength;
  }

  /** Adds one entry. `align` pads the local header so the data starts at a multiple of it. */
  add(name: string, data: Uint8Array, opts: { align?: number; deflate?: boolean } = {}): void {
    const nameBuf = Buffer.from(name, 'utf8');
    if (nameBuf.length > U16_MAX) throw new Error(`zip entry name too long: ${name.slice(0, 64)}...`);
    const method = opts.deflate ? 8 : 0;
    const body = opts.deflate ? zlib.deflateRawSync(data) : data;
    const crc = crc32(data);
    const sizes64 = this.forceZip64 || data.byteLength >= U32_MAX || body.byteLength >= U32_MAX;
    const offset = this.pos;

    const extras: Buffer[] = [];
    if (sizes64) {
      // In a local header the zip64 field must carry both sizes.
      const z = Buffer.alloc(20);
      z.writeUInt16LE(0x0001, 0);
      z.writeUInt16LE(16, 2);
      z.writeBigUInt64LE(BigInt(data.byteLength), 4);
      z.writeBigUInt64LE(BigInt(body.byteLength), 12);
      extras.push(z);
    }
    const align = opts.align ?? 0;
    if (align > 1) {
      const base = offset + 30 + nameBuf.length + (sizes64 ? 20 : 0) + 4;
      const padLen = (align - (base % align)) % align;
      const pad = Buffer.alloc(4 + padLen, 'Z'.charCodeAt(0));
      pad.write('FB', 0, 'latin1'); // the id torch uses for its alignment padding field
      pad.writeUInt16LE(padLen, 2);
      extras.push(pad);
    }
    const extra = Buffer.concat(extras);

    const h = Buffer.alloc(30);
    h.writeUInt32LE(SIG_LOCAL, 0);
    h.writeUInt16LE(sizes64 ? 45 : 20, 4);
    h.writeUInt16LE(FLAG_UTF8, 6);
    h.writeUInt16LE(method, 8);
    h.writeUInt16LE(0, 10);
    h.writeUInt16LE(DOS_DATE_1980_01_01, 12);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(sizes64 ? U32_MAX : body.byteLength, 18);
    h.writeUInt32LE(sizes64 ? U32_MAX : data.byteLength, 22);
    h.writeUInt16LE(nameBuf.length, 26);
    h.writeUInt16LE(extra.length, 28);
    this.put(h);
    this.put(nameBuf);
    this.put(extra);
    this.put(body);
    this.written.push({ name: nameBuf, method, crc, csize: body.byteLength, usize: data.byteLength, offset });
  }

  /** Writes the central directory and end records. The caller closes the descriptor. */
  finish(): void {
    const cdOffset = this.pos;
    for (const w of this.written) {
      const big = (v: number) => this.forceZip64 || v >= U32_MAX;
      const fields: number[] = [];
      if (big(w.usize)) fields.push(w.usize);
      if (big(w.csize)) fields.push(w.csize);
      if (big(w.offset)) fields.push(w.offset);
      const extra = Buffer.alloc(fields.length ? 4 + 8 * fields.length : 0);
      if (fields.length) {
        extra.writeUInt16LE(0x0001, 0);
        extra.writeUInt16LE(8 * fields.length, 2);
        fields.forEach((v, i) => extra.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
      }
      const c = Buffer.alloc(46);
      c.writeUInt32LE(SIG_CENTRAL, 0);
      c.writeUInt16LE((3 << 8) | 45, 4); // made by: unix, spec 4.5
      c.writeUInt16LE(fields.length ? 45 : 20, 6);
      c.writeUInt16LE(FLAG_UTF8, 8);
      c.writeUInt16LE(w.method, 10);
      c.writeUInt16LE(0, 12);
      c.writeUInt16LE(DOS_DATE_1980_01_01, 14);
      c.writeUInt32LE(w.crc, 16);
      c.writeUInt32LE(big(w.csize) ? U32_MAX : w.csize, 20);
      c.writeUInt32LE(big(w.usize) ? U32_MAX : w.usize, 24);
      c.writeUInt16LE(w.name.length, 28);
      c.writeUInt16LE(extra.length, 30);
      c.writeUInt32LE((0o100644 << 16) >>> 0, 38); // a regular rw-r--r-- file
      c.writeUInt32LE(big(w.offset) ? U32_MAX : w.offset, 42);
      this.put(c);
      this.put(w.name);
      this.put(extra);
    }
    const cdSize = this.pos - cdOffset;
    const n = this.written.length;

    const z = Buffer.alloc(56 + 20);
    const recPos = this.pos;
    z.writeUInt32LE(SIG_ZIP64_EOCD, 0);
    z.writeBigUInt64LE(44n, 4); // size of the rest of the record
    z.writeUInt16LE((3 << 8) | 45, 12);
    z.writeUInt16LE(45, 14);
    z.writeBigUInt64LE(BigInt(n), 24);
    z.writeBigUInt64LE(BigInt(n), 32);
    z.writeBigUInt64LE(BigInt(cdSize), 40);
    z.writeBigUInt64LE(BigInt(cdOffset), 48);
    z.writeUInt32LE(SIG_ZIP64_LOCATOR, 56);
    z.writeBigUInt64LE(BigInt(recPos), 64);
    z.writeUInt32LE(1, 72);
    this.put(z);

    const e = Buffer.alloc(22);
    const clip16 = (v: number) => (this.forceZip64 || v >= U16_MAX ? U16_MAX : v);
    const clip32 = (v: number) => (this.forceZip64 || v >= U32_MAX ? U32_MAX : v);
    e.writeUInt32LE(SIG_EOCD, 0);
    e.writeUInt16LE(clip16(n), 8);
    e.writeUInt16LE(clip16(n), 10);
    e.writeUInt32LE(clip32(cdSize), 12);
    e.writeUInt32LE(clip32(cdOffset), 16);
    this.put(e);
  }
}
