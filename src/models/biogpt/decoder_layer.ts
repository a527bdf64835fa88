/**
 * One pre-LN BioGPT decoder layer (transformers' BioGptDecoderLayer):
 *   h = h + dropout(self_attn(self_attn_layer_norm(h)))
 *   h = h + dropout(fc2(activation_dropout(gelu(fc1(final_layer_norm(h))))))
 */
import { Tensor } from '../../tensor/tensor.js';
import { add, gelu } from '../../ops/elementwise.js';
import { Module } from '../../nn/module.js';
import { Linear, type LinearModule } from '../../nn/linear.js';
import { LayerNorm } from '../../nn/layer_norm.js';
import { Dropout } from '../../nn/dropout.js';
import { BIOGPT_LAYER_NORM_EPS, type BioGptConfig } from '../../io/biogpt_config.js';
import { BioGptAttention } from './attention.js';
import { attnImplementationOf } from './config.js';
import type { LayerKv } from './kv_cache.js';

export class BioGptDecoderLayer extends Module {
  readonly self_attn: BioGptAttention;
  readonly self_attn_layer_norm: LayerNorm;
  fc1: LinearModule;
  fc2: LinearModule;
  readonly final_layer_norm: LayerNorm;
  /** hidden_dropout_prob, applied after the attention output and after fc2 (two calls, two masks). */
  readonly dropout: Dropout;
  readonly activation_dropout: Dropout;

  constructor(cfg: BioGptConfig) {
    super();
    const C = cfg.hiddenSize;
    const std = cfg.initializerRange;
    this.self_attn = this.addModule('self_attn', new BioGptAttention({ embedDim: C, numHeads: cfg.numAttentionHeads, dropout: cfg.attentionProbsDropoutProb, initStd: std, attnImplementation: attnImplementationOf(cfg) }));
    // Every BioGPT LayerNorm uses torch's default eps, whatever config.layer_norm_eps says.
    this.self_attn_layer_norm = this.addModule('self_attn_layer_norm', new LayerNorm(C, { eps: BIOGPT_LAYER_NORM_EPS }));
    this.fc1 = this.addModule('fc1', new Linear(C, cfg.intermediateSize, { init: { std } }));
    this.fc2 = this.addModule('fc2', new Linear(cfg.intermediateSize, C, { init: { std } }));
    this.final_layer_norm = this.addModule('final_layer_norm', new LayerNorm(C, { eps: BIOGPT_LAYER_NORM_EPS }));
    this.dropout = this.addModule('dropout', new Dropout(cfg.hiddenDropoutProb));
    this.activation_dropout = this.addModule('activation_dropout', new Dropout(cfg.activationDropout));
  }

  /** h [B, T, C], bias [B, 1, T, S] or null, past [B, H, P, D] → h [B, T, C] and this layer's cache. */
  forward(h: Tensor, bias: Tensor | null, past?: LayerKv | null): { hidden: Tensor; present: LayerKv } {
    const attn = this.self_attn.forward(this.self_attn_layer_norm.forward(h), bias, past);
    h = add(h, this.dropout.forward(attn.out)); // [B, T, C]
    const hn = this.final_layer_norm.forward(h);
    // A plain Linear takes the GELU into its product's epilogue (when no gradient is needed).
    let x = this.fc1 instanceof Linear ? this.fc1.forward(hn, 'gelu') : gelu(this.fc1.forward(hn)); // [B, T, F]
    x = this.activation_dropout.forward(x);
    x = this.dropout.forward(this.fc2.forward(x)); // [B, T, C]
    return { hidden: add(h, x), present: attn.present };
  }
}
