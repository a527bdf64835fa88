import { OpArgumentError } from '../../errors.js';
import { contiguousStrides, type Backend, type RawTensor } from '../types.js';
import { dataOf, forEachStrided, make } from './common.js';
import { kvAppendDims } from '../kv_append.js';

export function cpuLayoutOps(): Pick<Backend, 'stridedCopy' | 'stridedWrite' | 'kvAppend'> {
  return {
    stridedCopy(src, view, shape) {
      if (view.strides.length !== shape.length) throw new OpArgumentError('stridedCopy', 'view.strides', `${shape.length} strides`, `${view.strides.length}`);
      const out = make(shape, src.dtype);
      const s = dataOf(src);
      const o = dataOf(out);
      forEachStrided(shape, [view.strides], [view.offset], (i, offs) => {
        o[i] = s[offs[0]!]!;
      });
      return out;
    },
    stridedWrite(dst, view, src) {
      if (src.dtype !== dst.dtype) throw new OpArgumentError('stridedWrite', 'src', `dtype ${dst.dtype}`, src.dtype);
      const s = dataOf(src);
      const d = dataOf(dst);
      forEachStrided(src.shape, [view.strides, contiguousStrides(src.shape)], [view.offset, 0], (_i, offs) => {
        d[offs[0]!] = s[offs[1]!]!;
      });
    },
    kvAppend(pastK, pastV, xk, xv) {
      const { B, H, P, T, D } = kvAppendDims(pastK, pastV, xk, xv);
      const S = P + T;
      const one = (past: RawTensor, x: RawTensor) => {
        const out = make([B, H, S, D], past.dtype);
        const p = dataOf(past);
        const xs = dataOf(x);
        const o = dataOf(out);
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < H; h++) {
            for (let s = 0; s < S; s++) {
              for (let d = 0; d < D; d++) {
                o[((b * H + h) * S + s) * D + d] = s < P ? p[((b * H + h) * P + s) * D + d]! : xs[((b * T + s - P) * H + h) * D + d]!;
              }
            }
          }
        }
        return out;
      };
      return { key: one(pastK, xk), value: one(pastV, xv) };
    },
  };
}
