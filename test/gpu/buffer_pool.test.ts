/**
 * The buffer pool: bucket sizes, reuse and accounting over thousands of acquire/release cycles,
 * scoped() release, double release, limits (BufferTooLargeError), and parking of buffers released
 * while dispatches that may read them are not yet submitted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { initGpu, shutdownGpu, type GpuContext } from '../../src/gpu/device.js';
import { bindingLimits, bucketSize, type PooledBuffer } from '../../src/gpu/buffer_pool.js';
import { BufferTooLargeError, GpuError } from '../../src/gpu/errors.js';
import { createWebGpuBackend } from '../../src/backend/webgpu/index.js';
import { Rng } from '../../src/data/rng.js';

let ctx: GpuContext;
before(async () => {
  ctx = await initGpu();
});
after(() => shutdownGpu());

describe('bucketSize', () => {
  it('rounds up to a multiple of 4, at least 256, power of two up to 64 KiB, ≤ 1/8 waste above', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 }), (bytes) => {
        const b = bucketSize(bytes);
        assert.ok(b >= bytes && b >= 256 && b % 4 === 0, `bucketSize(${bytes}) = ${b}`);
        if (b <= 65536) assert.equal(2 ** Math.round(Math.log2(b)), b, `bucketSize(${bytes}) = ${b} is not a power of two`);
        else assert.ok(b - bytes <= b / 8, `bucketSize(${bytes}) = ${b} wastes more than 1/8`);
        // A bucket is its own bucket (a pooled buffer serves any request up to its size).
        assert.equal(bucketSize(b), b);
      }),
      { numRuns: 2000 },
    );
  });

  it('is monotonic', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 2 ** 20 }), (a, d) => {
        assert.ok(bucketSize(a) <= bucketSize(a + d));
      }),
      { numRuns: 2000 },
    );
    assert.equal(bucketSize(0), 256);
    assert.equal(bucketSize(257), 512);
    assert.equal(bucketSize(65537), 65536 + 8192);
  });
});

describe('BufferPool', () => {
  it('thousands of acquire/release cycles keep bytesInUse flat and reuse buffers', () => {
    const pool = ctx.pool;
    const s0 = pool.getStats();
    const rng = new Rng(5);
    const sizes = [4, 100, 256, 1000, 4096, 5000, 65536, 70000, 1 << 20];
    const live: PooledBuffer[] = [];
    for (let i = 0; i < 5000; i++) {
      if (live.length < 8 && (live.length === 0 || rng.chance(0.55))) {
        const pb = pool.acquire(rng.pick(sizes), 'storage', 'cycle test');
        assert.ok(pb.size >= pb.bytes);
        live.push(pb);
      } else {
        pool.release(live.splice(rng.int(live.length), 1)[0]!);
      }
    }
    for (const pb of live) pool.release(pb);
    const s1 = pool.getStats();
    assert.equal(s1.bytesInUse, s0.bytesInUse, 'bytesInUse back to where it started');
    assert.equal(s1.storageBytesInUse, s0.storageBytesInUse);
    assert.equal(s1.buffersInUse, s0.buffersInUse);
    // At most 8 live buffers per size: creation is bounded, everything else was reused.
    assert.ok(s1.created - s0.created <= 8 * sizes.length, `created ${s1.created - s0.created} buffers`);
    assert.ok(s1.reused - s0.reused > 2000, `reused only ${s1.reused - s0.reused}`);
    assert.ok(s1.peakBytesInUse >= s1.bytesInUse);
  });

  it('keeps freed buffers up to the peak in use, above maxFreeBytes (a training step reuses the last one\'s activations)', () => {
    const pool = ctx.pool;
    const saved = pool.maxFreeBytes;
    pool.maxFreeBytes = 1 << 20; // 1 MiB, far below one "step" of 24 × 1 MiB
    pool.trim(0); // nothing idle left over from the tests before
    try {
      const step = () => {
        const bufs = Array.from({ length: 24 }, () => pool.acquire(1 << 20, 'storage', 'step test'));
        for (const b of bufs) pool.release(b);
      };
      step();
      const s0 = pool.getStats();
      for (let i = 0; i < 3; i++) step();
      const s1 = pool.getStats();
      assert.equal(s1.created - s0.created, 0, 'later steps create no buffers');
      assert.ok(s1.bytesFree >= 24 << 20, `free ${s1.bytesFree} bytes kept`);
      // Past the peak the pool still trims: free bytes stay within max(maxFreeBytes, peak).
      assert.ok(s1.bytesFree <= Math.max(pool.maxFreeBytes, s1.peakBytesInUse));
    } finally {
      pool.maxFreeBytes = saved;
    }
  });

  it('releasing a buffer twice throws a GpuError', () => {
    const pb = ctx.pool.acquire(64);
    ctx.pool.release(pb);
    assert.throws(() => ctx.pool.release(pb), (e: unknown) => e instanceof GpuError && /released twice/.test(e.message));
  });

  it('scoped() releases what was acquired inside, except kept and returned buffers', () => {
    const pool = ctx.pool;
    const before = pool.getStats().bytesInUse;
    let inner: PooledBuffer[] = [];
    let kept: PooledBuffer | undefined;
    const returned = pool.scoped(
      () => {
        inner = [pool.acquire(1000), pool.acquire(2000), pool.acquire(300)];
        kept = pool.acquire(5000);
        pool.keep(kept);
        // Released inside the scope by the caller: not released again at the end.
        pool.release(inner[2]!);
        return pool.acquire(128);
      },
      (r) => [r],
    );
    assert.ok(inner[0]!.released && inner[1]!.released && inner[2]!.released);
    assert.equal(kept!.released, false);
    assert.equal(returned.released, false);
    assert.equal(pool.getStats().bytesInUse, before + kept!.size + returned.size);
    pool.release(kept!);
    pool.release(returned);
    // Nested scopes and a throwing fn: the inner scope's buffers are released all the same.
    const b0 = pool.getStats().bytesInUse;
    assert.throws(() => pool.scoped(() => pool.scoped(() => {
      pool.acquire(4096);
      throw new Error('inner failure');
    })), /inner failure/);
    assert.equal(pool.getStats().bytesInUse, b0, 'buffers of a throwing scope were not released');
  });

  it('requests over maxBufferSize throw BufferTooLargeError; storage over the binding limit is allowed', () => {
    const maxBuf = ctx.limits.maxBufferSize!;
    assert.throws(() => ctx.pool.acquire(maxBuf + 4, 'readback', 'huge readback'), (e: unknown) =>
      e instanceof BufferTooLargeError && e.limitName === 'maxBufferSize' && e.requested === maxBuf + 4 && /huge readback/.test(e.message) && !!e.hint);
    // Over the (forced) binding limit: allocated, and an op with a chunked path (full) fills it.
    bindingLimits.override = 4000;
    try {
      const be = createWebGpuBackend(ctx);
      const t = be.full([5000], 'f32', 3);
      assert.ok((t.storage as { pb: PooledBuffer }).pb.size > 4000);
      // A request within the limit whose bucket (4096) would cross it gets its exact size.
      const exact = ctx.pool.acquire(3000);
      assert.equal(exact.size, 3008);
      ctx.pool.release(exact);
      be.dispose(t);
    } finally {
      bindingLimits.override = undefined;
    }
  });

  it('a capacity hint sizes the buffer for growth (same buffer for growing requests), capped at the binding limit', async () => {
    const pool = ctx.pool;
    await createWebGpuBackend(ctx).sync(); // nothing pending: released buffers are free at once, not parked
    // Two consecutive KV-cache-like requests (17 and 18 positions of 4 KiB) with room for 32 land in
    // the same bucket, so the released buffer is handed out again.
    const a = pool.acquire(17 * 4096, 'storage', 'kv', 32 * 4096);
    assert.equal(a.bytes, 17 * 4096);
    assert.ok(a.size >= 32 * 4096, `size ${a.size}`);
    pool.release(a);
    const created = pool.getStats().created;
    const b = pool.acquire(18 * 4096, 'storage', 'kv', 32 * 4096);
    assert.equal(b.size, a.size, 'same bucket');
    assert.equal(pool.getStats().created, created, 'growing request reused a pooled buffer');
    pool.release(b);
    // Without the hint, a cache growing from 17 to 32 positions would pass through several buckets
    // (what made decoding allocate buffers and bind groups every few steps).
    assert.ok(new Set(Array.from({ length: 16 }, (_, i) => bucketSize((17 + i) * 4096))).size > 4);
    // The hint never pushes a bindable request over the binding limit.
    bindingLimits.override = 1024;
    try {
      const c = pool.acquire(600, 'storage', 'kv', 4096);
      assert.ok(c.size >= 600 && c.size <= 1024, `size ${c.size}`);
      pool.release(c);
    } finally {
      bindingLimits.override = undefined;
    }
  });

  it('a buffer released while dispatches are pending is not handed out again before the submit', async () => {
    const be = createWebGpuBackend(ctx);
    await be.sync();
    const a = be.full([1000], 'f32', 1); // records a dispatch, so the queue has pending work
    assert.ok(ctx.queue.pendingDispatches > 0);
    const pbA = (a.storage as { pb: PooledBuffer }).pb;
    be.dispose(a);
    const pb2 = ctx.pool.acquire(4000);
    assert.notEqual(pb2.buffer, pbA.buffer, 'parked buffer reused before submit');
    ctx.pool.release(pb2);
    ctx.queue.flush();
    // After the submit the parked buffer is free again (and reused: the pool hands out free ones).
    const seen = new Set<GPUBuffer>();
    const taken: PooledBuffer[] = [];
    for (let i = 0; i < 4; i++) {
      const pb = ctx.pool.acquire(4000);
      seen.add(pb.buffer);
      taken.push(pb);
    }
    assert.ok(seen.has(pbA.buffer), 'parked buffer returned to the pool after submit');
    for (const pb of taken) ctx.pool.release(pb);
  });
});
