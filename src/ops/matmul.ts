/** Batched matmul with transposed operands; backward uses the transposed products (no copies). */
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor/tensor.js';
import { sumToShape } from './reduce.js';

export interface MatmulOpts {
  transA?: boolean;
  transB?: boolean;
}

function mm(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  return new Tensor(a.backend.matmul(a.raw('matmul'), b.raw('matmul'), { transA, transB }), a.backend);
}

/** [..., M, K] @ [..., K, N] (either operand transposed); batch dims broadcast. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOpts = {}): Tensor {
  const ta = !!opts.transA;
  const tb = !!opts.transB;
  const out = mm(a, b, ta, tb);
  return record(out, 'matmul', [a, b], (g) => {
    // C = op(A) op(B): dop(A) = G op(B)ᵀ, dop(B) = op(A)ᵀ G; un-transpose for the stored layout.
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      const raw = ta ? mm(b, g, tb, true) : mm(g, b, false, !tb);
      da = sumToShape(raw, a.shape);
      if (da !== raw) raw.dispose();
    }
    if (b.requiresGrad) {
      const raw = tb ? mm(g, a, true, ta) : mm(a, g, !ta, false);
      db = sumToShape(raw, b.shape);
      if (db !== raw) raw.dispose();
    }
    return [da, db];
  });
}
