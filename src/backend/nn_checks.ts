/** Argument checks shared by the nn primitives of every backend, so all backends reject the same inputs. */
import { OpArgumentError, ShapeError } from '../errors.js';
import { isFloatDType, numel, type AdamWHyper, type RawTensor } from './types.js';
import type { AttentionOptions } from './kernels.js';

const sh = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Rows and row length of x seen as [rows, len] over its last axis (a scalar is one row of one). */
export function rowsOf(shape: readonly number[]): { rows: number; len: number } {
  const len = shape.length ? shape[shape.length - 1]! : 1;
  return { rows: numel(shape.slice(0, -1)), len };
}

export function checkFloat(op: string, arg: string, x: RawTensor): void {
  if (!isFloatDType(x.dtype)) throw new OpArgumentError(op, arg, 'a float tensor (f32/f16)', x.dtype);
}

export function checkSameShape(op: string, arg: string, x: RawTensor, like: RawTensor, likeName: string): void {
  if (x.shape.join() !== like.shape.join()) throw new ShapeError(op, arg, `shape ${sh(like.shape)} (same as ${likeName})`, sh(x.shape));
  if (x.dtype !== like.dtype) throw new OpArgumentError(op, arg, `dtype ${like.dtype} (same as ${likeName})`, x.dtype);
}

/** y and dy of a softmax-like backward. */
export function checkRowBackward(op: string, y: RawTensor, dy: RawTensor): void {
  checkFloat(op, 'y', y);
  checkSameShape(op, 'dy', dy, y, 'y');
}

/** An optional [C] affine parameter of layer norm. */
export function checkLayerNormParam(op: string, arg: string, p: RawTensor | null, x: RawTensor): void {
  if (!p) return;
  const { len } = rowsOf(x.shape);
  if (p.shape.length !== 1 || p.shape[0] !== len) throw new ShapeError(op, arg, `shape [${len}] (the last axis of x ${sh(x.shape)})`, sh(p.shape));
  if (p.dtype !== x.dtype) throw new OpArgumentError(op, arg, `dtype ${x.dtype} (same as x)`, p.dtype);
}

export function checkLayerNorm(x: RawTensor, weight: RawTensor | null, bias: RawTensor | null, eps: number): void {
  checkFloat('layerNorm', 'x', x);
  if (x.shape.length < 1) throw new ShapeError('layerNorm', 'x', 'rank >= 1', sh(x.shape));
  checkLayerNormParam('layerNorm', 'weight', weight, x);
  checkLayerNormParam('layerNorm', 'bias', bias, x);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new OpArgumentError('layerNorm', 'eps', 'a finite number >= 0', String(eps));
}

/** x and the residual r (same shape, f32) of the fused s = x + r, y = layerNorm(s). */
export function checkAddLayerNorm(x: RawTensor, r: RawTensor, weight: RawTensor | null, bias: RawTensor | null, eps: number): void {
  const op = 'addLayerNorm';
  // f32 only: in f16 a shader compiler may skip the rounding of the recomputed sum to f16 (seen on
  // lavapipe), and y would no longer match add() then layerNorm() bit for bit.
  if (x.dtype !== 'f32') throw new OpArgumentError(op, 'x', 'dtype f32', x.dtype);
  if (x.shape.length < 1) throw new ShapeError(op, 'x', 'rank >= 1', sh(x.shape));
  checkSameShape(op, 'r', r, x, 'x');
  checkLayerNormParam(op, 'weight', weight, x);
  checkLayerNormParam(op, 'bias', bias, x);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new OpArgumentError(op, 'eps', 'a finite number >= 0', String(eps));
}

export function checkLayerNormBackward(dy: RawTensor, x: RawTensor, weight: RawTensor | null, mean: RawTensor, rstd: RawTensor): void {
  const op = 'layerNormBackward';
  checkFloat(op, 'x', x);
  checkSameShape(op, 'dy', dy, x, 'x');
  checkLayerNormParam(op, 'weight', weight, x);
  const { rows } = rowsOf(x.shape);
  for (const [name, t] of [['mean', mean], ['rstd', rstd]] as const) {
    if (numel(t.shape) !== rows) throw new ShapeError(op, name, `${rows} values (one per row of x ${sh(x.shape)})`, sh(t.shape));
    if (t.dtype !== 'f32') throw new OpArgumentError(op, name, 'dtype f32', t.dtype);
  }
}

/** logits [..., V] and i32 targets [...]; returns rows and V. */
export function checkCrossEntropy(op: string, logits: RawTensor, targets: RawTensor): { rows: number; len: number } {
  checkFloat(op, 'logits', logits);
  if (logits.shape.length < 1) throw new ShapeError(op, 'logits', 'rank >= 1 ([N, V])', sh(logits.shape));
  if (targets.dtype !== 'i32') throw new OpArgumentError(op, 'targets', 'dtype i32', targets.dtype);
  const want = logits.shape.slice(0, -1);
  if (targets.shape.join() !== want.join()) throw new ShapeError(op, 'targets', `shape ${sh(want)} (logits ${sh(logits.shape)} without its last axis)`, sh(targets.shape));
  return rowsOf(logits.shape);
}

/** A per-row tensor (lse, dloss) of cross-entropy backward. */
function checkPerRow(op: string, arg: string, t: RawTensor, targets: RawTensor): void {
  checkFloat(op, arg, t);
  if (t.shape.join() !== targets.shape.join()) throw new ShapeError(op, arg, `shape ${sh(targets.shape)} (same as targets)`, sh(t.shape));
}

/** crossEntropyBackward's operands: those of checkCrossEntropy, plus lse and dloss (one value per row). */
export function checkCrossEntropyBackward(logits: RawTensor, targets: RawTensor, lse: RawTensor, dloss: RawTensor): { rows: number; len: number } {
  const op = 'crossEntropyBackward';
  const dims = checkCrossEntropy(op, logits, targets);
  checkPerRow(op, 'lse', lse, targets);
  checkPerRow(op, 'dloss', dloss, targets);
  return dims;
}

export function checkEmbedding(table: RawTensor, ids: RawTensor): { numRows: number; dim: number } {
  checkFloat('embedding', 'table', table);
  if (table.shape.length !== 2) throw new ShapeError('embedding', 'table', 'rank 2 ([numRows, dim])', sh(table.shape));
  if (ids.dtype !== 'i32') throw new OpArgumentError('embedding', 'ids', 'dtype i32', ids.dtype);
  return { numRows: table.shape[0]!, dim: table.shape[1]! };
}

export function checkEmbeddingBackward(ids: RawTensor, dy: RawTensor, numRows: number): { n: number; dim: number } {
  const op = 'embeddingBackward';
  if (ids.dtype !== 'i32') throw new OpArgumentError(op, 'ids', 'dtype i32', ids.dtype);
  checkFloat(op, 'dy', dy);
  if (dy.shape.length !== ids.shape.length + 1 || ids.shape.some((d, i) => dy.shape[i] !== d)) {
    throw new ShapeError(op, 'dy', `shape [${[...ids.shape, 'C'].join(', ')}] (ids shape plus the embedding dim)`, sh(dy.shape));
  }
  if (!Number.isInteger(numRows) || numRows < 0) throw new OpArgumentError(op, 'numRows', 'an integer >= 0', String(numRows));
  return { n: numel(ids.shape), dim: dy.shape[dy.shape.length - 1]! };
}

export function checkDropout(x: RawTensor, p: number, seed: number): void {
  checkFloat('dropout', 'x', x);
  if (!(p >= 0 && p <= 1)) throw new OpArgumentError('dropout', 'p', 'a probability in [0, 1]', String(p));
  if (!Number.isFinite(seed)) throw new OpArgumentError('dropout', 'seed', 'a finite integer', String(seed));
}

/** Validates q,k,v [B,H,T,D] (same shape, f32) and mask [B,T]; returns B,H,T,D. */
export function checkAttention(op: string, q: RawTensor, k: RawTensor, v: RawTensor, mask: RawTensor | null, decode = false): [number, number, number, number] {
  for (const [n, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (t.dtype !== 'f32') throw new OpArgumentError(op, n, 'an f32 tensor', t.dtype);
    if (t.shape.length !== 4) throw new ShapeError(op, n, 'rank 4 [B, H, T, D]', `[${t.shape}]`);
  }
  if (k.shape.join() !== v.shape.join()) throw new ShapeError(op, 'v', `[${k.shape}] (same as k)`, `[${v.shape}]`);
  const [B, H, Tq, D] = q.shape as [number, number, number, number];
  const S = k.shape[2]!;
  if (decode ? Tq !== 1 || k.shape[0] !== B || k.shape[1] !== H || k.shape[3] !== D : q.shape.join() !== k.shape.join()) {
    throw new ShapeError(op, 'k', decode ? `[${B}, ${H}, S, ${D}] with q [B, H, 1, D]` : `[${q.shape}] (same as q)`, `[${k.shape}] (q [${q.shape}])`);
  }
  if (mask && (mask.dtype !== 'f32' || mask.shape.join() !== `${B},${S}`)) throw new ShapeError(op, 'mask', `f32 [${B}, ${S}]`, `${mask.dtype} [${mask.shape}]`);
  if (D < 1 || D > 256) throw new OpArgumentError(op, 'head dim', '1..256', String(D));
  return [B, H, decode ? S : Tq, D];
}

export function checkAttentionOptions(op: string, o: AttentionOptions): void {
  if (!(o.dropout >= 0 && o.dropout < 1)) throw new OpArgumentError(op, 'dropout', 'a probability in [0, 1)', String(o.dropout));
  if (!Number.isFinite(o.scale)) throw new OpArgumentError(op, 'scale', 'a finite number', String(o.scale));
}

/** Checks the AdamW operands (shared with the CPU reference so both reject the same inputs). */
export function checkAdamW(param: RawTensor, grad: RawTensor, m: RawTensor, v: RawTensor, h: AdamWHyper): void {
  const n = numel(param.shape);
  for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) {
    if (numel(t.shape) !== n) throw new ShapeError('adamw', name, `${n} elements (param shape [${param.shape}])`, `shape [${t.shape}]`);
  }
  checkFloat('adamw', 'param', param);
  checkFloat('adamw', 'grad', grad);
  if (m.dtype !== 'f32') throw new OpArgumentError('adamw', 'm', 'an f32 tensor', m.dtype);
  if (v.dtype !== 'f32') throw new OpArgumentError('adamw', 'v', 'an f32 tensor', v.dtype);
  if (!(Number.isInteger(h.step) && h.step >= 1)) throw new OpArgumentError('adamw', 'h.step', 'an integer >= 1', String(h.step));
  for (const k of ['lr', 'beta1', 'beta2', 'eps', 'weightDecay', 'gradScale'] as const) {
    if (!Number.isFinite(h[k])) throw new OpArgumentError('adamw', `h.${k}`, 'a finite number', String(h[k]));
  }
}

/** The step-dependent scalars of torch's AdamW, in float64 (as Python computes them). */
export function adamwScalars(h: AdamWHyper): { decay: number; stepSize: number; bc2Sqrt: number } {
  const bc1 = 1 - h.beta1 ** h.step;
  const bc2 = 1 - h.beta2 ** h.step;
  return { decay: 1 - h.lr * h.weightDecay, stepSize: h.lr / bc1, bc2Sqrt: Math.sqrt(bc2) };
}
