/**
 * The shape validator of every entry point that takes a shape from a caller (tensor/full/zeros/
 * ones/rand*, reshape, expand, and the backends' upload/full/empty/reshape/random*), so that a bad
 * shape fails with a ShapeError naming the op instead of reaching a kernel: a negative dim becomes a
 * u32 uniform of about 4·10⁹ elements there (a near-endless loop), a fractional one garbage.
 */
import { ShapeError } from '../errors.js';

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
