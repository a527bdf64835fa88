/** Public op functions; importing this module also wires gradient accumulation into the tape. */
import { registerGradHelpers } from '../autograd/tape.js';
import { Tensor } from '../tensor/tensor.js';

export * from './creation.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './shape.js';
export * from './matmul.js';
export * from './nn/index.js';
export * from './optim.js';
export * from './sgd.js';
export * from './assign.js';

registerGradHelpers(
  (a, b) => new Tensor(a.backend.binary('add', a.raw('grad accumulate'), b.raw('grad accumulate')), a.backend),
  (t) => new Tensor(t.backend.full(t.shape, t.dtype, 1), t.backend),
);
