/**
 * safetensors: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping tensor names
 * to {dtype, shape, data_offsets} (offsets relative to the data region that follows the header),
 * plus an optional "__metadata__" string->string map. The data region must be covered exactly:
 * tensors laid end to end with no holes or overlaps. Every header number is checked before use.
 */
import fs from 'node:fs';
import { FileFormatError } from '../errors.js';
import { TensorFormatError } from './io_errors.js';
import {
  type DType,
  type HostTensor,
  type TypedArray,
  dtypeFromSafetensors,
  dtypeSize,
  matchesDType,
  numel,
  safetensorsName,
  bytesOf,
  typedView,
} from './dtype.js';
import { readAt, readFully, writeAll } from './fd.js';
import { writeFileAtomic } from '../util/atomic.js';
import { BaseReader, type TensorInfo, type TensorMap, type TensorSource, tensorEntries } from './reader.js';

/** Same ceiling as the reference implementation: real headers are at most a few MB. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Dtypes with a known size that we can index around but not decode. */
const EXOTIC: Record<string, number> = { F8_E4M3: 1, F8_E5M2: 1, F8_E8M0: 1, C64: 8 };

interface Entry {
  name: string;
  stDtype: string;
  dtype: DType | undefined;
  shape: number[];
  begin: number;
  end: number;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export class SafetensorsReader extends BaseReader {
  private readonly entries = new Map<string, Entry>();
  /** The `__metadata__` map, if the file has one. */
  readonly metadata: Record<string, string> | undefined;
  /** Absolute file offset of the data region. */
  readonly dataStart: number;

  private constructor(
    file: string,
    private readonly fd: number,
  ) {
    super(file);
    const fail = (p: string) => new FileFormatError(file, p);
    const size = fs.fstatSync(fd).size;
    if (size < 8) throw fail(`file is ${size} bytes, too short for the 8-byte header length (truncated?)`);
    const nBig = readAt(fd, 0, 8, () => fail('truncated')).readBigUInt64LE(0);
    if (nBig > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${nBig} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
    const n = Number(nBig);
    if (8 + n > size) throw fail(`header length ${n} runs past the end of the ${size}-byte file (truncated?)`);
    if (n < 2) throw fail(`header length ${n} is too small for a JSON object`);
    const raw = readAt(fd, 8, n, () => fail('truncated header'));
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw fail('header is not valid UTF-8');
    }
    if (text[0] !== '{') throw fail('header does not start with "{" (not a safetensors file?)');
    let header: unknown;
    try {
      header = JSON.parse(text);
    } catch (e) {
      throw fail(`header is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('header JSON is not an object');

    this.dataStart = 8 + n;
    const dataLen = size - this.dataStart;
    let metadata: Record<string, string> | undefined;
    for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail('__metadata__ is not an object');
        for (const [k, s] of Object.entries(v)) {
          if (typeof s !== 'string') throw fail(`__metadata__['${k}'] is not a string`);
        }
        metadata = v as Record<string, string>;
        continue;
      }
      this.entries.set(name, parseEntry(file, name, v, dataLen));
    }
    this.metadata = metadata;
    checkCoverage(file, [...this.entries.values()], dataLen);
  }

  /** Opens `file` and validates its header; tensor bytes are read later, one tensor at a time. */
  static open(file: string): SafetensorsReader {
    const fd = fs.openSync(file, 'r');
    try {
      return new SafetensorsReader(file, fd);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }
  override has(name: string): boolean {
    return this.entries.has(name);
  }

  private entry(name: string): Entry {
    this.assertOpen();
    return this.entries.get(name) ?? this.missing(name);
  }

  info(name: string): TensorInfo {
    const e = this.entry(name);
    if (!e.dtype) throw new TensorFormatError(this.file, name, `dtype ${e.stDtype} is not supported`);
    return { dtype: e.dtype, shape: [...e.shape] };
  }

  /** The raw stored bytes of a tensor (any dtype, including ones we cannot decode). */
  readBytes(name: string): Uint8Array {
    const e = this.entry(name);
    const out = new Uint8Array(e.end - e.begin);
    readFully(this.fd, out, this.dataStart + e.begin, () => new TensorFormatError(this.file, name, 'file ended inside the tensor data (truncated?)'));
    return out;
  }

  override readInto(name: string, dst: Uint8Array): void {
    const e = this.entry(name);
    if (!e.dtype) throw new TensorFormatError(this.file, name, `dtype ${e.stDtype} is not supported`);
    this.checkDst(name, e.end - e.begin, dst);
    readFully(this.fd, dst, this.dataStart + e.begin, () => new TensorFormatError(this.file, name, 'file ended inside the tensor data (truncated?)'));
  }

  read(name: string): HostTensor {
    const inf = this.info(name);
    const e = this.entries.get(name)!;
    // A fresh ArrayBuffer per tensor: aligned at 0, so the typed view needs no copy.
    const buf = new ArrayBuffer(e.end - e.begin);
    readFully(this.fd, new Uint8Array(buf), this.dataStart + e.begin, () => new TensorFormatError(this.file, name, 'file ended inside the tensor data (truncated?)'));
    return { dtype: inf.dtype, shape: inf.shape, data: typedView(inf.dtype, buf, 0, numel(inf.shape)) };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}

function parseEntry(file: string, name: string, v: unknown, dataLen: number): Entry {
  const bad = (p: string) => new TensorFormatError(file, name, p);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('header entry is not an object');
  const o = v as Record<string, unknown>;
  if (typeof o.dtype !== 'string') throw bad('missing or non-string "dtype"');
  const dtype = dtypeFromSafetensors(o.dtype);
  const itemsize = dtype ? dtypeSize(dtype) : EXOTIC[o.dtype];
  if (itemsize === undefined) throw bad(`unknown dtype '${o.dtype}'`);
  if (!Array.isArray(o.shape) || !o.shape.every(isNonNegInt)) throw bad('"shape" is not an array of non-negative integers');
  const offs = o.data_offsets;
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isNonNegInt)) throw bad('"data_offsets" is not a pair of non-negative integers');
  const [begin, end] = offs as [number, number];
  if (begin > end) throw bad(`data_offsets [${begin}, ${end}] are reversed`);
  if (end > dataLen) throw bad(`data_offsets [${begin}, ${end}] lie outside the ${dataLen}-byte data region (truncated file or bad offsets)`);
  const shape = o.shape as number[];
  const need = numel(shape) * itemsize;
  if (!Number.isSafeInteger(need) || need !== end - begin) {
    throw bad(`data_offsets span ${end - begin} bytes but shape [${shape.join(', ')}] of ${o.dtype} needs ${need}`);
  }
  return { name, stDtype: o.dtype, dtype, shape, begin, end };
}

/** The format requires the tensors to tile the data region exactly, in some order. */
function checkCoverage(file: string, entries: Entry[], dataLen: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < pos) throw new TensorFormatError(file, e.name, `data_offsets [${e.begin}, ${e.end}] overlap tensor '${prev!.name}' [${prev!.begin}, ${prev!.end}]`);
    if (e.begin > pos) throw new TensorFormatError(file, e.name, `data_offsets start at ${e.begin}, leaving a hole at [${pos}, ${e.begin}) in the data region`);
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) throw new FileFormatError(file, `tensors cover ${pos} bytes but the data region holds ${dataLen} (trailing bytes or missing tensors)`);
}

export interface SafetensorsWriteOptions {
  /** Stored as `__metadata__` (string -> string), e.g. {format: 'pt'} as transformers writes. */
  metadata?: Record<string, string>;
  /**
   * Order tensors by descending itemsize then name, as the reference writer does (keeps every
   * tensor aligned to its element size). false keeps the caller's order. Default true.
   */
  sort?: boolean;
}

/** Checks a source's shape/data agreement; returns its data (calling a lazy producer). */
export function resolveSource(file: string, name: string, t: TensorSource): TypedArray {
  const data = typeof t.data === 'function' ? t.data() : t.data;
  const n = numel(t.shape);
  if (!t.shape.every((v) => isNonNegInt(v))) throw new TensorFormatError(file, name, `bad shape [${t.shape.join(', ')}]`);
  if (!matchesDType(t.dtype, data)) throw new TensorFormatError(file, name, `data is a ${data.constructor.name}, which does not match dtype ${t.dtype}`);
  if (data.length !== n) throw new TensorFormatError(file, name, `data has ${data.length} elements but shape [${t.shape.join(', ')}] needs ${n}`);
  return data;
}

/**
 * Writes a safetensors file atomically (temp file + rename): the header first, then each tensor's
 * bytes in header order. Lazy `data` producers are called one at a time, so peak memory is one tensor.
 */
export function writeSafetensors(file: string, tensors: TensorMap, opts: SafetensorsWriteOptions = {}): void {
  const list = tensorEntries(tensors);
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new TensorFormatError(file, name, 'reserved name');
    if (seen.has(name)) throw new TensorFormatError(file, name, 'duplicate tensor name');
    seen.add(name);
    if (!t.shape.every((v) => isNonNegInt(v))) throw new TensorFormatError(file, name, `bad shape [${t.shape.join(', ')}]`);
  }
  if (opts.sort ?? true) list.sort(([an, a], [bn, b]) => dtypeSize(b.dtype) - dtypeSize(a.dtype) || (an < bn ? -1 : an > bn ? 1 : 0));

  // No prototype: a tensor named "__proto__" must become a key, not the object's prototype.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (opts.metadata) {
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== 'string') throw new FileFormatError(file, `metadata '${k}' must be a string`);
    }
    header.__metadata__ = opts.metadata;
  }
  let off = 0;
  for (const [name, t] of list) {
    const nbytes = numel(t.shape) * dtypeSize(t.dtype);
    header[name] = { dtype: safetensorsName(t.dtype), shape: t.shape, data_offsets: [off, off + nbytes] };
    off += nbytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad with spaces so the data region starts 8-byte aligned, as the reference writer does.
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);

  writeFileAtomic(file, (fd) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeAll(fd, len);
    writeAll(fd, json);
    for (const [name, t] of list) writeAll(fd, bytesOf(resolveSource(file, name, t)));
  });
}

/** Reads a whole (small) safetensors file into memory: tensors by name plus metadata. */
export function readSafetensors(file: string): { tensors: Map<string, HostTensor>; metadata: Record<string, string> | undefined } {
  const r = SafetensorsReader.open(file);
  try {
    const tensors = new Map<string, HostTensor>();
    for (const k of r.keys()) tensors.set(k, r.read(k));
    return { tensors, metadata: r.metadata };
  } finally {
    r.close();
  }
}
