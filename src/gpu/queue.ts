/**
 * Records many dispatches into one command encoder and submits them together; readbacks flush.
 * One compute pass stays open across dispatches (each dispatch is its own synchronisation scope,
 * so writes of one are visible to the next). Uniform buffers are pooled and recycled after submit.
 */
import type { GpuContext } from './device.js';
import { maxBindingBytes, type PooledBuffer } from './buffer_pool.js';
import { BufferTooLargeError } from './errors.js';
import { packUniforms, uniformBindingIndex, uniformLayout, type KernelDecl } from './kernel.js';

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
}

const MAX_PENDING = 512;
const MAX_TIMED_PASSES = 2048;

export class CommandQueue {
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private inFlightUniforms: PooledBuffer[] = [];
  private pending = 0;
  private totalDispatches = 0;
  private timing: { querySet: GPUQuerySet; passes: number; start: number; dispatches0: number; resolved: Promise<number>[] } | undefined;

  constructor(private readonly ctx: GpuContext) {}

  get pendingDispatches(): number {
    return this.pending;
  }

  get dispatchCount(): number {
    return this.totalDispatches;
  }

  private bindingOf(decl: KernelDecl, name: string, v: PooledBuffer | GPUBuffer | BufferBinding): GPUBufferBinding {
    if (!v) throw new Error(`kernel '${decl.name}': binding '${name}' not given`);
    let b: GPUBufferBinding;
    if ('kind' in v && 'released' in v) {
      if (v.released || v.parent?.released) throw new Error(`kernel '${decl.name}': binding '${name}' uses a released buffer`);
      b = { buffer: v.buffer, offset: v.offset ?? 0, size: v.size };
    } else if ('buffer' in v) {
      b = { buffer: v.buffer, offset: v.offset ?? 0, ...(v.size !== undefined ? { size: v.size } : {}) };
    } else {
      b = { buffer: v as GPUBuffer };
    }
    // A tensor over the binding limit must be bound in windows by its op; one that is not gets a
    // typed error naming the kernel here instead of a validation error from the driver.
    const size = b.size ?? b.buffer.size - (b.offset ?? 0);
    const limit = maxBindingBytes(this.ctx);
    if (size > limit) throw new BufferTooLargeError(size, limit, 'maxStorageBufferBindingSize', `kernel '${decl.name}' binding '${name}' (this op has no chunked path for tensors this large)`);
    return b;
  }

  /** Records one dispatch of a declared kernel. */
  dispatch(decl: KernelDecl, args: LaunchArgs): void {
    const ctx = this.ctx;
    ctx.check(decl.name);
    const [x, y = 1, z = 1] = args.workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const pipeline = ctx.pipelines.get(decl, args.constants);
    const entries: GPUBindGroupEntry[] = decl.bindings.map((b, i) => ({ binding: i, resource: this.bindingOf(decl, b.name, args.bindings[b.name]!) }));
    if (uniformLayout(decl).fields.length) {
      const data = packUniforms(decl, args.uniforms ?? {});
      const ub = ctx.pool.acquire(data.byteLength, 'uniform');
      ctx.device.queue.writeBuffer(ub.buffer, 0, data);
      this.inFlightUniforms.push(ub);
      entries.push({ binding: uniformBindingIndex(decl), resource: { buffer: ub.buffer, size: data.byteLength } });
    }
    const bindGroup = ctx.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: decl.name });
    const pass = this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.pending++;
    this.totalDispatches++;
    // With timing on, each dispatch gets its own pass so that timestamps bracket it.
    if (this.timing) this.closePass();
    if (this.pending >= MAX_PENDING) this.flush();
  }

  private openPass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    this.encoder ??= this.ctx.device.createCommandEncoder({ label: 'radgrad' });
    const t = this.timing;
    if (t && t.passes < MAX_TIMED_PASSES) {
      const i = t.passes++;
      this.pass = this.encoder.beginComputePass({ timestampWrites: { querySet: t.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
    } else {
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  private closePass(): void {
    this.pass?.end();
    this.pass = undefined;
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
    this.ctx.device.queue.submit([cb]);
    this.pending = 0;
    const uniforms = this.inFlightUniforms;
    this.inFlightUniforms = [];
    // Parked (released) buffers become reusable only once their readers are submitted.
    for (const ub of uniforms) this.ctx.pool.release(ub);
    this.ctx.pool.onSubmit();
  }

  /** Copies `bytes` from a buffer to host memory (flushes pending work first). */
  async read(src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    const ctx = this.ctx;
    await ctx.pipelines.settled();
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
      const querySet = this.ctx.device.createQuerySet({ type: 'timestamp', count: 2 * MAX_TIMED_PASSES });
      this.timing = { querySet, passes: 0, start: t0, dispatches0: this.totalDispatches, resolved: [] };
    } else {
      this.timing = { querySet: undefined as unknown as GPUQuerySet, passes: MAX_TIMED_PASSES, start: t0, dispatches0: this.totalDispatches, resolved: [] };
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
    if (this.ctx.caps.timestampQuery && t.passes > 0 && t.passes < MAX_TIMED_PASSES) {
      const n = 2 * t.passes;
      const resolve = this.ctx.pool.acquire(n * 8, 'query');
      const enc = this.encoderForCopy();
      enc.resolveQuerySet(t.querySet, 0, n, resolve.buffer, 0);
      this.timing = undefined;
      const raw = new BigUint64Array(await this.read(resolve.buffer, 0, n * 8));
      this.ctx.pool.release(resolve);
      let ns = 0n;
      for (let i = 0; i < t.passes; i++) if (raw[2 * i + 1]! > raw[2 * i]!) ns += raw[2 * i + 1]! - raw[2 * i]!;
      ms = Number(ns) / 1e6;
      source = 'timestamp';
    } else {
      this.timing = undefined;
      await this.sync();
      ms = performance.now() - t.start;
    }
    t.querySet?.destroy?.();
    return { ms, source, dispatches };
  }
}
