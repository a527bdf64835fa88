/**
 * Matmul with an operand or product above maxStorageBufferBindingSize (BioGPT's tied LM head:
 * hidden · Eᵀ with E = [42384, 1024] f32 = 174 MB, over lavapipe's 128 MiB): the product is made
 * in blocks of (M, N, K) whose pieces each fit one binding. A piece that is a range of whole rows
 * of its stored operand is a window (no copy); otherwise it is copied out of a window of those
 * rows. K blocks are summed; blocks of C are written into windows of the output.
 */
import type { GpuContext } from '../../gpu/device.js';
import { maxBindingBytes } from '../../gpu/buffer_pool.js';
import { BufferTooLargeError } from '../../gpu/errors.js';
import { alloc, bindable, release, rowAlign, view, windowOf } from './common.js';
import { elementwiseOps } from './elementwise.js';
import { layoutOps } from './layout.js';
import { bytesPerElement, numel, type RawTensor } from '../types.js';

type Mm = (a: RawTensor, b: RawTensor) => RawTensor;

const lcm = (a: number, b: number): number => {
  const g = (x: number, y: number): number => (y === 0 ? x : g(y, x % y));
  return (a * b) / g(a, b);
};

/** Block length along a dimension of size n: all of it, or the largest multiple of `mult` <= cap. */
function blockLen(n: number, cap: number, mult: number, what: string, limit: number, bytes: number): number {
  if (n <= cap) return n;
  const b = Math.floor(cap / mult) * mult;
  if (b < 1) throw new BufferTooLargeError(bytes * mult, limit, 'maxStorageBufferBindingSize', `matmul: the smallest aligned block of ${what} (${mult} rows)`);
  return b;
}

/**
 * Returns the product when a, b or the [M, N] result exceeds the binding limit, else undefined
 * (the ordinary path runs). `mm` is the backend's matmul with the same transposes.
 */
export function chunkedMatmul(ctx: GpuContext, a: RawTensor, b: RawTensor, ta: boolean, tb: boolean, batch: readonly number[], mm: Mm): RawTensor | undefined {
  const limit = maxBindingBytes(ctx);
  const e = bytesPerElement(a.dtype);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const M = ta ? ac : ar;
  const K = ta ? ar : ac;
  const N = tb ? br : bc;
  if (bindable(ctx, a) && bindable(ctx, b) && M * N * numel(batch) * e <= limit) return undefined;
  if (numel(a.shape.slice(0, -2)) !== 1 || numel(b.shape.slice(0, -2)) !== 1) {
    const big = Math.max(numel(a.shape), numel(b.shape), M * N * numel(batch)) * e;
    throw new BufferTooLargeError(big, limit, 'maxStorageBufferBindingSize', 'matmul: batched operands over the binding limit are not chunked (only 2-D products are)');
  }
  const layout = layoutOps(ctx);
  const ew = elementwiseOps(ctx);
  const rb = (cols: number) => Math.max(1, cols * e);
  // A matrix over the limit is used through windows of its stored rows, which must fit and start
  // aligned: A is [M, K] (or [K, M] when ta), B is [K, N] (or [N, K]), C is [M, N]. One that fits
  // is bound whole and its pieces are copied out of it, so it constrains nothing.
  let [mCap, kCap, nCap] = [Infinity, Infinity, Infinity];
  let [mMult, kMult, nMult] = [1, 1, 1];
  const cap = (c: number, cols: number) => Math.min(c, Math.floor(limit / rb(cols)));
  if (M * N * e > limit) [mCap, mMult] = [cap(mCap, N), lcm(mMult, rowAlign(ctx, N * e))];
  if (!bindable(ctx, a)) {
    if (ta) [kCap, kMult] = [cap(kCap, M), lcm(kMult, rowAlign(ctx, M * e))];
    else [mCap, mMult] = [cap(mCap, K), lcm(mMult, rowAlign(ctx, K * e))];
  }
  if (!bindable(ctx, b)) {
    if (tb) [nCap, nMult] = [cap(nCap, K), lcm(nMult, rowAlign(ctx, K * e))];
    else [kCap, kMult] = [cap(kCap, N), lcm(kMult, rowAlign(ctx, N * e))];
  }
  // Pieces, partial products and sums are then within the limit too (each lies inside a fitting
  // matrix or window).
  const Mb = blockLen(M, mCap, mMult, 'M', limit, Math.max(N, K) * e);
  const Kb = blockLen(K, kCap, kMult, 'K', limit, Math.max(M, N) * e);
  const Nb = blockLen(N, nCap, nMult, 'N', limit, K * e);

  const a2 = a.shape.length === 2 ? a : view(a, [ar, ac]);
  const b2 = b.shape.length === 2 ? b : view(b, [br, bc]);
  /** Rows [r0, r0+rn) × columns [c0, c0+cn) of a stored [R, C] matrix: itself, a window, or a copy. */
  const piece = (x: RawTensor, C: number, r0: number, rn: number, c0: number, cn: number): RawTensor => {
    const whole = bindable(ctx, x);
    if (r0 === 0 && rn === x.shape[0] && c0 === 0 && cn === C && whole) return view(x, [rn, C]);
    if (whole) return layout.stridedCopy(x, { offset: r0 * C + c0, strides: [C, 1] }, [rn, cn]);
    const w = windowOf(ctx, x, r0 * C, [rn, C]);
    if (c0 === 0 && cn === C) return w;
    return layout.stridedCopy(w, { offset: c0, strides: [C, 1] }, [rn, cn]);
  };

  const single = Mb === M && Nb === N && Kb === K;
  const out = single ? undefined : alloc(ctx, [M, N], a.dtype, 'matmul');
  let result: RawTensor | undefined;
  try {
    for (let m0 = 0; m0 < M; m0 += Mb) {
      const mn = Math.min(Mb, M - m0);
      for (let n0 = 0; n0 < N; n0 += Nb) {
        const nn = Math.min(Nb, N - n0);
        let acc: RawTensor | undefined;
        for (let k0 = 0; k0 < K; k0 += Kb) {
          const kn = Math.min(Kb, K - k0);
          const pa = ta ? piece(a2, M, k0, kn, m0, mn) : piece(a2, K, m0, mn, k0, kn);
          const pb = tb ? piece(b2, K, n0, nn, k0, kn) : piece(b2, N, k0, kn, n0, nn);
          const part = mm(pa, pb);
          release(ctx, pa);
          release(ctx, pb);
          if (!acc) acc = part;
          else {
            const sum = ew.binary('add', acc, part);
            release(ctx, acc);
            release(ctx, part);
            acc = sum;
          }
        }
        if (!out) {
          result = acc;
          continue;
        }
        // A C that fits is written whole (no aligned window needed).
        const dst = bindable(ctx, out) ? view(out, [M, N]) : windowOf(ctx, out, m0 * N, [mn, N]);
        layout.stridedWrite(dst, { offset: bindable(ctx, out) ? m0 * N + n0 : n0, strides: [N, 1] }, acc!);
        release(ctx, dst);
        release(ctx, acc!);
      }
    }
    result ??= out!;
  } finally {
    if (a2 !== a) release(ctx, a2);
    if (b2 !== b) release(ctx, b2);
  }
  const shape = [...batch, M, N];
  if (shape.length === 2) return result;
  const r = view(result, shape);
  release(ctx, result);
  return r;
}
