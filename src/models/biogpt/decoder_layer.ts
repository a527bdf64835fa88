/**
 * One pre-LN BioGPT decoder layer (transformers' BioGptDecoderLayer):
 *   h = h + dropout(self_attn(self_attn_layer_norm(h)))
 *   h = h + dropout(fc2(activation_dropout(gelu(fc1(final_layer_norm(h))))))
 */
import { Tensor } from '../../tensor/tensor.js';
import { add, cast, gelu } from '../../ops/elementwise.js';
import { Module } from '../../nn/module.js';
import { Linear, type LinearModule } from '../../nn/linear.js';
import { LayerNorm } from '../../nn/layer_norm.js';
import { addLayerNorm } from '../../ops/nn/layer_norm.js';
import { Dropout } from '../../nn/dropout.js';
import { BIOGPT_LAYER_NORM_EPS, type BioGptConfig } from '../../io/biogpt_config.js';
import { BioGptAttention } from './attention.js';
import { release } from '../../autograd/release.js';
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
    const res = promoted(r.residual, r.hidden);
    const hidden = add(r.hidden, res);
    release(r.hidden, r.residual, res);
    return { hidden, present: r.present };
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
    // With a graph, each intermediate is released once its last consumer has run (autograd/release.ts):
    // it then stays only while some backward reads it (hn for LoRA's dA, the sum for the layer norm,
    // fc1's output for the GELU), instead of until the end of the training step.
    release(hn);
    const ln2 = this.final_layer_norm;
    const attnOut = this.dropout.forward(attn.out);
    const ar = promoted(attnOut, own ?? h);
    const b = addLayerNorm(own ?? h, ar, ln2.weight, ln2.bias, ln2.eps); // [B, T, C]
    release(attn.out, attnOut, ar, own);
    // A plain Linear takes the GELU into its product's epilogue (when no gradient is needed).
    const f = this.fc1 instanceof Linear ? this.fc1.forward(b.y, 'gelu') : this.fc1.forward(b.y); // [B, T, F]
    release(b.y);
    const a = this.fc1 instanceof Linear ? f : gelu(f);
    const ad = this.activation_dropout.forward(a);
    const y = this.fc2.forward(ad); // [B, T, C]
    release(f, a, ad);
    const x = this.dropout.forward(y);
    if (x !== y) release(y);
    return { hidden: b.sum, residual: x, present: attn.present };
  }
}

/**
 * b as add(a, b) would promote it (autocast: an f16 branch joining the f32 residual stream), cast
 * here so that the copy is ours to release, and the sum can take the fused addLayerNorm. Same values.
 */
function promoted(b: Tensor, a: Tensor): Tensor {
  return a.dtype === 'f32' && b.dtype === 'f16' ? cast(b, 'f32') : b;
}
