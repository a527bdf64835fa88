/**
 * The format-independent checkpoint reader interface. Readers parse only the index (header,
 * pickle, zip directory) when opened and read each tensor from disk on demand into a fresh
 * buffer, so a loader can upload tensor by tensor and drop each host copy.
 */
import { FileFormatError } from '../errors.js';
import { TensorFormatError } from './io_errors.js';
import { type DType, type HostTensor, type TypedArray, bytesOf, isFloatDType, toFloat32 } from './dtype.js';

export interface TensorInfo {
  dtype: DType;
  shape: number[];
}

export interface CheckpointReader {
  /** The file (or index file) this reader was opened on; used in error messages. */
  readonly file: string;
  /** Tensor names in file order. */
  keys(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** A fresh contiguous host copy of the tensor. */
  read(name: string): HostTensor;
  /**
   * The tensor's contiguous little-endian bytes written into `dst`, which must be exactly
   * numel × itemsize bytes: lets a loader reuse one staging buffer instead of a fresh one per tensor.
   */
  readInto(name: string, dst: Uint8Array): void;
  /** The tensor as float32 (f16/bf16/f64 converted); throws for non-float dtypes. */
  readF32(name: string): Float32Array;
  close(): void;
}

/** Something a writer can serialize: a HostTensor, or one whose data is produced on demand. */
export interface TensorSource {
  dtype: DType;
  shape: number[];
  /** The values, or a function producing them when the writer reaches this tensor (bounded memory). */
  data: TypedArray | (() => TypedArray);
}

export type TensorMap = Map<string, TensorSource> | Record<string, TensorSource> | Iterable<readonly [string, TensorSource]>;

export function tensorEntries(m: TensorMap): [string, TensorSource][] {
  if (m instanceof Map) return [...m.entries()];
  if (Symbol.iterator in (m as object)) return [...(m as Iterable<readonly [string, TensorSource]>)].map(([k, v]) => [k, v]);
  return Object.entries(m as Record<string, TensorSource>);
}

/** Shared readF32 / has / closed-state handling for concrete readers. */
export abstract class BaseReader implements CheckpointReader {
  protected closed = false;
  constructor(readonly file: string) {}
  abstract keys(): string[];
  abstract info(name: string): TensorInfo;
  abstract read(name: string): HostTensor;
  abstract close(): void;

  has(name: string): boolean {
    return this.keys().includes(name);
  }

  readInto(name: string, dst: Uint8Array): void {
    const t = this.read(name);
    const src = bytesOf(t.data);
    this.checkDst(name, src.byteLength, dst);
    dst.set(src);
  }

  protected checkDst(name: string, need: number, dst: Uint8Array): void {
    if (dst.byteLength !== need) throw new TensorFormatError(this.file, name, `readInto needs a ${need}-byte destination, got ${dst.byteLength}`);
  }

  readF32(name: string): Float32Array {
    const inf = this.info(name);
    if (!isFloatDType(inf.dtype)) throw new TensorFormatError(this.file, name, `readF32 needs a float tensor, the file holds ${inf.dtype}`);
    return toFloat32(this.read(name));
  }

  protected assertOpen(): void {
    if (this.closed) throw new FileFormatError(this.file, 'reader used after close()');
  }

  protected missing(name: string): never {
    throw new TensorFormatError(this.file, name, 'no such tensor in this checkpoint');
  }
}
