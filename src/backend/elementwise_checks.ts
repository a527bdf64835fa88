/** Argument checks shared by the elementwise primitives of every backend, so all backends reject the same inputs. */
import { OpArgumentError, ShapeError } from '../errors.js';
import { checkFloat } from './nn_checks.js';
import { broadcastShapes, type RawTensor } from './types.js';

/** a op b: float a, b of a's dtype, shapes broadcastable. Returns the output shape. */
export function checkBinary(op: string, a: RawTensor, b: RawTensor): number[] {
  checkFloat(op, 'a', a);
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
