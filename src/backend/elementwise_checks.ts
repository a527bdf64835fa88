/**
 * Argument checks shared by the elementwise and reduction primitives of every backend, so all
 * backends reject the same inputs.
 */
import { OpArgumentError, ShapeError } from '../errors.js';
import { checkFloat } from './nn_checks.js';
import { checkAxes } from './shape_checks.js';
import { broadcastShapes, isIntDType, type BinaryOp, type DType, type RawTensor, type ReduceOp } from './types.js';

const COMPARISONS: ReadonlySet<string> = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
/** The arithmetic that integer operands take besides the comparisons (wrapping, see BinaryOp). */
const INT_ARITHMETIC: ReadonlySet<string> = new Set<BinaryOp>(['add', 'sub', 'mul']);

export const isComparison = (op: string): boolean => COMPARISONS.has(op);

/** The result dtype of a binary op: a's, except comparisons of integer tensors (f32 1.0/0.0). */
export function binaryOutDtype(op: string, a: RawTensor): DType {
  return isComparison(op) && isIntDType(a.dtype) ? 'f32' : a.dtype;
}

/**
 * a op b: b of a's dtype, shapes broadcastable; a float, or i32/u32 for the comparisons and
 * add/sub/mul. Returns the output shape.
 */
export function checkBinary(op: string, a: RawTensor, b: RawTensor): number[] {
  if (!isIntDType(a.dtype)) checkFloat(op, 'a', a);
  else if (!isComparison(op) && !INT_ARITHMETIC.has(op)) {
    throw new OpArgumentError(op, 'a', 'a float tensor (integer tensors take only add/sub/mul and the comparisons)', a.dtype);
  }
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

/** reduce(op, x, axes): x float (or i32/u32 for sum), axes distinct and in range. Returns them sorted in [0, rank). */
export function checkReduce(op: ReduceOp, x: RawTensor, axes: readonly number[]): number[] {
  const name = `reduce ${op}`;
  if (!isIntDType(x.dtype)) checkFloat(name, 'x', x);
  else if (op !== 'sum') throw new OpArgumentError(name, 'x', 'a float tensor (of integer tensors only sum reduces)', x.dtype);
  return checkAxes(name, 'axes', axes, x.shape.length);
}

/**
 * argmax/argmin(x) over the last axis: x float, and that axis not empty (no index to return; torch:
 * "Expected reduction dim to have non-zero size"). A 0-d x is one element.
 */
export function checkArgExtremum(op: 'argmax' | 'argmin', x: RawTensor): void {
  checkFloat(op, 'x', x);
  if (x.shape.length && x.shape[x.shape.length - 1] === 0) {
    throw new ShapeError(op, 'x', 'a last axis of non-zero size (an empty axis has no index to return)', `shape [${x.shape}]`);
  }
}
