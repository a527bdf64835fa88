import { checkArgExtremum, checkReduce } from '../elementwise_checks.js';
import { numel, type Backend, type RawTensor } from '../types.js';
import { dataOf, make } from './common.js';

/**
 * First index of the extremum of each row of the last axis (i32); a NaN beats every number and
 * the first NaN wins (torch's argmax/argmin).
 */
function argExtremum(op: 'argmax' | 'argmin', x: RawTensor): RawTensor {
  checkArgExtremum(op, x);
  const len = x.shape[x.shape.length - 1] ?? 1;
  const rows = numel(x.shape) / len; // len > 0 (checkArgExtremum)
  const out = make(x.shape.slice(0, -1), 'i32');
  const s = dataOf(x);
  const o = dataOf(out);
  const beats = op === 'argmax' ? (v: number, b: number) => v > b : (v: number, b: number) => v < b;
  for (let r = 0; r < rows; r++) {
    let bi = 0;
    for (let j = 1; j < len && !Number.isNaN(s[r * len + bi]!); j++) {
      const v = s[r * len + j]!;
      if (Number.isNaN(v) || beats(v, s[r * len + bi]!)) bi = j;
    }
    o[r] = bi;
  }
  return out;
}

export function cpuReduceOps(): Pick<Backend, 'reduce' | 'argmax' | 'argmin'> {
  return {
    reduce(op, x, axesIn, keepDims) {
      const axes = checkReduce(op, x, axesIn);
      const kshape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const outShape = keepDims ? kshape : x.shape.filter((_, i) => !axes.includes(i));
      const out = make(outShape, x.dtype);
      const o = dataOf(out);
      const init = op === 'max' ? -Infinity : op === 'min' ? Infinity : 0;
      o.fill(init);
      const s = dataOf(x);
      const rank = x.shape.length;
      const idx = new Array<number>(rank).fill(0);
      const ostr = new Array<number>(rank);
      let acc = 1;
      for (let k = rank - 1; k >= 0; k--) {
        ostr[k] = axes.includes(k) ? 0 : acc;
        acc *= kshape[k]!;
      }
      for (let i = 0; i < s.length; i++) {
        let oi = 0;
        for (let k = 0; k < rank; k++) oi += idx[k]! * ostr[k]!;
        const v = s[i]!;
        if (op === 'max') o[oi] = Math.max(o[oi]!, v);
        else if (op === 'min') o[oi] = Math.min(o[oi]!, v);
        // An i32/u32 sum wraps modulo 2^32 as on the GPU: the Int32Array/Uint32Array store does it.
        else o[oi]! += v;
        for (let k = rank - 1; k >= 0; k--) {
          if (++idx[k]! < x.shape[k]!) break;
          idx[k] = 0;
        }
      }
      if (op === 'mean') {
        const cnt = numel(axes.map((a) => x.shape[a]!));
        for (let i = 0; i < o.length; i++) o[i]! /= cnt;
      }
      return out;
    },
    argmax: (x) => argExtremum('argmax', x),
    argmin: (x) => argExtremum('argmin', x),
  };
}
