/** Argument checks shared by the elementwise primitives of every backend, so all backends reject the same inputs. */
import { OpArgumentError, ShapeError } from '../errors.js';
import { checkFloat } from './nn_checks.js';
import { broadcastShapes, type BinaryOp, type DType, type RawTensor } from './types.js';

const COMPARISONS: ReadonlySet<string> = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);

export const isComparison = (op: string): boolean => COMPARISONS.has(op);

/** The result dtype of a binary op: a's, except comparisons of integer tensors (f32 1.0/0.0). */
export function binaryOutDtype(op: string, a: RawTensor): DType {
  return isComparison(op) && (a.dtype === 'i32' || a.dtype === 'u32') ? 'f32' : a.dtype;
}

/**
 * a op b: b of a's dtype, shapes broadcastable; a float, or i32/u32 for the comparisons. Returns
 * the output shape.
 */
export function checkBinary(op: string, a: RawTensor, b: RawTensor): number[] {
  if (!isComparison(op)) checkFloat(op, 'a', a);
  if (a.dtype !== b.dtype) throw new OpArgumentError(op, 'b', `dtype ${a.dtype} (same as a)`, b.dtype);
  const shape = broadcastShapes(a.shape, b.shape);
  if (!shape) throw new ShapeError(op, 'b', `a shape broadcastable with [${a.shape}]`, `[${b.shape}]`);
  return shape;
}

/** where(cond, a, b): a and b of one dtype, the three shapes broadcastable together. Returns the output shape. */
export function checkWhere(cond: RawTensor, a: RawTensor, b: RawTensor): number[] {
  if (a.dtype !== b.dtype) throw new OpArgumentError('where', 'b', `dtype ${a.dtype} (same as a)`, b.dtype);
  const s1 = broadcastShapes(cond.shape, a.shape);
  const shape = s1 && broadcastShapes(s1, b.shape);
  if (!shape) throw new ShapeError('where', 'cond/a/b', 'mutually broadcastable shapes', `[${cond.shape}], [${a.shape}], [${b.shape}]`);
  return shape;
}
