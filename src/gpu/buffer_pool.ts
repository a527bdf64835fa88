/**
 * Size-bucketed GPU buffer reuse. Buffers released while the command queue still has unsubmitted
 * work that may read them are parked until the next submit: queue.writeBuffer() executes before
 * unsubmitted commands, so handing such a buffer out again at once would let new data overwrite
 * what a pending dispatch still has to read.
 */
import type { GpuContext } from './device.js';
import { BufferTooLargeError, GpuError } from './errors.js';

/** 'query': destination of resolveQuerySet (timestamps), copied out to a readback buffer. */
export type BufferKind = 'storage' | 'uniform' | 'readback' | 'query';

export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  /** Bucket size in bytes (what the GPU buffer really has). */
  readonly size: number;
  readonly kind: BufferKind;
  /**
   * The GPUBuffer's creation number in its pool (stable across reuse): the queue hashes bind-group
   * cache keys from it instead of looking the buffer up. Absent on windows and foreign buffers.
   */
  readonly id?: number;
  /** Bytes the caller asked for (<= size). */
  bytes: number;
  released: boolean;
  /**
   * Set on a window (see windowOf in src/backend/webgpu/common.ts): a sub-range of `parent`'s buffer
   * starting at this byte offset, bound on its own so that tensors above the binding limit can be
   * processed in chunks. Windows are never acquired from or released to the pool.
   */
  readonly offset?: number;
  readonly parent?: PooledBuffer;
}

/**
 * Test hook: caps storage bindings below the adapter's maxStorageBufferBindingSize so that the
 * chunked paths run on small tensors. Set at startup from RADGRAD_MAX_BINDING_BYTES; tests assign it.
 */
export const bindingLimits: { override: number | undefined } = {
  override: process.env.RADGRAD_MAX_BINDING_BYTES ? Number(process.env.RADGRAD_MAX_BINDING_BYTES) : undefined,
};

/** Largest storage binding in bytes (a multiple of 16): the adapter's limit or the test override. */
export function maxBindingBytes(ctx: Pick<GpuContext, 'limits'>): number {
  const hw = ctx.limits.maxStorageBufferBindingSize ?? 2 ** 27;
  const o = bindingLimits.override;
  return Math.floor(Math.min(hw, o !== undefined && o > 0 ? o : Infinity) / 16) * 16;
}

/** Alignment in bytes of a storage binding's offset (windows start at multiples of it). */
export function bindingOffsetAlignment(ctx: Pick<GpuContext, 'limits'>): number {
  return Math.max(4, ctx.limits.minStorageBufferOffsetAlignment ?? 256);
}

export interface PoolStats {
  bytesInUse: number;
  /** Part of bytesInUse in 'storage' buffers (tensors); uniform and readback staging excluded. */
  storageBytesInUse: number;
  peakBytesInUse: number;
  bytesFree: number;
  buffersInUse: number;
  created: number;
  reused: number;
}

/** Rounds up so that one bucket serves many nearby sizes while wasting at most 1/8 for big buffers. */
export function bucketSize(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 4) * 4);
  // The next power of two (b is an integer in [256, 65536] here).
  if (b <= 65536) return 1 << (32 - Math.clz32(b - 1));
  const gran = 2 ** Math.floor(Math.log2(b)) / 8;
  return Math.ceil(b / gran) * gran;
}

/** Index of a kind's free-list table. */
const KIND_INDEX: Record<BufferKind, number> = { storage: 0, uniform: 1, readback: 2, query: 3 };

/**
 * Free buffers of one (kind, size) bucket with their creation numbers, newest first (ids
 * descending), so that the oldest is at the end: acquire() pops it.
 */
interface FreeList {
  readonly buffers: GPUBuffer[];
  readonly ids: number[];
}

const USAGE: Record<BufferKind, number> = {
  storage: 0x80 | 0x4 | 0x8, // STORAGE | COPY_SRC | COPY_DST
  uniform: 0x40 | 0x8, // UNIFORM | COPY_DST
  readback: 0x1 | 0x8, // MAP_READ | COPY_DST
  query: 0x200 | 0x4, // QUERY_RESOLVE | COPY_SRC
};

export class BufferPool {
  /**
   * Free buffers per bucket, sorted by creation order, newest first, so that acquire() takes the
   * oldest. The choice is then a function of which buffers are free, not of the order they were
   * released in: a decode step that allocates like the previous one gets the same buffers, and the
   * queue's cached bind groups for them (LIFO reuse permuted them from step to step).
   */
  private free: Array<Map<number, FreeList>> = [new Map(), new Map(), new Map(), new Map()];
  private created = 0;
  private parked: PooledBuffer[] = [];
  private scopes: Set<PooledBuffer>[] = [];
  private stats: PoolStats = { bytesInUse: 0, storageBytesInUse: 0, peakBytesInUse: 0, bytesFree: 0, buffersInUse: 0, created: 0, reused: 0 };
  /**
   * Free bytes kept for reuse before the largest idle buffers are destroyed: this or the peak bytes
   * in use so far, whichever is larger. A training step frees its activations at the end and needs
   * them again at the next step's start: with a fixed 2 GiB cap, BioGPT's ≈ 12 GB of activations were
   * destroyed and re-created every step (on an H200, createBuffer took ≈ 60 % of the step's wall time).
   */
  maxFreeBytes = 2 ** 31;

  constructor(private readonly ctx: GpuContext) {}

  /**
   * A buffer of at least `bytes`. `capacity` (bytes, a hint) sizes the bucket from max(bytes,
   * capacity) instead, so that a tensor rebuilt slightly larger each step keeps getting buffers of
   * one bucket (and the same buffers); the hint never raises a size past a limit `bytes` is within.
   */
  acquire(bytes: number, kind: BufferKind = 'storage', context = 'buffer', capacity = 0): PooledBuffer {
    const maxBuf = this.ctx.limits.maxBufferSize ?? Infinity;
    // Storage buffers over the binding limit are allowed: kernels bind them in windows (chunks),
    // and a kernel that cannot gets a BufferTooLargeError naming it at dispatch (queue.ts).
    const maxBind = kind === 'storage' ? maxBindingBytes(this.ctx) : Infinity;
    if (bytes > maxBuf) throw new BufferTooLargeError(bytes, maxBuf, 'maxBufferSize', context);
    const want = capacity > bytes ? Math.max(bytes, Math.min(capacity, bytes <= maxBind ? maxBind : maxBuf)) : bytes;
    const size = bucketSize(want);
    // Storage buffers are bound whole, so a bucket must not cross a limit the request is within:
    // use the exact size (a multiple of 16, so vec4 bindings stay possible).
    if (size > maxBuf || (size > maxBind && bytes <= maxBind)) return this.create(bytes, Math.min(Math.floor(maxBuf / 4) * 4, Math.ceil(want / 16) * 16), kind);
    const list = this.free[KIND_INDEX[kind]]!.get(size);
    let pb: PooledBuffer;
    if (list !== undefined && list.buffers.length > 0) {
      const buffer = list.buffers.pop()!;
      pb = { buffer, size, kind, id: list.ids.pop()!, bytes, released: false };
      this.stats.bytesFree -= size;
      this.stats.reused++;
      this.track(pb);
    } else {
      pb = this.create(bytes, size, kind);
    }
    return pb;
  }

  private create(bytes: number, size: number, kind: BufferKind): PooledBuffer {
    const buffer = this.ctx.device.createBuffer({ size, usage: USAGE[kind], label: `radgrad-${kind}-${size}` });
    const id = this.created++;
    this.stats.created++;
    const pb: PooledBuffer = { buffer, size, kind, id, bytes, released: false };
    this.track(pb);
    return pb;
  }

  private track(pb: PooledBuffer): void {
    this.stats.bytesInUse += pb.size;
    if (pb.kind === 'storage') this.stats.storageBytesInUse += pb.size;
    this.stats.buffersInUse++;
    if (this.stats.bytesInUse > this.stats.peakBytesInUse) this.stats.peakBytesInUse = this.stats.bytesInUse;
    const scope = this.scopes[this.scopes.length - 1];
    if (scope) scope.add(pb);
  }

  /** Returns a buffer to the pool. Releasing twice is a bug in the caller and throws. */
  release(pb: PooledBuffer): void {
    if (pb.released) throw new GpuError('usage', `buffer ${pb.buffer.label} released twice`);
    pb.released = true;
    this.stats.bytesInUse -= pb.size;
    if (pb.kind === 'storage') this.stats.storageBytesInUse -= pb.size;
    this.stats.buffersInUse--;
    for (const s of this.scopes) s.delete(pb);
    if (this.ctx.isDestroyed) return;
    if (this.ctx.queue.pendingDispatches > 0) this.parked.push(pb);
    else this.putFree(pb);
  }

  /** Called by the queue after a submit: parked buffers may now be reused. */
  onSubmit(): void {
    const parked = this.parked;
    this.parked = [];
    for (const pb of parked) this.putFree(pb);
  }

  private putFree(pb: PooledBuffer): void {
    const table = this.free[KIND_INDEX[pb.kind]]!;
    let list = table.get(pb.size);
    if (list === undefined) table.set(pb.size, (list = { buffers: [], ids: [] }));
    // Insert keeping newest-first order (binary search over the creation numbers).
    const ids = list.ids;
    const n = pb.id ?? 0;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ids[mid]! > n) lo = mid + 1;
      else hi = mid;
    }
    if (lo === ids.length) {
      list.buffers.push(pb.buffer);
      ids.push(n);
    } else {
      list.buffers.splice(lo, 0, pb.buffer);
      ids.splice(lo, 0, n);
    }
    this.stats.bytesFree += pb.size;
    const cap = Math.max(this.maxFreeBytes, this.stats.peakBytesInUse);
    if (this.stats.bytesFree > cap) this.trim(cap);
  }

  /** Destroys idle buffers, largest first (oldest first within a size), until at most `keepBytes` stay pooled. */
  trim(keepBytes = 0): void {
    const lists: Array<[number, FreeList]> = [];
    for (const table of this.free) for (const [size, list] of table) lists.push([size, list]);
    lists.sort((a, b) => b[0] - a[0]);
    for (const [size, list] of lists) {
      while (list.buffers.length && this.stats.bytesFree > keepBytes) {
        list.ids.pop();
        list.buffers.pop()!.destroy();
        this.stats.bytesFree -= size;
      }
    }
  }

  /** Runs fn; every buffer acquired inside and not kept (or returned) is released at the end. */
  scoped<T>(fn: () => T, keep: (r: T) => PooledBuffer[] = () => []): T {
    const scope = new Set<PooledBuffer>();
    this.scopes.push(scope);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      // As tidy(): a failing fn must not leak what it acquired.
      this.scopes.pop();
      for (const pb of scope) if (!pb.released) this.release(pb);
      throw e;
    }
    this.scopes.pop();
    const kept = new Set(keep(result));
    for (const pb of scope) if (!kept.has(pb) && !pb.released) this.release(pb);
    return result;
  }

  /** Removes a buffer from the enclosing scopes so that it outlives them. */
  keep(pb: PooledBuffer): void {
    for (const s of this.scopes) s.delete(pb);
  }

  getStats(): Readonly<PoolStats> {
    return { ...this.stats };
  }

  resetPeak(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
  }

  destroyAll(): void {
    for (const table of this.free) {
      for (const list of table.values()) for (const b of list.buffers) b.destroy();
      table.clear();
    }
    for (const pb of this.parked) pb.buffer.destroy();
    this.parked = [];
    this.stats.bytesFree = 0;
  }
}
