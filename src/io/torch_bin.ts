/**
 * torch.save checkpoints (`pytorch_model.bin`): a zip holding `<dir>/data.pkl` (a pickled
 * OrderedDict of `_rebuild_tensor_v2(storage, offset, size, stride, ...)` calls whose storages are
 * persistent ids `('storage', torch.FloatStorage, key, location, numel)`) and `<dir>/data/<key>`
 * raw little-endian storage bytes. Reading runs the pickle through the allow-listed VM, then reads
 * each tensor's bytes on demand; shared storages, storage offsets and arbitrary strides are handled.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomInt } from 'node:crypto';
import { FileFormatError } from '../errors.js';
import { TensorFormatError, UnsupportedDTypeError } from './io_errors.js';
import { type DType, type HostTensor, dtypeFromTorchStorage, dtypeSize, numel, torchStorageName, typedView, bytesOf, swapBytesInPlace } from './dtype.js';
import { ZipReader, type ZipEntry } from './zip.js';
import { ZipWriter, type ZipWriterOptions } from './zip_writer.js';
import { PickleBuilder, PyDict, type PyCallable, isTuple, unpickle, OP } from './pickle.js';
import { writeFileAtomic } from '../util/atomic.js';
import { resolveSource } from './safetensors.js';
import { BaseReader, type TensorInfo, type TensorMap, tensorEntries } from './reader.js';

/** torch dtype names of the legacy storage classes radgrad does not read (for error messages). */
const OTHER_STORAGES: Record<string, string> = {
  ComplexHalfStorage: 'complex32',
  ComplexFloatStorage: 'complex64',
  ComplexDoubleStorage: 'complex128',
  UInt16Storage: 'uint16',
  UInt32Storage: 'uint32',
  UInt64Storage: 'uint64',
  QInt8Storage: 'qint8',
  QUInt8Storage: 'quint8',
  QInt32Storage: 'qint32',
  QUInt4x2Storage: 'quint4x2',
  QUInt2x4Storage: 'quint2x4',
};
const SUPPORTED_TORCH_DTYPES = ['float64', 'float32', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

/** "Float8_e4m3fnStorage" → "float8_e4m3fn"; known names from the table, else the class name. */
function torchDtypeOfStorage(name: string): string {
  const known = OTHER_STORAGES[name];
  if (known) return known;
  const m = /^(Float8_\w+)Storage$/.exec(name);
  return m ? m[1]!.toLowerCase() : name;
}

interface StorageRef {
  key: string;
  dtype: DType;
  numel: number;
  entry: ZipEntry;
}

interface TensorRef {
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

class StorageType implements PyCallable {
  constructor(
    readonly qualname: string,
    readonly dtype: DType,
  ) {}
  call(): never {
    throw new Error(`${this.qualname} is only valid inside a persistent id`);
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function fn(qualname: string, call: (args: unknown[]) => unknown): PyCallable {
  return { qualname, call };
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= Math.max(shape[i]!, 1);
  }
  return s;
}

export class TorchBinReader extends BaseReader {
  private readonly tensors = new Map<string, TensorRef>();
  /** The archive's top folder (torch uses the file's stem or 'archive'). */
  readonly prefix: string;
  /** Top-level entries that were not tensors (ignored). */
  readonly skipped: string[] = [];
  private readonly bigEndian: boolean;

  private constructor(
    file: string,
    private readonly zip: ZipReader,
  ) {
    super(file);
    const pkls = zip.entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
    if (pkls.length !== 1) throw new FileFormatError(file, pkls.length ? 'several */data.pkl records' : 'no <dir>/data.pkl record: not a torch.save zip checkpoint');
    this.prefix = pkls[0]!.name.slice(0, -'/data.pkl'.length);
    const bo = zip.get(`${this.prefix}/byteorder`);
    const order = bo ? zip.read(bo).toString('latin1').trim() : 'little';
    if (order !== 'little' && order !== 'big') throw new FileFormatError(file, `unknown byteorder '${order}'`);
    this.bigEndian = order === 'big';

    const storages = new Map<string, StorageRef>();
    const rebuild = (args: unknown[]): TensorRef => {
      const [storage, offset, size, stride] = args;
      if (!(typeof storage === 'object' && storage !== null && 'entry' in storage)) throw new FileFormatError(file, 'pickle: _rebuild_tensor_v2 without a storage');
      if (!isInt(offset) || !isTuple(size) || !isTuple(stride) || !size.every(isInt) || !stride.every(isInt) || size.length !== stride.length) {
        throw new FileFormatError(file, 'pickle: malformed _rebuild_tensor_v2 arguments (offset/size/stride)');
      }
      return { storage: storage as StorageRef, offset, shape: [...size] as number[], stride: [...stride] as number[] };
    };
    const globals = new Map<string, PyCallable>([
      ['collections.OrderedDict', fn('collections.OrderedDict', () => new PyDict('OrderedDict'))],
      ['torch._utils._rebuild_tensor_v2', fn('torch._utils._rebuild_tensor_v2', rebuild)],
      ['torch._utils._rebuild_tensor', fn('torch._utils._rebuild_tensor', rebuild)],
      ['torch._utils._rebuild_parameter', fn('torch._utils._rebuild_parameter', (a) => a[0])],
      ['torch._utils._rebuild_parameter_with_state', fn('torch._utils._rebuild_parameter_with_state', (a) => a[0])],
    ]);
    const findGlobal = (module: string, name: string): PyCallable | undefined => {
      const g = globals.get(`${module}.${name}`);
      if (g) return g;
      if (module === 'torch') {
        const d = dtypeFromTorchStorage(name);
        if (d) return new StorageType(`torch.${name}`, d);
        // Any other storage class is a state dict of a dtype we do not read, not an unsafe pickle.
        if (/^\w+Storage$/.test(name)) throw new UnsupportedDTypeError(file, `torch.${name}`, torchDtypeOfStorage(name), SUPPORTED_TORCH_DTYPES);
      }
      return undefined;
    };
    const persistentLoad = (pid: unknown): StorageRef => {
      if (!isTuple(pid) || pid.length !== 5 || pid[0] !== 'storage') throw new FileFormatError(file, 'pickle: persistent id is not a (storage, type, key, location, numel) tuple');
      const [, type, key, , n] = pid as unknown[];
      if (!(type instanceof StorageType) || typeof key !== 'string' || !isInt(n)) throw new FileFormatError(file, 'pickle: malformed storage persistent id');
      const known = storages.get(key);
      if (known) return known;
      const entry = zip.get(`${this.prefix}/data/${key}`);
      if (!entry) throw new FileFormatError(file, `storage '${key}' has no ${this.prefix}/data/${key} record`);
      const need = n * dtypeSize(type.dtype);
      if (entry.size < need) throw new FileFormatError(file, `storage '${key}' needs ${need} bytes (${n} × ${type.dtype}) but its record holds ${entry.size}`);
      const s: StorageRef = { key, dtype: type.dtype, numel: n, entry };
      storages.set(key, s);
      return s;
    };

    const obj = unpickle(zip.read(pkls[0]!), { file, findGlobal, persistentLoad });
    if (!(obj instanceof PyDict)) throw new FileFormatError(file, 'the pickled object is not a dict (expected a state dict)');
    for (const [k, v] of obj.map) {
      if (typeof k !== 'string') continue;
      if (typeof v === 'object' && v !== null && 'storage' in v) {
        this.tensors.set(k, this.checkRef(k, v as TensorRef));
      } else {
        if (v instanceof PyDict && [...v.map.values()].some((x) => typeof x === 'object' && x !== null && 'storage' in x)) {
          throw new FileFormatError(file, `entry '${k}' is a nested dict of tensors, not a flat state dict`, { hint: 'save model.state_dict() itself' });
        }
        this.skipped.push(k);
      }
    }
  }

  /** Checks the view lies inside its storage; every later read relies on this. */
  private checkRef(name: string, r: TensorRef): TensorRef {
    const bytes = numel(r.shape) * dtypeSize(r.storage.dtype);
    // Expanded (stride 0) views pass the storage bound below, so bound the output size separately.
    if (!Number.isSafeInteger(bytes) || bytes > Number.MAX_SAFE_INTEGER / 2) {
      throw new TensorFormatError(this.file, name, `shape [${r.shape}] is too large to materialize`);
    }
    if (bytes > 0) {
      let last = r.offset;
      for (let i = 0; i < r.shape.length; i++) last += (r.shape[i]! - 1) * r.stride[i]!;
      if (!Number.isSafeInteger(last) || last >= r.storage.numel) {
        throw new TensorFormatError(this.file, name, `view (offset ${r.offset}, shape [${r.shape}], stride [${r.stride}]) reaches element ${last} of a ${r.storage.numel}-element storage`);
      }
    }
    return r;
  }

  static open(file: string): TorchBinReader {
    const head = Buffer.alloc(4);
    const fd = fs.openSync(file, 'r');
    const n = fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
    if (n >= 2 && head[0] === 0x80 && head[1]! <= 5) {
      throw new FileFormatError(file, 'legacy (pre-zip) torch serialization is not supported', { hint: 're-save with a current torch, or convert to safetensors' });
    }
    if (n < 4 || head.readUInt32LE(0) !== 0x04034b50) throw new FileFormatError(file, 'not a zip archive (torch.save checkpoints start with "PK\\x03\\x04")');
    const zip = ZipReader.open(file);
    try {
      return new TorchBinReader(file, zip);
    } catch (e) {
      zip.close();
      throw e;
    }
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }
  override has(name: string): boolean {
    return this.tensors.has(name);
  }

  private ref(name: string): TensorRef {
    this.assertOpen();
    return this.tensors.get(name) ?? this.missing(name);
  }

  info(name: string): TensorInfo {
    const r = this.ref(name);
    return { dtype: r.storage.dtype, shape: [...r.shape] };
  }

  /** The storage key a tensor views; equal keys mean shared (tied) storage. */
  storageKey(name: string): string {
    return this.ref(name).storage.key;
  }

  read(name: string): HostTensor {
    const r = this.ref(name);
    const d = r.storage.dtype;
    const n = numel(r.shape);
    const out = new ArrayBuffer(n * dtypeSize(d));
    this.fill(r, new Uint8Array(out));
    return { dtype: d, shape: [...r.shape], data: typedView(d, out, 0, n) };
  }

  override readInto(name: string, dst: Uint8Array): void {
    const r = this.ref(name);
    this.checkDst(name, numel(r.shape) * dtypeSize(r.storage.dtype), dst);
    this.fill(r, dst);
  }

  /** Writes the view's elements, contiguous and little-endian, into `out` (exactly its size). */
  private fill(r: TensorRef, out: Uint8Array): void {
    if (out.byteLength === 0) return;
    const size = dtypeSize(r.storage.dtype);
    const std = contiguousStrides(r.shape);
    if (r.shape.every((s, i) => s === 1 || r.stride[i] === std[i])) {
      this.zip.readRange(r.storage.entry, r.offset * size, out);
    } else {
      // Read the span the view touches, then gather element by element (bit copies, any dtype).
      let last = r.offset;
      for (let i = 0; i < r.shape.length; i++) last += (r.shape[i]! - 1) * r.stride[i]!;
      const span = new ArrayBuffer((last - r.offset + 1) * size);
      this.zip.readRange(r.storage.entry, r.offset * size, new Uint8Array(span));
      const tmp = out.byteOffset % 8 === 0 ? out : new Uint8Array(out.byteLength);
      gather(span, tmp, size, r.shape, r.stride);
      if (tmp !== out) out.set(tmp);
    }
    if (this.bigEndian) swapBytesInPlace(out, size);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.zip.close();
  }
}

/** Strided copy of `shape` elements from `src` (element 0 at index 0) into contiguous `dst`. */
function gather(src: ArrayBuffer, dst: Uint8Array, size: number, shape: number[], stride: number[]): void {
  // Integer views copy bit patterns exactly (a Float64Array copy could canonicalize NaN payloads).
  const view = (b: ArrayBufferLike, off: number, len: number): { [i: number]: number | bigint } =>
    size === 1 ? new Uint8Array(b, off, len) : size === 2 ? new Uint16Array(b, off, len / 2) : size === 4 ? new Uint32Array(b, off, len / 4) : new BigUint64Array(b, off, len / 8);
  const s = view(src, 0, src.byteLength);
  const o = view(dst.buffer, dst.byteOffset, dst.byteLength);
  const nd = shape.length;
  const inner = shape[nd - 1]!;
  const innerStride = stride[nd - 1]!;
  const idx = new Array<number>(nd).fill(0);
  let w = 0;
  let base = 0;
  for (;;) {
    for (let j = 0, q = base; j < inner; j++, q += innerStride) o[w++] = s[q]!;
    // odometer over the outer dims
    let d = nd - 2;
    for (; d >= 0; d--) {
      idx[d]!++;
      base += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      base -= stride[d]! * shape[d]!;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

export interface TorchBinWriteOptions extends ZipWriterOptions {
  /** The zip's top folder; torch uses the file stem. */
  archiveName?: string;
}

/**
 * Writes a torch.save-compatible checkpoint atomically. Tensors whose `data` is the same object
 * (array or producer function) share one storage, as tied weights do in torch. Lazy producers are
 * called once per storage while writing, so peak memory is one tensor.
 */
export function writeTorchBin(file: string, tensors: TensorMap, opts: TorchBinWriteOptions = {}): void {
  const list = tensorEntries(tensors);
  const archive = opts.archiveName ?? (path.basename(file).replace(/\.[^.]*$/, '') || 'archive');
  if (archive.includes('/')) throw new FileFormatError(file, `archive name '${archive}' must not contain '/'`);

  const storageOf = new Map<unknown, { key: string; src: (typeof list)[number][1]; name: string; numel: number }>();
  const pk = new PickleBuilder();
  pk.global('collections', 'OrderedDict').raw(OP.EMPTY_TUPLE, OP.REDUCE);
  let inBatch = 0;
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (seen.has(name)) throw new TensorFormatError(file, name, 'duplicate tensor name');
    seen.add(name);
    if (t.dtype.startsWith('u') && t.dtype !== 'u8') throw new TensorFormatError(file, name, `dtype ${t.dtype} has no legacy torch storage type`);
    const n = numel(t.shape);
    let s = storageOf.get(t.data);
    if (!s) {
      s = { key: String(storageOf.size), src: t, name, numel: n };
      storageOf.set(t.data, s);
    } else if (s.numel !== n || s.src.dtype !== t.dtype) {
      throw new TensorFormatError(file, name, `shares data with '${s.name}' but has a different size or dtype`);
    }
    if (inBatch === 0) pk.raw(OP.MARK);
    pk.str(name).global('torch._utils', '_rebuild_tensor_v2').raw(OP.MARK);
    pk.raw(OP.MARK).str('storage', true).global('torch', torchStorageName(t.dtype)).str(s.key).str('cpu', true).int(n).raw(OP.TUPLE, OP.BINPERSID);
    pk.int(0).intTuple(t.shape).intTuple(contiguousStrides(t.shape)).raw(OP.NEWFALSE);
    pk.global('collections', 'OrderedDict').raw(OP.EMPTY_TUPLE, OP.REDUCE); // backward_hooks
    pk.raw(OP.TUPLE, OP.REDUCE);
    if (++inBatch === 1000) {
      pk.raw(OP.SETITEMS);
      inBatch = 0;
    }
  }
  if (inBatch) pk.raw(OP.SETITEMS);
  const pickle = pk.finish();

  writeFileAtomic(file, (fd) => {
    const zw = new ZipWriter(fd, opts);
    const text = (s: string) => Buffer.from(s, 'latin1');
    zw.add(`${archive}/data.pkl`, pickle, { align: 64 });
    zw.add(`${archive}/.format_version`, text('1'), { align: 64 });
    zw.add(`${archive}/.storage_alignment`, text('64'), { align: 64 });
    zw.add(`${archive}/byteorder`, text('little'), { align: 64 });
    for (const s of storageOf.values()) zw.add(`${archive}/data/${s.key}`, bytesOf(resolveSource(file, s.name, s.src)), { align: 64 });
    zw.add(`${archive}/version`, text('3\n'), { align: 64 });
    let id = String(randomInt(1, 10));
    while (id.length < 40) id += String(randomInt(0, 10));
    zw.add(`${archive}/.data/serialization_id`, text(id), { align: 64 });
    zw.finish();
  });
}
