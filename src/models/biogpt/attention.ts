/**
 * BioGPT self-attention (transformers' BioGptAttention): q/k/v/out projections with biases, q
 * scaled by head_dim^-0.5, additive mask, softmax, attention-probability dropout, optional cache.
 * Projections are LinearModule fields so LoRA/int8 wrappers can be swapped in by path.
 */
import { Tensor } from '../../tensor/tensor.js';
import { add, mul } from '../../ops/elementwise.js';
import { matmul } from '../../ops/matmul.js';
import { concat, permute, reshape } from '../../ops/shape.js';
import { softmax } from '../../ops/nn/softmax.js';
import { Module } from '../../nn/module.js';
import { Linear, type LinearModule } from '../../nn/linear.js';
import { Dropout } from '../../nn/dropout.js';
import type { LayerKv } from './kv_cache.js';

export interface AttentionOptions {
  embedDim: number;
  numHeads: number;
  /** Attention-probability dropout (config.attention_probs_dropout_prob). */
  dropout: number;
  /** Std of the N(0, std²) weight init (config.initializer_range). */
  initStd: number;
}

export class BioGptAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly scaling: number;
  // Registration order matches transformers (k, v, q, out) so parameter listings line up.
  k_proj: LinearModule;
  v_proj: LinearModule;
  q_proj: LinearModule;
  out_proj: LinearModule;
  readonly attn_dropout: Dropout;

  constructor(o: AttentionOptions) {
    super();
    this.embedDim = o.embedDim;
    this.numHeads = o.numHeads;
    this.headDim = o.embedDim / o.numHeads;
    this.scaling = this.headDim ** -0.5;
    const lin = () => new Linear(o.embedDim, o.embedDim, { init: { std: o.initStd } });
    this.k_proj = this.addModule('k_proj', lin());
    this.v_proj = this.addModule('v_proj', lin());
    this.q_proj = this.addModule('q_proj', lin());
    this.out_proj = this.addModule('out_proj', lin());
    this.attn_dropout = this.addModule('attn_dropout', new Dropout(o.dropout));
  }

  /** [B, T, C] → [B, H, T, D] */
  private heads(x: Tensor, B: number, T: number): Tensor {
    return permute(reshape(x, [B, T, this.numHeads, this.headDim]), [0, 2, 1, 3]);
  }

  /**
   * x [B, T, C]; bias [B, 1, T, S] additive (S = past + T) or null; past keys/values [B, H, P, D].
   * Returns the output [B, T, C] and the keys/values of all S positions (for the cache).
   */
  forward(x: Tensor, bias: Tensor | null, past?: LayerKv | null): { out: Tensor; present: LayerKv } {
    const [B, T] = x.shape as [number, number, number];
    const q = this.heads(mul(this.q_proj.forward(x), this.scaling), B, T); // [B, H, T, D]
    let k = this.heads(this.k_proj.forward(x), B, T); // [B, H, T, D]
    let v = this.heads(this.v_proj.forward(x), B, T);
    if (past) {
      k = concat([past.key, k], 2); // [B, H, S, D]
      v = concat([past.value, v], 2);
    }
    let scores = matmul(q, k, { transB: true }); // [B, H, T, S]
    if (bias) scores = add(scores, bias);
    const probs = this.attn_dropout.forward(softmax(scores));
    const ctx = matmul(probs, v); // [B, H, T, D]
    const merged = reshape(permute(ctx, [0, 2, 1, 3]), [B, T, this.embedDim]); // [B, T, C]
    return { out: this.out_proj.forward(merged), present: { key: k, value: v } };
  }
}
