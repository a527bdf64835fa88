/** Layer normalisation over the last axis with optional elementwise affine weight and bias. */
import { record } from '../../autograd/tape.js';
import { Tensor } from '../../tensor/tensor.js';
import { autocastFloat32 } from '../../autograd/autocast.js';
import { add } from '../elementwise.js';
import type { RawTensor } from '../../backend/types.js';

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis (biased variance, as
 * torch.nn.functional.layer_norm). weight and bias are [C] or null. The per-row mean and rstd are
 * kept for backward only while a graph is recorded, and released by it.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  x = autocastFloat32(x); // autocast: float32 list
  const be = x.backend;
  const r = be.layerNorm(x.raw('layerNorm'), weight ? weight.raw('layerNorm') : null, bias ? bias.raw('layerNorm') : null, eps);
  return recordLayerNorm(new Tensor(r.y, be), x, weight, bias, r.mean, r.rstd);
}

/**
 * The residual add of a pre-LN block fused with the norm after it: sum = x + r, y = layerNorm(sum),
 * one kernel instead of two, bit-identical to add() then layerNorm(). The graph recorded is that of
 * the two ops (an add node for sum, a layerNorm node on sum), so training differentiates it as
 * before. Operands the kernel does not take (other shapes, f16) go through the two ops.
 */
export function addLayerNorm(x: Tensor, r: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): { sum: Tensor; y: Tensor } {
  const fusable = x.backend === r.backend && x.dtype === 'f32' && r.dtype === 'f32' && x.rank >= 1 && x.shape.join() === r.shape.join();
  if (!fusable) {
    const sum = add(x, r);
    return { sum, y: layerNorm(sum, weight, bias, eps) };
  }
  const be = x.backend;
  const o = be.addLayerNorm(x.raw('addLayerNorm'), r.raw('addLayerNorm'), weight ? weight.raw('addLayerNorm') : null, bias ? bias.raw('addLayerNorm') : null, eps);
  const sum = record(new Tensor(o.s, be), 'add', [x, r], (g) => [g, g]);
  return { sum, y: recordLayerNorm(new Tensor(o.y, be), sum, weight, bias, o.mean, o.rstd) };
}

/** Records layerNorm's node on out (input x), or frees mean/rstd when no graph is recorded. */
function recordLayerNorm(out: Tensor, x: Tensor, weight: Tensor | null, bias: Tensor | null, meanRaw: RawTensor, rstdRaw: RawTensor): Tensor {
  const be = x.backend;
  const mean = new Tensor(meanRaw, be);
  const rstd = new Tensor(rstdRaw, be);
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
