/** sum / mean / max over axes (keepDims), and sumToShape used by broadcasting backward passes. */
import { record } from '../autograd/tape.js';
import { Tensor } from '../tensor/tensor.js';
import { autocastFloat32 } from '../autograd/autocast.js';
import { axis as axisArg, reduceAxes } from './axes.js';
import { floatArgs } from './elementwise.js';
import { contiguousStrides, isIntDType, numel } from '../backend/types.js';
import { ShapeError } from '../errors.js';

/** Expands g (reduced over axes with keepDims) back to `shape` (materialised broadcast). */
export function broadcastTo(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const zero = new Tensor(g.backend.full(shape, g.dtype, 0), g.backend);
  const out = new Tensor(g.backend.binary('add', zero.raw(), g.raw()), g.backend);
  zero.dispose();
  return out;
}

function keptShape(x: Tensor, axes: number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/**
 * Sum over axes. Of an i32/u32 tensor it is that dtype, exact and wrapping around modulo 2^32 (torch
 * widens to int64 instead; cast() to f32 first for totals beyond 2^31), without gradient.
 */
export function sum(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  if (!isIntDType(x.dtype)) floatArgs('sum', ['x', x]);
  x = autocastFloat32(x); // autocast: float32 list
  const ax = reduceAxes('sum', axes, x.rank);
  const out = new Tensor(x.backend.reduce('sum', x.raw('sum'), ax, keepDims), x.backend);
  return record(out, 'sum', [x], (g) => {
    const gk = new Tensor(g.backend.reshape(g.raw(), keptShape(x, ax)), g.backend);
    const r = broadcastTo(gk, x.shape);
    if (r !== gk) gk.dispose();
    return [r];
  });
}

export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  floatArgs('mean', ['x', x]);
  x = autocastFloat32(x); // autocast: float32 list
  const ax = reduceAxes('mean', axes, x.rank);
  const count = numel(ax.map((a) => x.shape[a]!));
  const out = new Tensor(x.backend.reduce('mean', x.raw('mean'), ax, keepDims), x.backend);
  return record(out, 'mean', [x], (g) => {
    // The reshaped view holds a reference to g's storage: release it once scaled.
    const gv = g.backend.reshape(g.raw(), keptShape(x, ax));
    const gk = new Tensor(g.backend.unary('affine', gv, 1 / count, 0), g.backend);
    g.backend.dispose(gv);
    const r = broadcastTo(gk, x.shape);
    if (r !== gk) gk.dispose();
    return [r];
  });
}

/** Max over axes; the gradient goes to every position equal to the max (as PyTorch's amax). */
export function max(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return extremum('max', x, axes, keepDims);
}

/** Min over axes; the gradient goes to every position equal to the min, split evenly (as PyTorch's amin). */
export function min(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  return extremum('min', x, axes, keepDims);
}

function extremum(op: 'max' | 'min', x: Tensor, axes: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  floatArgs(op, ['x', x]);
  const ax = reduceAxes(op, axes, x.rank);
  const out = new Tensor(x.backend.reduce(op, x.raw(op), ax, keepDims), x.backend);
  return record(out, op, [x], (g) => {
    const be = x.backend;
    const ks = keptShape(x, ax);
    const mk = be.reshape(out.raw(), ks);
    const mask = be.binary('eq', x.raw(), mk);
    // amax splits the gradient evenly between ties.
    const cnt = be.reduce('sum', mask, ax, true);
    const gk = be.reshape(g.raw(), ks);
    const share = be.binary('div', gk, cnt);
    const res = be.binary('mul', mask, share);
    for (const r of [mk, mask, cnt, gk, share]) be.dispose(r);
    return [new Tensor(res, be)];
  });
}

/** Sums a broadcast gradient back to `shape` (leading axes dropped, size-1 axes summed with keepDims). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g;
  const be = g.backend;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const red = be.reduce('sum', g.raw('sumToShape'), axes, true);
  const out = be.reshape(red, shape);
  be.dispose(red);
  return new Tensor(out, be);
}

/**
 * Index of the max along `axis` (default the last; i32, no gradient; the first index on ties, and
 * the first NaN's where there is one, as torch), with that axis dropped or kept as size 1. An
 * empty axis throws ShapeError (as torch).
 */
export function argmax(x: Tensor, axis = -1, keepDims = false): Tensor {
  return argExtremum('argmax', x, axis, keepDims);
}

/** Index of the min along `axis`: argmax's counterpart (first index on ties, a NaN's if any). */
export function argmin(x: Tensor, axis = -1, keepDims = false): Tensor {
  return argExtremum('argmin', x, axis, keepDims);
}

function argExtremum(op: 'argmax' | 'argmin', x: Tensor, axis: number, keepDims: boolean): Tensor {
  floatArgs(op, ['x', x]);
  const ax = axisArg(op, 'axis', axis, x.rank);
  // As torch ("Expected reduction dim to have non-zero size"): an empty axis has no index to return.
  if (x.shape[ax] === 0) throw new ShapeError(op, 'axis', 'an axis of non-zero size (an empty axis has no index to return)', `axis ${ax} of size 0 in shape [${x.shape}]`);
  const be = x.backend;
  const last = x.rank - 1;
  let src = x.raw(op);
  if (ax !== last) {
    // Move the axis to the end (a strided copy), where the kernel looks.
    const perm = [...x.shape.keys()].filter((i) => i !== ax).concat(ax);
    const cs = contiguousStrides(x.shape);
    src = be.stridedCopy(src, { offset: 0, strides: perm.map((i) => cs[i]!) }, perm.map((i) => x.shape[i]!));
  }
  let out = op === 'argmax' ? be.argmax(src) : be.argmin(src);
  if (src !== x.raw()) be.dispose(src);
  if (keepDims) {
    const kept = be.reshape(out, x.shape.map((d, i) => (i === ax ? 1 : d)));
    be.dispose(out);
    out = kept;
  }
  return new Tensor(out, be);
}
