import { ShapeError } from '../../errors.js';
import { broadcastShapes, broadcastStrides, numel, type Backend } from '../types.js';
import { dataOf, gelu, make } from './common.js';

export function cpuMatmulOps(): Pick<Backend, 'matmul'> {
  return {
    matmul(a, b, opts = {}) {
      const ta = !!opts.transA;
      const tb = !!opts.transB;
      if (a.shape.length < 2 || b.shape.length < 2) throw new ShapeError('matmul', 'a/b', 'rank >= 2', `[${a.shape}] and [${b.shape}]`);
      const [ar, ac] = a.shape.slice(-2) as [number, number];
      const [br, bc] = b.shape.slice(-2) as [number, number];
      const M = ta ? ac : ar;
      const K = ta ? ar : ac;
      const Kb = tb ? bc : br;
      const N = tb ? br : bc;
      if (K !== Kb) throw new ShapeError('matmul', 'b', `inner dimension ${K}`, `${Kb}`);
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      if (!batch) throw new ShapeError('matmul', 'b', `batch dims broadcastable with [${a.shape.slice(0, -2)}]`, `[${b.shape.slice(0, -2)}]`);
      const bias = opts.bias ? dataOf(opts.bias) : null;
      if (opts.bias && (opts.bias.shape.length !== 1 || opts.bias.shape[0] !== N)) throw new ShapeError('matmul', 'bias', `[${N}]`, `[${opts.bias.shape}]`);
      const act = opts.activation === 'gelu' ? gelu : null;
      const out = make([...batch, M, N], a.dtype);
      const A = dataOf(a);
      const B = dataOf(b);
      const C = dataOf(out);
      const nb = numel(batch);
      const sa = broadcastStrides(a.shape.slice(0, -2), batch);
      const sb = broadcastStrides(b.shape.slice(0, -2), batch);
      const bidx = new Array<number>(batch.length).fill(0);
      for (let t = 0; t < nb; t++) {
        let oa = 0;
        let ob = 0;
        for (let k = 0; k < batch.length; k++) {
          oa += bidx[k]! * sa[k]!;
          ob += bidx[k]! * sb[k]!;
        }
        oa *= ar * ac;
        ob *= br * bc;
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) {
              const av = ta ? A[oa + k * M + i]! : A[oa + i * K + k]!;
              const bv = tb ? B[ob + j * K + k]! : B[ob + k * N + j]!;
              s += av * bv;
            }
            if (bias) s += bias[j]!;
            C[t * M * N + i * N + j] = act ? act(s) : s;
          }
        }
        for (let k = batch.length - 1; k >= 0; k--) {
          if (++bidx[k]! < batch[k]!) break;
          bidx[k] = 0;
        }
      }
      return out;
    },
  };
}
