/** Upload, fill, readback and views for the WebGPU backend. */
import type { GpuContext } from '../../gpu/device.js';
import { variants, alloc, bufferOf, forRowChunks, launch, release, strideGrid, view, WG, type GpuRaw } from './common.js';
import { OpArgumentError } from '../../errors.js';
import { checkShape } from '../shape_checks.js';
import { bytesPerElement, isIntDType, numel, type Backend, type DType, type HostArray, type RawTensor } from '../types.js';
import { f32ToF16Bits, f16BitsToF32 } from '../../util/half.js';

const fillKernel = variants((t: DType) => ({
  name: `fill_${t}`,
  family: 'elementwise',
  file: 'fill',
  bindings: [{ name: 'out', type: 'T', access: 'read_write' as const }],
  // An integer fill value travels as its own type: through f32 it would round beyond 2^24.
  uniforms: { n: 'u32' as const, value: isIntDType(t) ? t : ('f32' as const) },
  overrides: { WG: { type: 'u32' as const, value: WG } },
  aliases: { T: t },
  enables: t === 'f16' ? ['f16'] : [],
  includes: ['common/strided.wgsl'],
}));

/** Sets every element of x to value (on the GPU, in chunks a binding can hold). */
export function fill(ctx: GpuContext, x: RawTensor, value: number): void {
  forRowChunks(ctx, 'full', numel(x.shape), [{ x, per: 1 }], (_, c, [o]) => {
    launch(ctx, fillKernel(x.dtype), { bindings: { out: bufferOf(o!) }, uniforms: { n: c, value }, workgroups: strideGrid(ctx, c) });
  });
}

export function memoryOps(ctx: GpuContext): Pick<Backend, 'upload' | 'full' | 'empty' | 'read' | 'dispose' | 'reshape' | 'bytesInUse' | 'sync'> {
  return {
    upload(data, shape, dtype) {
      const n = checkShape('upload', 'shape', shape);
      if (data.length !== n) throw new OpArgumentError('upload', 'data', `${n} values for shape [${shape}]`, `${data.length}`);
      if (dtype === 'f16' && !ctx.caps.f16) throw new OpArgumentError('upload', 'dtype', "f32/i32/u32 (this adapter lacks 'shader-f16')", 'f16');
      const out = alloc(ctx, shape, dtype, 'upload');
      let bytes: ArrayBufferView;
      if (dtype === 'f32') bytes = data instanceof Float32Array ? data : Float32Array.from(data);
      else if (dtype === 'i32') bytes = data instanceof Int32Array ? data : Int32Array.from(data);
      else if (dtype === 'u32') bytes = data instanceof Uint32Array ? data : Uint32Array.from(data);
      else {
        const h = new Uint16Array(n + (n & 1));
        for (let i = 0; i < n; i++) h[i] = f32ToF16Bits(data[i]!);
        bytes = h;
      }
      if (n > 0) ctx.device.queue.writeBuffer(bufferOf(out).buffer, 0, bytes.buffer, bytes.byteOffset, Math.ceil(bytes.byteLength / 4) * 4);
      return out;
    },
    full(shape, dtype, value) {
      checkShape('full', 'shape', shape);
      const out = alloc(ctx, shape, dtype, 'full');
      fill(ctx, out, value);
      return out;
    },
    empty(shape, dtype, opts) {
      checkShape('empty', 'shape', shape);
      // A pooled buffer as it comes (stale contents): the caller overwrites every element.
      const capacity = opts?.capacity ?? 0;
      if (!(capacity > numel(shape))) return alloc(ctx, shape, dtype, 'empty');
      // Only the bucket grows: the tensor's shape, and every size a kernel reads, stay its own
      // (kernels take sizes from uniforms; none uses arrayLength of a binding).
      const bytes = Math.max(4, Math.ceil((numel(shape) * bytesPerElement(dtype)) / 4) * 4);
      const pb = ctx.pool.acquire(bytes, 'storage', 'empty', Math.ceil((capacity * bytesPerElement(dtype)) / 4) * 4);
      const out: GpuRaw = { shape: [...shape], dtype, storage: { pb, refs: 1 } };
      return out;
    },
    async read(x: RawTensor): Promise<HostArray> {
      const n = numel(x.shape);
      const bytes = x.dtype === 'f16' ? 2 * n : 4 * n;
      const ab = n === 0 ? new ArrayBuffer(0) : await ctx.queue.read(bufferOf(x).buffer, bufferOf(x).offset ?? 0, Math.ceil(bytes / 4) * 4);
      if (x.dtype === 'f32') return new Float32Array(ab, 0, n);
      if (x.dtype === 'i32') return new Int32Array(ab, 0, n);
      if (x.dtype === 'u32') return new Uint32Array(ab, 0, n);
      const h = new Uint16Array(ab, 0, n);
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = f16BitsToF32(h[i]!);
      return f;
    },
    dispose(x) {
      release(ctx, x);
    },
    reshape(x, shape) {
      checkShape('reshape', 'shape', shape);
      if (numel(shape) !== numel(x.shape)) throw new OpArgumentError('reshape', 'shape', `${numel(x.shape)} elements`, `[${shape}]`);
      return view(x, shape);
    },
    bytesInUse() {
      // Tensor storage only: uniform buffers of not-yet-submitted dispatches come and go.
      return ctx.pool.getStats().storageBytesInUse;
    },
    sync() {
      return ctx.queue.sync();
    },
  };
}
