/**
 * LoRA linear: y = x·Wᵀ + b + (α/r)·(dropout(x)·Aᵀ)·Bᵀ with a frozen f32 or LLM.int8 W.
 * Not yet a single fused kernel: it is composed from the int8 / f32 linear, dropout and two thin
 * matmuls (the rank-r product costs 2·N·r·(I+O) flops, small next to N·I·O), with the gradient to
 * x, A and B from the autograd engine (W frozen). The signature is the one a fused kernel will keep.
 */
import { Tensor } from '../tensor/tensor.js';
import { OpArgumentError, ShapeError } from '../errors.js';
import { matmul } from './matmul.js';
import { add, affine } from './elementwise.js';
import { dropout } from './nn/dropout.js';
import { matmulInt8, type QuantizedWeight } from './matmul_int8.js';

export interface LoraLinearOptions {
  alpha: number;
  /** LoRA dropout probability on x (default 0) and its seed. */
  dropout?: number;
  seed?: number;
  training?: boolean;
  /** Outlier threshold of the int8 base (default 6). */
  threshold?: number;
}

/** x [..., I]; w [O, I] f32 or a QuantizedWeight; a [r, I]; b [O, r]; bias [O] or null. */
export function loraLinear(x: Tensor, w: Tensor | QuantizedWeight, bias: Tensor | null, a: Tensor, b: Tensor, opts: LoraLinearOptions): Tensor {
  const r = a.shape[0]!;
  if (a.rank !== 2 || b.rank !== 2 || b.shape[1] !== r || a.shape[1] !== x.shape[x.rank - 1]) {
    throw new ShapeError('loraLinear', 'a/b', `a [r, ${x.shape[x.rank - 1]}], b [O, r]`, `a [${a.shape}], b [${b.shape}]`);
  }
  if (!(r > 0)) throw new OpArgumentError('loraLinear', 'rank', 'r > 0', String(r));
  const base = w instanceof Tensor
    ? (() => { const y = matmul(x, w, { transB: true }); return bias ? add(y, bias) : y; })()
    : matmulInt8(x, w, bias, { threshold: opts.threshold ?? 6 });
  const p = opts.training === false ? 0 : (opts.dropout ?? 0);
  const xd = p > 0 ? dropout(x, p, { seed: opts.seed ?? 0 }) : x;
  const low = matmul(matmul(xd, a, { transB: true }), b, { transB: true });
  return add(base, affine(low, opts.alpha / r, 0));
}
