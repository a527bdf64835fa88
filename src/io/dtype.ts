/**
 * Host-side dtypes shared by every checkpoint format, and the float conversions a loader needs
 * (f16/bf16 -> f32 and back). Data is always little-endian, as in safetensors and torch files.
 */
import { f32ToF16Bits } from '../util/half.js';

export type DType = 'f64' | 'f32' | 'f16' | 'bf16' | 'i64' | 'u64' | 'i32' | 'u32' | 'i16' | 'u16' | 'i8' | 'u8' | 'bool';

export type TypedArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** A tensor in host memory: row-major (C order), contiguous, `data.length === numel(shape)`. */
export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

interface DTypeInfo {
  size: number;
  /** The safetensors header name. */
  st: string;
  /** The legacy torch storage class (`torch.<name>`), used in pickled persistent ids. */
  torch: string;
  ctor: { new (buf: ArrayBuffer, off?: number, len?: number): TypedArray; BYTES_PER_ELEMENT: number };
  float: boolean;
}

const INFO: Record<DType, DTypeInfo> = {
  f64: { size: 8, st: 'F64', torch: 'DoubleStorage', ctor: Float64Array, float: true },
  f32: { size: 4, st: 'F32', torch: 'FloatStorage', ctor: Float32Array, float: true },
  f16: { size: 2, st: 'F16', torch: 'HalfStorage', ctor: Uint16Array, float: true },
  bf16: { size: 2, st: 'BF16', torch: 'BFloat16Storage', ctor: Uint16Array, float: true },
  i64: { size: 8, st: 'I64', torch: 'LongStorage', ctor: BigInt64Array, float: false },
  // torch has no legacy unsigned 16/32/64-bit storage classes; these names are only for symmetry.
  u64: { size: 8, st: 'U64', torch: 'UInt64Storage', ctor: BigUint64Array, float: false },
  i32: { size: 4, st: 'I32', torch: 'IntStorage', ctor: Int32Array, float: false },
  u32: { size: 4, st: 'U32', torch: 'UInt32Storage', ctor: Uint32Array, float: false },
  i16: { size: 2, st: 'I16', torch: 'ShortStorage', ctor: Int16Array, float: false },
  u16: { size: 2, st: 'U16', torch: 'UInt16Storage', ctor: Uint16Array, float: false },
  i8: { size: 1, st: 'I8', torch: 'CharStorage', ctor: Int8Array, float: false },
  u8: { size: 1, st: 'U8', torch: 'ByteStorage', ctor: Uint8Array, float: false },
  bool: { size: 1, st: 'BOOL', torch: 'BoolStorage', ctor: Uint8Array, float: false },
};

export const DTYPES = Object.keys(INFO) as DType[];

export function dtypeSize(d: DType): number {
  return INFO[d].size;
}
export function isFloatDType(d: DType): boolean {
  return INFO[d].float;
}
export function safetensorsName(d: DType): string {
  return INFO[d].st;
}
export function torchStorageName(d: DType): string {
  return INFO[d].torch;
}

const FROM_ST = new Map(DTYPES.map((d) => [INFO[d].st, d]));
/** Legacy torch storage classes that have a dtype here (unsigned wide types are torch-2.3+ only). */
const FROM_TORCH = new Map(DTYPES.filter((d) => !d.startsWith('u') || d === 'u8').map((d) => [INFO[d].torch, d]));

export function dtypeFromSafetensors(name: string): DType | undefined {
  return FROM_ST.get(name);
}
export function dtypeFromTorchStorage(name: string): DType | undefined {
  return FROM_TORCH.get(name);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** A typed array of `count` elements over `buf` (which must hold count * itemsize bytes from `byteOffset`). */
export function typedView(d: DType, buf: ArrayBuffer, byteOffset: number, count: number): TypedArray {
  return new INFO[d].ctor(buf, byteOffset, count);
}

/** A zero-filled typed array of the dtype's element type. */
export function allocTyped(d: DType, count: number): TypedArray {
  return new INFO[d].ctor(new ArrayBuffer(count * INFO[d].size), 0, count);
}

/** Raw little-endian bytes of a typed array, without copying. */
export function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** True when `a` is the typed array class a HostTensor of dtype `d` must carry. */
export function matchesDType(d: DType, a: TypedArray): boolean {
  return a instanceof INFO[d].ctor;
}

// ---- float conversions -------------------------------------------------------------------------

let F16_TABLE: Float32Array | undefined;

/** All 65536 half values as float32; built once (256 KiB), then conversion is a table lookup. */
function f16Table(): Float32Array {
  if (F16_TABLE) return F16_TABLE;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24; // subnormal (and signed zero)
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  F16_TABLE = t;
  return t;
}

export function f16ToF32(src: Uint16Array): Float32Array {
  const t = f16Table();
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = t[src[i]!]!;
  return out;
}

/** bf16 is the top half of a float32, so widening is a 16-bit shift. */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) u[i] = src[i]! << 16;
  return out;
}


/** float32 -> bf16 with round-to-nearest-even; NaN stays a (quiet) NaN. */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const x = u[i]!;
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

// One float32 -> f16 bit pattern (round to nearest even): the project's single implementation.
export { f32ToF16Bits };

export function f32ToF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
  return out;
}

/**
 * Any tensor as float32 values. Float dtypes convert exactly (f64 rounds); integer dtypes convert
 * by value (i64 beyond 2^24 loses precision, as a cast would). Returns `data` itself when already f32.
 */
export function toFloat32(t: HostTensor): Float32Array {
  switch (t.dtype) {
    case 'f32':
      return t.data as Float32Array;
    case 'f16':
      return f16ToF32(t.data as Uint16Array);
    case 'bf16':
      return bf16ToF32(t.data as Uint16Array);
    case 'i64':
    case 'u64': {
      const src = t.data as BigInt64Array | BigUint64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]!);
      return out;
    }
    default:
      return Float32Array.from(t.data as Float64Array);
  }
}

/** Reverses byte order in place (for big-endian torch archives); itemsize 1 is a no-op. */
export function swapBytesInPlace(bytes: Uint8Array, itemsize: number): void {
  if (itemsize === 1) return;
  for (let i = 0; i + itemsize <= bytes.length; i += itemsize) {
    for (let a = i, b = i + itemsize - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

// ---- checkpoint dtypes as transformers names them -----------------------------------------------

/** The float dtypes a model checkpoint is saved in (transformers' torch_dtype / dtype). */
export type SaveDType = 'f32' | 'f16' | 'bf16';
const TORCH_NAMES: Record<SaveDType, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };
/** config.json spellings (torch.<name> and the short aliases torch accepts). */
const FROM_TORCH_NAME: Record<string, SaveDType> = { float32: 'f32', float: 'f32', float16: 'f16', half: 'f16', bfloat16: 'bf16' };

/** 'float32' | 'float16' | 'bfloat16', as config.json's torch_dtype writes it. */
export function torchDtypeName(d: SaveDType): string {
  return TORCH_NAMES[d];
}

/** A config.json torch_dtype / dtype value ("float16", "torch.bfloat16", "half"...) as a SaveDType; undefined for others ("auto", "float64"). */
export function saveDtypeFromTorchName(name: string): SaveDType | undefined {
  return FROM_TORCH_NAME[name.replace(/^torch\./, '')];
}

/**
 * float32 values as `d` (f16/bf16 round to nearest even; f32 returns `src`). `overflow` counts
 * finite values that became ±inf (beyond the dtype's range), which a caller may refuse.
 */
export function fromFloat32(d: SaveDType, src: Float32Array): { data: TypedArray; overflow: number } {
  if (d === 'f32') return { data: src, overflow: 0 };
  const out = d === 'f16' ? f32ToF16(src) : f32ToBf16(src);
  const inf = d === 'f16' ? 0x7c00 : 0x7f80; // exponent all ones, no mantissa (f16 and bf16 alike)
  let overflow = 0;
  for (let i = 0; i < out.length; i++) if ((out[i]! & 0x7fff) === inf && Number.isFinite(src[i]!)) overflow++;
  return { data: out, overflow };
}
