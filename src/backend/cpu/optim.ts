/** CPU reference of the optimizer primitives, in float64. */
import { numel, type Backend } from '../types.js';
import { adamwScalars, checkAdamW, checkFloat } from '../nn_checks.js';
import { dataOf, make } from './common.js';

export function cpuOptimOps(): Pick<Backend, 'sumSquares' | 'adamw'> {
  return {
    sumSquares(xs) {
      let s = 0;
      for (const [i, x] of xs.entries()) {
        checkFloat('sumSquares', `xs[${i}]`, x);
        const d = dataOf(x);
        for (let j = 0; j < d.length; j++) s += d[j]! * d[j]!;
      }
      const out = make([1], 'f32');
      dataOf(out)[0] = s;
      return out;
    },
    adamw(param, grad, m, v, h) {
      checkAdamW(param, grad, m, v, h);
      const { decay, stepSize, bc2Sqrt } = adamwScalars(h);
      const p = dataOf(param);
      const g = dataOf(grad);
      const md = dataOf(m);
      const vd = dataOf(v);
      const n = numel(param.shape);
      const b1c = 1 - h.beta1;
      const b2c = 1 - h.beta2;
      // Same order as torch's _single_tensor_adam (decoupled decay first, then the moments).
      for (let i = 0; i < n; i++) {
        const gi = g[i]! * h.gradScale;
        const pi = p[i]! * decay;
        const mi = md[i]! + b1c * (gi - md[i]!);
        const vi = vd[i]! * h.beta2 + b2c * gi * gi;
        md[i] = mi;
        vd[i] = vi;
        p[i] = pi - stepSize * (mi / (Math.sqrt(vi) / bc2Sqrt + h.eps));
      }
    },
  };
}
