import { OpArgumentError } from '../../errors.js';
import { contiguousStrides, type Backend } from '../types.js';
import { dataOf, forEachStrided, make } from './common.js';

export function cpuLayoutOps(): Pick<Backend, 'stridedCopy' | 'stridedWrite'> {
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
  };
}
