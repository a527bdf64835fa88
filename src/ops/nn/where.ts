/** where(cond, a, b) and maskedFill, with gradients masked and summed back to each input's shape. */
import { record } from '../../autograd/tape.js';
import { OpArgumentError } from '../../errors.js';
import { Tensor, type TensorLike } from '../../tensor/tensor.js';
import { sumToShape } from '../reduce.js';

function asTensor(like: Tensor, v: TensorLike): Tensor {
  return typeof v === 'number' ? new Tensor(like.backend.full([], like.dtype, v), like.backend) : v;
}

/**
 * cond ? a : b elementwise with numpy broadcasting of all three (cond nonzero = true; any dtype).
 * a or b may be a number (a constant of the other's dtype). The gradient of a is g where cond
 * holds (0 elsewhere) summed to a's shape; b's is the complement. cond gets no gradient.
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new OpArgumentError('where', 'a/b', 'at least one tensor', 'two numbers');
  const at = typeof a === 'number' ? asTensor(b as Tensor, a) : a;
  const bt = asTensor(at, b);
  const be = at.backend;
  if (cond.backend !== be || bt.backend !== be) throw new OpArgumentError('where', 'cond/a/b', `tensors on backend '${be.name}'`, `backends '${cond.backend.name}', '${at.backend.name}', '${bt.backend.name}'`);
  const out = new Tensor(be.where(cond.raw('where'), at.raw('where'), bt.raw('where')), be);
  record(out, 'where', [at, bt], (g) => {
    const zero = be.full([], g.dtype, 0);
    const ga = at.requiresGrad ? new Tensor(be.where(cond.raw('where backward'), g.raw(), zero), be) : null;
    const gb = bt.requiresGrad ? new Tensor(be.where(cond.raw('where backward'), zero, g.raw()), be) : null;
    be.dispose(zero);
    const reduce = (t: Tensor | null, shape: readonly number[]) => {
      if (!t) return null;
      const r = sumToShape(t, shape);
      if (r !== t) t.dispose();
      return r;
    };
    return [reduce(ga, at.shape), reduce(gb, bt.shape)];
  });
  // Constants made from numbers are not needed by backward (only their shapes are).
  if (at !== a) at.dispose();
  if (bt !== b) bt.dispose();
  return out;
}

/** x with `value` where mask is nonzero (torch.masked_fill); the gradient of x is zero there. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}
