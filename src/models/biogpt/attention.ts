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
import { linear3 } from '../../ops/linear3.js';
import { softmax } from '../../ops/nn/softmax.js';
import { Module } from '../../nn/module.js';
import { Linear, type LinearModule } from '../../nn/linear.js';
import { isGradEnabled, release } from '../../autograd/tape.js';
import { checkpoint } from '../../autograd/checkpoint.js';
import { Dropout } from '../../nn/dropout.js';
import type { LayerKv } from './kv_cache.js';
import { checkAttnImplementation, DEFAULT_ATTN_IMPLEMENTATION, type AttnImplementation } from './config.js';

/** fuse: a cached decode step's q/k/v projections in one linear3 launch (false: three; tests, benchmarks). */
export const qkvTuning: { fuse: boolean } = { fuse: true };

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
  /**
   * Eager path with a graph: keep only q, k and v for the backward and recompute the [B, H, T, S]
   * scores, probabilities and dropout from them there (same kernels, same masks: the same bits),
   * instead of holding the probabilities and their dropout from forward to backward (64 MiB each per
   * layer at batch 4 × 512). Costs the q·kᵀ and p·v products once more per layer.
   * BioGptForCausalLM.attentionRecomputeEnable() sets it for every layer.
   */
  recomputeScores = true;

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
    const v = reshape(x, [B, T, this.numHeads, this.headDim]);
    const out = permute(v, [0, 2, 1, 3]);
    release(v);
    return out;
  }

  /**
   * x [B, T, C]; bias [B, 1, T, S] additive (S = past + T) or null; past keys/values [B, H, P, D].
   * keyMask: keyPaddingMask(bias), when the caller computed it once for all layers (else each
   * layer on the fused path derives its own). Returns the output [B, T, C] and the keys/values of
   * all S positions (for the cache).
   */
  forward(x: Tensor, bias: Tensor | null, past?: LayerKv | null, keyMask?: Tensor | null): { out: Tensor; present: LayerKv } {
    const [B, T] = x.shape as [number, number, number];
    // A cached decode step without gradients: q, k and v in one launch (same bits, see linear3).
    const qkv = past && T === 1 && !isGradEnabled() ? this.fusedQkv(x) : null;
    const qx = qkv ? qkv[0] : this.q_proj.forward(x); // [B, T, C]
    // A cached decode step on the fused kernel takes the q scaling as its score scale instead of
    // a separate multiply (one launch fewer per layer). Only for a power-of-two scale on f32 q:
    // scaling by 2^k is exact, so q·k·2^k has the same bits as (q·2^k)·k.
    const fold = !!past && T === 1 && this.attnImplementation === 'flash' && !isGradEnabled() && (this.attn_dropout.training ? this.attn_dropout.p : 0) === 0 && qx.dtype === 'f32' && isPowerOfTwo(this.scaling);
    const qs = fold ? qx : mul(qx, this.scaling);
    const q = this.heads(qs, B, T); // [B, H, T, D]
    // With a graph, intermediates go once consumed (see autograd/release.ts): no backward reads these.
    release(qx, qs);
    const kx = qkv ? qkv[1] : this.k_proj.forward(x); // [B, T, C]
    const vx = qkv ? qkv[2] : this.v_proj.forward(x);
    let k: Tensor;
    let v: Tensor;
    if (past && !isGradEnabled() && past.key.dtype === kx.dtype && past.value.dtype === kx.dtype && vx.dtype === kx.dtype) {
      ({ key: k, value: v } = this.append(past, kx, vx)); // [B, H, S, D]
    } else {
      k = this.heads(kx, B, T); // [B, H, T, D]
      v = this.heads(vx, B, T);
      release(kx, vx);
      if (past) {
        const [kn, vn] = [k, v];
        k = concat([past.key, kn], 2); // [B, H, S, D]
        v = concat([past.value, vn], 2);
        release(kn, vn);
      }
    }
    const qScale = fold ? this.scaling : 1;
    const unfused = () => this.eager(fold ? mul(q, this.scaling) : q, k, v, bias);
    const ctx = this.attnImplementation === 'flash' ? this.fused(q, k, v, bias, !!past, qScale, keyMask) ?? unfused() : unfused(); // [B, H, T, D]
    release(q); // k and v are returned (the cache): the caller releases them
    // [B, H, T, D] → [B, T, C] (for T = 1 the same memory order, as in heads()).
    const ctxT = T === 1 ? ctx : permute(ctx, [0, 2, 1, 3]);
    const merged = reshape(ctxT, [B, T, this.embedDim]); // [B, T, C]
    release(ctx, ctxT);
    const out = this.out_proj.forward(merged);
    release(merged);
    return { out, present: { key: k, value: v } };
  }

  /**
   * q, k and v projections of x in one linear3 call, when all three are plain f32 Linears with
   * biases (not LoRA or int8 wrappers) and qkvTuning allows; else null (three forward calls).
   */
  private fusedQkv(x: Tensor): [Tensor, Tensor, Tensor] | null {
    const ps = [this.q_proj, this.k_proj, this.v_proj];
    if (!qkvTuning.fuse || x.dtype !== 'f32') return null;
    const lins = ps.filter((p): p is Linear => p instanceof Linear && p.hasBias && p.weight.dtype === 'f32' && p.bias!.dtype === 'f32');
    if (lins.length !== 3) return null;
    return linear3(x, [lins[0]!.weight, lins[1]!.weight, lins[2]!.weight], [lins[0]!.bias!, lins[1]!.bias!, lins[2]!.bias!]);
  }

  /**
   * concat([past, heads(x)], 2) for keys and values without a graph (cached inference), in one
   * backend launch: x [B, T, C] is read in its head order directly, so the heads permute and its
   * copy are skipped (the values are the same copies).
   */
  private append(past: LayerKv, kx: Tensor, vx: Tensor): LayerKv {
    const [B, H, P, D] = past.key.shape as [number, number, number, number];
    const S = P + kx.shape[1]!;
    const be = past.key.backend;
    // Room for a power of two of positions: the tensor is rebuilt one position larger each step,
    // and without the hint nearly every step landed in a new pool bucket, i.e. new buffers and new
    // bind groups for every launch reading the cache. Costs up to 2x the cache's memory.
    const capacity = B * H * 2 ** Math.ceil(Math.log2(S)) * D;
    const o = be.kvAppend(past.key.raw('attention cache'), past.value.raw('attention cache'), kx.raw('attention cache'), vx.raw('attention cache'), { capacity });
    return { key: new Tensor(o.key, be), value: new Tensor(o.value, be) };
  }

  /**
   * softmax(q·kᵀ + bias) → dropout → ·v. With a graph (and recomputeScores), through checkpoint():
   * only q, k and v are kept and backward recomputes the rest with the same dropout mask.
   */
  private eager(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null): Tensor {
    const core = (qq: Tensor, kk: Tensor, vv: Tensor): Tensor => {
      const raw = matmul(qq, kk, { transB: true }); // [B, H, T, S]
      const scores = bias ? add(raw, bias) : raw;
      const p = softmax(scores);
      const pd = this.attn_dropout.forward(p);
      const ctx = matmul(pd, vv); // [B, H, T, D]
      // softmax's backward reads p, the product's pd (until then they stay).
      release(raw, scores, p, pd);
      return ctx;
    };
    if (!this.recomputeScores || !isGradEnabled() || ![q, k, v].some((t) => t.requiresGrad)) return core(q, k, v);
    return checkpoint(core, [q, k, v], { rng: [this.attn_dropout] });
  }

  /**
   * The fused kernels, or null where they do not apply. q is already scaled (scale 1, as eager),
   * except by qScale, which only the decode kernel receives (see forward).
   * The key padding mask [B, S] is the bias's last query row (0 → 1, finfo.min → 0): without a
   * past that row sees every key the causal mask allows, and a decode step has only that row.
   * Dropout draws its seed from attn_dropout exactly as the eager call would, so both paths use
   * the same mask (the fused kernels index the [B, H, T, T] probabilities like the dropout op).
   */
  private fused(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | null, hasPast: boolean, qScale: number, given?: Tensor | null): Tensor | null {
    const drop = this.attn_dropout;
    const p = drop.training ? drop.p : 0;
    if (p >= 1) return null;
    const keyMask = (): Tensor | null => (bias ? given ?? keyPaddingMask(bias) : null);
    if (!hasPast) {
      let seed = 0;
      if (p > 0) {
        seed = drop.nextSeed();
        drop.calls++;
      }
      return flashAttention(q, k, v, { mask: keyMask(), causal: true, scale: 1, dropout: p, seed });
    }
    if (q.shape[2] === 1 && p === 0 && !q.requiresGrad && !k.requiresGrad && !v.requiresGrad) return attentionDecode(q, k, v, { mask: keyMask(), scale: qScale });
    return null;
  }
}

/** Whether x is 2^k for an integer k (multiplying by it is exact, barring underflow). */
function isPowerOfTwo(x: number): boolean {
  return x > 0 && 2 ** Math.round(Math.log2(x)) === x;
}

/**
 * The key padding mask [B, S] of an additive bias [B, 1, T, S]: its last query row, 0 → 1 and
 * finfo.min → 0 (see BioGptAttention.fused).
 */
export function keyPaddingMask(bias: Tensor): Tensor {
  const [B, , T, S] = bias.shape as [number, number, number, number];
  return relu(affine(reshape(slice(bias, [0, 0, T - 1, 0], [B, 1, 1, S]), [B, S]), 1, 1, false));
}

/** Whether a layer with `impl` reads keyPaddingMask(bias) for T new positions (after a past or not). */
export function usesKeyMask(impl: AttnImplementation, T: number, hasPast: boolean): boolean {
  return impl === 'flash' && (!hasPast || T === 1);
}

/** Switches every BioGptAttention under `root` to `impl` ('eager' | 'flash'). */
export function setAttnImplementation(root: Module, impl: AttnImplementation): void {
  const checked = checkAttnImplementation(impl);
  for (const [, m] of root.namedModules()) if (m instanceof BioGptAttention) m.attnImplementation = checked;
}
