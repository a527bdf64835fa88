/** Strided copies: every view (permute, slice, expand, concat, split) is one launch of this kernel. */
import type { GpuContext } from '../../gpu/device.js';
import { OpArgumentError } from '../../errors.js';
import { alloc, bufferOf, dims8, launch, strideGrid, variants, WG } from './common.js';
import { contiguousStrides, numel, type Backend, type DType } from '../types.js';

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

export function layoutOps(ctx: GpuContext): Pick<Backend, 'stridedCopy' | 'stridedWrite'> {
  return {
    stridedCopy(src, view, shape) {
      if (view.strides.length !== shape.length) throw new OpArgumentError('stridedCopy', 'view.strides', `${shape.length} strides`, `${view.strides.length}`);
      const out = alloc(ctx, shape, src.dtype, 'stridedCopy');
      const n = numel(shape);
      launch(ctx, kernelFor(src.dtype), {
        bindings: { src: bufferOf(src), dst: bufferOf(out) },
        uniforms: { n, rank: shape.length, src_offset: view.offset, dst_offset: 0, shape: dims8(shape, 1), src_strides: dims8(view.strides), dst_strides: dims8(contiguousStrides(shape)) },
        workgroups: strideGrid(ctx, n),
      });
      return out;
    },
    stridedWrite(dst, view, src) {
      if (src.dtype !== dst.dtype) throw new OpArgumentError('stridedWrite', 'src', `dtype ${dst.dtype}`, src.dtype);
      const n = numel(src.shape);
      launch(ctx, kernelFor(src.dtype), {
        bindings: { src: bufferOf(src), dst: bufferOf(dst) },
        uniforms: { n, rank: src.shape.length, src_offset: 0, dst_offset: view.offset, shape: dims8(src.shape, 1), src_strides: dims8(contiguousStrides(src.shape)), dst_strides: dims8(view.strides) },
        workgroups: strideGrid(ctx, n),
      });
    },
  };
}
