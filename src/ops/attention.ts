/**
 * Fused causal self-attention (FlashAttention-style, shaders/attention/) and single-query decoding
 * against a KV cache, plus the composite reference path (matmul → additive mask → softmax →
 * dropout → matmul) that they replace.
 *
 * Masking convention: query i attends key j iff attentionMask[b, j] != 0 and (not causal or j ≤ i).
 * A query row with no allowed key (e.g. a left-padding position whose keys are all padding) gives
 * O = 0 and zero gradients in the fused kernels. The composite path with Hugging Face's finfo.min
 * bias gives such rows a uniform average of all values instead; those rows belong to padding
 * tokens whose outputs HF never uses (labels -100), so the two paths agree on every row that
 * matters, and tests compare exactly those rows.
 */
import { record } from '../autograd/tape.js';
import { OpArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { autocastFloat32 } from '../autograd/autocast.js';
import { kernelsFor } from '../backend/fused.js';
import type { AttentionOptions } from '../backend/kernels.js';
import type { RawTensor } from '../backend/types.js';
import { matmul } from './matmul.js';
import { add, affine } from './elementwise.js';
import { softmax } from './nn/softmax.js';
import { dropout as dropoutOp } from './nn/dropout.js';
import { attentionBias } from './nn/attention_mask.js';

export interface FlashAttentionOptions {
  /** Padding mask [B, T] (1 = token, 0 = padding; any dtype, nonzero = token). */
  mask?: Tensor | null;
  /** Mask future keys (default true). */
  causal?: boolean;
  /** Softmax scale (default head_dim^-0.5). */
  scale?: number;
  /** Dropout probability on the attention probabilities (default 0) and its seed. */
  dropout?: number;
  seed?: number;
  /** false turns dropout off (eval). */
  training?: boolean;
}

function maskRaw(mask: Tensor | null | undefined): { raw: RawTensor | null; owned: boolean } {
  if (!mask) return { raw: null, owned: false };
  const r = mask.raw('flashAttention mask');
  if (mask.dtype === 'f32') return { raw: r, owned: false };
  return { raw: mask.backend.cast(r, 'f32'), owned: true };
}

function resolve(q: Tensor, o: FlashAttentionOptions): AttentionOptions {
  const p = o.training === false ? 0 : (o.dropout ?? 0);
  if (p > 0 && !Number.isFinite(o.seed)) throw new OpArgumentError('flashAttention', 'seed', 'a finite seed when dropout > 0', String(o.seed));
  return { scale: o.scale ?? 1 / Math.sqrt(q.shape[3] ?? 1), causal: o.causal ?? true, dropout: p, seed: o.seed ?? 0 };
}

/** softmax(q·kᵀ·scale + mask)·v over q, k, v [B, H, T, D] without materialising the T×T scores. */
export function flashAttention(q: Tensor, k: Tensor, v: Tensor, opts: FlashAttentionOptions = {}): Tensor {
  // The fused kernels are f32-only: under autocast, f16 q/k/v are upcast (autograd casts).
  [q, k, v] = [autocastFloat32(q), autocastFloat32(k), autocastFloat32(v)];
  const be = q.backend;
  const kern = kernelsFor(be);
  const ao = resolve(q, opts);
  const m = maskRaw(opts.mask);
  const { o, lse } = kern.flashForward(q.raw('flashAttention'), k.raw('flashAttention'), v.raw('flashAttention'), m.raw, ao);
  const out = new Tensor(o, be);
  const keepMask = m.owned ? m.raw : null;
  const needs = q.requiresGrad || k.requiresGrad || v.requiresGrad;
  if (!needs) {
    be.dispose(lse);
    if (keepMask) be.dispose(keepMask);
    return out;
  }
  // lse (and an f32 copy of the mask) are saved for the backward, which frees them once it has run
  // (like every saved input, they also go with an enclosing tidy()).
  const lseT = new Tensor(lse, be);
  const maskT = keepMask ? new Tensor(keepMask, be) : null;
  const recorded = record(out, 'flashAttention', [q, k, v], (g) => {
    const mr = maskT ? maskT.raw() : opts.mask ? opts.mask.raw() : null;
    const { dq, dk, dv } = kern.flashBackward(q.raw(), k.raw(), v.raw(), mr, out.raw('flashAttention backward'), lseT.raw(), g.raw(), ao);
    lseT.dispose();
    maskT?.dispose();
    return [new Tensor(dq, be), new Tensor(dk, be), new Tensor(dv, be)];
  });
  if (!recorded.node) {
    lseT.dispose();
    maskT?.dispose();
  }
  return recorded;
}

/** One new query per sequence: q [B, H, 1, D] against kCache, vCache [B, H, S, D], mask [B, S]. No gradient. */
export function attentionDecode(q: Tensor, kCache: Tensor, vCache: Tensor, opts: { mask?: Tensor | null; scale?: number } = {}): Tensor {
  const be = q.backend;
  const m = maskRaw(opts.mask);
  const o = kernelsFor(be).decode(q.raw('attentionDecode'), kCache.raw('attentionDecode'), vCache.raw('attentionDecode'), m.raw, opts.scale ?? 1 / Math.sqrt(q.shape[3] ?? 1));
  if (m.owned && m.raw) be.dispose(m.raw);
  return new Tensor(o, be);
}

/**
 * The unfused reference: scores [B, H, T, T] = q·kᵀ·scale + HF additive bias (finfo.min on masked
 * entries), softmax, dropout (same counter-based mask as the fused kernel), ·v. O(T²) memory.
 */
export function compositeAttention(q: Tensor, k: Tensor, v: Tensor, opts: FlashAttentionOptions = {}): Tensor {
  const ao = resolve(q, opts);
  const [B, , T] = q.shape as [number, number, number, number];
  let s = affine(matmul(q, k, { transB: true }), ao.scale, 0);
  const mask = opts.mask ?? new Tensor(q.backend.full([B, T], 'f32', 1), q.backend);
  if (ao.causal || opts.mask) s = add(s, attentionBias(mask, ao.causal));
  let p = softmax(s);
  if (ao.dropout > 0) p = dropoutOp(p, ao.dropout, { seed: ao.seed });
  return matmul(p, v);
}
