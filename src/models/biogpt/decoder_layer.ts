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
import { addLayerNorm } from '../../ops/nn/layer_norm.js';
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

  /**
   * h [B, T, C], bias [B, 1, T, S] or null, past [B, H, P, D] → h [B, T, C] and this layer's cache.
   * keyMask: keyPaddingMask(bias) shared by all layers (optional, see BioGptAttention.forward).
   */
  forward(h: Tensor, bias: Tensor | null, past?: LayerKv | null, keyMask?: Tensor | null): { hidden: Tensor; present: LayerKv } {
    const r = this.forwardResidual(h, null, bias, past, keyMask);
    return { hidden: add(r.hidden, r.residual), present: r.present };
  }

  /**
   * The layer on the input h + r (r null: h alone), returning its output unsummed as well
   * (output = hidden + residual), so each residual add runs inside the layer norm that follows it
   * (addLayerNorm: one kernel, bit-identical to add then layerNorm). hidden is the sum h + r + attn.
   */
  forwardResidual(h: Tensor, r: Tensor | null, bias: Tensor | null, past?: LayerKv | null, keyMask?: Tensor | null): { hidden: Tensor; residual: Tensor; present: LayerKv } {
    const ln1 = this.self_attn_layer_norm;
    let hn: Tensor;
    let own: Tensor | null = null; // h + r, made here: a temporary once the attention sum exists
    if (r) {
      const a = addLayerNorm(h, r, ln1.weight, ln1.bias, ln1.eps);
      own = a.sum;
      hn = a.y;
    } else {
      hn = ln1.forward(h);
    }
    const attn = this.self_attn.forward(hn, bias, past, keyMask);
    const ln2 = this.final_layer_norm;
    const b = addLayerNorm(own ?? h, this.dropout.forward(attn.out), ln2.weight, ln2.bias, ln2.eps); // [B, T, C]
    // A plain Linear takes the GELU into its product's epilogue (when no gradient is needed).
    let x = this.fc1 instanceof Linear ? this.fc1.forward(b.y, 'gelu') : gelu(this.fc1.forward(b.y)); // [B, T, F]
    x = this.activation_dropout.forward(x);
    x = this.dropout.forward(this.fc2.forward(x)); // [B, T, C]
    return { hidden: b.sum, residual: x, present: attn.present };
  }
}
