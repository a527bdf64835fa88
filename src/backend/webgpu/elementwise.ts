/** Unary, binary (broadcasting), where and cast kernels. */
import type { GpuContext } from '../../gpu/device.js';
import { ShapeError, OpArgumentError } from '../../errors.js';
import { alloc, bufferOf, dims8, grid, launch, requireFloat, strideGrid, variants, vec4Bindable, WG } from './common.js';
import { broadcastShapes, broadcastStrides, numel, type Backend, type BinaryOp, type DType, type UnaryOp } from '../types.js';

const UNARY_CODES: Record<UnaryOp, number> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, tanh: 5, relu: 6, gelu: 7, sigmoid: 8, abs: 9, square: 10,
  recip: 11, sin: 12, cos: 13, sign: 14, affine: 15, pow_scalar: 16, max_scalar: 17, min_scalar: 18,
};
const BINARY_CODES: Record<BinaryOp, number> = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, max: 5, min: 6, gelu_grad: 7, relu_grad: 8,
  eq: 9, ne: 10, lt: 11, le: 12, gt: 13, ge: 14,
};
const DIMS = 'array<vec4<u32>, 2>' as const;
const common = ['common/strided.wgsl', 'common/math.wgsl'];

// Scalar kernels for every float dtype; the `vec4` variants (f32, same shapes) move four elements
// per load/store, which CPU adapters in particular need to approach memory bandwidth.
const unaryKernel = variants((key: string) => {
  const [t, vec] = key.split('/') as [DType, string | undefined];
  const el = vec ? 'vec4<f32>' : 'T';
  return {
    name: vec ? 'unary_vec4_f32' : `unary_${t}`, family: 'elementwise', file: vec ? 'unary_vec4' : 'unary',
    bindings: [{ name: 'x', type: el, access: 'read' as const }, { name: 'out', type: el, access: 'read_write' as const }],
    uniforms: { n: 'u32' as const, alpha: 'f32' as const, beta: 'f32' as const },
    overrides: { WG: { type: 'u32' as const, value: WG }, OP: { type: 'u32' as const, value: 0 } },
    aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [], includes: [...common, 'elementwise/unary_ops.wgsl'],
  };
});

const binaryKernel = variants((key: string) => {
  const [t, vec] = key.split('/') as [DType, string | undefined];
  const el = vec ? 'vec4<f32>' : 'T';
  return {
    name: vec ? 'binary_vec4_f32' : `binary_${t}`, family: 'elementwise', file: vec ? 'binary_vec4' : 'binary',
    bindings: [
      { name: 'a', type: el, access: 'read' as const },
      { name: 'b', type: el, access: 'read' as const },
      { name: 'out', type: el, access: 'read_write' as const },
    ],
    uniforms: { n: 'u32' as const, rank: 'u32' as const, shape: DIMS, a_strides: DIMS, b_strides: DIMS },
    overrides: { WG: { type: 'u32' as const, value: WG }, OP: { type: 'u32' as const, value: 0 }, BCAST: { type: 'bool' as const, value: true } },
    aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [], includes: [...common, 'elementwise/binary_ops.wgsl'],
  };
});

const whereKernel = variants((key: string) => {
  const [c, t] = key.split('/') as [DType, DType];
  return {
    name: `where_${c}_${t}`, family: 'elementwise', file: 'where',
    bindings: [
      { name: 'cond', type: c, access: 'read' as const },
      { name: 'a', type: 'T', access: 'read' as const },
      { name: 'b', type: 'T', access: 'read' as const },
      { name: 'out', type: 'T', access: 'read_write' as const },
    ],
    uniforms: { n: 'u32' as const, rank: 'u32' as const, shape: DIMS, c_strides: DIMS, a_strides: DIMS, b_strides: DIMS },
    overrides: { WG: { type: 'u32' as const, value: WG } },
    aliases: { T: t }, enables: c === 'f16' || t === 'f16' ? ['f16'] : [], includes: common,
  };
});

const castKernel = variants((key: string) => {
  const [from, to] = key.split('/') as [DType, DType];
  return {
    name: `cast_${from}_${to}`, family: 'elementwise', file: 'cast',
    bindings: [{ name: 'x', type: 'FROM', access: 'read' as const }, { name: 'out', type: 'TO', access: 'read_write' as const }],
    uniforms: { n: 'u32' as const },
    overrides: { WG: { type: 'u32' as const, value: WG } },
    aliases: { FROM: from, TO: to }, enables: from === 'f16' || to === 'f16' ? ['f16'] : [], includes: common,
  };
});

export function elementwiseOps(ctx: GpuContext): Pick<Backend, 'unary' | 'binary' | 'where' | 'cast'> {
  return {
    unary(op, x, alpha = 0, beta = 0) {
      requireFloat(`unary ${op}`, 'x', x);
      const out = alloc(ctx, x.shape, x.dtype, op);
      const n = numel(x.shape);
      const vec = x.dtype === 'f32' && vec4Bindable(x, out);
      launch(ctx, unaryKernel(vec ? 'f32/vec4' : x.dtype), {
        bindings: { x: bufferOf(x), out: bufferOf(out) },
        uniforms: { n, alpha, beta },
        constants: { OP: UNARY_CODES[op] },
        workgroups: strideGrid(ctx, vec ? Math.ceil(n / 4) : n),
      });
      return out;
    },
    binary(op, a, b) {
      requireFloat(op, 'a', a);
      if (a.dtype !== b.dtype) throw new OpArgumentError(op, 'b', `dtype ${a.dtype} (same as a)`, b.dtype);
      const shape = broadcastShapes(a.shape, b.shape);
      if (!shape) throw new ShapeError(op, 'b', `a shape broadcastable with [${a.shape}]`, `[${b.shape}]`);
      const out = alloc(ctx, shape, a.dtype, op);
      const n = numel(shape);
      const same = a.shape.join() === b.shape.join();
      const vec = same && a.dtype === 'f32' && vec4Bindable(a, b, out);
      launch(ctx, binaryKernel(vec ? 'f32/vec4' : a.dtype), {
        bindings: { a: bufferOf(a), b: bufferOf(b), out: bufferOf(out) },
        uniforms: {
          n, rank: shape.length, shape: dims8(shape, 1),
          a_strides: dims8(broadcastStrides(a.shape, shape)), b_strides: dims8(broadcastStrides(b.shape, shape)),
        },
        constants: { OP: BINARY_CODES[op], BCAST: !same },
        workgroups: strideGrid(ctx, vec ? Math.ceil(n / 4) : n),
      });
      return out;
    },
    where(cond, a, b) {
      if (a.dtype !== b.dtype) throw new OpArgumentError('where', 'b', `dtype ${a.dtype} (same as a)`, b.dtype);
      const s1 = broadcastShapes(cond.shape, a.shape);
      const shape = s1 && broadcastShapes(s1, b.shape);
      if (!shape) throw new ShapeError('where', 'cond/a/b', 'mutually broadcastable shapes', `[${cond.shape}], [${a.shape}], [${b.shape}]`);
      const out = alloc(ctx, shape, a.dtype, 'where');
      const n = numel(shape);
      launch(ctx, whereKernel(`${cond.dtype}/${a.dtype}`), {
        bindings: { cond: bufferOf(cond), a: bufferOf(a), b: bufferOf(b), out: bufferOf(out) },
        uniforms: {
          n, rank: shape.length, shape: dims8(shape, 1), c_strides: dims8(broadcastStrides(cond.shape, shape)),
          a_strides: dims8(broadcastStrides(a.shape, shape)), b_strides: dims8(broadcastStrides(b.shape, shape)),
        },
        workgroups: grid(n),
      });
      return out;
    },
    cast(x, dtype) {
      const out = alloc(ctx, x.shape, dtype, 'cast');
      const n = numel(x.shape);
      launch(ctx, castKernel(`${x.dtype}/${dtype}`), { bindings: { x: bufferOf(x), out: bufferOf(out) }, uniforms: { n }, workgroups: grid(n) });
      return out;
    },
  };
}
