/** CPU reference storage: float64 for float dtypes (for finite-difference checks), int32/uint32 otherwise. */
import { numel, type DType, type RawTensor } from '../types.js';

export type CpuArray = Float64Array | Int32Array | Uint32Array;

export interface CpuRaw extends RawTensor {
  readonly storage: { data: CpuArray };
}

export function dataOf(x: RawTensor): CpuArray {
  return (x as CpuRaw).storage.data;
}

export function make(shape: readonly number[], dtype: DType, data?: CpuArray): CpuRaw {
  const n = numel(shape);
  const d = data ?? (dtype === 'i32' ? new Int32Array(n) : dtype === 'u32' ? new Uint32Array(n) : new Float64Array(n));
  return { shape: [...shape], dtype, storage: { data: d } };
}

/** Row-major multi-index iteration helper: calls fn(linearIndex, offsets per strides set). */
export function forEachStrided(shape: readonly number[], strideSets: ReadonlyArray<readonly number[]>, offsets: readonly number[], fn: (i: number, offs: number[]) => void): void {
  const n = numel(shape);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  const offs = [...offsets];
  for (let i = 0; i < n; i++) {
    fn(i, offs);
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]!++;
      for (let s = 0; s < strideSets.length; s++) offs[s]! += strideSets[s]![k]!;
      if (idx[k]! < shape[k]!) break;
      for (let s = 0; s < strideSets.length; s++) offs[s]! -= strideSets[s]![k]! * shape[k]!;
      idx[k] = 0;
    }
  }
}

/** erf with float64 accuracy (series for small |x|, continued fraction for large), for exact GELU. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 2.5) {
    // Maclaurin series: converges quickly for |x| < 2.5 in float64.
    let sum = x;
    let term = x;
    const x2 = x * x;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for large |x|.
  let f = a;
  let C = a;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    D = a + an * D;
    D = 1 / D;
    C = a + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}
