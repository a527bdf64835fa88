/**
 * Additive attention masks as Hugging Face builds them for decoder models such as BioGPT: 0 where a
 * query may attend a key, the dtype's most negative finite value (torch.finfo(dtype).min) where it
 * may not. A finite minimum rather than -inf keeps fully masked rows (left padding) from turning
 * into NaN: their softmax is uniform instead, as in PyTorch's eager attention.
 */
import { OpArgumentError, ShapeError } from '../../errors.js';
import { getBackend } from '../../backend/registry.js';
import type { Backend, DType, RawTensor } from '../../backend/types.js';
import { Tensor } from '../../tensor/tensor.js';

/** torch.finfo(torch.float32).min */
export const FLOAT32_MIN = -3.4028234663852886e38;
/** torch.finfo(torch.float16).min */
export const FLOAT16_MIN = -65504;

export function maskMin(dtype: DType): number {
  if (dtype === 'f32') return FLOAT32_MIN;
  if (dtype === 'f16') return FLOAT16_MIN;
  throw new OpArgumentError('attention mask', 'dtype', 'f32 or f16', dtype);
}

/** [T, T] 1/0 (f32): 1 where key j <= query i. Built from two aranges on the device (no T² upload). */
function causalAllowed(be: Backend, T: number): RawTensor {
  const idx = Array.from({ length: T }, (_, i) => i);
  const q = be.upload(idx, [T, 1], 'f32');
  const k = be.upload(idx, [1, T], 'f32');
  const allowed = be.binary('ge', q, k);
  be.dispose(q);
  be.dispose(k);
  return allowed;
}

/** 0 where allowed is nonzero, min elsewhere. */
function toBias(be: Backend, allowed: RawTensor, dtype: DType): RawTensor {
  const zero = be.full([], dtype, 0);
  const neg = be.full([], dtype, maskMin(dtype));
  const out = be.where(allowed, zero, neg);
  be.dispose(zero);
  be.dispose(neg);
  return out;
}

/** Additive causal mask [T, T]: 0 on and below the diagonal (key <= query), finfo.min above. */
export function causalMask(T: number, opts: { dtype?: DType; backend?: Backend } = {}): Tensor {
  if (!Number.isInteger(T) || T < 1) throw new OpArgumentError('causalMask', 'T', 'an integer >= 1', String(T));
  const be = opts.backend ?? getBackend();
  const allowed = causalAllowed(be, T);
  const out = toBias(be, allowed, opts.dtype ?? 'f32');
  be.dispose(allowed);
  return new Tensor(out, be);
}

export interface AttentionBiasOptions {
  /** Also mask future keys (default true, for decoders). */
  causal?: boolean;
  /** dtype of the bias (f32 default; f16 uses -65504). */
  dtype?: DType;
}

/**
 * Additive attention bias [B, 1, T, T] from a padding mask [B, T] (i32 or float; nonzero = real
 * token): query i may attend key j iff mask[b, j] != 0 (and j <= i when causal). Add it to the
 * attention scores before softmax; it broadcasts over heads. No gradient. The second argument is
 * `causal` (default true) or an options object.
 */
export function attentionBias(attentionMask: Tensor, causalOrOpts: boolean | AttentionBiasOptions = true): Tensor {
  const opts: AttentionBiasOptions = typeof causalOrOpts === 'boolean' ? { causal: causalOrOpts } : causalOrOpts;
  if (attentionMask.rank !== 2) throw new ShapeError('attentionBias', 'attentionMask', 'rank 2 ([batch, seq])', `[${attentionMask.shape}]`);
  const [B, T] = attentionMask.shape as [number, number];
  const be = attentionMask.backend;
  const dtype = opts.dtype ?? 'f32';
  const m = attentionMask.dtype === 'f32' ? attentionMask.raw('attentionBias') : be.cast(attentionMask.raw('attentionBias'), 'f32');
  const zero = be.full([], 'f32', 0);
  const keys = be.binary('ne', m, zero);
  const keys4 = be.reshape(keys, [B, 1, 1, T]);
  let allowed: RawTensor;
  if (opts.causal ?? true) {
    const c = causalAllowed(be, T);
    allowed = be.binary('mul', keys4, c);
    be.dispose(c);
  } else {
    const full = be.full([B, 1, T, T], 'f32', 1);
    allowed = be.binary('mul', keys4, full);
    be.dispose(full);
  }
  const out = toBias(be, allowed, dtype);
  for (const r of [zero, keys, keys4, allowed]) be.dispose(r);
  if (m !== attentionMask.raw()) be.dispose(m);
  return new Tensor(out, be);
}
