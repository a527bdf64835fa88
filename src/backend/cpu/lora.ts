/**
 * Float64 reference of the fused LoRA kernels (src/backend/webgpu/lora.ts). The dropout mask is the
 * dropout op's (src/backend/cpu/nn.ts): element i of x is dropped iff uniform01(seed, i) < p.
 */
import type { RawTensor } from '../types.js';
import { loraChecks, type LoraBackend, type LoraDropout } from '../kernels.js';
import { seedU32, uniform01 } from '../rng.js';
import { dataOf, make } from './common.js';

/** x' = dropout(x) as the dropout op computes it (a copy of x when there is no dropout). */
function dropped(x: RawTensor, d: LoraDropout | undefined): Float64Array {
  const a = dataOf(x);
  const out = Float64Array.from(a);
  if (!d || !(d.p > 0)) return out;
  const s = seedU32(d.seed);
  const keep = d.p >= 1 ? 0 : 1 / (1 - d.p);
  for (let i = 0; i < out.length; i++) out[i] = uniform01(s, i) < d.p ? 0 : a[i]! * keep;
  return out;
}

/** a [M, K] · bᵀ for b [N, K] (bT) or b [K, N]. */
function mm(a: ArrayLike<number>, M: number, K: number, b: ArrayLike<number>, N: number, bT: boolean): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k]! * (bT ? b[n * K + k]! : b[k * N + n]!);
      c[m * N + n] = s;
    }
  }
  return c;
}

export function cpuLoraOps(): LoraBackend {
  return {
    loraProject(x, w, opts) {
      const { N, K, r } = loraChecks.project(x, w, opts.wKMajor);
      const u = mm(dropped(x, opts.dropout), N, K, dataOf(w), r, !opts.wKMajor);
      for (let i = 0; i < u.length; i++) u[i]! *= opts.scale;
      return make([N, r], 'f32', u);
    },
    loraLinear(x, w, bias, u, b) {
      const { N, I, O, r } = loraChecks.linear(x, w, bias, u, b);
      const y = mm(dataOf(x), N, I, dataOf(w), O, true);
      const low = mm(dataOf(u), N, r, dataOf(b), O, true);
      const bv = bias ? dataOf(bias) : null;
      for (let i = 0; i < y.length; i++) y[i]! += low[i]! + (bv ? bv[i % O]! : 0);
      return make([N, O], 'f32', y);
    },
    loraLinearBackward(dy, w, g, a, dropout) {
      const { N, O, I, r } = loraChecks.linearBackward(dy, w, g, a);
      const dx = mm(dataOf(dy), N, O, dataOf(w), I, false);
      const low = dropped(make([N, I], 'f32', mm(dataOf(g), N, r, dataOf(a), I, false)), dropout);
      for (let i = 0; i < dx.length; i++) dx[i]! += low[i]!;
      return make([N, I], 'f32', dx);
    },
    loraAdd(base, u, l, opts) {
      const { N, C, r } = loraChecks.add(base, u, l, opts.aLayout);
      const low = dropped(make([N, C], 'f32', mm(dataOf(u), N, r, dataOf(l), C, !opts.aLayout)), opts.dropout);
      const bv = dataOf(base);
      for (let i = 0; i < low.length; i++) low[i]! += bv[i]!;
      return make([N, C], 'f32', low);
    },
    loraGradA(g, x, dropout) {
      const { N, K, r } = loraChecks.gradA(g, x);
      const xd = dropped(x, dropout);
      const gv = dataOf(g);
      const out = new Float64Array(r * K);
      for (let n = 0; n < N; n++) {
        for (let j = 0; j < r; j++) {
          const gj = gv[n * r + j]!;
          for (let k = 0; k < K; k++) out[j * K + k]! += gj * xd[n * K + k]!;
        }
      }
      return make([r, K], 'f32', out);
    },
  };
}
