/**
 * Float64 reference of the fused attention kernels (src/backend/webgpu/attention.ts), written
 * directly from the definition (full score rows, no blocking): P = softmax over allowed keys of
 * scale·q·k, dropout mask from the shared counter-based RNG at index ((b·H + h)·T + i)·T + j,
 * O = (P∘Z)·V. Rows with no allowed key give O = 0, lse = F32_MAX and zero gradients.
 */
import type { RawTensor } from '../types.js';
import { hashU32, seedU32, threshold24 } from '../rng.js';
import type { AttentionBackend, AttentionOptions } from '../kernels.js';
import { checkAttention, checkAttentionOptions } from '../nn_checks.js';
import { dataOf, make } from './common.js';

const F32_MAX = 3.4028234663852886e38;

function keepScale(o: AttentionOptions, idx: number): number {
  if (!(o.dropout > 0)) return 1;
  return (hashU32(seedU32(o.seed), idx >>> 0) >>> 8) < threshold24(o.dropout) ? 0 : 1 / (1 - o.dropout);
}

/** Probabilities of row i of head bh (null entries not allowed) and the row's lse. */
function probRow(Q: ArrayLike<number>, K: ArrayLike<number>, M: ArrayLike<number> | null, b: number, bh: number, i: number, T: number, S: number, D: number, scale: number, causal: boolean, qT = T): { p: Float64Array; lse: number } {
  const p = new Float64Array(S);
  const s = new Float64Array(S);
  let m = -Infinity;
  const allowed = (j: number) => (!M || M[b * S + j] !== 0) && (!causal || j <= i);
  for (let j = 0; j < S; j++) {
    if (!allowed(j)) continue;
    let acc = 0;
    for (let d = 0; d < D; d++) acc += Q[(bh * qT + i) * D + d]! * K[(bh * S + j) * D + d]!;
    s[j] = acc * scale;
    m = Math.max(m, s[j]!);
  }
  if (m === -Infinity) return { p, lse: F32_MAX };
  let l = 0;
  for (let j = 0; j < S; j++) if (allowed(j)) l += Math.exp(s[j]! - m);
  for (let j = 0; j < S; j++) if (allowed(j)) p[j] = Math.exp(s[j]! - m) / l;
  return { p, lse: m + Math.log(l) };
}

export function cpuAttentionOps(): AttentionBackend {
  return {
    flashForward(q, k, v, mask, opts) {
      const [B, H, T, D] = checkAttention('flashAttention', q, k, v, mask);
      checkAttentionOptions('flashAttention', opts);
      const [Q, K, V] = [dataOf(q), dataOf(k), dataOf(v)];
      const M = mask ? dataOf(mask) : null;
      const o = make(q.shape, 'f32');
      const lse = make([B, H, T], 'f32');
      const O = dataOf(o);
      const L = dataOf(lse);
      for (let bh = 0; bh < B * H; bh++) {
        const b = Math.floor(bh / H);
        for (let i = 0; i < T; i++) {
          const { p, lse: l } = probRow(Q, K, M, b, bh, i, T, T, D, opts.scale, opts.causal);
          L[bh * T + i] = l;
          for (let j = 0; j < T; j++) {
            const pz = p[j]! * keepScale(opts, (bh * T + i) * T + j);
            if (pz === 0) continue;
            for (let d = 0; d < D; d++) O[(bh * T + i) * D + d] += pz * V[(bh * T + j) * D + d]!;
          }
        }
      }
      return { o, lse };
    },
    flashBackward(q, k, v, mask, _o, _lse, dO, opts) {
      const [B, H, T, D] = checkAttention('flashAttention backward', q, k, v, mask);
      const [Q, K, V, G] = [dataOf(q), dataOf(k), dataOf(v), dataOf(dO)];
      const M = mask ? dataOf(mask) : null;
      const dq = make(q.shape, 'f32');
      const dk = make(q.shape, 'f32');
      const dv = make(q.shape, 'f32');
      const [DQ, DK, DV] = [dataOf(dq), dataOf(dk), dataOf(dv)];
      const row = (X: ArrayLike<number>, bh: number, i: number, d: number) => X[(bh * T + i) * D + d]!;
      for (let bh = 0; bh < B * H; bh++) {
        const b = Math.floor(bh / H);
        for (let i = 0; i < T; i++) {
          const { p } = probRow(Q, K, M, b, bh, i, T, T, D, opts.scale, opts.causal);
          const z = Array.from({ length: T }, (_, j) => keepScale(opts, (bh * T + i) * T + j));
          const dP = new Float64Array(T);
          let dot = 0;
          for (let j = 0; j < T; j++) {
            if (p[j] === 0) continue;
            let a = 0;
            for (let d = 0; d < D; d++) a += row(G, bh, i, d) * row(V, bh, j, d);
            dP[j] = a * z[j]!;
            dot += p[j]! * dP[j]!;
          }
          for (let j = 0; j < T; j++) {
            if (p[j] === 0) continue;
            const ds = p[j]! * (dP[j]! - dot) * opts.scale;
            for (let d = 0; d < D; d++) {
              DQ[(bh * T + i) * D + d] += ds * row(K, bh, j, d);
              DK[(bh * T + j) * D + d] += ds * row(Q, bh, i, d);
              DV[(bh * T + j) * D + d] += p[j]! * z[j]! * row(G, bh, i, d);
            }
          }
        }
      }
      return { dq, dk, dv };
    },
    decode(q, k, v, mask, scale) {
      const [B, H, S, D] = checkAttention('attentionDecode', q, k, v, mask, true);
      const [Q, K, V] = [dataOf(q), dataOf(k), dataOf(v)];
      const M = mask ? dataOf(mask) : null;
      const o = make(q.shape, 'f32');
      const O = dataOf(o);
      for (let bh = 0; bh < B * H; bh++) {
        const b = Math.floor(bh / H);
        // The new query sees every unpadded cached key (it is the last position).
        const { p } = probRow(Q, K, M, b, bh, 0, 1, S, D, scale, false, 1);
        for (let j = 0; j < S; j++) for (let d = 0; d < D; d++) O[bh * D + d] += p[j]! * V[(bh * S + j) * D + d]!;
      }
      return o;
    },
  };
}
