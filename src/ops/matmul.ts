/**
 * Batched matmul with transposed operands; backward uses the transposed products (no copies).
 * A Linear's bias (and a GELU after it) can join the product's epilogue: one launch instead of
 * two or three, with the same f32 arithmetic as the separate ops.
 */
import { isGradEnabled, record } from '../autograd/tape.js';
import { Tensor } from '../tensor/tensor.js';
import { sumToShape } from './reduce.js';
import { add, gelu, sameBackend } from './elementwise.js';
import { autocastLower, isAutocastEnabled } from '../autograd/autocast.js';

export interface MatmulOpts {
  transA?: boolean;
  transB?: boolean;
  /**
   * [N], added to every row of the product in its epilogue (under autocast lowered to f16 like
   * the operands, as torch's F.linear); its gradient is the sum of g over the other axes.
   */
  bias?: Tensor | null;
  /**
   * Applied after the bias in the epilogue. Where a gradient will be needed it runs as the gelu
   * op instead (its backward needs the pre-activation, which the fused kernel does not keep), and
   * so it does for f16 products (unfused, the pre-activation is rounded to f16 first): the result
   * is then the same with and without gradients (e.g. a checkpointed layer's recompute).
   */
  activation?: 'gelu';
}

/** op(a)·op(b) [+ bias] [→ act]; `castA`/`castB` convert that operand to f16 for this product only. */
function mm(a: Tensor, b: Tensor, transA: boolean, transB: boolean, castA = false, castB = false, bias: Tensor | null = null, activation?: 'gelu'): Tensor {
  const be = a.backend;
  const ra = castA ? be.cast(a.raw('matmul'), 'f16') : a.raw('matmul');
  const rb = castB ? be.cast(b.raw('matmul'), 'f16') : b.raw('matmul');
  try {
    const epi = bias ? { bias: bias.raw('matmul bias') } : {};
    return new Tensor(be.matmul(ra, rb, { transA, transB, ...epi, ...(activation ? { activation } : {}) }), be);
  } finally {
    if (castA) be.dispose(ra);
    if (castB) be.dispose(rb);
  }
}

/**
 * autocast('f16') puts matmul on the lower-precision list: float operands are used as f16 and the
 * product is f16. An operand that receives a gradient goes through an autograd cast (cached per
 * scope for parameters), so its gradient comes back f32 for f32 master weights. An f32 operand that
 * needs none (a frozen base weight) is cast for each product instead — in the forward and again in
 * the backward — so no f16 copy of it stays alive between forward and backward: frozen weights
 * cost no extra memory under autocast (a cast pass is cheap next to the product).
 */
function lowered(t: Tensor): { t: Tensor; transient: boolean } {
  if (!isAutocastEnabled() || t.dtype !== 'f32') return { t: autocastLower(t), transient: false };
  if (t.requiresGrad && isGradEnabled()) return { t: autocastLower(t), transient: false };
  return { t, transient: true };
}

/** [..., M, K] @ [..., K, N] (either operand transposed); batch dims broadcast. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOpts = {}): Tensor {
  sameBackend('matmul', a, b);
  if (opts.bias) sameBackend('matmul', a, opts.bias, 'bias');
  if (opts.activation === 'gelu' && isGradEnabled() && (a.requiresGrad || b.requiresGrad || !!opts.bias?.requiresGrad)) {
    return gelu(matmul(a, b, { ...opts, activation: undefined }));
  }
  const la = lowered(a);
  const lb = lowered(b);
  a = la.t;
  b = lb.t;
  const [ca, cb] = [la.transient, lb.transient];
  const ta = !!opts.transA;
  const tb = !!opts.transB;
  const bias = opts.bias ? autocastLower(opts.bias) : null;
  // The epilogue reads the bias in the product's dtype; otherwise the add op (with its promotion).
  const productDtype = ca ? 'f16' : a.dtype;
  if (bias && (bias.dtype !== productDtype || bias.rank !== 1)) {
    const y = matmul(a, b, { transA: ta, transB: tb });
    const z = add(y, bias);
    return opts.activation === 'gelu' ? gelu(z) : z;
  }
  if (opts.activation === 'gelu' && productDtype !== 'f32') return gelu(matmul(a, b, { transA: ta, transB: tb, bias }));
  const out = mm(a, b, ta, tb, ca, cb, bias, opts.activation);
  if (!bias) return record(out, 'matmul', [a, b], (g) => backward(g));
  const bs = bias.shape;
  return record(out, 'matmul', [a, b, bias], (g) => [...backward(g), bias.requiresGrad ? sumToShape(g, bs) : null]);

  function backward(g: Tensor): [Tensor | null, Tensor | null] {
    // C = op(A) op(B): dop(A) = G op(B)ᵀ, dop(B) = op(A)ᵀ G; un-transpose for the stored layout.
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      const raw = ta ? mm(b, g, tb, true, cb) : mm(g, b, false, !tb, false, cb);
      da = sumToShape(raw, a.shape);
      if (da !== raw) raw.dispose();
    }
    if (b.requiresGrad) {
      const raw = tb ? mm(g, a, true, ta, false, ca) : mm(a, g, !ta, false, ca);
      db = sumToShape(raw, b.shape);
      if (db !== raw) raw.dispose();
    }
    return [da, db];
  }
}
