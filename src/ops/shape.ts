/**
 * Shape ops. reshape shares storage; permute/transpose/slice/expand/concat/split are materialised
 * by the strided-copy kernel (storage is always contiguous), their gradients by the inverse copy.
 */
import { record } from '../autograd/tape.js';
import { OpArgumentError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, contiguousStrides, numel } from '../backend/types.js';
import { sumToShape } from './reduce.js';
import { checkShape } from '../backend/shape_checks.js';
import { axes, axis as axisArg, int, showArg } from './axes.js';

/** Same data seen with another shape of equal size; at most one dim may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const n = x.size;
  const infer = shape.indexOf(-1);
  if (infer >= 0 && shape.indexOf(-1, infer + 1) >= 0) throw new ShapeError('reshape', 'shape', 'at most one inferred (-1) dim', `[${shape}]`);
  const s = [...shape];
  if (infer >= 0) {
    const rest = numel(shape.filter((_, i) => i !== infer));
    if (rest <= 0 || n % rest !== 0) throw new ShapeError('reshape', 'shape', `a shape with ${n} elements (from [${x.shape}])`, `[${shape}]`);
    s[infer] = n / rest;
  }
  checkShape('reshape', 'shape', s);
  if (numel(s) !== n) throw new ShapeError('reshape', 'shape', `a shape with ${n} elements (from [${x.shape}])`, `[${shape}]`);
  const out = new Tensor(x.backend.reshape(x.raw('reshape'), s), x.backend);
  return record(out, 'reshape', [x], (g) => [new Tensor(g.backend.reshape(g.raw(), x.shape), g.backend)]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  const r = x.rank;
  if (!Array.isArray(perm) || perm.length !== r) throw new OpArgumentError('permute', 'perm', `a permutation of the ${r} axes (${r} distinct axes)`, showArg(perm));
  axes('permute', 'perm', perm, r); // integers in range, no duplicates
  const p = perm.map((a) => axisArg('permute', 'perm', a, r));
  const cs = contiguousStrides(x.shape);
  const shape = p.map((a) => x.shape[a]!);
  const out = new Tensor(x.backend.stridedCopy(x.raw('permute'), { offset: 0, strides: p.map((a) => cs[a]!) }, shape), x.backend);
  const inv = new Array<number>(r);
  p.forEach((a, i) => (inv[a] = i));
  return record(out, 'permute', [x], (g) => [permute(g, inv)]);
}

/** Swaps two axes (default: the last two). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const r = x.rank;
  const perm = x.shape.map((_, i) => i);
  const ia = axisArg('transpose', 'a', a, r);
  const ib = axisArg('transpose', 'b', b, r);
  [perm[ia], perm[ib]] = [perm[ib]!, perm[ia]!];
  return permute(x, perm);
}

/** x[starts : starts + sizes] per axis (sizes -1 = to the end). */
export function slice(x: Tensor, starts: readonly number[], sizes: readonly number[]): Tensor {
  for (const [arg, v] of [['starts', starts], ['sizes', sizes]] as const) {
    if (!Array.isArray(v) || v.length > x.rank) throw new OpArgumentError('slice', arg, `at most ${x.rank} values (one per axis of [${x.shape}])`, showArg(v));
    v.forEach((n, i) => int('slice', `${arg}[${i}]`, n, arg === 'sizes' ? -1 : 0));
  }
  const cs = contiguousStrides(x.shape);
  const st = x.shape.map((_, i) => starts[i] ?? 0);
  const sz = x.shape.map((d, i) => (sizes[i] === undefined || sizes[i] === -1 ? d - st[i]! : sizes[i]!));
  sz.forEach((s, i) => {
    if (st[i]! < 0 || s < 0 || st[i]! + s > x.shape[i]!) throw new ShapeError('slice', `axis ${i}`, `start+size <= ${x.shape[i]}`, `start ${st[i]} size ${s}`);
  });
  const offset = st.reduce((acc, s, i) => acc + s * cs[i]!, 0);
  const out = new Tensor(x.backend.stridedCopy(x.raw('slice'), { offset, strides: cs }, sz), x.backend);
  return record(out, 'slice', [x], (g) => {
    const be = g.backend;
    const z = be.full(x.shape, g.dtype, 0);
    be.stridedWrite(z, { offset, strides: cs }, g.raw());
    return [new Tensor(z, be)];
  });
}

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (!xs.length) throw new OpArgumentError('concat', 'xs', 'at least one tensor', 'none');
  const r = xs[0]!.rank;
  const ax = axisArg('concat', 'axis', axis, r);
  xs.forEach((t, i) => {
    if (t.backend !== xs[0]!.backend) throw new OpArgumentError('concat', `xs[${i}]`, `a tensor on xs[0]'s backend ('${xs[0]!.backend.name}')`, `backend '${t.backend.name}'`);
    if (t.dtype !== xs[0]!.dtype) throw new OpArgumentError('concat', `xs[${i}]`, `dtype ${xs[0]!.dtype} (same as xs[0]; cast() first)`, t.dtype);
  });
  for (const t of xs) {
    if (t.rank !== r || t.shape.some((d, i) => i !== ax && d !== xs[0]!.shape[i])) {
      throw new ShapeError('concat', 'xs', `shapes equal to [${xs[0]!.shape}] except on axis ${ax}`, `[${t.shape}]`);
    }
  }
  const shape = [...xs[0]!.shape];
  shape[ax] = xs.reduce((s, t) => s + t.shape[ax]!, 0);
  const be = xs[0]!.backend;
  const out = be.empty(shape, xs[0]!.dtype); // every element is one piece's
  const cs = contiguousStrides(shape);
  let at = 0;
  const offsets: number[] = [];
  for (const t of xs) {
    offsets.push(at * cs[ax]!);
    be.stridedWrite(out, { offset: at * cs[ax]!, strides: cs }, t.raw('concat'));
    at += t.shape[ax]!;
  }
  return record(new Tensor(out, be), 'concat', xs, (g) =>
    xs.map((t, i) => (t.requiresGrad ? new Tensor(g.backend.stridedCopy(g.raw(), { offset: offsets[i]!, strides: cs }, t.shape), g.backend) : null)),
  );
}

/** Splits along an axis into pieces of the given sizes (or n equal pieces). */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const ax = axisArg('split', 'axis', axis, x.rank);
  const d = x.shape[ax]!;
  if (typeof sizes === 'number') {
    int('split', 'sizes', sizes, 1);
    if (d % sizes !== 0) throw new ShapeError('split', 'sizes', `a count of equal pieces dividing the axis length ${d} (axis ${ax} of [${x.shape}])`, String(sizes));
  }
  const parts = typeof sizes === 'number' ? new Array<number>(sizes).fill(d / sizes) : [...sizes];
  if (parts.some((p) => !Number.isInteger(p) || p < 0) || parts.reduce((a, b) => a + b, 0) !== d) {
    throw new ShapeError('split', 'sizes', `non-negative integer sizes summing to ${d} (axis ${ax} of [${x.shape}])`, `[${parts}]`);
  }
  let at = 0;
  return parts.map((p) => {
    const st = x.shape.map((_, i) => (i === ax ? at : 0));
    const sz = x.shape.map((dd, i) => (i === ax ? p : dd));
    at += p;
    return slice(x, st, sz);
  });
}

/**
 * Materialised broadcast to `shape`; the gradient is summed back. As torch's expand, -1 keeps the
 * size of that (existing, right-aligned) dim; new leading dims need an explicit size.
 */
export function expand(x: Tensor, target: readonly number[]): Tensor {
  const lead = target.length - x.rank;
  const shape = Array.isArray(target) ? target.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead]! : d)) : target;
  if (lead > 0 && shape.slice(0, lead).includes(-1)) {
    throw new ShapeError('expand', 'shape', `explicit sizes for the ${lead} new leading dim(s) (-1 keeps an existing dim only)`, `[${target}]`);
  }
  checkShape('expand', 'shape', shape);
  const s = broadcastShapes(x.shape, shape);
  if (!s || s.join() !== shape.join()) throw new ShapeError('expand', 'shape', `a shape [${x.shape}] broadcasts to`, `[${shape}]`);
  const out = new Tensor(x.backend.stridedCopy(x.raw('expand'), { offset: 0, strides: broadcastStrides(x.shape, shape) }, shape), x.backend);
  return record(out, 'expand', [x], (g) => [sumToShape(g, x.shape)]);
}

/** A size-1 axis inserted at `axis` in [-rank-1, rank] (as torch.unsqueeze). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const ax = axisArg('unsqueeze', 'axis', axis, x.rank, 1);
  const s = [...x.shape];
  s.splice(ax, 0, 1);
  return reshape(x, s);
}

export function squeeze(x: Tensor, axis: number): Tensor {
  const ax = axisArg('squeeze', 'axis', axis, x.rank);
  if (x.shape[ax] !== 1) throw new ShapeError('squeeze', 'axis', `an axis of size 1`, `axis ${axis} of size ${x.shape[ax]} (shape [${x.shape}])`);
  return reshape(x, x.shape.filter((_, i) => i !== ax));
}
