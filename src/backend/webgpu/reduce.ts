/**
 * Reductions over any set of axes, as a sequence of [outer, len, inner] reductions, and
 * argmax/argmin. Integer (i32/u32) tensors only sum, through reduce_cols_int.wgsl in the same
 * chunked layout (exact: a sum modulo 2^32 does not depend on the order).
 * A long reduction (len > SPLIT_LEN; rows on GPU adapters, whose row kernel spreads a row over WG
 * threads: len > WG·SPLIT_LEN) first reduces chunks of CHUNK values into [outer, C, inner]
 * partials (reduce_cols.wgsl), as often as needed, then reduces those: no thread adds more than
 * about SPLIT_LEN floats in sequence. Summing 2^22 values in one f32 loop was 1 % off (each add
 * rounds against a growing total) and left all but a few threads idle.
 */
import type { GpuContext } from '../../gpu/device.js';
import { grid1d } from '../../gpu/kernel.js';
import { checkArgExtremum, checkReduce } from '../elementwise_checks.js';
import { alloc, bufferOf, cpuStyle, forRowChunks, launch, release, strideGrid, variants, vec4Bindable, view, WG } from './common.js';
import { isIntDType, numel, type Backend, type DType, type RawTensor, type ReduceOp } from '../types.js';

const OPS: Record<ReduceOp, number> = { sum: 0, mean: 1, max: 2, min: 3 };
/** Reductions longer than this go through chunk partials first; CHUNK values per partial. */
export const SPLIT_LEN = 1024;
export const CHUNK = 256;

const rowsKernel = variants((t: DType) => ({
  name: `reduce_rows_${t}`, family: 'reduce', file: 'reduce_rows',
  bindings: [{ name: 'x', type: 'T', access: 'read' as const }, { name: 'out', type: 'T', access: 'read_write' as const }],
  uniforms: { rows: 'u32' as const, len: 'u32' as const, div: 'f32' as const },
  overrides: { WG: { type: 'u32' as const, value: WG }, OP: { type: 'u32' as const, value: 0 } },
  aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [], includes: ['common/math.wgsl', 'reduce/reduce_op.wgsl'],
}));
// Barrier-free row reductions for CPU adapters: one thread per row (vec4 loads when len % 4 == 0).
const rowsThreadKernel = variants((key: string) => {
  const [t, vec] = key.split('/') as [DType, string | undefined];
  return {
    name: vec ? 'reduce_rows_thread4_f32' : `reduce_rows_thread_${t}`, family: 'reduce', file: vec ? 'reduce_rows_thread4' : 'reduce_rows_thread',
    bindings: [{ name: 'x', type: vec ? 'vec4<f32>' : 'T', access: 'read' as const }, { name: 'out', type: 'T', access: 'read_write' as const }],
    uniforms: { rows: 'u32' as const, len: 'u32' as const, div: 'f32' as const },
    overrides: { WG: { type: 'u32' as const, value: WG }, OP: { type: 'u32' as const, value: 0 } },
    aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [], includes: ['common/strided.wgsl', 'common/math.wgsl', 'reduce/reduce_op.wgsl'],
  };
});
const colsKernel = variants((t: DType) => ({
  name: `reduce_cols_${t}`, family: 'reduce', file: 'reduce_cols',
  bindings: [{ name: 'x', type: 'T', access: 'read' as const }, { name: 'out', type: 'T', access: 'read_write' as const }],
  uniforms: { outer: 'u32' as const, len: 'u32' as const, inner: 'u32' as const, chunk: 'u32' as const, chunks: 'u32' as const, div: 'f32' as const },
  overrides: { WG: { type: 'u32' as const, value: WG }, OP: { type: 'u32' as const, value: 0 } },
  aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [], includes: ['common/strided.wgsl', 'common/math.wgsl', 'reduce/reduce_op.wgsl', 'reduce/cols_layout.wgsl'],
}));
// Integer sums (i32/u32, exact with wrap-around) in reduce_cols' layout.
const colsIntKernel = variants((t: DType) => ({
  name: `reduce_cols_sum_${t}`, family: 'reduce', file: 'reduce_cols_int',
  bindings: [{ name: 'x', type: 'T', access: 'read' as const }, { name: 'out', type: 'T', access: 'read_write' as const }],
  uniforms: { outer: 'u32' as const, len: 'u32' as const, inner: 'u32' as const, chunk: 'u32' as const, chunks: 'u32' as const },
  overrides: { WG: { type: 'u32' as const, value: WG } },
  aliases: { T: t }, includes: ['common/strided.wgsl', 'reduce/cols_layout.wgsl'],
}));
// argmax and argmin (ARGMIN), NaN-first.
const argKernel = variants((t: DType) => ({
  name: `argmax_${t}`, family: 'reduce', file: 'argmax',
  bindings: [{ name: 'x', type: 'T', access: 'read' as const }, { name: 'out', type: 'i32', access: 'read_write' as const }],
  uniforms: { rows: 'u32' as const, len: 'u32' as const },
  overrides: { WG: { type: 'u32' as const, value: WG }, ARGMIN: { type: 'bool' as const, value: false } },
  aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [], includes: ['common/math.wgsl'],
}));

/** Splits sorted unique axes into runs of consecutive axes. */
export function axisGroups(axes: readonly number[]): Array<[number, number]> {
  const groups: Array<[number, number]> = [];
  for (const a of axes) {
    const last = groups[groups.length - 1];
    if (last && last[1] === a - 1) last[1] = a;
    else groups.push([a, a]);
  }
  return groups;
}

export function reduceOps(ctx: GpuContext): Pick<Backend, 'reduce' | 'argmax' | 'argmin'> {
  /** out [outer, chunks, inner] = op over chunks of `chunk` along len of x [outer, len, inner] (reduce_cols.wgsl). */
  const cols = (op: ReduceOp, x: RawTensor, out: RawTensor, outer: number, len: number, inner: number, chunk: number, chunks: number, div: number) => {
    forRowChunks(ctx, `reduce ${op}`, outer, [{ x, per: len * inner }, { x: out, per: chunks * inner }], (_, rows, [xc, oc]) => {
      const bindings = { x: bufferOf(xc!), out: bufferOf(oc!) };
      const workgroups = strideGrid(ctx, rows * chunks * inner);
      // Integer tensors only sum (checkReduce).
      if (isIntDType(x.dtype)) launch(ctx, colsIntKernel(x.dtype), { bindings, uniforms: { outer: rows, len, inner, chunk, chunks }, workgroups });
      else launch(ctx, colsKernel(x.dtype), { bindings, uniforms: { outer: rows, len, inner, chunk, chunks, div }, constants: { OP: OPS[op] }, workgroups });
    });
  };
  const arg = (op: 'argmax' | 'argmin', x: RawTensor): RawTensor => {
    checkArgExtremum(op, x);
    const len = x.shape[x.shape.length - 1] ?? 1;
    const rows = numel(x.shape) / len; // len > 0 (checkArgExtremum)
    const out = alloc(ctx, x.shape.slice(0, -1), 'i32', op);
    forRowChunks(ctx, op, rows, [{ x, per: len }, { x: out, per: 1 }], (_, c, [xc, oc]) => {
      launch(ctx, argKernel(x.dtype), {
        bindings: { x: bufferOf(xc!), out: bufferOf(oc!) }, uniforms: { rows: c, len }, constants: { ARGMIN: op === 'argmin' }, workgroups: grid1d(c),
      });
    });
    return out;
  };
  return {
    reduce(op, x, axesIn, keepDims) {
      const axes = checkReduce(op, x, axesIn);
      const int = isIntDType(x.dtype);
      const finalShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
      if (!axes.length) return view(x, finalShape);
      let cur: RawTensor = x;
      const shape = [...x.shape];
      for (const [g0, g1] of axisGroups(axes).reverse()) {
        const outer = numel(shape.slice(0, g0));
        const total = numel(shape.slice(g0, g1 + 1));
        const inner = numel(shape.slice(g1 + 1));
        // Chunk partials while the reduced length is long (mean's partials are sums; it divides by total at the end).
        // On GPU adapters the row kernel (inner 1) already spreads a row over WG threads, so it
        // needs partials only beyond WG·SPLIT_LEN values.
        const limit = inner === 1 && !cpuStyle(ctx) && !int ? WG * SPLIT_LEN : SPLIT_LEN;
        let len = total;
        while (len > limit && outer * inner > 0) {
          const chunks = Math.ceil(len / CHUNK);
          const part = alloc(ctx, [outer, chunks, inner], x.dtype, `reduce ${op}`);
          cols(op === 'mean' ? 'sum' : op, cur, part, outer, len, inner, CHUNK, chunks, 1);
          if (cur !== x) release(ctx, cur);
          cur = part;
          len = chunks;
        }
        for (let k = g0; k <= g1; k++) shape[k] = 1;
        const out = alloc(ctx, shape, x.dtype, `reduce ${op}`);
        // Over the binding limit, blocks of `outer` rows are reduced through windows.
        // Integer sums have no row kernels: reduce_cols_int with inner 1 is one thread per row.
        if (inner === 1 && !int) {
          forRowChunks(ctx, `reduce ${op}`, outer, [{ x: cur, per: len }, { x: out, per: 1 }], (_, rows, [xc, oc]) => {
            const uniforms = { rows, len, div: total };
            if (cpuStyle(ctx)) {
              const vec = x.dtype === 'f32' && len % 4 === 0 && vec4Bindable(xc!);
              launch(ctx, rowsThreadKernel(vec ? 'f32/vec4' : x.dtype), {
                bindings: { x: bufferOf(xc!), out: bufferOf(oc!) }, uniforms, constants: { OP: OPS[op] }, workgroups: strideGrid(ctx, rows),
              });
            } else {
              launch(ctx, rowsKernel(x.dtype), {
                bindings: { x: bufferOf(xc!), out: bufferOf(oc!) }, uniforms, constants: { OP: OPS[op] }, workgroups: grid1d(rows),
              });
            }
          });
        } else {
          cols(op, cur, out, outer, len, inner, len, 1, total);
        }
        if (cur !== x) release(ctx, cur);
        cur = out;
      }
      const res = view(cur, finalShape);
      release(ctx, cur);
      return res;
    },
    argmax: (x) => arg('argmax', x),
    argmin: (x) => arg('argmin', x),
  };
}
