/**
 * nn primitives of the float64 CPU reference: softmax / log-softmax, layer norm, cross-entropy,
 * embedding and dropout, written plainly (two-pass statistics, max-subtracted exponentials) so
 * they serve as the oracle for the WGSL kernels and for finite-difference gradient checks.
 */
import { OpArgumentError } from '../../errors.js';
import { numel, type Backend, type RawTensor } from '../types.js';
import { seedU32, uniform01 } from '../rng.js';
import {
  checkAddLayerNorm, checkCrossEntropy, checkCrossEntropyBackward, checkDropout, checkEmbedding, checkEmbeddingBackward, checkFloat, checkLayerNorm,
  checkLayerNormBackward, checkRowBackward, rowsOf,
} from '../nn_checks.js';
import { dataOf, make } from './common.js';

type NnOps = 'softmax' | 'softmaxBackward' | 'logSoftmax' | 'logSoftmaxBackward' | 'layerNorm' | 'addLayerNorm' | 'layerNormBackward'
  | 'crossEntropy' | 'crossEntropyBackward' | 'embedding' | 'embeddingBackward' | 'dropout';

/** max and Σ exp(x - max) of x[base, base + len). */
function rowLse(x: ArrayLike<number>, base: number, len: number): number {
  let m = -Infinity;
  for (let j = 0; j < len; j++) m = Math.max(m, x[base + j]!);
  // A row of -inf (fully masked) would give NaN from -inf - -inf; PyTorch returns NaN there too.
  let s = 0;
  for (let j = 0; j < len; j++) s += Math.exp(x[base + j]! - m);
  return m + Math.log(s);
}

function softmaxLike(x: RawTensor, log: boolean): RawTensor {
  checkFloat(log ? 'logSoftmax' : 'softmax', 'x', x);
  const { rows, len } = rowsOf(x.shape);
  const out = make(x.shape, x.dtype);
  const a = dataOf(x);
  const o = dataOf(out);
  for (let r = 0; r < rows; r++) {
    const base = r * len;
    let m = -Infinity;
    for (let j = 0; j < len; j++) m = Math.max(m, a[base + j]!);
    let s = 0;
    for (let j = 0; j < len; j++) s += Math.exp(a[base + j]! - m);
    const lse = m + Math.log(s);
    for (let j = 0; j < len; j++) o[base + j] = log ? a[base + j]! - lse : Math.exp(a[base + j]! - m) / s;
  }
  return out;
}

/**
 * Row-wise backward from the output y: softmax dx = y·(dy - Σ dy·y), log-softmax
 * dx = dy - exp(y)·Σ dy.
 */
function softmaxLikeBackward(y: RawTensor, dy: RawTensor, log: boolean): RawTensor {
  checkRowBackward(log ? 'logSoftmaxBackward' : 'softmaxBackward', y, dy);
  const { rows, len } = rowsOf(y.shape);
  const out = make(y.shape, y.dtype);
  const Y = dataOf(y);
  const D = dataOf(dy);
  const o = dataOf(out);
  for (let r = 0; r < rows; r++) {
    const base = r * len;
    let s = 0;
    for (let j = 0; j < len; j++) s += log ? D[base + j]! : D[base + j]! * Y[base + j]!;
    for (let j = 0; j < len; j++) o[base + j] = log ? D[base + j]! - Math.exp(Y[base + j]!) * s : Y[base + j]! * (D[base + j]! - s);
  }
  return out;
}

export function cpuNnOps(): Pick<Backend, NnOps> {
  const ops: Pick<Backend, NnOps> = {
    softmax: (x) => softmaxLike(x, false),
    logSoftmax: (x) => softmaxLike(x, true),

    softmaxBackward: (y, dy) => softmaxLikeBackward(y, dy, false),
    logSoftmaxBackward: (y, dy) => softmaxLikeBackward(y, dy, true),

    layerNorm(x, weight, bias, eps) {
      checkLayerNorm(x, weight, bias, eps);
      const { rows, len } = rowsOf(x.shape);
      const y = make(x.shape, x.dtype);
      const mean = make([rows], 'f32');
      const rstd = make([rows], 'f32');
      const X = dataOf(x);
      const W = weight ? dataOf(weight) : null;
      const B = bias ? dataOf(bias) : null;
      const Y = dataOf(y);
      const M = dataOf(mean);
      const R = dataOf(rstd);
      for (let r = 0; r < rows; r++) {
        const base = r * len;
        let s = 0;
        for (let j = 0; j < len; j++) s += X[base + j]!;
        const mu = s / len;
        let v = 0;
        for (let j = 0; j < len; j++) v += (X[base + j]! - mu) ** 2;
        const rs = 1 / Math.sqrt(v / len + eps);
        M[r] = mu;
        R[r] = rs;
        for (let j = 0; j < len; j++) {
          const xh = (X[base + j]! - mu) * rs;
          Y[base + j] = xh * (W ? W[j]! : 1) + (B ? B[j]! : 0);
        }
      }
      return { y, mean, rstd };
    },

    addLayerNorm(x, r, weight, bias, eps) {
      checkAddLayerNorm(x, r, weight, bias, eps);
      const s = make(x.shape, x.dtype);
      const S = dataOf(s);
      const X = dataOf(x);
      const Rr = dataOf(r);
      for (let i = 0; i < S.length; i++) S[i] = X[i]! + Rr[i]!;
      return { s, ...ops.layerNorm(s, weight, bias, eps) };
    },

    layerNormBackward(dy, x, weight, mean, rstd) {
      checkLayerNormBackward(dy, x, weight, mean, rstd);
      const { rows, len } = rowsOf(x.shape);
      const dx = make(x.shape, x.dtype);
      const dweight = weight ? make([len], x.dtype) : null;
      const dbias = make([len], x.dtype);
      const D = dataOf(dy);
      const X = dataOf(x);
      const W = weight ? dataOf(weight) : null;
      const M = dataOf(mean);
      const R = dataOf(rstd);
      const DX = dataOf(dx);
      const DW = dweight ? dataOf(dweight) : null;
      const DB = dataOf(dbias);
      for (let r = 0; r < rows; r++) {
        const base = r * len;
        const mu = M[r]!;
        const rs = R[r]!;
        // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * weight.
        let sg = 0;
        let sgx = 0;
        for (let j = 0; j < len; j++) {
          const xh = (X[base + j]! - mu) * rs;
          const g = D[base + j]! * (W ? W[j]! : 1);
          sg += g;
          sgx += g * xh;
          if (DW) DW[j]! += D[base + j]! * xh;
          DB[j]! += D[base + j]!;
        }
        for (let j = 0; j < len; j++) {
          const xh = (X[base + j]! - mu) * rs;
          const g = D[base + j]! * (W ? W[j]! : 1);
          DX[base + j] = rs * (g - sg / len - (xh * sgx) / len);
        }
      }
      return { dx, dweight, dbias };
    },

    crossEntropy(logits, targets, ignoreIndex) {
      const { rows, len } = checkCrossEntropy('crossEntropy', logits, targets);
      const loss = make(targets.shape, 'f32');
      const lse = make(targets.shape, 'f32');
      const X = dataOf(logits);
      const T = dataOf(targets);
      const L = dataOf(loss);
      const S = dataOf(lse);
      for (let r = 0; r < rows; r++) {
        const base = r * len;
        S[r] = rowLse(X, base, len);
        const t = T[r]!;
        if (t === ignoreIndex) continue;
        if (t < 0 || t >= len) throw new OpArgumentError('crossEntropy', 'targets', `class indices in [0, ${len}) or ignoreIndex ${ignoreIndex}`, `${t} at row ${r}`);
        L[r] = S[r]! - X[base + t]!;
      }
      return { loss, lse };
    },

    crossEntropyBackward(logits, targets, lse, dloss, ignoreIndex) {
      const op = 'crossEntropyBackward';
      const { rows, len } = checkCrossEntropyBackward(logits, targets, lse, dloss);
      const dx = make(logits.shape, logits.dtype);
      const X = dataOf(logits);
      const T = dataOf(targets);
      const S = dataOf(lse);
      const G = dataOf(dloss);
      const DX = dataOf(dx);
      for (let r = 0; r < rows; r++) {
        const t = T[r]!;
        if (t === ignoreIndex) continue;
        if (t < 0 || t >= len) throw new OpArgumentError(op, 'targets', `class indices in [0, ${len}) or ignoreIndex ${ignoreIndex}`, `${t} at row ${r}`);
        const base = r * len;
        for (let j = 0; j < len; j++) DX[base + j] = (Math.exp(X[base + j]! - S[r]!) - (j === t ? 1 : 0)) * G[r]!;
      }
      return dx;
    },

    embedding(table, ids) {
      const { numRows, dim } = checkEmbedding(table, ids);
      const out = make([...ids.shape, dim], table.dtype);
      const W = dataOf(table);
      const I = dataOf(ids);
      const o = dataOf(out);
      for (let i = 0; i < I.length; i++) {
        const id = I[i]!;
        if (id < 0 || id >= numRows) throw new OpArgumentError('embedding', 'ids', `indices in [0, ${numRows})`, `${id} at position ${i}`);
        o.set(W.subarray(id * dim, (id + 1) * dim), i * dim);
      }
      return out;
    },

    embeddingBackward(ids, dy, numRows, paddingIdx) {
      const { n, dim } = checkEmbeddingBackward(ids, dy, numRows);
      const out = make([numRows, dim], dy.dtype);
      const I = dataOf(ids);
      const D = dataOf(dy);
      const o = dataOf(out);
      // Accumulates in position order, the same order as the WGSL kernel's chains.
      for (let i = 0; i < n; i++) {
        const id = I[i]!;
        if (id === paddingIdx) continue;
        if (id < 0 || id >= numRows) throw new OpArgumentError('embeddingBackward', 'ids', `indices in [0, ${numRows})`, `${id} at position ${i}`);
        for (let c = 0; c < dim; c++) o[id * dim + c]! += D[i * dim + c]!;
      }
      return out;
    },

    dropout(x, p, seed) {
      checkDropout(x, p, seed);
      const out = make(x.shape, x.dtype);
      const a = dataOf(x);
      const o = dataOf(out);
      const s = seedU32(seed);
      const n = numel(x.shape);
      if (p === 0) {
        o.set(a);
        return out;
      }
      const scale = p >= 1 ? 0 : 1 / (1 - p);
      // Same draw as the WGSL kernel: element i is dropped iff uniform01(seed, i) < p.
      for (let i = 0; i < n; i++) o[i] = uniform01(s, i) < p ? 0 : a[i]! * scale;
      return out;
    },
  };
  return ops;
}
