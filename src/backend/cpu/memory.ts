import { OpArgumentError } from '../../errors.js';
import { checkShape } from '../shape_checks.js';
import { numel, type Backend } from '../types.js';
import { dataOf, make, type CpuRaw } from './common.js';

export function cpuMemoryOps(): Pick<Backend, 'upload' | 'full' | 'empty' | 'read' | 'dispose' | 'reshape' | 'bytesInUse' | 'sync'> {
  return {
    upload(data, shape, dtype) {
      const n = checkShape('upload', 'shape', shape);
      if (data.length !== n) throw new OpArgumentError('upload', 'data', `${n} values for shape [${shape}]`, `${data.length}`);
      const t = make(shape, dtype);
      const d = dataOf(t);
      for (let i = 0; i < n; i++) d[i] = data[i]!;
      return t;
    },
    full(shape, dtype, value) {
      checkShape('full', 'shape', shape);
      const t = make(shape, dtype);
      dataOf(t).fill(value);
      return t;
    },
    empty(shape, dtype) {
      checkShape('empty', 'shape', shape);
      // opts.capacity (a GPU pool hint) does not apply. Filled with NaN so that a caller relying on contents it did not write shows in tests.
      const t = make(shape, dtype);
      dataOf(t).fill(dtype === 'f32' || dtype === 'f16' ? NaN : 0);
      return t;
    },
    async read(x) {
      return dataOf(x).slice();
    },
    dispose() {},
    reshape(x, shape) {
      checkShape('reshape', 'shape', shape);
      if (numel(shape) !== numel(x.shape)) throw new OpArgumentError('reshape', 'shape', `${numel(x.shape)} elements`, `[${shape}]`);
      // The same storage object, as the WebGPU backend's views: aliases share one version counter (Tensor.version).
      return { shape: [...shape], dtype: x.dtype, storage: (x as CpuRaw).storage };
    },
    bytesInUse() {
      return 0;
    },
    async sync() {},
  };
}
