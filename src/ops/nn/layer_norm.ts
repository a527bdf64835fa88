/** Layer normalisation over the last axis with optional elementwise affine weight and bias. */
import { record } from '../../autograd/tape.js';
import { Tensor } from '../../tensor/tensor.js';
import { autocastFloat32 } from '../../autograd/autocast.js';

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance, as
 * torch.nn.functional.layer_norm). weight and bias are [C] or null. The per-row mean and rstd are
 * kept for backward only while a graph is recorded, and released by it.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  x = autocastFloat32(x); // autocast: float32 list
  const be = x.backend;
  const r = be.layerNorm(x.raw('layerNorm'), weight ? weight.raw('layerNorm') : null, bias ? bias.raw('layerNorm') : null, eps);
  const out = new Tensor(r.y, be);
  const mean = new Tensor(r.mean, be);
  const rstd = new Tensor(r.rstd, be);
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  record(out, 'layerNorm', inputs, (g) => {
    const b = be.layerNormBackward(g.raw('layerNorm backward'), x.raw('layerNorm backward'), weight ? weight.raw('layerNorm backward') : null, mean.raw('layerNorm backward'), rstd.raw('layerNorm backward'));
    mean.dispose();
    rstd.dispose();
    const take = (t: Tensor | null, raw: typeof b.dx | null): Tensor | null => {
      if (!raw) return null;
      if (!t?.requiresGrad) {
        be.dispose(raw);
        return null;
      }
      return new Tensor(raw, be);
    };
    const grads = [take(x, b.dx)];
    const dw = take(weight, b.dweight);
    const db = take(bias, b.dbias);
    if (weight) grads.push(dw);
    if (bias) grads.push(db);
    return grads;
  });
  if (!out.node) {
    mean.dispose();
    rstd.dispose();
  }
  return out;
}
