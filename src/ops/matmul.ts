/** Batched matmul with transposed operands; backward uses the transposed products (no copies). */
import { isGradEnabled, record } from '../autograd/tape.js';
import { Tensor } from '../tensor/tensor.js';
import { sumToShape } from './reduce.js';
import { autocastLower, isAutocastEnabled } from '../autograd/autocast.js';

export interface MatmulOpts {
  transA?: boolean;
  transB?: boolean;
}

/** op(a)·op(b); `castA`/`castB` convert that operand to f16 for this product only. */
function mm(a: Tensor, b: Tensor, transA: boolean, transB: boolean, castA = false, castB = false): Tensor {
  const be = a.backend;
  const ra = castA ? be.cast(a.raw('matmul'), 'f16') : a.raw('matmul');
  const rb = castB ? be.cast(b.raw('matmul'), 'f16') : b.raw('matmul');
  try {
    return new Tensor(be.matmul(ra, rb, { transA, transB }), be);
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
  const la = lowered(a);
  const lb = lowered(b);
  a = la.t;
  b = lb.t;
  const [ca, cb] = [la.transient, lb.transient];
  const ta = !!opts.transA;
  const tb = !!opts.transB;
  const out = mm(a, b, ta, tb, ca, cb);
  return record(out, 'matmul', [a, b], (g) => {
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
  });
}
