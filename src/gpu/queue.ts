/**
 * Records many dispatches into one command encoder and submits them together; readbacks flush.
 * One compute pass stays open across dispatches (each dispatch is its own synchronisation scope,
 * so writes of one are visible to the next).
 *
 * The launch path is the host cost of a decode step (hundreds of small dispatches), and creating a
 * bind group was most of it (≈ 40 µs of ≈ 55 µs per dispatch on lavapipe). So the uniforms of all
 * dispatches of a submit are packed into one host array, written to one uniform buffer just before
 * the submit and bound at a dynamic offset; bind groups then depend only on the storage buffers
 * and are cached by (kernel layout, buffer, offset, size), which recur step after step because the
 * pool hands the same buffers out in the same order.
 */
import type { GpuContext } from './device.js';
import { maxBindingBytes, type PooledBuffer } from './buffer_pool.js';
import { BufferTooLargeError } from './errors.js';
import { uniformBindingIndex, type KernelDecl } from './kernel.js';
import type { KernelLayout } from './pipeline_cache.js';

export interface BufferBinding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

export interface LaunchArgs {
  /** Storage buffers by binding name (a PooledBuffer, a GPUBuffer or a sub-range). */
  bindings: Readonly<Record<string, PooledBuffer | GPUBuffer | BufferBinding>>;
  uniforms?: Readonly<Record<string, number | ArrayLike<number>>>;
  constants?: Readonly<Record<string, number | boolean>>;
  workgroups: readonly [number, number?, number?];
}

export interface TimingResult {
  /** Milliseconds measured: GPU timestamps when the adapter has them, wall clock otherwise. */
  ms: number;
  source: 'timestamp' | 'wall';
  dispatches: number;
  /** GPU ms and launches per kernel name (timestamps only): where a workload's GPU time goes. */
  perKernel?: Record<string, { ms: number; n: number }>;
}

const MAX_PENDING = 512;
const MAX_TIMED_PASSES = 16384;
/** Passes per query set (WebGPU caps a query set at 4096 queries, two per pass). */
const PASSES_PER_SET = 2048;
/** Bytes of the per-submit uniform buffer (a submit is flushed early when it is full). */
const UNIFORM_RING_BYTES = 1 << 20;
/** Cached bind groups before the cache is dropped (bounds what it keeps alive when buffers churn). */
const MAX_BIND_GROUPS = 8192;

/** A cached bind group, the bindings it was made for, and the next entry of the same hash. */
interface CachedBindGroup {
  readonly buffers: readonly GPUBuffer[];
  readonly offsets: readonly number[];
  readonly sizes: ReadonlyArray<number | undefined>;
  readonly group: GPUBindGroup;
  readonly next: CachedBindGroup | undefined;
}

function sameBindings(e: CachedBindGroup, n: number, bufs: ReadonlyArray<GPUBuffer | undefined>, offs: readonly number[], sizes: ReadonlyArray<number | undefined>): boolean {
  if (e.buffers.length !== n) return false;
  for (let i = 0; i < n; i++) if (e.buffers[i] !== bufs[i] || e.offsets[i] !== offs[i] || e.sizes[i] !== sizes[i]) return false;
  return true;
}

export class CommandQueue {
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private pending = 0;
  /** The last pipeline set on the open pass (setPipeline is skipped when it repeats). */
  private passPipeline: GPUComputePipeline | undefined;
  /** Uniforms of the dispatches recorded since the last submit, uploaded by flush(). */
  private ring: GPUBuffer | undefined;
  private ringHost = new ArrayBuffer(UNIFORM_RING_BYTES);
  private ringU32 = new Uint32Array(this.ringHost);
  private ringI32 = new Int32Array(this.ringHost);
  private ringF32 = new Float32Array(this.ringHost);
  private ringUsed = 0;
  /** The dynamic offset argument, reused (a plain array converts faster in dawn.node than a Uint32Array). */
  private readonly dynOffset = [0];
  private uniformAlign = 0;
  /** Layouts holding a table of this queue's bind groups (dropped together past MAX_BIND_GROUPS). */
  private tables = new Set<KernelLayout>();
  private bindGroupCount = 0;
  /** Hash ids of buffers that are not pooled (pooled ones carry an id; equal ids only cost a compare). */
  private bufferIds = new WeakMap<GPUBuffer, number>();
  // Scratch of bindGroupFor (no allocation on a cache hit).
  private tmpBuffers: Array<GPUBuffer | undefined> = [];
  private tmpOffsets: number[] = [];
  private tmpSizes: Array<number | undefined> = [];
  private nextBufferId = 1;
  /** Bind group lookups that hit the cache / created a group (benchmarks read them). */
  readonly bindGroupStats = { hits: 0, misses: 0 };
  private totalDispatches = 0;
  /** Dispatches recorded before an automatic submit (benchmarks raise it to keep a step in one submit). */
  maxPending = MAX_PENDING;
  private timing: { querySets: GPUQuerySet[]; passes: number; start: number; dispatches0: number; resolved: Promise<number>[]; names: string[] } | undefined;

  constructor(private readonly ctx: GpuContext) {}

  get pendingDispatches(): number {
    return this.pending;
  }

  get dispatchCount(): number {
    return this.totalDispatches;
  }

  /** A number for hashing a buffer that has no pool id (ids of the two kinds may coincide). */
  private bufferHashId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  /**
   * The bind group of a launch: cached by the exact (buffer, offset, size) of every storage
   * binding. The uniform buffer is the same for every group, bound at a dynamic offset.
   * The cache is keyed by a numeric hash of those triples and an entry is taken only when they all
   * match (a hash collision chains entries), so a hit builds no string and allocates nothing.
   * Each kernel layout holds this queue's table for it (one Map lookup less per launch).
   */
  private bindGroupFor(decl: KernelDecl, layout: KernelLayout, bindings: LaunchArgs['bindings']): GPUBindGroup {
    const limit = maxBindingBytes(this.ctx);
    const decls = decl.bindings;
    const n = decls.length;
    const bufs = this.tmpBuffers;
    const offs = this.tmpOffsets;
    const sizes = this.tmpSizes;
    let h = 0;
    for (let i = 0; i < n; i++) {
      const name = decls[i]!.name;
      const v = bindings[name];
      if (!v) throw new Error(`kernel '${decl.name}': binding '${name}' not given`);
      let buffer: GPUBuffer;
      let offset = 0;
      let size: number | undefined;
      let id: number | undefined;
      // One property load tells the three kinds apart: only a PooledBuffer has `released`
      // (GPUBuffer and BufferBinding have no such property).
      const released = (v as PooledBuffer).released;
      if (released !== undefined) {
        const pb = v as PooledBuffer;
        const parent = pb.parent;
        if (released || (parent !== undefined && parent.released)) throw new Error(`kernel '${decl.name}': binding '${name}' uses a released buffer`);
        buffer = pb.buffer;
        offset = pb.offset ?? 0;
        size = pb.size;
        id = pb.id ?? parent?.id;
      } else if ((v as BufferBinding).buffer !== undefined) {
        const bb = v as BufferBinding;
        buffer = bb.buffer;
        offset = bb.offset ?? 0;
        size = bb.size;
      } else {
        buffer = v as GPUBuffer;
      }
      // A tensor over the binding limit must be bound in windows by its op; one that is not gets a
      // typed error naming the kernel here instead of a validation error from the driver.
      const bytes = size ?? buffer.size - offset;
      if (bytes > limit) throw new BufferTooLargeError(bytes, limit, 'maxStorageBufferBindingSize', `kernel '${decl.name}' binding '${name}' (this op has no chunked path for tensors this large)`);
      bufs[i] = buffer;
      offs[i] = offset;
      sizes[i] = size;
      h = Math.imul(h ^ (id ?? this.bufferHashId(buffer)), 0x9e3779b1);
      h = Math.imul(h ^ offset, 0x85ebca6b);
      h = Math.imul(h ^ (size ?? -1), 0xc2b2ae35);
    }
    // A small integer stays a V8 Smi, the cheapest Map key.
    const key = (h ^ (h >>> 15)) & 0x3fffffff;
    let groups = layout.bindGroups as Map<number, CachedBindGroup> | undefined;
    if (groups === undefined || layout.bindGroupsOwner !== this) groups = this.newTable(layout);
    const first = groups.get(key);
    for (let e = first; e; e = e.next) {
      if (sameBindings(e, n, bufs, offs, sizes)) {
        this.bindGroupStats.hits++;
        return e.group;
      }
    }
    this.bindGroupStats.misses++;
    const entries: GPUBindGroupEntry[] = [];
    for (let i = 0; i < n; i++) {
      const size = sizes[i];
      entries.push({ binding: i, resource: size === undefined ? { buffer: bufs[i]!, offset: offs[i]! } : { buffer: bufs[i]!, offset: offs[i]!, size } });
    }
    if (layout.uniformBytes) entries.push({ binding: uniformBindingIndex(decl), resource: { buffer: this.uniformRing(), offset: 0, size: layout.uniformBytes } });
    const bg = this.ctx.device.createBindGroup({ layout: layout.bindGroupLayout, entries, label: decl.name });
    if (++this.bindGroupCount > MAX_BIND_GROUPS) {
      for (const l of this.tables) l.bindGroups = undefined;
      this.tables.clear();
      this.bindGroupCount = 1;
      groups = this.newTable(layout);
    }
    groups.set(key, { buffers: bufs.slice(0, n) as GPUBuffer[], offsets: offs.slice(0, n), sizes: sizes.slice(0, n), group: bg, next: groups.get(key) });
    bufs.fill(undefined);
    return bg;
  }

  private newTable(layout: KernelLayout): Map<number, CachedBindGroup> {
    const t = new Map<number, CachedBindGroup>();
    layout.bindGroups = t;
    layout.bindGroupsOwner = this;
    this.tables.add(layout);
    return t;
  }

  private uniformRing(): GPUBuffer {
    // Not from the pool: it lives as long as the queue (pool statistics count tensors and staging).
    this.ring ??= this.ctx.device.createBuffer({ size: UNIFORM_RING_BYTES, usage: 0x40 | 0x8, label: 'radgrad-uniforms' }); // UNIFORM | COPY_DST
    return this.ring;
  }

  /** Packs a launch's uniforms into the next aligned slot of the host ring; returns its byte offset. */
  private packUniforms(decl: KernelDecl, layout: KernelLayout, values: Readonly<Record<string, number | ArrayLike<number>>>): number {
    const align = (this.uniformAlign ||= this.ctx.device.limits.minUniformBufferOffsetAlignment ?? 256);
    // WebGPU alignments are powers of two; the ring is far below 2^31 bytes.
    let at = (this.ringUsed + align - 1) & -align;
    // Full: submit what is recorded (its uniforms are written first), then start over.
    if (at + layout.uniformBytes > UNIFORM_RING_BYTES) {
      this.flush();
      at = 0;
    }
    const w0 = at >> 2;
    const u32 = this.ringU32;
    const fields = layout.uniformFields;
    for (let j = 0; j < fields.length; j++) {
      const f = fields[j]!;
      const v = values[f.name];
      if (v === undefined) throw new Error(`kernel '${decl.name}': uniform '${f.name}' not given`);
      const arr = f.elem === 'f32' ? this.ringF32 : f.elem === 'i32' ? this.ringI32 : u32;
      const w = w0 + f.word;
      // Typed-array stores convert as DataView's setFloat32 / setInt32 / setUint32 (x >>> 0) do.
      if (typeof v === 'number') arr[w] = v;
      else {
        if (v.length > f.words) throw new Error(`kernel '${decl.name}': uniform '${f.name}' holds ${f.words} values, got ${v.length}`);
        for (let i = 0; i < v.length; i++) arr[w + i] = v[i]!;
        if (v.length < f.words) u32.fill(0, w + v.length, w + f.words);
      }
    }
    this.ringUsed = at + layout.uniformBytes;
    return at;
  }

  /** Records one dispatch of a declared kernel. */
  dispatch(decl: KernelDecl, args: LaunchArgs): void {
    const ctx = this.ctx;
    ctx.check(decl.name);
    const wg = args.workgroups;
    const x = wg[0];
    const y = wg[1] ?? 1;
    const z = wg[2] ?? 1;
    if (x === 0 || y === 0 || z === 0) return;
    const layout = ctx.pipelines.layout(decl);
    const pipeline = ctx.pipelines.pipelineFor(decl, layout, args.constants);
    const bindGroup = this.bindGroupFor(decl, layout, args.bindings);
    // Before the pass is opened: a full uniform ring flushes.
    const uniformAt = layout.uniformBytes ? this.packUniforms(decl, layout, args.uniforms ?? {}) : -1;
    const pass = this.openPass();
    if (pipeline !== this.passPipeline) {
      pass.setPipeline(pipeline);
      this.passPipeline = pipeline;
    }
    if (uniformAt >= 0) {
      this.dynOffset[0] = uniformAt;
      pass.setBindGroup(0, bindGroup, this.dynOffset);
    } else {
      pass.setBindGroup(0, bindGroup);
    }
    pass.dispatchWorkgroups(x, y, z);
    // The timed pass just opened holds this launch alone (it is closed below).
    if (this.timing && this.timing.passes <= MAX_TIMED_PASSES) this.timing.names[this.timing.passes - 1] = decl.name;
    this.pending++;
    this.totalDispatches++;
    // With timing on, each dispatch gets its own pass so that timestamps bracket it.
    if (this.timing) this.closePass();
    if (this.pending >= this.maxPending) this.flush();
  }

  private openPass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    this.encoder ??= this.ctx.device.createCommandEncoder({ label: 'radgrad' });
    const t = this.timing;
    if (t && t.passes < MAX_TIMED_PASSES) {
      const i = t.passes++;
      const set = (t.querySets[Math.floor(i / PASSES_PER_SET)] ??= this.ctx.device.createQuerySet({ type: 'timestamp', count: 2 * PASSES_PER_SET }));
      const j = i % PASSES_PER_SET;
      this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet: set, beginningOfPassWriteIndex: 2 * j, endOfPassWriteIndex: 2 * j + 1 } });
    } else {
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = undefined;
    this.passPipeline = undefined;
  }

  /** The open encoder with no pass (for copies); the pass is closed first. */
  encoderForCopy(): GPUCommandEncoder {
    this.closePass();
    this.encoder ??= this.ctx.device.createCommandEncoder({ label: 'radgrad' });
    return this.encoder;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.closePass();
    if (!this.encoder) return;
    const cb = this.encoder.finish();
    this.encoder = undefined;
    // The write is ordered after earlier submits (which read the previous contents) and before
    // this one on the queue timeline, so one uniform buffer serves every submit.
    if (this.ringUsed > 0) this.ctx.device.queue.writeBuffer(this.uniformRing(), 0, this.ringU32, 0, Math.ceil(this.ringUsed / 4));
    this.ringUsed = 0;
    this.ctx.device.queue.submit([cb]);
    this.pending = 0;
    // Parked (released) buffers become reusable only once their readers are submitted.
    this.ctx.pool.onSubmit();
  }

  /** Copies `bytes` from a buffer to host memory (flushes pending work first). */
  async read(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const ctx = this.ctx;
    // Without compiles in flight the copy is encoded and submitted before read() first yields, so
    // a caller may start a read and go on encoding work that overlaps it (pipelined decoding).
    if (ctx.pipelines.busy) await ctx.pipelines.settled();
    ctx.check('read');
    const size = Math.ceil(bytes / 4) * 4;
    const staging = ctx.pool.acquire(size, 'readback');
    this.encoderForCopy().copyBufferToBuffer(src, offset, staging.buffer, 0, size);
    this.pending++;
    this.flush();
    try {
      await Promise.race([
        staging.buffer.mapAsync(GPUMapMode.READ, 0, size),
        ctx.device.lost.then(() => ctx.check('read')),
      ]);
      ctx.check('read');
      const out = staging.buffer.getMappedRange(0, size).slice(0, bytes);
      staging.buffer.unmap();
      return out;
    } finally {
      ctx.pool.release(staging);
    }
  }

  /** Waits until the GPU has finished everything submitted (and surfaces async errors). */
  async sync(): Promise<void> {
    this.flush();
    await Promise.race([this.ctx.device.queue.onSubmittedWorkDone(), this.ctx.device.lost]);
    // One event-loop turn for Dawn's error callbacks. setImmediate, not setTimeout(0): Node's timers
    // wait at least 1 ms, which was most of a small op's time per sync on lavapipe.
    await new Promise((r) => setImmediate(r));
    await this.ctx.pipelines.settled();
    this.ctx.check('sync');
  }

  /** Starts timing the dispatches recorded from now on. */
  beginTiming(): void {
    this.flush();
    const t0 = performance.now();
    if (this.ctx.caps.timestampQuery) {
      this.timing = { querySets: [], passes: 0, start: t0, dispatches0: this.totalDispatches, resolved: [], names: [] };
    } else {
      this.timing = { querySets: [], passes: MAX_TIMED_PASSES, start: t0, dispatches0: this.totalDispatches, resolved: [], names: [] };
    }
  }

  /** Ends timing: sums GPU pass durations (timestamps) or returns the wall time to completion. */
  async endTiming(): Promise<TimingResult> {
    const t = this.timing;
    if (!t) throw new Error('endTiming() without beginTiming()');
    this.closePass();
    const dispatches = this.totalDispatches - t.dispatches0;
    let ms: number;
    let source: 'timestamp' | 'wall' = 'wall';
    let perKernel: TimingResult['perKernel'];
    if (this.ctx.caps.timestampQuery && t.passes > 0 && t.passes < MAX_TIMED_PASSES) {
      const n = 2 * t.passes;
      const resolve = this.ctx.pool.acquire(n * 8, 'query');
      const enc = this.encoderForCopy();
      // Set s fills bytes [s·2·PASSES_PER_SET·8, …) of the buffer (32 KiB steps: aligned to 256).
      t.querySets.forEach((qs, si) => enc.resolveQuerySet(qs, 0, Math.min(2 * PASSES_PER_SET, n - 2 * PASSES_PER_SET * si), resolve.buffer, 16 * PASSES_PER_SET * si));
      this.timing = undefined;
      const raw = new BigUint64Array(await this.read(resolve.buffer, 0, n * 8));
      this.ctx.pool.release(resolve);
      let ns = 0n;
      perKernel = {};
      for (let i = 0; i < t.passes; i++) {
        const d = raw[2 * i + 1]! > raw[2 * i]! ? raw[2 * i + 1]! - raw[2 * i]! : 0n;
        ns += d;
        const e = (perKernel[t.names[i] ?? '(pass without a launch)'] ??= { ms: 0, n: 0 });
        e.ms += Number(d) / 1e6;
        e.n++;
      }
      ms = Number(ns) / 1e6;
      source = 'timestamp';
    } else {
      this.timing = undefined;
      await this.sync();
      ms = performance.now() - t.start;
    }
    for (const qs of t.querySets) qs.destroy?.();
    return { ms, source, dispatches, ...(perKernel ? { perKernel } : {}) };
  }
}
