/**
 * BioGPT self-attention (transformers' BioGptAttention): q/k/v/out projections with biases, q
 * scaled by head_dim^-0.5, additive mask, softmax, attention-probability dropout, optional cache.
 * Projections are LinearModule fields so LoRA/int8 wrappers can be swapped in by path.
 * `attnImplementation` 'flash' runs the fused kernels (src/ops/attention.ts) instead of the
 * composite path for training and prefill, and the decode kernel for single-token cached steps
 * without gradients; other cases (chunked prefill after a cache) stay eager.
 */
import { Tensor } from '../../tensor/tensor.js';
import { add, affine, mul, relu } from '../../ops/elementwise.js';
import { matmul } from '../../ops/matmul.js';
import { concat, permute, reshape, slice } from '../../ops/shape.js';
import { attentionDecode, flashAttention } from '../../ops/attention.js';
import { softmax } from '../../ops/nn/softmax.js';
import { Module } from '../../nn/module.js';
import { Linear, type LinearModule } from '../../nn/linear.js';
import { isGradEnabled } from '../../autograd/tape.js';
import { Dropout } from '../../nn/dropout.js';
import type { LayerKv } from './kv_cache.js';
import { checkAttnImplementation, DEFAULT_ATTN_IMPLEMENTATION, type AttnImplementation } from './config.js';

export interface AttentionOptions {
  embedDim: number;
  numHeads: number;
  /** Attention-probability dropout (config.attention_probs_dropout_prob). */
  dropout: number;
  /** Std of the N(0, std²) weight init (config.initializer_range). */
  initStd: number;
  /** Default DEFAULT_ATTN_IMPLEMENTATION; see AttnImplementation. */
  attnImplementation?: AttnImplementation;
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
  attnImplementation: AttnImplementation;

  constructor(o: AttentionOptions) {
    super();
    this.attnImplementation = checkAttnImplementation(o.attnImplementation ?? DEFAULT_ATTN_IMPLEMENTATION);
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

  /** [B, T, C] → [B, H, T, D]; for one position that is the same memory order: a reshape, no copy. */
  private heads(x: Tensor, B: number, T: number): Tensor {
    if (T === 1) return reshape(x, [B, this.numHeads, 1, this.headDim]);
    return permute(reshape(x, [B, T, this.numHeads, this.headDim]), [0, 2, 1, 3]);
  }

  /**
   * x [B, T, C]; bias [B, 1, T, S] additive (S = past + T) or null; past keys/values [B, H, P, D].
   * Returns the output [B, T, C] and the keys/values of all S positions (for the cache).
   */
  forward(x: Tensor, bias: Tensor | null, past?: LayerKv | null): { out: Tensor; present: LayerKv } {
    const [B, T] = x.shape as [number, number, number];
    const q = this.heads(mul(this.q_proj.forward(x), this.scaling), B, T); // [B, H, T, D]
    const kx = this.k_proj.forward(x); // [B, T, C]
    const vx = this.v_proj.forward(x);
    let k: Tensor;
    let v: Tensor;
    if (past && !isGradEnabled() && past.key.dtype === kx.dtype && past.value.dtype === vx.dtype) {
      k = this.append(past.key, kx); // [B, H, S, D]
      v = this.append(past.value, vx);
    } else {
      k = this.heads(kx, B, T); // [B, H, T, D]
      v = this.heads(vx, B, T);
      if (past) {
        k = concat([past.key, k], 2); // [B, H, S, D]
        v = concat([past.value, v], 2);
      }
    }
    const ctx = this.attnImplementation === 'flash' ? this.fused(q, k, v, bias, !!past) ?? this.eager(q, k, v, bias) : this.eager(q, k, v, bias); // [B, H, T, D]
    // [B, H, T, D] → [B, T, C] (for T = 1 the same memory order, as in heads()).
    const merged = reshape(T === 1 ? ctx : permute(ctx, [0, 2, 1, 3]), [B, T, this.embedDim]); // [B, T, C]
    return { out: this.out_proj.forward(merged), present: { key: k, value: v } };
  }

  /**
   * concat([past, heads(x)], 2) without a graph (cached inference): x [B, T, C] is written into
   * its head rows of the result directly, so the heads permute and its copy are skipped (one
   * launch fewer per tensor and step; the values are the same copies).
   */
  private append(past: Tensor, x: Tensor): Tensor {
    const [B, H, P, D] = past.shape as [number, number, number, number];
    const T = x.shape[1]!;
    const S = P + T;
    const be = past.backend;
    // Room for a power of two of positions: the tensor is rebuilt one position larger each step,
    // and without the hint nearly every step landed in a new pool bucket, i.e. new buffers and new
    // bind groups for every launch reading the cache. Costs up to 2x the cache's memory.
    const capacity = B * H * 2 ** Math.ceil(Math.log2(S)) * D;
    const out = be.empty([B, H, S, D], past.dtype, { capacity }); // past and x fill every row
    be.stridedWrite(out, { offset: 0, strides: [H * S * D, S * D, D, 1] }, past.raw('attention cache'));
    // x as [B, T, H, D] into out[b, h, P + t, d].
    const x4 = be.reshape(x.raw('attention cache'), [B, T, H, D]);
    be.stridedWrite(out, { offset: P * D, strides: [H * S * D, D, S * D, 1] }, x4);
    be.dispose(x4);
    return new Tensor(out, be);
  }

  private eager(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null): Tensor {
    let scores = matmul(q, k, { transB: true }); // [B, H, T, S]
    if (bias) scores = add(scores, bias);
    return matmul(this.attn_dropout.forward(softmax(scores)), v);
  }

  /**
   * The fused kernels, or null where they do not apply. q is already scaled (scale 1, as eager).
   * The key padding mask [B, S] is the bias's last query row (0 → 1, finfo.min → 0): without a
   * past that row sees every key the causal mask allows, and a decode step has only that row.
   * Dropout draws its seed from attn_dropout exactly as the eager call would, so both paths use
   * the same mask (the fused kernels index the [B, H, T, T] probabilities like the dropout op).
   */
  private fused(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null, hasPast: boolean): Tensor | null {
    const [B, , T] = q.shape as [number, number, number, number];
    const S = k.shape[2]!;
    const drop = this.attn_dropout;
    const p = drop.training ? drop.p : 0;
    if (p >= 1) return null;
    const keyMask = (): Tensor | null => (bias ? relu(affine(reshape(slice(bias, [0, 0, T - 1, 0], [B, 1, 1, S]), [B, S]), 1, 1, false)) : null);
    if (!hasPast) {
      let seed = 0;
      if (p > 0) {
        seed = drop.nextSeed();
        drop.calls++;
      }
      return flashAttention(q, k, v, { mask: keyMask(), causal: true, scale: 1, dropout: p, seed });
    }
    if (T === 1 && p === 0 && !q.requiresGrad && !k.requiresGrad && !v.requiresGrad) return attentionDecode(q, k, v, { mask: keyMask(), scale: 1 });
    return null;
  }
}

/** Switches every BioGptAttention under `root` to `impl` ('eager' | 'flash'). */
export function setAttnImplementation(root: Module, impl: AttnImplementation): void {
  const checked = checkAttnImplementation(impl);
  for (const [, m] of root.namedModules()) if (m instanceof BioGptAttention) m.attnImplementation = checked;
}
