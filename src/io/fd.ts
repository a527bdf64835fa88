/**
 * Positional file I/O helpers over raw descriptors. Reads go straight into fresh buffers at given
 * offsets so multi-GB checkpoints are never held whole; large transfers are chunked because one
 * read/write syscall is capped near 2 GiB.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';

const CHUNK = 1 << 30;

/** Reads exactly `dst.byteLength` bytes at `position`; throws `short` (built lazily) on EOF. */
export function readFully(fd: number, dst: Uint8Array, position: number, short: () => Error): void {
  let done = 0;
  while (done < dst.byteLength) {
    const n = fs.readSync(fd, dst, done, Math.min(CHUNK, dst.byteLength - done), position + done);
    if (n === 0) throw short();
    done += n;
  }
}

/** Reads `length` bytes at `position` into a new Buffer. */
export function readAt(fd: number, position: number, length: number, short: () => Error): Buffer {
  const b = Buffer.allocUnsafe(length);
  readFully(fd, b, position, short);
  return b;
}

/** Writes all of `src` at the descriptor's current position. */
export function writeAll(fd: number, src: Uint8Array): void {
  let done = 0;
  while (done < src.byteLength) {
    done += fs.writeSync(fd, src, done, Math.min(CHUNK, src.byteLength - done));
  }
}

// zlib.crc32 is native from Node 20.15; keep a table fallback for earlier 20.x.
const nativeCrc = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32;
let table: Uint32Array | undefined;

/** CRC-32 (zip polynomial), optionally continuing from `prev`. */
export function crc32(data: Uint8Array, prev = 0): number {
  if (nativeCrc) {
    // The native binding also takes at most ~2 GiB per call.
    let c = prev;
    for (let i = 0; i < data.byteLength; i += CHUNK) c = nativeCrc(data.subarray(i, Math.min(data.byteLength, i + CHUNK)), c);
    return c >>> 0;
  }
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = ~prev >>> 0;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** A 64-bit little-endian unsigned field as a Number, or an error when it exceeds 2^53. */
export function readU64(b: Buffer, off: number, what: () => Error): number {
  const v = b.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw what();
  return Number(v);
}
