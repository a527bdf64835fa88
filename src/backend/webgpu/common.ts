/** Shared plumbing of the WebGPU backend: storage with reference counts, allocation, launches. */
import type { GpuContext } from '../../gpu/device.js';
import type { PooledBuffer } from '../../gpu/buffer_pool.js';
import type { KernelDecl, LaunchArgs } from '../../gpu/index.js';
import { grid1d } from '../../gpu/kernel.js';
import { OpArgumentError } from '../../errors.js';
import { bytesPerElement, numel, type DType, type RawTensor } from '../types.js';

/** GPU storage; reshape/detach share it, so it is released when the last view is disposed. */
export interface GpuStorage {
  readonly pb: PooledBuffer;
  refs: number;
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
  return { shape: [...shape], dtype, storage: { pb, refs: 1 } };
}

export function view(x: RawTensor, shape: readonly number[]): GpuRaw {
  const s = storageOf(x);
  s.refs++;
  return { shape: [...shape], dtype: x.dtype, storage: s };
}

export function release(ctx: GpuContext, x: RawTensor): void {
  const s = storageOf(x);
  if (--s.refs === 0) ctx.pool.release(s.pb);
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

export function cpuStyle(ctx: GpuContext): boolean {
  return tuning.cpuStyle === 'auto' ? ctx.adapterInfo.isCpu : tuning.cpuStyle;
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
  return tuning.vec4 && xs.every((x) => bufferOf(x).size % 16 === 0);
}

export function launch(ctx: GpuContext, decl: KernelDecl, args: LaunchArgs): void {
  ctx.queue.dispatch(decl, args);
}

/** WGSL type for a dtype in a kernel alias. */
export function wgslType(d: DType): string {
  return d;
}

export function requireFloat(op: string, arg: string, x: RawTensor): void {
  if (x.dtype !== 'f32' && x.dtype !== 'f16') throw new OpArgumentError(op, arg, 'a float tensor (f32/f16)', x.dtype);
}

/** Packs up to 8 dims into the vec4 x2 uniform layout used by strided kernels (padded with 0/1). */
export function dims8(v: readonly number[], pad = 0): number[] {
  if (v.length > 8) throw new OpArgumentError('strided kernel', 'rank', 'at most 8 dimensions', String(v.length));
  const out = new Array<number>(8).fill(pad);
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
