/**
 * Axis and index arguments of the ops (sum/mean/max axes, permute, transpose, concat, split,
 * squeeze, unsqueeze, slice): integers in range, negative ones counted from the end, no duplicates.
 * Each failure is an OpArgumentError naming the public op and the argument.
 */
import { OpArgumentError } from '../errors.js';

const show = (v: unknown): string => (Array.isArray(v) ? `[${v.map(show).join(', ')}]` : typeof v === 'string' ? JSON.stringify(v) : String(v));

/**
 * One axis of a rank-`rank` tensor: an integer in [-rank, rank); returns it in [0, rank).
 * `extra` widens the range to [-rank-extra, rank+extra) (unsqueeze: a new axis may go at the end).
 */
export function axis(op: string, arg: string, a: number, rank: number, extra = 0): number {
  const n = rank + extra;
  if (typeof a !== 'number' || !Number.isInteger(a) || a < -n || a >= n) {
    const range = n === 0 ? 'no axis (the tensor is 0-d)' : `an integer axis in [${-n}, ${n - 1}] (the tensor has rank ${rank})`;
    throw new OpArgumentError(op, arg, range, show(a));
  }
  return a < 0 ? a + n : a;
}

/** Distinct axes (each as axis()); returns them in [0, rank), sorted. */
export function axes(op: string, arg: string, as: readonly number[], rank: number): number[] {
  const out = as.map((a) => axis(op, arg, a, rank));
  const seen = new Set<number>();
  for (let i = 0; i < out.length; i++) {
    if (seen.has(out[i]!)) throw new OpArgumentError(op, arg, 'distinct axes', `${show(as)} (axis ${out[i]} appears more than once)`);
    seen.add(out[i]!);
  }
  return out.sort((x, y) => x - y);
}

/** The axes argument of a reduction: undefined = every axis, a number or a list. */
export function reduceAxes(op: string, as: number | readonly number[] | undefined, rank: number): number[] {
  if (as === undefined) return Array.from({ length: rank }, (_, i) => i);
  return axes(op, 'axes', typeof as === 'number' ? [as] : as, rank);
}

/** A count or index argument: an integer >= min. */
export function int(op: string, arg: string, v: number, min = 0): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new OpArgumentError(op, arg, `an integer >= ${min}`, show(v));
  return v;
}

export { show as showArg };
