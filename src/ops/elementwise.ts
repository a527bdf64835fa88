/** Elementwise ops with numpy broadcasting; each backward sums the gradient back to the input shape. */
import { record } from '../autograd/tape.js';
import { OpArgumentError } from '../errors.js';
import { Tensor, type TensorLike } from '../tensor/tensor.js';
import { fitsIntDType, INT_RANGE, isFloatDType, isIntDType, type BinaryOp, type UnaryOp } from '../backend/types.js';
import { scalarLike } from './creation.js';
import { sumToShape } from './reduce.js';

/** Both operands on one backend (OpArgumentError naming the op and `arg`, b's argument name). */
export function sameBackend(op: string, a: Tensor, b: Tensor, arg = 'b'): void {
  if (a.backend !== b.backend) throw new OpArgumentError(op, arg, `a tensor on a's backend ('${a.backend.name}')`, `a tensor on another backend ('${b.backend.name}')`);
}

function raw(op: string, be: Tensor['backend'], f: () => ReturnType<Tensor['raw']>): Tensor {
  void op;
  return new Tensor(f(), be);
}

/**
 * The ops that take float tensors only. Integer (i32/u32) tensors are indices (embedding ids,
 * targets, argmax results) and take add/sub/mul/div, sum, the comparisons, where() conditions and
 * cast(): see operands().
 */
export function floatArgs(op: string, ...ts: ReadonlyArray<readonly [string, TensorLike]>): void {
  for (const [arg, t] of ts) {
    if (typeof t !== 'number' && !isFloatDType(t.dtype)) {
      throw new OpArgumentError(op, arg, 'a float tensor (f32/f16; integer tensors take only add/sub/mul/div, sum and the comparisons: cast() them first)', t.dtype);
    }
  }
}

export function unaryRaw(op: UnaryOp, x: Tensor, alpha = 0, beta = 0): Tensor {
  floatArgs(op, ['x', x]);
  return raw(op, x.backend, () => x.backend.unary(op, x.raw(op), alpha, beta));
}

export function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  sameBackend(op, a, b);
  return raw(op, a.backend, () => a.backend.binary(op, a.raw(op), b.raw(op)));
}

const asTensor = (like: Tensor, v: TensorLike): Tensor => (typeof v === 'number' ? scalarLike(like, v) : v);

/**
 * torch's promotion for mixed float operands: f16 with f32 computes in f32 (through autograd casts,
 * so each input's gradient comes back in its own dtype), except that a 0-d tensor does not promote
 * a dimensioned one (f16 [N] + f32 [] stays f16).
 */
export function promoteFloats(a: Tensor, b: Tensor): [Tensor, Tensor] {
  if (a.dtype === b.dtype || !isFloatDType(a.dtype) || !isFloatDType(b.dtype)) return [a, b];
  const to = a.rank === 0 && b.rank > 0 ? b.dtype : b.rank === 0 && a.rank > 0 ? a.dtype : 'f32';
  return [cast(a, to), cast(b, to)];
}

const TORCH_INT_NAME = { i32: 'int32', u32: 'uint32' } as const;

/**
 * A number combined with an integer tensor, converted as torch's checked conversion of a scalar: an
 * integer the dtype holds stays itself; for u32 a negative integer down to -(2^32-1) wraps modulo
 * 2^32 (torch lets negatives wrap for unsigned types, so x + (-1) is x - 1); any other integer
 * throws OpArgumentError (torch: "value cannot be converted to type int32_t without overflow").
 * null: not an integer (NaN, ±inf, 0.5), which promotes the tensor to f32 (as torch's int + float).
 */
function intScalar(op: string, dtype: 'i32' | 'u32', v: number): number | null {
  if (!Number.isInteger(v)) return null;
  if (fitsIntDType(v, dtype)) return v;
  const [lo, hi] = INT_RANGE[dtype];
  if (dtype === 'u32' && v < 0 && v >= -hi) return v + 2 ** 32;
  const range = dtype === 'u32' ? `[${-hi}, ${hi}] (negatives wrap modulo 2^32)` : `[${lo}, ${hi}]`;
  throw new OpArgumentError(
    op, 'b', `an integer in ${range} for dtype ${dtype} (a non-integer number promotes to f32; cast() the tensor for wider arithmetic)`,
    `${v}: value cannot be converted to type ${TORCH_INT_NAME[dtype]} without overflow`,
  );
}

/**
 * The operands of add/sub/mul and the comparisons, promoted as torch does: integer tensors of one
 * dtype stay integer (the op runs in that type: exact, add/sub/mul wrapping around modulo 2^32 as
 * WGSL's i32/u32 arithmetic); a float against an integer tensor casts the integer one to the float
 * dtype; an integer tensor with an integer number keeps its dtype (a number it cannot hold throws,
 * see intScalar), with a non-integer number (ids + 0.5) it is cast to f32; mixed floats as
 * promoteFloats. Integer tensors of different dtypes throw. A number stays a number for a float
 * tensor (the affine fast path) and becomes a 0-d tensor for an integer one. Integer tensors never
 * require grad, so integer results are not recorded. (Comparisons against a number an integer
 * dtype cannot hold never get here: compareOutside decides them exactly.)
 */
function operands(op: string, a: Tensor, b: TensorLike): [Tensor, TensorLike] {
  if (typeof b === 'number') {
    if (!isIntDType(a.dtype)) return [a, b];
    const v = intScalar(op, a.dtype, b);
    return v === null ? [cast(a, 'f32'), b] : [a, scalarLike(a, v)];
  }
  sameBackend(op, a, b);
  if (isIntDType(a.dtype) !== isIntDType(b.dtype)) {
    if (isIntDType(a.dtype)) a = cast(a, b.dtype);
    else b = cast(b, a.dtype);
  } else if (isIntDType(a.dtype) && a.dtype !== b.dtype) {
    throw new OpArgumentError(op, 'b', `dtype ${a.dtype} (integer tensors combine with their own dtype; cast() one)`, b.dtype);
  }
  return promoteFloats(a, b);
}

/** a + b (numpy broadcasting; i32/u32 operands wrap, see operands()). */
export function add(a: Tensor, b: TensorLike): Tensor {
  const [x, y] = operands('add', a, b);
  if (typeof y === 'number') return affine(x, 1, y);
  const out = binaryRaw('add', x, y);
  return record(out, 'add', [x, y], (g) => [sumToShape(g, x.shape), sumToShape(g, y.shape)]);
}

/** a - b (numpy broadcasting; i32/u32 operands wrap, see operands()). */
export function sub(a: Tensor, b: TensorLike): Tensor {
  const [x, y] = operands('sub', a, b);
  if (typeof y === 'number') return affine(x, 1, -y);
  const out = binaryRaw('sub', x, y);
  return record(out, 'sub', [x, y], (g) => [sumToShape(g, x.shape), y.requiresGrad ? sumToShape(neg(g), y.shape) : null]);
}

/** a * b (numpy broadcasting; i32/u32 operands wrap, see operands()). */
export function mul(a: Tensor, b: TensorLike): Tensor {
  const [x, y] = operands('mul', a, b);
  if (typeof y === 'number') return affine(x, y, 0);
  const out = binaryRaw('mul', x, y);
  return record(out, 'mul', [x, y], (g) => [
    x.requiresGrad ? sumToShape(binaryRaw('mul', g, y), x.shape) : null,
    y.requiresGrad ? sumToShape(binaryRaw('mul', g, x), y.shape) : null,
  ]);
}

/** a / b: true division, so integer operands are cast to f32 first (as torch's div). */
export function div(a: Tensor, b: TensorLike): Tensor {
  if (isIntDType(a.dtype)) a = cast(a, typeof b !== 'number' && isFloatDType(b.dtype) ? b.dtype : 'f32');
  if (typeof b !== 'number' && isIntDType(b.dtype)) b = cast(b, a.dtype);
  floatArgs('div', ['a', a], ['b', b]);
  if (typeof b === 'number') return affine(a, 1 / b, 0);
  [a, b] = promoteFloats(a, b);
  const out = binaryRaw('div', a, b);
  return record(out, 'div', [a, b], (g) => [
    a.requiresGrad ? sumToShape(binaryRaw('div', g, b), a.shape) : null,
    // d(a/b)/db = -a/b² = -out/b
    b.requiresGrad ? sumToShape(neg(binaryRaw('mul', g, binaryRaw('div', out, b))), b.shape) : null,
  ]);
}

/** cond ? 0 : x (cond 1.0/0.0), without a graph: for the masks of torch's pow backward. */
function zeroWhere(cond: Tensor, x: Tensor): Tensor {
  const zero = scalarLike(x, 0);
  return new Tensor(x.backend.where(cond.raw('pow backward'), zero.raw(), x.raw('pow backward')), x.backend);
}

/**
 * a ** b (tensor or scalar exponent). Gradients as torch's pow_backward_self/_exponent: 0 for the
 * base where the exponent is 0, and 0 for the exponent where the base is 0 and the exponent >= 0
 * (where b·a^(b-1) and a^b·log(a) would give 0·∞ = NaN).
 */
export function pow(a: Tensor, b: TensorLike): Tensor {
  floatArgs('pow', ['a', a], ['b', b]);
  if (typeof b === 'number') {
    const e = b;
    const out = unaryRaw('pow_scalar', a, e);
    return record(out, 'pow', [a], (g) => [
      e === 0 ? new Tensor(g.backend.full(g.shape, g.dtype, 0), g.backend) : binaryRaw('mul', g, mulScalar(unaryRaw('pow_scalar', a, e - 1), e)),
    ]);
  }
  [a, b] = promoteFloats(a, b);
  const out = binaryRaw('pow', a, b);
  return record(out, 'pow', [a, b], (g) => [
    a.requiresGrad ? sumToShape(binaryRaw('mul', g, zeroWhere(binaryRaw('eq', b, scalarLike(b, 0)), binaryRaw('mul', b, binaryRaw('pow', a, affine(b, 1, -1, false))))), a.shape) : null,
    b.requiresGrad
      ? sumToShape(binaryRaw('mul', g, zeroWhere(binaryRaw('mul', binaryRaw('eq', a, scalarLike(a, 0)), binaryRaw('ge', b, scalarLike(b, 0))), binaryRaw('mul', out, unaryRaw('log', a)))), b.shape)
      : null,
  ]);
}

/**
 * Elementwise max / min (NaN if either is NaN). Gradient as torch: at ties each operand gets half
 * of g; where one operand is NaN both get all of it. `loses` is the comparison under which a, the
 * first operand, is not the result ('lt' for max, 'gt' for min); b loses under the other one.
 */
function extremum(op: 'max' | 'min', name: string, a: Tensor, b: TensorLike): Tensor {
  floatArgs(name, ['a', a], ['b', b]);
  let bt = asTensor(a, b);
  [a, bt] = promoteFloats(a, bt);
  const [aLoses, bLoses] = op === 'max' ? (['lt', 'gt'] as const) : (['gt', 'lt'] as const);
  return record(binaryRaw(op, a, bt), name, [a, bt], (g) => {
    // where(a == b, g/2, g), masked to 0 where the operand is the losing one.
    const share = binaryRaw('mul', g, affine(binaryRaw('eq', a, bt), -0.5, 1, false));
    return [
      a.requiresGrad ? sumToShape(binaryRaw('mul', share, affine(binaryRaw(aLoses, a, bt), -1, 1, false)), a.shape) : null,
      bt.requiresGrad ? sumToShape(binaryRaw('mul', share, affine(binaryRaw(bLoses, a, bt), -1, 1, false)), bt.shape) : null,
    ];
  });
}

/** Elementwise max (NaN if either is NaN; torch's gradient, see extremum). */
export function maximum(a: Tensor, b: TensorLike): Tensor {
  return extremum('max', 'maximum', a, b);
}

/** Elementwise min (NaN if either is NaN; torch's gradient, see extremum). */
export function minimum(a: Tensor, b: TensorLike): Tensor {
  return extremum('min', 'minimum', a, b);
}

/**
 * torch.clamp with number bounds: min(max(x, lo), hi) (either bound may be omitted; lo > hi gives
 * hi everywhere, NaN stays NaN). The gradient passes where lo <= x <= hi (bounds included), as torch.
 */
export function clamp(x: Tensor, lo?: number | null, hi?: number | null): Tensor {
  floatArgs('clamp', ['x', x]);
  const has = (v: number | null | undefined): v is number => v !== undefined && v !== null;
  if (!has(lo) && !has(hi)) throw new OpArgumentError('clamp', 'lo/hi', 'at least one bound', 'neither');
  for (const [arg, v] of [['lo', lo], ['hi', hi]] as const) {
    if (has(v) && (typeof v !== 'number' || Number.isNaN(v))) throw new OpArgumentError('clamp', arg, 'a number (or null for no bound)', String(v));
  }
  const low = has(lo) ? unaryRaw('max_scalar', x, lo) : x;
  const out = has(hi) ? unaryRaw('min_scalar', low, hi) : low;
  if (low !== x && low !== out) low.dispose();
  return record(out, 'clamp', [x], (g) => {
    let mask: Tensor | null = null;
    if (has(lo)) mask = binaryRaw('ge', x, scalarLike(x, lo));
    if (has(hi)) {
      const m = binaryRaw('le', x, scalarLike(x, hi));
      mask = mask ? binaryRaw('mul', mask, m) : m;
    }
    return [binaryRaw('mul', g, mask!)];
  });
}

function mulScalar(x: Tensor, s: number): Tensor {
  return unaryRaw('affine', x, s, 0);
}

/** alpha * x + beta (scalar multiply/add); records a node unless `grad` is false. */
export function affine(x: Tensor, alpha: number, beta: number, grad = true): Tensor {
  const out = unaryRaw('affine', x, alpha, beta);
  return grad ? record(out, 'affine', [x], (g) => [mulScalar(g, alpha)]) : out;
}

export function neg(x: Tensor): Tensor {
  floatArgs('neg', ['x', x]);
  return affine(x, -1, 0);
}

export function exp(x: Tensor): Tensor {
  const out = unaryRaw('exp', x);
  return record(out, 'exp', [x], (g) => [binaryRaw('mul', g, out)]);
}

export function log(x: Tensor): Tensor {
  return record(unaryRaw('log', x), 'log', [x], (g) => [binaryRaw('div', g, x)]);
}

export function sqrt(x: Tensor): Tensor {
  const out = unaryRaw('sqrt', x);
  return record(out, 'sqrt', [x], (g) => [binaryRaw('div', mulScalar(g, 0.5), out)]);
}

/** 1 / x; gradient -g / x² (= -g·out²). */
export function recip(x: Tensor): Tensor {
  const out = unaryRaw('recip', x);
  return record(out, 'recip', [x], (g) => [binaryRaw('mul', g, mulScalar(unaryRaw('square', out), -1))]);
}

export function rsqrt(x: Tensor): Tensor {
  const out = unaryRaw('rsqrt', x);
  // d x^-1/2 = -1/2 x^-3/2 = -1/2 out³
  return record(out, 'rsqrt', [x], (g) => [binaryRaw('mul', g, mulScalar(unaryRaw('pow_scalar', out, 3), -0.5))]);
}

export function tanh(x: Tensor): Tensor {
  const out = unaryRaw('tanh', x);
  return record(out, 'tanh', [x], (g) => [binaryRaw('mul', g, unaryRaw('affine', unaryRaw('square', out), -1, 1))]);
}

export function sigmoid(x: Tensor): Tensor {
  const out = unaryRaw('sigmoid', x);
  return record(out, 'sigmoid', [x], (g) => [binaryRaw('mul', g, binaryRaw('mul', out, unaryRaw('affine', out, -1, 1)))]);
}

export function sin(x: Tensor): Tensor {
  return record(unaryRaw('sin', x), 'sin', [x], (g) => [binaryRaw('mul', g, unaryRaw('cos', x))]);
}

export function cos(x: Tensor): Tensor {
  return record(unaryRaw('cos', x), 'cos', [x], (g) => [binaryRaw('mul', g, mulScalar(unaryRaw('sin', x), -1))]);
}

export function relu(x: Tensor): Tensor {
  return record(unaryRaw('relu', x), 'relu', [x], (g) => [binaryRaw('relu_grad', x, g)]);
}

/** Exact GELU, x·Φ(x) with erf (PyTorch's default `gelu`). */
export function gelu(x: Tensor): Tensor {
  return record(unaryRaw('gelu', x), 'gelu', [x], (g) => [binaryRaw('gelu_grad', x, g)]);
}

export function square(x: Tensor): Tensor {
  return record(unaryRaw('square', x), 'square', [x], (g) => [binaryRaw('mul', g, mulScalar(x, 2))]);
}

export function abs(x: Tensor): Tensor {
  return record(unaryRaw('abs', x), 'abs', [x], (g) => [binaryRaw('mul', g, unaryRaw('sign', x))]);
}

/**
 * A comparison (1.0/0.0 without gradient), operands promoted as operands(). Float operands give
 * their (promoted) dtype; integer operands of one dtype are compared exactly and give f32; so is an
 * integer tensor against a number its dtype cannot hold (compareOutside).
 */
function compare(op: BinaryOp, a: Tensor, b: TensorLike): Tensor {
  if (typeof b === 'number' && isIntDType(a.dtype) && !fitsIntDType(b, a.dtype)) return compareOutside(op, a, a.dtype, b);
  const [x, y] = operands(op, a, b);
  return binaryRaw(op, x, typeof y === 'number' ? scalarLike(x, y) : y);
}

/**
 * An integer tensor x against a number b that x's dtype cannot hold, decided exactly in the integer
 * type (a cast to f32 would round x above 2^24, and backends would disagree): eq is all 0 and ne
 * all 1; NaN orders with nothing; a b above (below) the dtype's range is above (below) every
 * element; a non-integer b inside it compares as x <= floor(b) (lt, le) or x >= ceil(b) (gt, ge).
 */
function compareOutside(op: BinaryOp, x: Tensor, dtype: 'i32' | 'u32', b: number): Tensor {
  const [lo, hi] = INT_RANGE[dtype];
  const below = op === 'lt' || op === 'le';
  const c = op === 'eq' ? 0 : op === 'ne' ? 1 : Number.isNaN(b) ? 0 : b > hi ? Number(below) : b < lo ? Number(!below) : null;
  if (c !== null) return new Tensor(x.backend.full(x.shape, 'f32', c), x.backend);
  return below ? binaryRaw('le', x, scalarLike(x, Math.floor(b))) : binaryRaw('ge', x, scalarLike(x, Math.ceil(b)));
}

export const eq = (a: Tensor, b: TensorLike) => compare('eq', a, b);
export const ne = (a: Tensor, b: TensorLike) => compare('ne', a, b);
export const gt = (a: Tensor, b: TensorLike) => compare('gt', a, b);
export const lt = (a: Tensor, b: TensorLike) => compare('lt', a, b);
export const ge = (a: Tensor, b: TensorLike) => compare('ge', a, b);
export const le = (a: Tensor, b: TensorLike) => compare('le', a, b);

/** Converts dtype (no gradient through integer casts; float↔float casts pass the gradient). */
export function cast(x: Tensor, dtype: Tensor['dtype']): Tensor {
  if (x.dtype === dtype) return x;
  const out = new Tensor(x.backend.cast(x.raw('cast'), dtype), x.backend);
  if (!isFloatDType(dtype) || !isFloatDType(x.dtype)) return out;
  return record(out, 'cast', [x], (g) => [new Tensor(g.backend.cast(g.raw('cast'), x.dtype), g.backend)]);
}
