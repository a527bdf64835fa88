/**
 * LLM.int8 linear (bitsandbytes' MatMul8bitLt with threshold): y = x·dequant(W)ᵀ + b computed as an
 * int8 product of row-quantised activations and row-quantised weights, with the outlier input
 * columns (|x| ≥ threshold anywhere in the batch) multiplied in f32. The weight is frozen: the
 * backward gives dx = dy·dequant(W) only (shaders/matmul/matmul_int8*.wgsl).
 */
import { record } from '../autograd/tape.js';
import { ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { autocastFloat32 } from '../autograd/autocast.js';
import { kernelsFor } from '../backend/fused.js';
import type { Int8Weight } from '../backend/kernels.js';
import type { Backend } from '../backend/types.js';

export const INT8_DEFAULT_THRESHOLD = 6.0;

export interface QuantizedWeight extends Int8Weight {
  readonly backend: Backend;
  /** Output features O. */
  readonly outFeatures: number;
}

/** Row-wise int8 quantisation of a frozen weight [O, I] (the f32 weight may be disposed afterwards). */
export function quantizeWeight(w: Tensor): QuantizedWeight {
  if (w.rank !== 2) throw new ShapeError('quantizeWeight', 'w', 'rank 2 [out, in]', `[${w.shape}]`);
  const q = kernelsFor(w.backend).quantizeRowwise(w.raw('quantizeWeight'));
  return { ...q, backend: w.backend, outFeatures: w.shape[0]! };
}

export function disposeQuantized(w: QuantizedWeight): void {
  w.backend.dispose(w.cb);
  w.backend.dispose(w.scb);
}

/** dequant(W) [O, I] as a tensor (no gradient). */
export function dequantizeWeight(w: QuantizedWeight): Tensor {
  return new Tensor(kernelsFor(w.backend).dequantize(w), w.backend);
}

export interface MatmulInt8Options {
  /** Outlier threshold on |x| (default 6.0); 0 disables the decomposition. */
  threshold?: number;
  /** Use the unpack-and-multiply path even where dot4I8Packed exists (tests, benchmarks). */
  forceFallback?: boolean;
}

/** x [..., I] → [..., O] through the int8 weight; gradient flows to x (and to bias if it requires it). */
export function matmulInt8(x: Tensor, w: QuantizedWeight, bias: Tensor | null = null, opts: MatmulInt8Options = {}): Tensor {
  // The int8 kernels take and give f32: under autocast an f16 activation is upcast first.
  x = autocastFloat32(x);
  const be = x.backend;
  const I = w.inFeatures;
  if (x.shape[x.rank - 1] !== I) throw new ShapeError('matmulInt8', 'x', `[..., ${I}]`, `[${x.shape}]`);
  const lead = x.shape.slice(0, -1);
  const N = lead.reduce((a, b) => a * b, 1);
  const k = kernelsFor(be);
  const x2 = be.reshape(x.raw('matmulInt8'), [N, I]);
  const y2 = k.int8Linear(x2, w, bias ? bias.raw('matmulInt8') : null, { threshold: opts.threshold ?? INT8_DEFAULT_THRESHOLD, forceFallback: opts.forceFallback });
  be.dispose(x2);
  const y = new Tensor(be.reshape(y2, [...lead, w.outFeatures]), be);
  be.dispose(y2);
  const inputs = bias ? [x, bias] : [x];
  return record(y, 'matmulInt8', inputs, (g) => {
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      const g2 = be.reshape(g.raw('matmulInt8 backward'), [N, w.outFeatures]);
      const d = k.int8LinearBackward(g2, w);
      be.dispose(g2);
      dx = new Tensor(be.reshape(d, x.shape), be);
      be.dispose(d);
    }
    let db: Tensor | null = null;
    if (bias?.requiresGrad) {
      const g2 = be.reshape(g.raw('matmulInt8 backward'), [N, w.outFeatures]);
      db = new Tensor(be.reduce('sum', g2, [0], false), be);
      be.dispose(g2);
    }
    return bias ? [dx, db] : [dx];
  });
}
