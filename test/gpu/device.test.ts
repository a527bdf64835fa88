/**
 * Adapter and device creation: the capability flags agree with the adapter's and the device's
 * features, requested limits are the adapter's, the process-wide context is created once, and the
 * portable core path (optionalFeatures: false, a second context made with GpuContext.create())
 * enables no optional feature and still runs the backend.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GpuContext, gpu, hasGpu, initGpu, shutdownGpu } from '../../src/gpu/device.js';
import { adapterReport } from '../../src/gpu/info.js';
import { GpuError } from '../../src/gpu/errors.js';
import { createWebGpuBackend } from '../../src/backend/webgpu/index.js';

let ctx: GpuContext;
before(async () => {
  ctx = await initGpu();
});
after(() => shutdownGpu());

const OPTIONAL = ['shader-f16', 'subgroups', 'timestamp-query', 'chromium-experimental-subgroup-matrix'];

describe('GPU context', () => {
  it('initGpu() creates one process-wide context', async () => {
    assert.equal(await initGpu(), ctx);
    const [a, b] = await Promise.all([initGpu(), initGpu()]);
    assert.equal(a, ctx);
    assert.equal(b, ctx);
    assert.equal(gpu(), ctx);
    assert.equal(hasGpu(), true);
  });

  it('capability flags are consistent with adapter and device features', () => {
    const adapterHas = (f: string) => ctx.adapter.features.has(f);
    const deviceHas = (f: string) => ctx.device.features.has(f);
    // Default options request every optional feature the adapter offers.
    for (const f of OPTIONAL) assert.equal(deviceHas(f), adapterHas(f), `device feature ${f}`);
    assert.equal(ctx.caps.f16, deviceHas('shader-f16'));
    assert.equal(ctx.caps.subgroups, deviceHas('subgroups'));
    assert.equal(ctx.caps.timestampQuery, deviceHas('timestamp-query'));
    assert.equal(ctx.caps.subgroupMatrix, deviceHas('chromium-experimental-subgroup-matrix'));
    assert.equal(ctx.caps.dot4I8Packed, ctx.wgslFeatures.has('packed_4x8_integer_dot_product'));
    assert.deepEqual([...ctx.features].sort(), [...ctx.device.features].map(String).sort());
    if (ctx.caps.subgroups) {
      assert.ok(ctx.caps.subgroupMinSize >= 1 && ctx.caps.subgroupMinSize <= ctx.caps.subgroupMaxSize, 'subgroup sizes');
    }
  });

  it('requests the adapter limits and reports them', () => {
    for (const k of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage']) {
      const adapterLimit = (ctx.adapter.limits as unknown as Record<string, number>)[k];
      assert.equal(ctx.limits[k], adapterLimit, `limit ${k}`);
    }
    const r = adapterReport(ctx);
    assert.equal(r.adapter.description, ctx.adapterInfo.description);
    assert.deepEqual(r.features, [...ctx.adapter.features].map(String).sort());
    assert.equal(r.capabilities.f16, ctx.caps.f16);
    assert.equal(r.limits.maxBufferSize, ctx.limits.maxBufferSize);
  });

  it('describes the adapter (lavapipe/llvmpipe is recognised as a CPU adapter)', () => {
    const d = ctx.adapterInfo;
    assert.equal(typeof d.description, 'string');
    const looksCpu = /llvmpipe|lavapipe|swiftshader/i.test(d.description + d.device);
    if (looksCpu) assert.equal(d.isCpu, true);
    console.log(`adapter: ${d.vendor} ${d.device} (${d.description}); caps ${JSON.stringify(ctx.caps)}`);
  });

  it('optionalFeatures: false gives the portable core path on a second context', async () => {
    const core = await GpuContext.create({ optionalFeatures: false });
    try {
      assert.notEqual(core, ctx);
      for (const f of OPTIONAL) assert.equal(core.device.features.has(f), false, `core path enabled ${f}`);
      assert.deepEqual(
        { f16: core.caps.f16, subgroups: core.caps.subgroups, timestampQuery: core.caps.timestampQuery, subgroupMatrix: core.caps.subgroupMatrix },
        { f16: false, subgroups: false, timestampQuery: false, subgroupMatrix: false },
      );
      // The backend runs on it (f32 kernels need no optional feature) and f16 is refused cleanly.
      const be = createWebGpuBackend(core);
      const a = be.upload([1, 2, 3], [3], 'f32');
      const b = be.upload([10, 20, 30], [3], 'f32');
      const c = be.binary('mul', a, b);
      const s = be.reduce('sum', c, [0], false);
      assert.deepEqual([...(await be.read(s))], [140]);
      for (const t of [a, b, c, s]) be.dispose(t);
      assert.throws(() => be.upload([1], [1], 'f16'), /shader-f16/);
      // Timing falls back to wall-clock time without timestamp queries.
      core.queue.beginTiming();
      const z = be.full([4096], 'f32', 2);
      const t = await core.queue.endTiming();
      be.dispose(z);
      assert.equal(t.source, 'wall');
      assert.ok(t.ms >= 0);
      // The process-wide context is untouched.
      assert.equal(gpu(), ctx);
    } finally {
      await core.shutdown();
    }
    assert.equal(core.isDestroyed, true);
    assert.throws(() => core.check('after shutdown'), (e: unknown) => e instanceof GpuError && /shut down/.test(e.message));
    await core.shutdown(); // idempotent
  });
});
