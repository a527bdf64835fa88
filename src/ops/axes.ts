/**
 * Axis and index arguments of the ops (sum/mean/max axes, permute, transpose, concat, split,
 * squeeze, unsqueeze, slice): integers in range, negative ones counted from the end, no duplicates.
 * Each failure is an OpArgumentError naming the public op and the argument. axis()/axes() are
 * the backend-neutral checks of src/backend/shape_checks.ts, which the backends' reduce() runs too.
 */
import { OpArgumentError } from '../errors.js';
import { checkAxes, showArg as show } from '../backend/shape_checks.js';

export { checkAxis as axis, checkAxes as axes, showArg } from '../backend/shape_checks.js';

/** The axes argument of a reduction: undefined = every axis, a number or a list. */
export function reduceAxes(op: string, as: number | readonly number[] | undefined, rank: number): number[] {
  if (as === undefined) return Array.from({ length: rank }, (_, i) => i);
  return checkAxes(op, 'axes', typeof as === 'number' ? [as] : as, rank);
}

/** A count or index argument: an integer >= min. */
export function int(op: string, arg: string, v: number, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new OpArgumentError(op, arg, `an integer >= ${min}`, show(v));
  return v;
}

