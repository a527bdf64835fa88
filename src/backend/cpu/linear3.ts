/** linear3 reference: three float64 linears through the CPU backend's matmul (its bias epilogue). */
import { linear3Dims, type Linear3Backend } from '../kernels.js';
import type { Backend, RawTensor } from '../types.js';

export function cpuLinear3Ops(be: Backend): Linear3Backend {
  return {
    linear3(x, weights, biases) {
      linear3Dims(x, weights, biases);
      const y = (i: number): RawTensor => be.matmul(x, weights[i]!, { transB: true, bias: biases[i]! });
      return [y(0), y(1), y(2)];
    },
  };
}
