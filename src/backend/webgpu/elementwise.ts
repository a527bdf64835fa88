/** Unary, binary (broadcasting), where and cast kernels. */
import { availableParallelism } from 'node:os';
import type { GpuContext } from '../../gpu/device.js';
import { grid1d } from '../../gpu/kernel.js';
import { binaryOutDtype, checkBinary, checkWhere } from '../elementwise_checks.js';
import { alloc, bufferOf, cpuStyle, dims8, forRowChunks, grid, launch, strideGrid, variants, vec4Bindable, WG } from './common.js';
import { checkFloat } from '../nn_checks.js';
import { broadcastStrides, isIntDType, numel, type Backend, type BinaryOp, type DType, type UnaryOp, type RawTensor } from '../types.js';

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
/** The grid-stride kernels' shared item layout (span(), LANES override): see span.wgsl. */
const strideCommon = [...common, 'elementwise/span.wgsl'];

/**
 * LANES for span.wgsl: 0 (classic grid-stride) on GPUs; on CPU adapters the SIMD width, which
 * Dawn reports as the subgroup size (8 on lavapipe with AVX2), 8 when unknown.
 */
function lanes(ctx: GpuContext): number {
  if (!cpuStyle(ctx)) return 0;
  const l = ctx.caps.subgroupMaxSize || 8;
  return WG % l === 0 ? l : 0;
}

/**
 * Workgroups of a grid-stride elementwise kernel. lavapipe hands workgroups to one thread per CPU
 * core; with contiguous chunks (span.wgsl) a few per core suffice, and fewer cost less: on 2
 * cores a 1M-element add took 1.13-1.15 ms with 16 workgroups, 1.23-1.30 ms with 64 (strideGrid's
 * cap for all kernels).
 */
function ewGrid(ctx: GpuContext, items: number): [number, number, number] {
  if (!cpuStyle(ctx)) return strideGrid(ctx, items);
  return grid1d(Math.min(Math.ceil(items / WG), 8 * cpuCores));
}
const cpuCores = Math.max(1, availableParallelism());

// Scalar kernels for every float dtype; the `vec4` variants (f32, same shapes) move four elements
// per load/store, which CPU adapters in particular need to approach memory bandwidth.
const unaryKernel = variants((key: string) => {
  const [t, vec] = key.split('/') as [DType, string | undefined];
  const el = vec ? 'vec4<f32>' : 'T';
  return {
    name: vec ? 'unary_vec4_f32' : `unary_${t}`, family: 'elementwise', file: vec ? 'unary_vec4' : 'unary',
    bindings: [{ name: 'x', type: el, access: 'read' as const }, { name: 'out', type: el, access: 'read_write' as const }],
    uniforms: { n: 'u32' as const, alpha: 'f32' as const, beta: 'f32' as const },
    overrides: { WG: { type: 'u32' as const, value: WG }, OP: { type: 'u32' as const, value: 0 }, LANES: { type: 'u32' as const, value: 0 } },
    aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [], includes: [...strideCommon, 'elementwise/unary_ops.wgsl'],
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
    overrides: {
      WG: { type: 'u32' as const, value: WG }, OP: { type: 'u32' as const, value: 0 }, BCAST: { type: 'bool' as const, value: true },
      LANES: { type: 'u32' as const, value: 0 },
    },
    aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [],
    includes: [...strideCommon, 'elementwise/binary_ops.wgsl', ...(vec ? [] : ['elementwise/binary_pair.wgsl'])],
  };
});

/**
 * Binary ops of i32/u32 operands, in their own type: add/sub/mul (OUT = T, wrapping) and the
 * comparisons (OUT = f32 1.0/0.0); binary.wgsl's loop with binary_int_ops.wgsl's pair(). Key: `${T}/${OUT}`.
 */
const binaryIntKernel = variants((key: string) => {
  const [t, o] = key.split('/') as [DType, DType];
  return {
    name: `binary_int_${t}_${o}`, family: 'elementwise', file: 'binary',
    bindings: [
      { name: 'a', type: 'T', access: 'read' as const },
      { name: 'b', type: 'T', access: 'read' as const },
      { name: 'out', type: 'OUT', access: 'read_write' as const },
    ],
    uniforms: { n: 'u32' as const, rank: 'u32' as const, shape: DIMS, a_strides: DIMS, b_strides: DIMS },
    overrides: {
      WG: { type: 'u32' as const, value: WG }, OP: { type: 'u32' as const, value: 0 }, BCAST: { type: 'bool' as const, value: true },
      LANES: { type: 'u32' as const, value: 0 },
    },
    aliases: { T: t, OUT: o }, includes: [...strideCommon, 'elementwise/binary_int_ops.wgsl'],
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
      checkFloat(`unary ${op}`, 'x', x);
      const out = alloc(ctx, x.shape, x.dtype, op);
      // Element windows when x exceeds the binding limit (full fine-tuning of BioGPT's embedding).
      forRowChunks(ctx, op, numel(x.shape), [{ x, per: 1 }, { x: out, per: 1 }], (_, n, [xc, oc]) => {
        const vec = x.dtype === 'f32' && vec4Bindable(xc!, oc!);
        launch(ctx, unaryKernel(vec ? 'f32/vec4' : x.dtype), {
          bindings: { x: bufferOf(xc!), out: bufferOf(oc!) },
          uniforms: { n, alpha, beta },
          constants: { OP: UNARY_CODES[op], LANES: lanes(ctx) },
          workgroups: ewGrid(ctx, vec ? Math.ceil(n / 4) : n),
        });
      });
      return out;
    },
    binary(op, a, b) {
      const shape = checkBinary(op, a, b);
      const outDtype = binaryOutDtype(op, a);
      const out = alloc(ctx, shape, outDtype, op);
      const n = numel(shape);
      const same = a.shape.join() === b.shape.join();
      const int = isIntDType(a.dtype);
      const run = (ra: RawTensor, rb: RawTensor, ro: RawTensor, cnt: number, sh: readonly number[]) => {
        const vec = same && a.dtype === 'f32' && vec4Bindable(ra, rb, ro);
        launch(ctx, int ? binaryIntKernel(`${a.dtype}/${outDtype}`) : binaryKernel(vec ? 'f32/vec4' : a.dtype), {
          bindings: { a: bufferOf(ra), b: bufferOf(rb), out: bufferOf(ro) },
          uniforms: {
            n: cnt, rank: sh.length, shape: dims8(sh, 1),
            // Same shapes are walked flat (BCAST off): the chunk is a 1-D run of cnt elements.
            a_strides: dims8(same ? [1] : broadcastStrides(a.shape, sh)), b_strides: dims8(same ? [1] : broadcastStrides(b.shape, sh)),
          },
          constants: { OP: BINARY_CODES[op], BCAST: !same, LANES: lanes(ctx) },
          workgroups: ewGrid(ctx, vec ? Math.ceil(cnt / 4) : cnt),
        });
      };
      // Same shapes over the binding limit (gradient sums of a big parameter) run in element windows;
      // a broadcast with such an operand is not chunked (the queue then names this kernel).
      if (same) forRowChunks(ctx, op, n, [{ x: a, per: 1 }, { x: b, per: 1 }, { x: out, per: 1 }], (_, c, [ac, bc, oc]) => run(ac!, bc!, oc!, c, [c]));
      else run(a, b, out, n, shape);
      return out;
    },
    where(cond, a, b) {
      const shape = checkWhere(cond, a, b);
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
      // Element windows when x or out exceeds the binding limit (autocast of BioGPT's tied embedding).
      forRowChunks(ctx, 'cast', n, [{ x, per: 1 }, { x: out, per: 1 }], (_, c, [xc, oc]) => {
        launch(ctx, castKernel(`${x.dtype}/${dtype}`), { bindings: { x: bufferOf(xc!), out: bufferOf(oc!) }, uniforms: { n: c }, workgroups: grid(c) });
      });
      return out;
    },
  };
}
