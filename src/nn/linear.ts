/**
 * Linear: y = x @ Wᵀ + b with W stored [out, in] as torch (so checkpoints load without transposes).
 * The product uses matmul's transB flag on x flattened to 2-D, so neither the forward nor the
 * weight gradient (gᵀ x, one [out, N] @ [N, in] product) materialises a transposed copy.
 */
import { ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { matmul } from '../ops/matmul.js';
import { reshape } from '../ops/shape.js';
import { release } from '../autograd/release.js';
import { kaimingUniform, normal, uniform, zeros } from './init.js';
import { Module, nextInitSeed } from './module.js';

/**
 * What a layer holding a projection needs from it. Attention and MLP blocks type their projection
 * fields as LinearModule so a LoRA or int8 wrapper can replace a Linear by path (setSubmodule).
 */
export interface LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** [..., in] → [..., out] */
  forward(x: Tensor): Tensor;
}

export type LinearModule = Module & LinearLike;

export interface LinearOptions {
  /** Learnable bias (default true). */
  bias?: boolean;
  /**
   * 'torch' (default): nn.Linear's kaiming_uniform(a=√5) weight and U(±1/√in) bias;
   * {std}: N(0, std²) weight and zero bias (transformers' _init_weights).
   */
  init?: 'torch' | { std: number };
}

export class Linear extends Module implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly hasBias: boolean;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.hasBias = opts.bias ?? true;
    const init = opts.init ?? 'torch';
    this.addParameter('weight', [outFeatures, inFeatures], () =>
      init === 'torch' ? kaimingUniform([outFeatures, inFeatures], Math.sqrt(5), nextInitSeed()) : normal([outFeatures, inFeatures], init.std, nextInitSeed()),
    );
    if (this.hasBias) {
      const b = 1 / Math.sqrt(inFeatures);
      this.addParameter('bias', [outFeatures], () => (init === 'torch' ? uniform([outFeatures], -b, b, nextInitSeed()) : zeros([outFeatures])));
    }
  }

  /** [out, in] */
  get weight(): Tensor {
    return this.param('weight');
  }

  /** [out] or null */
  get bias(): Tensor | null {
    return this.hasBias ? this.param('bias') : null;
  }

  /** `activation` 'gelu': gelu(linear(x)), fused into the product where no gradient is needed. */
  forward(x: Tensor, activation?: 'gelu'): Tensor {
    return linear(x, this.weight, this.bias, activation);
  }

  override toString(): string {
    return `Linear(in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.hasBias})`;
  }
}

/**
 * x [..., in] @ weight[out, in]ᵀ (+ bias [out]) (→ gelu) → [..., out]. The bias (and the GELU when
 * no gradient is needed) run in the product's epilogue: one launch (see ops/matmul).
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null, activation?: 'gelu'): Tensor {
  const [out, inF] = weight.shape as [number, number];
  const C = x.shape[x.rank - 1];
  if (weight.rank !== 2 || C !== inF) throw new ShapeError('linear', 'x', `last dimension ${inF} (weight [${weight.shape}])`, `[${x.shape}]`);
  const lead = x.shape.slice(0, -1);
  // One 2-D product: [N, in] @ [out, in]ᵀ, so the weight gradient is a single gᵀx matmul.
  const x2 = x.rank === 2 ? x : reshape(x, [-1, inF]); // [N, in]
  // Under autocast linear is one lower-precision op (as torch's F.linear): the bias joins in f16.
  const y = matmul(x2, weight, { transB: true, bias, ...(activation ? { activation } : {}) }); // [N, out]
  if (x.rank === 2) return y;
  const o = reshape(y, [...lead, out]); // [..., out]
  // The 2-D views are this function's own: with a graph, drop their references to the storage so
  // that x's and o's owners alone decide when it goes (x2 stays while the product's backward reads it).
  release(x2, y);
  return o;
}
