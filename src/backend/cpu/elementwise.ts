import { binaryOutDtype, checkBinary, checkWhere } from '../elementwise_checks.js';
import { checkFloat } from '../nn_checks.js';
import { broadcastStrides, isIntDType, type Backend, type BinaryOp, type UnaryOp } from '../types.js';
import { dataOf, forEachStrided, gelu, geluGrad, make } from './common.js';

function powReal(x: number, y: number): number {
  if (y === 0) return 1;
  return Math.pow(x, y);
}

export function unaryFn(op: UnaryOp, alpha: number, beta: number): (v: number) => number {
  switch (op) {
    case 'neg': return (v) => -v;
    case 'exp': return Math.exp;
    case 'log': return Math.log;
    case 'sqrt': return Math.sqrt;
    case 'rsqrt': return (v) => 1 / Math.sqrt(v);
    case 'tanh': return Math.tanh;
    // NaN stays NaN (torch.relu).
    case 'relu': return (v) => (v <= 0 ? 0 : v);
    case 'gelu': return gelu;
    case 'sigmoid': return (v) => 1 / (1 + Math.exp(-v));
    case 'abs': return Math.abs;
    case 'square': return (v) => v * v;
    case 'recip': return (v) => 1 / v;
    case 'sin': return Math.sin;
    case 'cos': return Math.cos;
    case 'sign': return (v) => Math.sign(v);
    case 'affine': return (v) => alpha * v + beta;
    case 'pow_scalar': return (v) => powReal(v, alpha);
    case 'max_scalar': return (v) => Math.max(v, alpha);
    case 'min_scalar': return (v) => Math.min(v, alpha);
  }
}

export function binaryFn(op: BinaryOp): (x: number, y: number) => number {
  switch (op) {
    case 'add': return (x, y) => x + y;
    case 'sub': return (x, y) => x - y;
    case 'mul': return (x, y) => x * y;
    case 'div': return (x, y) => x / y;
    case 'pow': return powReal;
    case 'max': return Math.max;
    case 'min': return Math.min;
    case 'gelu_grad': return (x, dy) => dy * geluGrad(x);
    // torch's threshold_backward: 0 where x <= 0, dy elsewhere (NaN included).
    case 'relu_grad': return (x, dy) => (x <= 0 ? 0 : dy);
    case 'eq': return (x, y) => (x === y ? 1 : 0);
    case 'ne': return (x, y) => (x !== y ? 1 : 0);
    case 'lt': return (x, y) => (x < y ? 1 : 0);
    case 'le': return (x, y) => (x <= y ? 1 : 0);
    case 'gt': return (x, y) => (x > y ? 1 : 0);
    case 'ge': return (x, y) => (x >= y ? 1 : 0);
  }
}

/**
 * add/sub/mul of i32/u32 operands (the other integer ops are comparisons, as binaryFn). The sums
 * are exact in float64 and Math.imul keeps the low 32 bits of a product; storing into the
 * Int32Array / Uint32Array result then wraps modulo 2^32, as WGSL's integer arithmetic does.
 */
function intBinaryFn(op: BinaryOp): (x: number, y: number) => number {
  if (op === 'mul') return Math.imul;
  return binaryFn(op);
}

export function cpuElementwiseOps(): Pick<Backend, 'unary' | 'binary' | 'where' | 'cast'> {
  return {
    unary(op, x, alpha = 0, beta = 0) {
      checkFloat(`unary ${op}`, 'x', x);
      const f = unaryFn(op, alpha, beta);
      const out = make(x.shape, x.dtype);
      const a = dataOf(x);
      const o = dataOf(out);
      for (let i = 0; i < o.length; i++) o[i] = f(a[i]!);
      return out;
    },
    binary(op, a, b) {
      const shape = checkBinary(op, a, b);
      const f = isIntDType(a.dtype) ? intBinaryFn(op) : binaryFn(op);
      const out = make(shape, binaryOutDtype(op, a));
      const ad = dataOf(a);
      const bd = dataOf(b);
      const o = dataOf(out);
      forEachStrided(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)], [0, 0], (i, offs) => {
        o[i] = f(ad[offs[0]!]!, bd[offs[1]!]!);
      });
      return out;
    },
    where(cond, a, b) {
      const shape = checkWhere(cond, a, b);
      const out = make(shape, a.dtype);
      const c = dataOf(cond);
      const ad = dataOf(a);
      const bd = dataOf(b);
      const o = dataOf(out);
      forEachStrided(shape, [broadcastStrides(cond.shape, shape), broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)], [0, 0, 0], (i, offs) => {
        o[i] = c[offs[0]!] !== 0 ? ad[offs[1]!]! : bd[offs[2]!]!;
      });
      return out;
    },
    cast(x, dtype) {
      const out = make(x.shape, dtype);
      const s = dataOf(x);
      const o = dataOf(out);
      const toInt = dtype === 'i32' || dtype === 'u32';
      for (let i = 0; i < o.length; i++) o[i] = toInt ? Math.trunc(s[i]!) : s[i]!;
      return out;
    },
  };
}
