/** Strided copies: every view (permute, slice, expand, concat, split) is one launch of this kernel. */
import type { GpuContext } from '../../gpu/device.js';
import { OpArgumentError } from '../../errors.js';
import { bindingOffsetAlignment, maxBindingBytes } from '../../gpu/buffer_pool.js';
import { BufferTooLargeError } from '../../gpu/errors.js';
import { alloc, bindable, bufferOf, dims8, launch, strideGrid, variants, windowOf, WG, type GpuRaw } from './common.js';
import { bytesPerElement, contiguousStrides, numel, type Backend, type DType, type RawTensor } from '../types.js';
import { kvAppendDims } from '../kv_append.js';

const DIMS = 'array<vec4<u32>, 2>' as const;

// 32-bit types share one kernel (bits are copied); f16 needs its own element type.
const copyKernel = variants((t: 'u32' | 'f16') => ({
  name: `strided_copy_${t}`, family: 'layout', file: 'strided_copy',
  bindings: [{ name: 'src', type: 'T', access: 'read' as const }, { name: 'dst', type: 'T', access: 'read_write' as const }],
  uniforms: { n: 'u32' as const, rank: 'u32' as const, src_offset: 'u32' as const, dst_offset: 'u32' as const, shape: DIMS, src_strides: DIMS, dst_strides: DIMS },
  overrides: { WG: { type: 'u32' as const, value: WG } },
  aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [], includes: ['common/strided.wgsl'],
}));

const kernelFor = (d: DType) => copyKernel(d === 'f16' ? 'f16' : 'u32');

// Keys and values of one attention layer's cache step in one launch (see Backend.kvAppend).
const kvAppendKernel = variants((t: 'u32' | 'f16') => ({
  name: `kv_append_${t}`, family: 'layout', file: 'kv_append',
  bindings: [
    { name: 'past_k', type: 'T', access: 'read' as const }, { name: 'past_v', type: 'T', access: 'read' as const },
    { name: 'xk', type: 'T', access: 'read' as const }, { name: 'xv', type: 'T', access: 'read' as const },
    { name: 'out_k', type: 'T', access: 'read_write' as const }, { name: 'out_v', type: 'T', access: 'read_write' as const },
  ],
  uniforms: { n: 'u32' as const, H: 'u32' as const, S: 'u32' as const, P: 'u32' as const, D: 'u32' as const },
  overrides: { WG: { type: 'u32' as const, value: WG } },
  aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [], includes: ['common/strided.wgsl'],
}));

interface Strided {
  offset: number;
  strides: readonly number[];
}

/** Most launches one strided copy of a tensor over the binding limit may be split into. */
const MAX_COPY_LAUNCHES = 65536;

export function layoutOps(ctx: GpuContext): Pick<Backend, 'stridedCopy' | 'stridedWrite' | 'kvAppend'> {
  const copy = (op: string, src: RawTensor, dst: RawTensor, sv: Strided, dv: Strided, shape: readonly number[]): void => {
    const n = numel(shape);
    if (n === 0) return;
    const one = (s: RawTensor, d: RawTensor, so: number, dof: number, sh: readonly number[], ss: readonly number[], ds: readonly number[]) => {
      launch(ctx, kernelFor(src.dtype), {
        bindings: { src: bufferOf(s), dst: bufferOf(d) },
        uniforms: { n: numel(sh), rank: sh.length, src_offset: so, dst_offset: dof, shape: dims8(sh, 1), src_strides: dims8(ss), dst_strides: dims8(ds) },
        workgroups: strideGrid(ctx, numel(sh)),
      });
    };
    if (bindable(ctx, src) && bindable(ctx, dst)) {
      one(src, dst, sv.offset, dv.offset, shape, sv.strides, dv.strides);
      return;
    }
    // Over the binding limit: copy blocks of the leading dimension (or, when one index of it is
    // still too big, each index with the remaining dimensions), each through windows of src and
    // dst covering just the elements it touches.
    const e = bytesPerElement(src.dtype);
    const slack = bindingOffsetAlignment(ctx) / e;
    const limit = Math.floor(maxBindingBytes(ctx) / e) - slack;
    if ([...sv.strides, ...dv.strides].some((s) => s < 0)) {
      throw new BufferTooLargeError(n * e, limit * e, 'maxStorageBufferBindingSize', `${op}: negative strides over the binding limit`);
    }
    let launches = 0;
    const windowed = (sh: readonly number[], so: number, ss: readonly number[], dof: number, ds: readonly number[]) => {
      const ext = (off: number, st: readonly number[]) => {
        const start = Math.floor((off * e) / bindingOffsetAlignment(ctx)) * bindingOffsetAlignment(ctx) / e;
        const len = off - start + 1 + sh.reduce((acc, d, k) => acc + (d - 1) * st[k]!, 0);
        return { start, len };
      };
      const a = ext(so, ss);
      const b = ext(dof, ds);
      if (++launches > MAX_COPY_LAUNCHES) throw new BufferTooLargeError(n * e, limit * e, 'maxStorageBufferBindingSize', `${op}: this strided layout needs too many chunks`);
      const sw = windowOf(ctx, src, a.start, [a.len]);
      const dw = windowOf(ctx, dst, b.start, [b.len]);
      one(sw, dw, so - a.start, dof - b.start, sh, ss, ds);
    };
    const rest = (st: readonly number[], sh: readonly number[]) => sh.reduce((acc, d, k) => (k === 0 ? acc : acc + (d - 1) * st[k]!), 1);
    const recurse = (sh: readonly number[], so: number, ss: readonly number[], dof: number, ds: readonly number[]): void => {
      const rs = rest(ss, sh);
      const rd = rest(ds, sh);
      if (rs <= limit && rd <= limit) {
        // Rows of the leading dimension per block so that both spans fit.
        const per = (r: number, s0: number) => (s0 === 0 ? Infinity : Math.floor((limit - r) / s0) + 1);
        const b = Math.max(1, Math.min(sh[0]!, per(rs, ss[0]!), per(rd, ds[0]!)));
        for (let i0 = 0; i0 < sh[0]!; i0 += b) {
          const bn = Math.min(b, sh[0]! - i0);
          windowed([bn, ...sh.slice(1)], so + i0 * ss[0]!, ss, dof + i0 * ds[0]!, ds);
        }
        return;
      }
      if (sh.length < 2) throw new BufferTooLargeError(n * e, limit * e, 'maxStorageBufferBindingSize', `${op}: a single row spans more than the binding limit`);
      for (let i = 0; i < sh[0]!; i++) recurse(sh.slice(1), so + i * ss[0]!, ss.slice(1), dof + i * ds[0]!, ds.slice(1));
    };
    if (shape.length === 0) windowed([1], sv.offset, [0], dv.offset, [0]);
    else recurse(shape, sv.offset, sv.strides, dv.offset, dv.strides);
  };
  return {
    stridedCopy(src, view, shape) {
      if (view.strides.length !== shape.length) throw new OpArgumentError('stridedCopy', 'view.strides', `${shape.length} strides`, `${view.strides.length}`);
      const out = alloc(ctx, shape, src.dtype, 'stridedCopy');
      copy('stridedCopy', src, out, view, { offset: 0, strides: contiguousStrides(shape) }, shape);
      return out;
    },
    stridedWrite(dst, view, src) {
      if (src.dtype !== dst.dtype) throw new OpArgumentError('stridedWrite', 'src', `dtype ${dst.dtype}`, src.dtype);
      copy('stridedWrite', src, dst, { offset: 0, strides: contiguousStrides(src.shape) }, view, src.shape);
    },
    kvAppend(pastK, pastV, xk, xv, opts) {
      const { B, H, P, T, D } = kvAppendDims(pastK, pastV, xk, xv);
      const S = P + T;
      const shape = [B, H, S, D];
      const n = numel(shape);
      const dtype = pastK.dtype;
      const capacity = opts?.capacity ?? 0;
      // As empty(): only the pool bucket grows with the hint, never the shape.
      const make = (): GpuRaw => {
        if (!(capacity > n)) return alloc(ctx, shape, dtype, 'kvAppend');
        const bytes = Math.max(4, Math.ceil((n * bytesPerElement(dtype)) / 4) * 4);
        const pb = ctx.pool.acquire(bytes, 'storage', 'kvAppend', Math.ceil((capacity * bytesPerElement(dtype)) / 4) * 4);
        return { shape, dtype, storage: { pb, refs: 1 } };
      };
      const key = make();
      const value = make();
      if (n === 0) return { key, value };
      if ([pastK, pastV, xk, xv, key, value].every((t) => bindable(ctx, t))) {
        // With P = 0 the past is never read; x stands in so that no empty tensor is bound.
        const pk = P === 0 ? xk : pastK;
        const pv = P === 0 ? xv : pastV;
        launch(ctx, kvAppendKernel(dtype === 'f16' ? 'f16' : 'u32'), {
          bindings: { past_k: bufferOf(pk), past_v: bufferOf(pv), xk: bufferOf(xk), xv: bufferOf(xv), out_k: bufferOf(key), out_v: bufferOf(value) },
          uniforms: { n, H, S, P, D },
          workgroups: strideGrid(ctx, n),
        });
        return { key, value };
      }
      // Over the binding limit: the strided copies, which split themselves into windows.
      for (const [past, x, out] of [[pastK, xk, key], [pastV, xv, value]] as const) {
        copy('kvAppend', past, out, { offset: 0, strides: contiguousStrides(past.shape) }, { offset: 0, strides: [H * S * D, S * D, D, 1] }, past.shape);
        copy('kvAppend', x, out, { offset: 0, strides: [T * H * D, D, H * D, 1] }, { offset: P * D, strides: [H * S * D, S * D, D, 1] }, [B, H, T, D]);
      }
      return { key, value };
    },
  };
}
