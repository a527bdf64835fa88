/** Shared plumbing of the WebGPU backend: storage with reference counts, allocation, launches. */
import type { GpuContext } from '../../gpu/device.js';
import { bindingOffsetAlignment, maxBindingBytes, type PooledBuffer } from '../../gpu/buffer_pool.js';
import type { KernelDecl, LaunchArgs } from '../../gpu/index.js';
import { grid1d } from '../../gpu/kernel.js';
import { BufferTooLargeError } from '../../gpu/errors.js';
import { OpArgumentError } from '../../errors.js';
import { bytesPerElement, numel, type DType, type RawTensor } from '../types.js';

/** GPU storage; reshape/detach share it, so it is released when the last view is disposed. */
export interface GpuStorage {
  readonly pb: PooledBuffer;
  refs: number;
  /**
   * A window that holds one reference to the storage it lies in (sharedWindows), released with
   * the window's last view; plain windows (windowOf) only borrow.
   */
  readonly owner?: GpuStorage;
}

export interface GpuRaw extends RawTensor {
  readonly storage: GpuStorage;
}

export function storageOf(x: RawTensor): GpuStorage {
  return (x as GpuRaw).storage;
}

export function bufferOf(x: RawTensor): PooledBuffer {
  return (x as GpuRaw).storage.pb;
}

export function alloc(ctx: GpuContext, shape: readonly number[], dtype: DType, op = 'alloc'): GpuRaw {
  const bytes = Math.max(4, Math.ceil((numel(shape) * bytesPerElement(dtype)) / 4) * 4);
  const pb = ctx.pool.acquire(bytes, 'storage', op);
  return { shape: shape.slice(), dtype, storage: { pb, refs: 1 } };
}

export function view(x: RawTensor, shape: readonly number[]): GpuRaw {
  const s = storageOf(x);
  s.refs++;
  return { shape: shape.slice(), dtype: x.dtype, storage: s };
}

export function release(ctx: GpuContext, x: RawTensor): void {
  let s: GpuStorage | undefined = storageOf(x);
  // A window (windowOf) borrows its parent's buffer: nothing to give back, except its reference
  // to an owner (sharedWindows).
  while (s && --s.refs === 0) {
    if (!s.pb.parent) ctx.pool.release(s.pb);
    s = s.owner;
  }
}

/**
 * Windows of x (one per [start, shape] part, aligned as windowOf's) that own x together: x itself
 * is handed over, and its buffer goes back to the pool when the last view of the last window is
 * disposed. Lets one launch write several results that live on independently.
 */
export function sharedWindows(ctx: GpuContext, x: RawTensor, parts: ReadonlyArray<{ start: number; shape: readonly number[] }>): GpuRaw[] {
  if (parts.length === 0) {
    release(ctx, x);
    return [];
  }
  const owner = storageOf(x);
  const ws = parts.map((p) => {
    const w = windowOf(ctx, x, p.start, p.shape);
    return { shape: w.shape, dtype: w.dtype, storage: { pb: w.storage.pb, refs: 1, owner } };
  });
  owner.refs += ws.length - 1;
  return ws;
}

/**
 * Elements [start, start + numel(shape)) of x's storage as a tensor bound on its own (no copy), so
 * that a kernel can process a tensor above the binding limit chunk by chunk. The byte offset must
 * be a multiple of minStorageBufferOffsetAlignment (the chunk helpers below pick such starts).
 * The window borrows x's buffer: use it while x is alive; disposing it releases nothing.
 */
export function windowOf(ctx: GpuContext, x: RawTensor, start: number, shape: readonly number[]): GpuRaw {
  const pb = bufferOf(x);
  const e = bytesPerElement(x.dtype);
  const base = (pb.offset ?? 0) + start * e;
  if (base % bindingOffsetAlignment(ctx) !== 0) {
    throw new OpArgumentError('windowOf', 'start', `a byte offset aligned to ${bindingOffsetAlignment(ctx)}`, String(base));
  }
  const parent = pb.parent ?? pb;
  const bytes = Math.max(4, numel(shape) * e);
  // Binding sizes are multiples of 16 where the buffer allows (vec4 kernels), of 4 at its end.
  const size = Math.min(Math.ceil(bytes / 16) * 16, parent.size - base);
  const w: PooledBuffer = { buffer: pb.buffer, size, kind: 'storage', bytes, released: false, offset: base, parent };
  return { shape: [...shape], dtype: x.dtype, storage: { pb: w, refs: 1 } };
}

/** True when x can be bound whole (its buffer is within the binding limit). */
export function bindable(ctx: GpuContext, x: RawTensor): boolean {
  return bufferOf(x).size <= maxBindingBytes(ctx);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Smallest row count whose byte size is a multiple of the binding offset alignment. */
export function rowAlign(ctx: GpuContext, rowBytes: number): number {
  const a = bindingOffsetAlignment(ctx);
  return rowBytes === 0 ? 1 : a / gcd(rowBytes % a, a);
}

/** One tensor of a row-chunked launch: `per` elements per row (a flat tensor has rows of 1). */
export interface ChunkPart {
  readonly x: RawTensor;
  readonly per: number;
}

/**
 * Runs `fn` over ranges of `rows` rows shared by all `parts` (row r of part p is elements
 * [r·per, (r+1)·per)). When every part can be bound whole, fn runs once with the tensors
 * themselves; otherwise with windows of at most maxStorageBufferBindingSize each, starting at
 * aligned offsets. This is the one chunking mechanism of row-wise and elementwise kernels: the
 * kernel sees a smaller problem (count rows) and needs no change.
 */
export function forRowChunks(ctx: GpuContext, op: string, rows: number, parts: readonly ChunkPart[], fn: (r0: number, count: number, xs: RawTensor[]) => void): void {
  const limit = maxBindingBytes(ctx);
  // The common case (every part bindable whole) without closures: this runs once per launch.
  let whole = true;
  for (let i = 0; i < parts.length && whole; i++) whole = bufferOf(parts[i]!.x).size <= limit;
  if (whole) {
    const xs: RawTensor[] = [];
    for (let i = 0; i < parts.length; i++) xs.push(parts[i]!.x);
    fn(0, rows, xs);
    return;
  }
  let cap = Infinity;
  let mult = 1;
  let widest = 0;
  for (const p of parts) {
    const rb = p.per * bytesPerElement(p.x.dtype);
    if (rb === 0) continue;
    const m = rowAlign(ctx, rb);
    mult = (mult * m) / gcd(mult, m);
    cap = Math.min(cap, Math.floor(limit / rb));
    widest = Math.max(widest, rb);
  }
  const step = rows <= cap ? rows : Math.floor(cap / mult) * mult;
  if (step < 1) throw new BufferTooLargeError(widest * mult, limit, 'maxStorageBufferBindingSize', `${op}: the smallest aligned chunk (${mult} rows)`);
  for (let r0 = 0; r0 < rows; r0 += step) {
    const count = Math.min(step, rows - r0);
    const ws = parts.map((p) => windowOf(ctx, p.x, r0 * p.per, [count, p.per]));
    fn(r0, count, ws);
  }
}

export const WG = 256;

/** Workgroups for one thread per element with WG threads per group (split over x/y beyond 65535). */
export function grid(n: number, wg = WG): [number, number, number] {
  return grid1d(Math.ceil(n / wg));
}

/**
 * Kernel selection. CPU adapters (lavapipe, SwiftShader) run each workgroup as a loop on one core
 * and emulate barriers and workgroup memory, so per-workgroup overhead and barriers dominate;
 * there radgrad launches few workgroups that loop over the data (grid-stride), and uses
 * barrier-free row reductions and matmul. `cpuStyle` forces either choice (tests cover both).
 * `vec4` enables the four-elements-per-thread f32 variants.
 */
export const tuning: { cpuStyle: 'auto' | boolean; vec4: boolean } = { cpuStyle: 'auto', vec4: true };

/**
 * What 'auto' means: the adapter's class, unless RADGRAD_KERNEL_STYLE=gpu|cpu says otherwise (gpu
 * runs the discrete-GPU kernel family on lavapipe, so whole suites check it without a GPU).
 */
const styleEnv = process.env.RADGRAD_KERNEL_STYLE;
if (styleEnv !== undefined && styleEnv !== 'gpu' && styleEnv !== 'cpu' && styleEnv !== 'auto') {
  throw new OpArgumentError('RADGRAD_KERNEL_STYLE', 'value', 'gpu, cpu or auto', styleEnv);
}
const autoStyle: boolean | null = styleEnv === 'gpu' ? false : styleEnv === 'cpu' ? true : null;

export function cpuStyle(ctx: GpuContext): boolean {
  return tuning.cpuStyle === 'auto' ? autoStyle ?? ctx.adapterInfo.isCpu : tuning.cpuStyle;
}

/** Workgroups for a grid-stride kernel over n items: enough to fill the device, no more. */
export function strideGrid(ctx: GpuContext, n: number, wg = WG): [number, number, number] {
  const cap = cpuStyle(ctx) ? 64 : 16384;
  return grid1d(Math.min(Math.ceil(n / wg), cap));
}

/**
 * True when vec4 kernels may be used: every buffer can be bound as array<vec4<...>> (pool buckets
 * are multiples of 16 bytes) and `tuning.vec4` (tests switch it off to cover the scalar kernels).
 */
export function vec4Bindable(...xs: RawTensor[]): boolean {
  if (!tuning.vec4) return false;
  for (let i = 0; i < xs.length; i++) if (bufferOf(xs[i]!).size % 16 !== 0) return false;
  return true;
}

export function launch(ctx: GpuContext, decl: KernelDecl, args: LaunchArgs): void {
  ctx.queue.dispatch(decl, args);
}

/** WGSL type for a dtype in a kernel alias. */
export function wgslType(d: DType): string {
  return d;
}

/** Packs up to 8 dims into the vec4 x2 uniform layout used by strided kernels (padded with 0/1). */
export function dims8(v: readonly number[], pad = 0): number[] {
  if (v.length > 8) throw new OpArgumentError('strided kernel', 'rank', 'at most 8 dimensions', String(v.length));
  // A literal (packed) array: cheaper to build and to read in packUniforms than a filled holey one.
  const out = [pad, pad, pad, pad, pad, pad, pad, pad];
  for (let i = 0; i < v.length; i++) out[i] = v[i]!;
  return out;
}

/** Memoises kernel declarations per variant key (dtype, flags), so the pipeline cache sees one object. */
export function variants<K extends string, D extends KernelDecl>(make: (key: K) => D): (key: K) => D {
  const m = new Map<K, D>();
  return (key: K) => {
    let d = m.get(key);
    if (!d) m.set(key, (d = make(key)));
    return d;
  };
}
