/**
 * The command queue: many dependent dispatches in one submit (and across the automatic flush every
 * 512 dispatches) run in order, uniforms are recycled, and the timing API returns positive GPU
 * times from timestamp queries where the adapter has them (lavapipe does).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { initGpu, shutdownGpu, type GpuContext } from '../../src/gpu/device.js';
import type { KernelDecl } from '../../src/gpu/kernel.js';
import { grid1d } from '../../src/gpu/kernel.js';

let ctx: GpuContext;
before(async () => {
  ctx = await initGpu();
});
after(() => shutdownGpu());

const INCREMENT: KernelDecl = {
  name: 'increment_fixture', family: 'test', file: 'increment',
  bindings: [{ name: 'x', type: 'f32', access: 'read_write' }],
  uniforms: { n: 'u32', delta: 'f32' },
  overrides: { WG: { type: 'u32', value: 64 } },
  includes: ['common/strided.wgsl'],
};

function increments(x: GPUBuffer, n: number, count: number, delta = 1): void {
  for (let i = 0; i < count; i++) ctx.queue.dispatch(INCREMENT, { bindings: { x }, uniforms: { n, delta }, workgroups: grid1d(Math.ceil(n / 64)) });
}

async function zeros(n: number) {
  const pb = ctx.pool.acquire(4 * n);
  ctx.device.queue.writeBuffer(pb.buffer, 0, new Float32Array(n));
  return pb;
}

describe('command queue', () => {
  it('runs 2000 dependent dispatches in order (one pass per submit, auto-flush at 512)', async () => {
    const n = 777;
    const x = await zeros(n);
    await ctx.queue.sync();
    const d0 = ctx.queue.dispatchCount;
    const uniforms0 = ctx.pool.getStats().bytesInUse - ctx.pool.getStats().storageBytesInUse;
    increments(x.buffer, n, 2000);
    assert.equal(ctx.queue.dispatchCount - d0, 2000);
    // The queue never holds more than 512 unsubmitted dispatches.
    assert.ok(ctx.queue.pendingDispatches < 512, `pending ${ctx.queue.pendingDispatches}`);
    const got = new Float32Array(await ctx.queue.read(x.buffer, 0, 4 * n));
    assert.ok(got.every((v) => v === 2000), `first wrong value ${got.find((v) => v !== 2000)}`);
    // Uniform buffers of submitted dispatches went back to the pool.
    const st = ctx.pool.getStats();
    assert.equal(st.bytesInUse - st.storageBytesInUse, uniforms0);
    ctx.pool.release(x);
  });

  it('interleaves dispatches on several buffers within one submit', async () => {
    const n = 100;
    const a = await zeros(n);
    const b = await zeros(n);
    for (let i = 0; i < 300; i++) {
      increments(a.buffer, n, 1, 1);
      increments(b.buffer, n, 1, 0.5);
    }
    assert.ok(ctx.queue.pendingDispatches > 0);
    const [ga, gb] = await Promise.all([ctx.queue.read(a.buffer, 0, 4 * n), ctx.queue.read(b.buffer, 0, 4 * n)]);
    assert.ok(new Float32Array(ga).every((v) => v === 300));
    assert.ok(new Float32Array(gb).every((v) => v === 150));
    ctx.pool.release(a);
    ctx.pool.release(b);
  });

  it('beginTiming/endTiming measures positive GPU time (timestamps where available)', async () => {
    const n = 1 << 16;
    const x = await zeros(n);
    await ctx.queue.sync();
    ctx.queue.beginTiming();
    increments(x.buffer, n, 20);
    const t = await ctx.queue.endTiming();
    assert.equal(t.dispatches, 20);
    assert.ok(t.ms > 0 && Number.isFinite(t.ms), `ms = ${t.ms}`);
    assert.equal(t.source, ctx.caps.timestampQuery ? 'timestamp' : 'wall');
    if (t.source === 'timestamp') {
      // Per-kernel breakdown: every launch timed on its own, the parts adding up to the whole.
      assert.deepEqual(Object.keys(t.perKernel!), ['increment_fixture']);
      assert.equal(t.perKernel!['increment_fixture']!.n, 20);
      assert.ok(Math.abs(t.perKernel!['increment_fixture']!.ms - t.ms) < 1e-9);
    }
    if (/llvmpipe|lavapipe/i.test(ctx.adapterInfo.description)) assert.equal(t.source, 'timestamp', 'lavapipe has timestamp-query');
    // The work really ran, and timing can be repeated.
    const got = new Float32Array(await ctx.queue.read(x.buffer, 0, 16));
    assert.deepEqual([...got], [20, 20, 20, 20]);
    ctx.queue.beginTiming();
    increments(x.buffer, n, 3);
    const t2 = await ctx.queue.endTiming();
    assert.equal(t2.dispatches, 3);
    assert.ok(t2.ms > 0);
    await assert.rejects(ctx.queue.endTiming(), /without beginTiming/);
    if (ctx.caps.timestampQuery) {
      // More launches than one query set holds (2048 passes): a second set takes the rest.
      ctx.queue.beginTiming();
      increments(x.buffer, 64, 2100);
      const t3 = await ctx.queue.endTiming();
      assert.equal(t3.source, 'timestamp');
      assert.equal(t3.perKernel!['increment_fixture']!.n, 2100);
      assert.ok(t3.ms > 0);
      assert.equal(new Float32Array(await ctx.queue.read(x.buffer, 0, 4))[0], 2123);
    }
    await ctx.queue.sync();
    ctx.pool.release(x);
  });
});
