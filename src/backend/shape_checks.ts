/**
 * The shape validator of every entry point that takes a shape from a caller (tensor/full/zeros/
 * ones/rand*, reshape, expand, and the backends' upload/full/empty/reshape/random*), so that a bad
 * shape fails with a ShapeError naming the op instead of reaching a kernel: a negative dim becomes a
 * u32 uniform of about 4·10⁹ elements there (a near-endless loop), a fractional one garbage.
 * And the axis validator of the ops (src/ops/axes.ts re-exports it) and of the backends' reduce().
 */
import { OpArgumentError, ShapeError } from '../errors.js';

/** Every dim a non-negative safe integer, and the element count a safe integer. Returns that count. */
export function checkShape(op: string, arg: string, shape: readonly number[]): number {
  if (!Array.isArray(shape)) throw new ShapeError(op, arg, 'an array of dims', describe(shape));
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(op, arg, 'a shape of non-negative integer dims', `[${shape.map(describe).join(', ')}] (dim ${i} is ${describe(d)})`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new ShapeError(op, arg, 'at most 2^53 - 1 elements', `[${shape.join(', ')}]`);
  return n;
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** An argument as the user wrote it, for error messages (arrays bracketed, strings quoted). */
export const showArg = (v: unknown): string => (Array.isArray(v) ? `[${v.map(showArg).join(', ')}]` : describe(v));

/**
 * One axis of a rank-`rank` tensor: an integer in [-rank, rank); returns it in [0, rank).
 * `extra` widens the range to [-rank-extra, rank+extra) (unsqueeze: a new axis may go at the end).
 */
export function checkAxis(op: string, arg: string, a: number, rank: number, extra = 0): number {
  const n = rank + extra;
  if (typeof a !== 'number' || !Number.isInteger(a) || a < -n || a >= n) {
    const range = n === 0 ? 'no axis (the tensor is 0-d)' : `an integer axis in [${-n}, ${n - 1}] (the tensor has rank ${rank})`;
    throw new OpArgumentError(op, arg, range, showArg(a));
  }
  return a < 0 ? a + n : a;
}

/** Distinct axes (each as checkAxis()); returns them in [0, rank), sorted. */
export function checkAxes(op: string, arg: string, as: readonly number[], rank: number): number[] {
  if (!Array.isArray(as)) throw new OpArgumentError(op, arg, 'an array of axes', showArg(as));
  const out = as.map((a) => checkAxis(op, arg, a, rank));
  const seen = new Set<number>();
  for (const a of out) {
    if (seen.has(a)) throw new OpArgumentError(op, arg, 'distinct axes', `${showArg(as)} (axis ${a} appears more than once)`);
    seen.add(a);
  }
  return out.sort((x, y) => x - y);
}

/** Element indices are u32 counters; beyond 2^32 the stream would repeat. */
export function checkRandomSize(op: string, shape: readonly number[]): number {
  const n = checkShape(op, 'shape', shape);
  if (n > 2 ** 32) throw new OpArgumentError(op, 'shape', 'at most 2^32 elements', `[${shape}]`);
  return n;
}
