/**
 * Float64 reference of the LLM.int8 kernels (src/backend/webgpu/int8.ts). The quantisation steps
 * reproduce the f32 arithmetic of the shaders (x·127 rounded to f32, then divided and rounded to
 * f32, then rounded half to even), so both backends produce the same int8 codes; the int32 sums are
 * exact in float64, so results agree to the f32 rounding of the final dequantisation.
 */
import { OpArgumentError, ShapeError } from '../../errors.js';
import type { RawTensor } from '../types.js';
import type { Int8Backend, Int8Options, Int8Weight } from '../kernels.js';
import { dataOf, make } from './common.js';

/** Round half to even (torch.round, WGSL round). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** int8 code of x in a row with absmax s, as the shader computes it in f32. */
export function quantizeValue(x: number, s: number): number {
  if (!(s > 0)) return 0;
  const q = roundHalfEven(Math.fround(Math.fround(Math.fround(x) * 127) / Math.fround(s)));
  return Math.max(-127, Math.min(127, q));
}

/** Packs int8 codes [rows, cols] four per u32 (byte j of word w = column 4w+j). */
export function packInt8(codes: ArrayLike<number>, rows: number, cols: number): Uint32Array {
  const words = Math.ceil(cols / 4);
  const out = new Uint32Array(rows * words);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * words + (c >> 2)]! |= (codes[r * cols + c]! & 0xff) << (8 * (c & 3));
  }
  return out;
}

/** Signed byte c of packed row r. */
export function unpackInt8(packed: ArrayLike<number>, words: number, r: number, c: number): number {
  return ((packed[r * words + (c >> 2)]! << (24 - 8 * (c & 3))) >> 24);
}

/** Row-wise quantisation on the host: { codes Int8Array [rows, cols], scale Float32Array [rows] }. */
export function quantizeRowsHost(x: ArrayLike<number>, rows: number, cols: number, outlier?: (c: number) => boolean): { codes: Int8Array; scale: Float64Array } {
  const codes = new Int8Array(rows * cols);
  const scale = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < cols; c++) if (!outlier?.(c)) m = Math.max(m, Math.abs(Math.fround(x[r * cols + c]!)));
    scale[r] = m;
    for (let c = 0; c < cols; c++) codes[r * cols + c] = outlier?.(c) ? 0 : quantizeValue(x[r * cols + c]!, m);
  }
  return { codes, scale };
}

function check2(op: string, arg: string, x: RawTensor): [number, number] {
  if (x.dtype !== 'f32') throw new OpArgumentError(op, arg, 'an f32 tensor', x.dtype);
  if (x.shape.length !== 2) throw new ShapeError(op, arg, 'rank 2', `[${x.shape}]`);
  return x.shape as [number, number];
}

export function cpuInt8Ops(): Int8Backend {
  const wdeq = (w: Int8Weight, o: number, i: number): number => {
    const words = Math.ceil(w.inFeatures / 4);
    return (unpackInt8(dataOf(w.cb), words, o, i) * dataOf(w.scb)[o]!) / 127;
  };
  return {
    quantizeRowwise(w) {
      const [O, I] = check2('quantizeRowwise', 'w', w);
      const { codes, scale } = quantizeRowsHost(dataOf(w), O, I);
      return { cb: make([O, Math.ceil(I / 4)], 'u32', packInt8(codes, O, I)), scb: make([O], 'f32', scale), inFeatures: I };
    },
    int8Linear(x, w, bias, opts: Int8Options) {
      const [N, I] = check2('int8Linear', 'x', x);
      if (I !== w.inFeatures) throw new ShapeError('int8Linear', 'x', `[N, ${w.inFeatures}]`, `[${x.shape}]`);
      const O = w.scb.shape[0]!;
      const X = dataOf(x);
      const outl = new Uint8Array(I);
      if (opts.threshold > 0) {
        for (let t = 0; t < N; t++) for (let c = 0; c < I; c++) if (Math.abs(X[t * I + c]!) >= opts.threshold) outl[c] = 1;
      }
      const cols = [...outl.keys()].filter((c) => outl[c]);
      const { codes, scale } = quantizeRowsHost(X, N, I, (c) => outl[c] === 1);
      const words = Math.ceil(I / 4);
      const CB = dataOf(w.cb);
      const SCB = dataOf(w.scb);
      const B = bias ? dataOf(bias) : null;
      const lr = opts.lowRank;
      let r = 0;
      if (lr) {
        check2('int8Linear', 'lowRank.u', lr.u);
        check2('int8Linear', 'lowRank.b', lr.b);
        r = lr.u.shape[1]!;
        if (lr.u.shape[0] !== N || r < 1) throw new ShapeError('int8Linear', 'lowRank.u', `[${N}, r ≥ 1]`, `[${lr.u.shape}]`);
        if (lr.b.shape[0] !== O || lr.b.shape[1] !== r) throw new ShapeError('int8Linear', 'lowRank.b', `[${O}, ${r}]`, `[${lr.b.shape}]`);
        if (!Number.isFinite(lr.scale)) throw new OpArgumentError('int8Linear', 'lowRank.scale', 'a finite number', String(lr.scale));
      }
      const U = lr ? dataOf(lr.u) : null;
      const LB = lr ? dataOf(lr.b) : null;
      const y = make([N, O], 'f32');
      const Y = dataOf(y);
      for (let n = 0; n < N; n++) {
        for (let o = 0; o < O; o++) {
          let acc = 0;
          for (let c = 0; c < I; c++) acc += codes[n * I + c]! * unpackInt8(CB, words, o, c);
          let v = (acc * scale[n]! * SCB[o]!) / 16129;
          for (const c of cols) v += X[n * I + c]! * wdeq(w, o, c);
          v += B ? B[o]! : 0;
          if (U && LB) {
            let l = 0;
            for (let j = 0; j < r; j++) l += U[n * r + j]! * LB[o * r + j]!;
            v += lr!.scale * l;
          }
          Y[n * O + o] = v;
        }
      }
      return y;
    },
    int8LinearBackward(dy, w) {
      const [N, O] = check2('int8LinearBackward', 'dy', dy);
      const I = w.inFeatures;
      const D = dataOf(dy);
      const dx = make([N, I], 'f32');
      const DX = dataOf(dx);
      for (let o = 0; o < O; o++) {
        for (let i = 0; i < I; i++) {
          const wv = wdeq(w, o, i);
          if (wv === 0) continue;
          for (let n = 0; n < N; n++) DX[n * I + i] += D[n * O + o]! * wv;
        }
      }
      return dx;
    },
    dequantize(w) {
      const O = w.scb.shape[0]!;
      const I = w.inFeatures;
      const out = make([O, I], 'f32');
      const d = dataOf(out);
      for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) d[o * I + i] = wdeq(w, o, i);
      return out;
    },
  };
}
