/**
 * A zip reader over a file descriptor, for torch checkpoints (BioGPT-Large's is 6.3 GB): it reads
 * the end-of-central-directory (and zip64 locator/record), the central directory, and each local
 * header lazily, then serves entry bytes with positional reads. 64-bit fields are read as BigInt and
 * converted only when they fit in a double exactly. Stored (method 0) and deflate (method 8) entries.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { FileFormatError } from '../errors.js';
import { crc32, readAt, readFully, readU64 } from './fd.js';

export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_EOCD = 0x06054b50;
export const SIG_ZIP64_EOCD = 0x06064b50;
export const SIG_ZIP64_LOCATOR = 0x07064b50;
export const U32_MAX = 0xffffffff;
export const U16_MAX = 0xffff;

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export class ZipReader {
  readonly entries: ZipEntry[] = [];
  private readonly byName = new Map<string, ZipEntry>();
  private readonly dataOffsets = new Map<ZipEntry, number>();
  /** Where entry data must end: the start of the central directory. */
  private readonly dataLimit: number;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly fd: number,
  ) {
    const size = fs.fstatSync(fd).size;
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = readAt(fd, size - tailLen, tailLen, () => this.err('truncated'));
    // The EOCD is the last record; its comment must run exactly to the end of the file.
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === SIG_EOCD && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw this.err('no end-of-central-directory record (truncated file or not a zip archive)');
    const eocdPos = size - tailLen + eocd;
    const disk = tail.readUInt16LE(eocd + 4);
    const cdDisk = tail.readUInt16LE(eocd + 6);
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    let cdLimit = eocdPos;

    const locPos = eocdPos - 20;
    const hasLocator = locPos >= 0 && readAt(fd, locPos, 4, () => this.err('truncated')).readUInt32LE(0) === SIG_ZIP64_LOCATOR;
    if (hasLocator) {
      const loc = readAt(fd, locPos, 20, () => this.err('truncated zip64 locator'));
      const recPos = readU64(loc, 8, () => this.err('zip64 end record offset out of range'));
      if (recPos + 56 > locPos) throw this.err(`zip64 end-of-central-directory offset ${recPos} is out of range`);
      const rec = readAt(fd, recPos, 56, () => this.err('truncated zip64 end record'));
      if (rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw this.err(`bad zip64 end-of-central-directory signature at offset ${recPos}`);
      if (rec.readUInt32LE(16) !== 0 || rec.readUInt32LE(20) !== 0) throw this.err('multi-disk zip archives are not supported');
      const big = () => this.err('zip64 field out of range');
      count = readU64(rec, 32, big);
      cdSize = readU64(rec, 40, big);
      cdOffset = readU64(rec, 48, big);
      cdLimit = recPos;
    } else {
      if (disk !== 0 || cdDisk !== 0) throw this.err('multi-disk zip archives are not supported');
      if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) throw this.err('end record uses zip64 placeholders but there is no zip64 locator');
    }
    if (cdOffset + cdSize > cdLimit) throw this.err(`central directory [${cdOffset}, ${cdOffset + cdSize}) runs past its end record at ${cdLimit} (corrupt or truncated)`);
    this.dataLimit = cdOffset;
    this.parseCentral(readAt(fd, cdOffset, cdSize, () => this.err('truncated central directory')), count);
  }

  static open(file: string): ZipReader {
    const fd = fs.openSync(file, 'r');
    try {
      return new ZipReader(file, fd);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  private err(problem: string, entry?: string): FileFormatError {
    return new FileFormatError(this.file, entry ? `zip entry '${entry}': ${problem}` : problem);
  }

  private parseCentral(cd: Buffer, count: number): void {
    let p = 0;
    const utf8 = new TextDecoder('utf-8', { fatal: false });
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw this.err(`bad central directory header #${i} at offset ${p}`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let csize = cd.readUInt32LE(p + 20);
      let usize = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const diskStart = cd.readUInt16LE(p + 34);
      let offset = cd.readUInt32LE(p + 42);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cd.length) throw this.err(`central directory header #${i} runs past the directory`);
      const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
      // zip64 extended info: only the fields whose fixed slot holds the placeholder, in this order.
      let x = p + 46 + nameLen;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = cd.readUInt16LE(x);
        const len = cd.readUInt16LE(x + 2);
        if (x + 4 + len > xEnd) throw this.err('extra field runs past its header', name);
        if (id === 0x0001) {
          let q = x + 4;
          const take = (): number => {
            if (q + 8 > x + 4 + len) throw this.err('zip64 extra field is too short', name);
            const v = readU64(cd, q, () => this.err('zip64 size/offset out of range', name));
            q += 8;
            return v;
          };
          if (usize === U32_MAX) usize = take();
          if (csize === U32_MAX) csize = take();
          if (offset === U32_MAX) offset = take();
        }
        x += 4 + len;
      }
      if (diskStart !== 0 && diskStart !== U16_MAX) throw this.err('multi-disk zip archives are not supported', name);
      if (flags & 1) throw this.err('encrypted entries are not supported', name);
      if (this.byName.has(name)) throw this.err('duplicate entry name (corrupt archive)', name);
      if (offset + 30 > this.dataLimit) throw this.err(`local header offset ${offset} lies past the data area`, name);
      const e: ZipEntry = { name, method, flags, crc32: crc, compressedSize: csize, size: usize, localHeaderOffset: offset };
      this.entries.push(e);
      this.byName.set(name, e);
      p = end;
    }
    if (p !== cd.length) throw this.err(`central directory holds ${cd.length - p} unexpected trailing bytes after ${count} entries`);
  }

  get(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** Absolute offset of the entry's data, from its local header (whose extra field may differ from the central one). */
  dataOffset(e: ZipEntry): number {
    this.assertOpen();
    const known = this.dataOffsets.get(e);
    if (known !== undefined) return known;
    const h = readAt(this.fd, e.localHeaderOffset, 30, () => this.err('truncated local header', e.name));
    if (h.readUInt32LE(0) !== SIG_LOCAL) throw this.err(`bad local header signature at offset ${e.localHeaderOffset}`, e.name);
    const nameLen = h.readUInt16LE(26);
    const extraLen = h.readUInt16LE(28);
    const local = readAt(this.fd, e.localHeaderOffset + 30, nameLen, () => this.err('truncated local header', e.name)).toString('utf8');
    if (local !== e.name) throw this.err(`local header names '${local}' (corrupt archive)`, e.name);
    const start = e.localHeaderOffset + 30 + nameLen + extraLen;
    if (start + e.compressedSize > this.dataLimit) throw this.err(`data [${start}, ${start + e.compressedSize}) runs into the central directory at ${this.dataLimit}`, e.name);
    this.dataOffsets.set(e, start);
    return start;
  }

  /** The whole (decompressed) entry, CRC-checked unless `verifyCrc` is false. */
  read(e: ZipEntry, verifyCrc = true): Buffer {
    const start = this.dataOffset(e);
    const raw = readAt(this.fd, start, e.compressedSize, () => this.err('file ended inside the entry data (truncated?)', e.name));
    let out: Buffer;
    if (e.method === 0) {
      if (e.compressedSize !== e.size) throw this.err(`stored entry has compressed size ${e.compressedSize} != size ${e.size}`, e.name);
      out = raw;
    } else if (e.method === 8) {
      try {
        out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
      } catch (cause) {
        throw new FileFormatError(this.file, `zip entry '${e.name}': deflate data is corrupt (${(cause as Error).message})`, { cause });
      }
      if (out.length !== e.size) throw this.err(`inflated to ${out.length} bytes, directory says ${e.size}`, e.name);
    } else {
      throw this.err(`compression method ${e.method} is not supported (only stored and deflate)`, e.name);
    }
    if (verifyCrc && crc32(out) !== e.crc32) throw this.err('CRC-32 mismatch (corrupt data)', e.name);
    return out;
  }

  /**
   * Reads `dst.byteLength` bytes starting `start` bytes into a stored entry, straight from disk.
   * Deflated entries are inflated whole first (torch never writes them, so this path is rare).
   */
  readRange(e: ZipEntry, start: number, dst: Uint8Array): void {
    if (start < 0 || start + dst.byteLength > e.size) throw this.err(`range [${start}, ${start + dst.byteLength}) lies outside the ${e.size}-byte entry`, e.name);
    if (e.method === 0) {
      if (e.compressedSize !== e.size) throw this.err(`stored entry has compressed size ${e.compressedSize} != size ${e.size}`, e.name);
      readFully(this.fd, dst, this.dataOffset(e) + start, () => this.err('file ended inside the entry data (truncated?)', e.name));
    } else {
      dst.set(this.read(e).subarray(start, start + dst.byteLength));
    }
  }

  private assertOpen(): void {
    if (this.closed) throw this.err('zip reader used after close()');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
