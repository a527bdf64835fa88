/**
 * Int8Linear: a frozen linear layer stored as LLM.int8 row-wise codes (CB u32-packed, SCB f32) with
 * an f32 bias, as bitsandbytes' Linear8bitLt(has_fp16_weights=False, threshold=6.0). The forward
 * uses the outlier decomposition of src/ops/matmul_int8.ts; only x receives a gradient.
 */
import { Tensor } from '../tensor/tensor.js';
import { getBackend } from '../backend/registry.js';
import type { Backend } from '../backend/types.js';
import { ShapeError } from '../errors.js';
import {
  dequantizeWeight, disposeQuantized, INT8_DEFAULT_THRESHOLD, matmulInt8, quantizeWeight, type QuantizedWeight,
} from '../ops/matmul_int8.js';

export interface Int8LinearOptions {
  threshold?: number;
  forceFallback?: boolean;
}

export class Int8Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  threshold: number;
  forceFallback: boolean;

  private constructor(readonly weight: QuantizedWeight, readonly bias: Tensor | null, opts: Int8LinearOptions) {
    this.inFeatures = weight.inFeatures;
    this.outFeatures = weight.outFeatures;
    this.threshold = opts.threshold ?? INT8_DEFAULT_THRESHOLD;
    this.forceFallback = !!opts.forceFallback;
  }

  /** Quantises weight [out, in] (not consumed: the caller may dispose it); bias [out] is kept frozen. */
  static fromLinear(weight: Tensor, bias: Tensor | null = null, opts: Int8LinearOptions = {}): Int8Linear {
    const q = quantizeWeight(weight);
    if (bias && bias.shape.join() !== String(weight.shape[0])) throw new ShapeError('Int8Linear', 'bias', `[${weight.shape[0]}]`, `[${bias.shape}]`);
    const b = bias ? bias.detach().keep() : null;
    return new Int8Linear(q, b, opts);
  }

  /** From host data: weight row-major [out, in], optional bias [out]. */
  static fromHost(weight: Float32Array, outFeatures: number, inFeatures: number, bias: Float32Array | null = null, opts: Int8LinearOptions & { backend?: Backend } = {}): Int8Linear {
    const be = opts.backend ?? getBackend();
    if (weight.length !== outFeatures * inFeatures) throw new ShapeError('Int8Linear.fromHost', 'weight', `${outFeatures * inFeatures} values`, String(weight.length));
    const w = new Tensor(be.upload(weight, [outFeatures, inFeatures], 'f32'), be);
    const b = bias ? new Tensor(be.upload(bias, [outFeatures], 'f32'), be).keep() : null;
    try {
      const q = quantizeWeight(w);
      return new Int8Linear(q, b, opts);
    } finally {
      w.dispose();
    }
  }

  forward(x: Tensor): Tensor {
    return matmulInt8(x, this.weight, this.bias, { threshold: this.threshold, forceFallback: this.forceFallback });
  }

  /** dequant(W) [out, in] (f32, no gradient). */
  dequantizedWeight(): Tensor {
    return dequantizeWeight(this.weight);
  }

  /** GPU bytes held: CB (1 byte per weight, rows padded to 4) + SCB + bias. */
  get bytes(): number {
    return this.outFeatures * Math.ceil(this.inFeatures / 4) * 4 + this.outFeatures * 4 + (this.bias ? this.outFeatures * 4 : 0);
  }

  dispose(): void {
    disposeQuantized(this.weight);
    this.bias?.dispose();
  }
}
