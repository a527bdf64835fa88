/**
 * Kernel declarations: the generated WGSL header (exact text), uniform layout offsets (checked on
 * the device by a probe kernel that copies every field back), binding numbering, a simple kernel
 * against a CPU result on random sizes, and a deliberately broken shader (shaders/test/broken.wgsl)
 * giving KernelCompileError with the kernel name and the line of the body; a broken include
 * (shaders/test/broken_include.wgsl) giving that file and its own line; a pipeline that fails only
 * for its override values naming them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GpuContext, initGpu, shutdownGpu } from '../../src/gpu/device.js';
import { generateHeader, grid1d, kernelSource, packUniforms, pipelineKey, uniformLayout, type KernelDecl } from '../../src/gpu/kernel.js';
import { KernelCompileError } from '../../src/gpu/errors.js';
import type { PooledBuffer } from '../../src/gpu/buffer_pool.js';
import { Rng } from '../../src/data/rng.js';
import { assertClose } from '../helpers/compare.js';

let ctx: GpuContext;
before(async () => {
  ctx = await initGpu();
});
after(() => shutdownGpu());

const SAMPLE: KernelDecl = {
  name: 'sample', family: 'test',
  bindings: [
    { name: 'x', type: 'T', access: 'read' },
    { name: 'counts', type: 'atomic<u32>', access: 'read' },
    { name: 'out', type: 'vec4<f32>', access: 'read_write' },
  ],
  uniforms: { n: 'u32', scale: 'f32', shape: 'array<vec4<u32>, 2>', k: 'i32' },
  overrides: { WG: { type: 'u32', value: 64 }, USE_BIAS: { type: 'bool', value: true }, EPS: { type: 'f32', value: 1e-5 }, OFF: { type: 'i32', value: -3 } },
  aliases: { T: 'f16' },
  enables: ['f16'],
};

const PROBE: KernelDecl = {
  name: 'uniform_probe', family: 'test',
  bindings: [{ name: 'out', type: 'f32', access: 'read_write' }],
  uniforms: { n: 'u32', scale: 'f32', shape: 'array<vec4<u32>, 2>', k: 'i32', weights: 'array<vec4<f32>, 1>', last: 'u32' },
};

const AXPY: KernelDecl = {
  name: 'axpy_fixture', family: 'test', file: 'axpy',
  bindings: [{ name: 'x', type: 'f32', access: 'read' }, { name: 'y', type: 'f32', access: 'read' }, { name: 'out', type: 'f32', access: 'read_write' }],
  uniforms: { n: 'u32', alpha: 'f32' },
  // 64-thread groups so that a few million elements already need the grid split over y.
  overrides: { WG: { type: 'u32', value: 64 } },
  includes: ['common/strided.wgsl'],
};

const BROKEN: KernelDecl = {
  name: 'broken_fixture', family: 'test', file: 'broken',
  bindings: [{ name: 'out', type: 'f32', access: 'read_write' }],
};

// AXPY with a second include whose line 4 is broken, after common/strided.wgsl.
const BROKEN_INCLUDE: KernelDecl = { ...AXPY, name: 'broken_include_fixture', includes: ['common/strided.wgsl', 'test/broken_include.wgsl'] };

async function upload(c: GpuContext, data: Float32Array): Promise<PooledBuffer> {
  const pb = c.pool.acquire(data.byteLength, 'storage', 'test upload');
  c.device.queue.writeBuffer(pb.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return pb;
}

async function readF32(c: GpuContext, pb: PooledBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await c.queue.read(pb.buffer, 0, 4 * n));
}

describe('kernel declarations', () => {
  it('generates the exact WGSL header for a declaration', () => {
    assert.equal(
      generateHeader(SAMPLE),
      [
        "// generated from the declaration of kernel 'sample'",
        'enable f16;',
        'alias T = f16;',
        'struct Params { n: u32, scale: f32, shape: array<vec4<u32>, 2>, k: i32 }',
        '@group(0) @binding(0) var<storage, read> x: array<T>;',
        // atomics are always read_write, whatever the declaration says
        '@group(0) @binding(1) var<storage, read_write> counts: array<atomic<u32>>;',
        '@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;',
        '@group(0) @binding(3) var<uniform> params: Params;',
        'override WG: u32 = 64u;',
        'override USE_BIAS: bool = true;',
        'override EPS: f32 = 0.00001;',
        'override OFF: i32 = -3i;',
        '',
      ].join('\n'),
    );
    // No uniforms: no struct and no uniform binding.
    assert.doesNotMatch(generateHeader(BROKEN), /Params|var<uniform>/);
  });

  it('lays out uniforms with vec4 arrays aligned to 16 bytes and the struct padded to 16', () => {
    const l = uniformLayout(SAMPLE);
    assert.deepEqual(l.fields.map((f) => [f.name, f.offset, f.size]), [['n', 0, 4], ['scale', 4, 4], ['shape', 16, 32], ['k', 48, 4]]);
    assert.equal(l.byteSize, 64);
    const p = uniformLayout(PROBE);
    assert.deepEqual(p.fields.map((f) => f.offset), [0, 4, 16, 48, 64, 80]);
    assert.equal(p.byteSize, 96);
    assert.equal(uniformLayout({ ...BROKEN }).byteSize, 16);
    const bytes = new DataView(packUniforms(SAMPLE, { n: 7, scale: 0.5, shape: [1, 2, 3], k: -4 }));
    assert.equal(bytes.getUint32(0, true), 7);
    assert.equal(bytes.getFloat32(4, true), 0.5);
    assert.deepEqual([0, 1, 2, 3].map((i) => bytes.getUint32(16 + 4 * i, true)), [1, 2, 3, 0]);
    assert.equal(bytes.getInt32(48, true), -4);
    assert.throws(() => packUniforms(SAMPLE, { n: 1, scale: 1, shape: [1] }), /uniform 'k' not given/);
    assert.throws(() => packUniforms(SAMPLE, { n: 1, scale: 1, shape: new Array(9).fill(1), k: 0 }), /holds 8 values, got 9/);
  });

  it('the device reads every uniform field at the offset packUniforms wrote it', async () => {
    const out = ctx.pool.acquire(16 * 4, 'storage');
    ctx.queue.dispatch(PROBE, {
      bindings: { out },
      uniforms: { n: 123456, scale: -2.5, shape: [1, 2, 3, 4, 5, 6, 7, 8], k: -77, weights: [0.25, 0.5, 0.75, 1], last: 99 },
      workgroups: [1],
    });
    const got = await readF32(ctx, out, 16);
    assert.deepEqual([...got], [123456, -2.5, 1, 2, 3, 4, 5, 6, 7, 8, -77, 0.25, 0.5, 0.75, 1, 99]);
    ctx.pool.release(out);
  });

  it('numbers bindings in declaration order with the uniform struct last', () => {
    const { code, headerLines, file } = kernelSource(AXPY);
    assert.match(code, /@binding\(0\) var<storage, read> x: array<f32>;\n@group\(0\) @binding\(1\) var<storage, read> y: array<f32>;\n@group\(0\) @binding\(2\) var<storage, read_write> out: array<f32>;\n@group\(0\) @binding\(3\) var<uniform> params: Params;/);
    assert.equal(file, 'shaders/test/axpy.wgsl');
    // headerLines counts the generated header and the includes, so body line 1 follows it.
    assert.match(code.split('\n')[headerLines]!, /^\/\/ Test fixture/);
    assert.notEqual(pipelineKey(AXPY, { WG: 64 }), pipelineKey(AXPY, { WG: 128 }));
    assert.equal(pipelineKey(AXPY, { B: 1, A: 2 }), pipelineKey(AXPY, { A: 2, B: 1 }));
  });

  it('grid1d splits large workgroup counts over x and y and covers them exactly once or more', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 * 65535 }), fc.integer({ min: 1, max: 65535 }), (n, maxPerDim) => {
        const [x, y, z] = grid1d(n, maxPerDim);
        assert.ok(x >= 1 && x <= maxPerDim && y >= 1 && y <= Math.max(1, Math.ceil(n / maxPerDim)) && z === 1);
        assert.ok(x * y >= n);
      }),
      { numRuns: 200 },
    );
  });

  it('a simple kernel (axpy) matches the CPU on random sizes, including a grid split over y', async () => {
    const sizes = [1, 3, 63, 64, 65, 1000, 4097, 65537, 65535 * 64 + 129];
    const rng = new Rng(9);
    for (let t = 0; t < 6; t++) sizes.push(1 + rng.int(300000));
    for (const n of sizes) {
      const x = Float32Array.from({ length: n }, () => rng.range(-1, 1));
      const y = Float32Array.from({ length: n }, () => rng.range(-1, 1));
      const alpha = Math.fround(rng.range(-3, 3));
      const bx = await upload(ctx, x);
      const by = await upload(ctx, y);
      const bo = ctx.pool.acquire(4 * n, 'storage');
      const wg = Math.ceil(n / 64);
      ctx.queue.dispatch(AXPY, { bindings: { x: bx, y: by, out: bo }, uniforms: { n, alpha }, workgroups: grid1d(wg) });
      const got = await readF32(ctx, bo, n);
      const want = Float64Array.from(x, (v, i) => alpha * v + y[i]!);
      assertClose(got, want, { rtol: 1e-6, atol: 1e-6, label: `axpy n=${n} (workgroups ${grid1d(wg).join('×')})` });
      for (const b of [bx, by, bo]) ctx.pool.release(b);
    }
  });
});

describe('compile errors', () => {
  it('a broken shader gives KernelCompileError with the kernel name, file and body line', async () => {
    // A private context: the invalid pipeline's follow-up validation errors must not leak into others.
    const c = await GpuContext.create();
    try {
      await assert.rejects(c.pipelines.compile(BROKEN), (e: unknown) => {
        assert.ok(e instanceof KernelCompileError, `expected KernelCompileError, got ${e}`);
        assert.equal(e.kernel, 'broken_fixture');
        assert.equal(e.file, 'shaders/test/broken.wgsl');
        assert.equal(e.line, 5);
        assert.match(e.message, /kernel 'broken_fixture' failed to compile \(shaders\/test\/broken\.wgsl:5\)/);
        assert.match(e.detail, /this_name_is_not_declared/);
        return true;
      });
      // The launch path: dispatch records it, the next sync throws the same typed error.
      const out = c.pool.acquire(16, 'storage');
      c.queue.dispatch(BROKEN, { bindings: { out }, workgroups: [1] });
      await assert.rejects(c.queue.sync(), (e: unknown) => e instanceof KernelCompileError && e.kernel === 'broken_fixture' && e.line === 5);
      // The error was reported once; the context keeps working for valid kernels.
      const x = await upload(c, Float32Array.of(1, 2, 3));
      const o = c.pool.acquire(12, 'storage');
      c.queue.dispatch(AXPY, { bindings: { x, y: x, out: o }, uniforms: { n: 3, alpha: 2 }, workgroups: [1] });
      assert.deepEqual([...(await readF32(c, o, 3))], [3, 6, 9]);
      await c.queue.sync();
    } finally {
      await c.shutdown();
    }
  });

  it('an error inside an include names the included file and its own line', async () => {
    const c = await GpuContext.create();
    try {
      await assert.rejects(c.pipelines.compile(BROKEN_INCLUDE), (e: unknown) => {
        assert.ok(e instanceof KernelCompileError, `expected KernelCompileError, got ${e}`);
        assert.equal(e.file, 'shaders/test/broken_include.wgsl');
        assert.equal(e.line, 4);
        assert.match(e.message, /\(shaders\/test\/broken_include\.wgsl:4\)/);
        assert.match(e.detail, /also_not_declared/);
        return true;
      });
      const out = c.pool.acquire(16, 'storage');
      c.queue.dispatch(BROKEN_INCLUDE, { bindings: { x: out, y: out, out }, uniforms: { n: 1, alpha: 1 }, workgroups: [1] });
      await assert.rejects(c.queue.sync(), (e: unknown) => e instanceof KernelCompileError && e.file === 'shaders/test/broken_include.wgsl' && e.line === 4);
    } finally {
      await c.shutdown();
    }
  });

  it('a pipeline that fails for its override values names them', async () => {
    const c = await GpuContext.create();
    try {
      // The module compiles; a workgroup of 2^20 threads exceeds every adapter's limit.
      await assert.rejects(c.pipelines.compile(AXPY, { WG: 1 << 20 }), (e: unknown) => {
        assert.ok(e instanceof KernelCompileError, `expected KernelCompileError, got ${e}`);
        assert.equal(e.kernel, 'axpy_fixture');
        assert.match(e.message, /pipeline creation failed with overrides WG=1048576/);
        return true;
      });
    } finally {
      await c.shutdown();
    }
  });
});
