/** Creating tensors: from host arrays, constants and seeded random initialisers. */
import { getBackend } from '../backend/registry.js';
import { fitsIntDType, INT_RANGE, isIntDType, numel, type DType } from '../backend/types.js';
import { OpArgumentError } from '../errors.js';
import { checkGradDtype, Tensor } from '../tensor/tensor.js';
import { checkShape } from '../backend/shape_checks.js';
import { int } from './axes.js';

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

type Nested = number | readonly Nested[];

function flatten(v: Nested, shape: number[], out: number[], depth = 0): void {
  if (typeof v === 'number') {
    out.push(v);
    return;
  }
  if (shape.length <= depth) shape.push(v.length);
  else if (shape[depth] !== v.length) throw new OpArgumentError('tensor', 'data', `a rectangular nested array (length ${shape[depth]} at depth ${depth})`, `length ${v.length}`);
  for (const x of v) flatten(x, shape, out, depth + 1);
}

/** A tensor from a typed array / flat array plus shape, or from nested arrays. */
export function tensor(data: ArrayLike<number> | Nested, shape?: readonly number[], opts: CreateOptions = {}): Tensor {
  const be = getBackend();
  let flat: ArrayLike<number>;
  let shp: readonly number[];
  if (typeof data === 'number') {
    flat = [data];
    shp = shape ?? [];
  } else if (shape) {
    flat = Array.isArray(data) && data.some((x) => Array.isArray(x)) ? (() => { const o: number[] = []; flatten(data as Nested, [], o); return o; })() : (data as ArrayLike<number>);
    shp = shape;
  } else if (ArrayBuffer.isView(data)) {
    flat = data as ArrayLike<number>;
    shp = [(data as ArrayLike<number>).length];
  } else {
    const s: number[] = [];
    const o: number[] = [];
    flatten(data as Nested, s, o);
    flat = o;
    shp = s;
  }
  const n = checkShape('tensor', 'shape', shp);
  if (flat.length !== n) throw new OpArgumentError('tensor', 'data', `${n} values for shape [${shp}]`, `${flat.length} values`);
  const dtype = opts.dtype ?? (data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32');
  if (opts.requiresGrad) checkGradDtype('tensor', dtype);
  if (isIntDType(dtype)) checkIntegers(flat, dtype);
  return new Tensor(be.upload(flat, shp, dtype), be, opts.requiresGrad ?? false);
}

/** Integer data must be integers its dtype holds (no silent wrap-around or truncation). */
function checkIntegers(flat: ArrayLike<number>, dtype: 'i32' | 'u32'): void {
  if ((dtype === 'i32' && flat instanceof Int32Array) || (dtype === 'u32' && flat instanceof Uint32Array)) return;
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i]!;
    if (!fitsIntDType(v, dtype)) {
      const [lo, hi] = INT_RANGE[dtype];
      throw new OpArgumentError('tensor', 'data', `integers in [${lo}, ${hi}] for dtype ${dtype}`, `${v} at index ${i}`);
    }
  }
}

function filled(op: string, shape: readonly number[], value: number, opts: CreateOptions): Tensor {
  checkShape(op, 'shape', shape);
  const dtype = opts.dtype ?? 'f32';
  if (opts.requiresGrad) checkGradDtype(op, dtype);
  if (isIntDType(dtype) && !fitsIntDType(value, dtype)) {
    throw new OpArgumentError(op, 'value', `an integer in [${INT_RANGE[dtype][0]}, ${INT_RANGE[dtype][1]}] for dtype ${dtype}`, String(value));
  }
  const be = getBackend();
  return new Tensor(be.full(shape, opts.dtype ?? 'f32', value), be, opts.requiresGrad ?? false);
}

export const full = (shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor => filled('full', shape, value, opts);
export const zeros = (shape: readonly number[], opts: CreateOptions = {}): Tensor => filled('zeros', shape, 0, opts);
export const ones = (shape: readonly number[], opts: CreateOptions = {}): Tensor => filled('ones', shape, 1, opts);
export const zerosLike = (t: Tensor) => full(t.shape, 0, { dtype: t.dtype });
export const onesLike = (t: Tensor) => full(t.shape, 1, { dtype: t.dtype });

/** A scalar (shape []) constant in x's dtype, for broadcasting against x. */
export function scalarLike(x: Tensor, v: number): Tensor {
  return new Tensor(x.backend.full([], x.dtype, v), x.backend);
}

/** Uniform [lo, hi) from a seeded counter-based RNG (same seed → same values on every backend). */
export function randUniform(shape: readonly number[], seed: number, lo = 0, hi = 1, opts: CreateOptions = {}): Tensor {
  checkShape('randUniform', 'shape', shape);
  const be = getBackend();
  return new Tensor(be.randomUniform(shape, seed, lo, hi), be, opts.requiresGrad ?? false);
}

export function randNormal(shape: readonly number[], seed: number, mean = 0, std = 1, opts: CreateOptions = {}): Tensor {
  checkShape('randNormal', 'shape', shape);
  const be = getBackend();
  return new Tensor(be.randomNormal(shape, seed, mean, std), be, opts.requiresGrad ?? false);
}

/** [0, 1, ..., n-1]; n a non-negative integer. */
export function arange(n: number, opts: CreateOptions = {}): Tensor {
  int('arange', 'n', n, 0);
  const a = new Array<number>(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return tensor(a, [n], opts);
}

export function numelOf(shape: readonly number[]): number {
  return numel(shape);
}
