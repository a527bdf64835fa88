/**
 * Automatic mixed precision, as torch.autocast(dtype=float16): inside an autocast('f16') scope the
 * ops on the "lower precision" list (matmul, hence linear, LoRA products and the attention
 * products) cast their float inputs to f16 and produce f16, and the ops on the "float32" list
 * (softmax, log-softmax, layer norm, cross-entropy, sum, mean) upcast f16 inputs to f32. Every
 * other op runs in its inputs' dtype (binary ops promote f16 + f32 to f32, as torch). Off by
 * default; scopes nest, and autocast(null, fn) turns it off inside an enabled scope.
 *
 * The casts are autograd ops, so gradients of f16 activations are f16 (and can overflow: that is
 * what the loss scaler's non-finite check catches), while f32 parameters (master weights) receive
 * f32 gradients. Casts of parameters are cached for the outermost scope, so a weight used twice in
 * one forward (a tied embedding head, say) is converted once, as torch does. Run backward() outside
 * the scope, as torch recommends (backward never consults it).
 */
import { Tensor } from '../tensor/tensor.js';
import { isFloatDType } from '../backend/types.js';
import { OpArgumentError } from '../errors.js';
import { cast } from '../ops/elementwise.js';
import { isGradEnabled } from './tape.js';
import { releaseOnUse } from './release.js';

/** The dtype autocast lowers to; null = off. */
export type AutocastDtype = 'f16' | null;

let current: AutocastDtype = null;
let depth = 0;
/** f32 parameter → its f16 cast, for the outermost enabled scope. */
const cache = new Map<Tensor, Tensor>();

/** The active autocast dtype (null when off). */
export function autocastDtype(): AutocastDtype {
  return current;
}

export function isAutocastEnabled(): boolean {
  return current !== null;
}

/** Opaque saved state (for code that replays a forward later, e.g. activation recomputation). */
export interface AutocastState {
  readonly dtype: AutocastDtype;
}

/**
 * Enters a scope with `dtype` ('f16' or null for off) and returns its state to restore with
 * autocastExit(). Prefer autocast(dtype, fn), which cannot leak a scope on an exception.
 */
export function autocastEnter(dtype: AutocastDtype): AutocastState {
  if (dtype !== null && dtype !== 'f16') throw new OpArgumentError('autocast', 'dtype', "'f16' or null", String(dtype));
  const prev: AutocastState = { dtype: current };
  current = dtype;
  depth++;
  return prev;
}

/** Leaves the scope entered by the autocastEnter() call that returned `prev`. */
export function autocastExit(prev: AutocastState): void {
  current = prev.dtype;
  depth = Math.max(0, depth - 1);
  // Cached casts live in the graph (and in tidy scopes); the cache only drops its references.
  if (depth === 0) cache.clear();
}

/** Runs fn with autocast set to `dtype` ('f16' lowers, null turns it off), restoring it afterwards. */
export function autocast<T>(dtype: AutocastDtype, fn: () => T): T {
  const prev = autocastEnter(dtype);
  try {
    return fn();
  } finally {
    autocastExit(prev);
  }
}

/**
 * Parameters (named leaves) are cast once per outermost scope; activations on every use. A per-use
 * cast belongs to the op that asked for it, so it is released once that op has recorded it: it then
 * stays only while that op's backward reads it (a product with a frozen weight never does).
 */
function cachedCast(t: Tensor, dtype: 'f16'): Tensor {
  const cacheable = t.node === null && t.name !== undefined;
  if (!cacheable) return releaseOnUse(cast(t, dtype));
  const hit = cache.get(t);
  // A cast made inside an inner tidy() may already be gone (per-layer scopes in inference).
  // A cast recorded without a graph (noGrad) or whose graph a backward() consumed cannot carry a
  // gradient: make a fresh one then.
  const needsGraph = t.requiresGrad && isGradEnabled();
  if (hit && !hit.isDisposed && (!needsGraph || hit.node !== null)) return hit;
  const c = cast(t, dtype);
  cache.set(t, c);
  return c;
}

/** Lower-precision-list hook: under autocast('f16'), float inputs become f16 (others unchanged). */
export function autocastLower(t: Tensor): Tensor {
  if (current === null || !isFloatDType(t.dtype) || t.dtype === current) return t;
  return cachedCast(t, current);
}

/** Float32-list hook: under autocast, f16 inputs are upcast to f32 (others unchanged); per use, as above. */
export function autocastFloat32(t: Tensor): Tensor {
  if (current === null || t.dtype !== 'f16') return t;
  return releaseOnUse(cast(t, 'f32'));
}
