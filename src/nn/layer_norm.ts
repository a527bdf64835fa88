/** LayerNorm over the last axis with elementwise affine weight [C] and bias [C] (torch.nn.LayerNorm). */
import { Tensor } from '../tensor/tensor.js';
import { layerNorm } from '../ops/nn/layer_norm.js';
import { full } from '../ops/creation.js';
import { Module } from './module.js';

export interface LayerNormOptions {
  /** Default 1e-5 (torch's default, which BioGPT uses whatever its config says). */
  eps?: number;
  /** Learnable weight and bias (default true). */
  elementwiseAffine?: boolean;
}

export class LayerNorm extends Module {
  readonly normalizedShape: number;
  readonly eps: number;
  readonly affine: boolean;

  constructor(normalizedShape: number, opts: LayerNormOptions = {}) {
    super();
    this.normalizedShape = normalizedShape;
    this.eps = opts.eps ?? 1e-5;
    this.affine = opts.elementwiseAffine ?? true;
    if (this.affine) {
      this.addParameter('weight', [normalizedShape], () => full([normalizedShape], 1));
      this.addParameter('bias', [normalizedShape], () => full([normalizedShape], 0));
    }
  }

  get weight(): Tensor | null {
    return this.affine ? this.param('weight') : null;
  }

  get bias(): Tensor | null {
    return this.affine ? this.param('bias') : null;
  }

  /** [..., C] → [..., C] */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
