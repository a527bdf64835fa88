/**
 * Three linears of one input (a decode step's q, k and v projections) in one launch where the
 * backend can (kernelsFor(...).linear3): x [..., K] · W_iᵀ + b_i → three [..., N], with the bits of
 * three linear() calls. Inference only: where a gradient would be recorded, or under autocast (whose
 * f16 products the kernel does not run), it is those three calls.
 */
import { isGradEnabled } from '../autograd/tape.js';
import { isAutocastEnabled } from '../autograd/autocast.js';
import { kernelsFor } from '../backend/fused.js';
import { ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { linear } from '../nn/linear.js';
import { reshape } from './shape.js';

type Three = readonly [Tensor, Tensor, Tensor];

export function linear3(x: Tensor, weights: Three, biases: Three): [Tensor, Tensor, Tensor] {
  const all = [x, ...weights, ...biases];
  if ((isGradEnabled() && all.some((t) => t.requiresGrad)) || isAutocastEnabled()) {
    return [0, 1, 2].map((i) => linear(x, weights[i]!, biases[i]!)) as [Tensor, Tensor, Tensor];
  }
  const K = weights[0].shape[1]!;
  if (x.rank < 1 || x.shape[x.rank - 1] !== K) throw new ShapeError('linear3', 'x', `last dimension ${K} (weights[0] [${weights[0].shape}])`, `[${x.shape}]`);
  const lead = x.shape.slice(0, -1);
  const x2 = x.rank === 2 ? x : reshape(x, [-1, K]); // [M, K]
  const be = x.backend;
  const ys = kernelsFor(be).linear3(x2.raw('linear3'), weights.map((w) => w.raw('linear3')) as never, biases.map((b) => b.raw('linear3')) as never);
  return ys.map((y) => {
    const t = new Tensor(y, be);
    return x.rank === 2 ? t : reshape(t, [...lead, y.shape[1]!]);
  }) as [Tensor, Tensor, Tensor];
}
