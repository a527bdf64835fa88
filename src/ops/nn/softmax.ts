/** softmax and logSoftmax over the last axis, with their backward through the backend primitives. */
import { record } from '../../autograd/tape.js';
import { Tensor } from '../../tensor/tensor.js';
import { autocastFloat32 } from '../../autograd/autocast.js';

/** softmax over the last axis (max-subtracted, so any finite logits are safe). */
export function softmax(x: Tensor): Tensor {
  x = autocastFloat32(x); // autocast: float32 list
  const be = x.backend;
  const out = new Tensor(be.softmax(x.raw('softmax')), be);
  // dx = y * (dy - Σ dy·y): needs only the output.
  return record(out, 'softmax', [x], (g) => [new Tensor(be.softmaxBackward(out.raw('softmax backward'), g.raw('softmax backward')), be)]);
}

/** log(softmax(x)) over the last axis, computed as x - logsumexp(x). */
export function logSoftmax(x: Tensor): Tensor {
  x = autocastFloat32(x); // autocast: float32 list
  const be = x.backend;
  const out = new Tensor(be.logSoftmax(x.raw('logSoftmax')), be);
  // dx = dy - softmax(x) · Σ dy, with softmax(x) = exp(out).
  return record(out, 'logSoftmax', [x], (g) => [new Tensor(be.logSoftmaxBackward(out.raw('logSoftmax backward'), g.raw('logSoftmax backward')), be)]);
}
