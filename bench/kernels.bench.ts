/**
 * Fused-kernel benchmarks at BioGPT shapes: LLM.int8 linear vs the f32 linear (same shape, same
 * run), flash attention forward+backward vs the composite path, single-query decode, and the GPU
 * bytes of BioGPT's quantised weights. GPU time from timestamp queries (ctx.queue.beginTiming /
 * endTiming), median of REPS runs after one warm-up.
 *
 * Shapes: full = BioGPT training (tokens B·T = 2048, C = 1024, FFN 4096, 16 heads × 64, T = 512)
 * and decoding (B = 4, S = 512). Lavapipe is slow, so the default is scaled down:
 * RADGRAD_BENCH_SCALE=full for the full shapes, otherwise tokens = 256, T = 128 (B = 2), the same
 * C / FFN / heads. Run: npm run bench -- kernels   (RADGRAD_BENCH_SCALE=full npm run bench -- kernels)
 */
import { gpu } from '../src/gpu/device.js';
import { getBackend } from '../src/backend/registry.js';
import { backward } from '../src/autograd/tape.js';
import { tidy } from '../src/tensor/scope.js';
import { Tensor } from '../src/tensor/tensor.js';
import * as ops from '../src/ops/index.js';
import { matmulInt8, quantizeWeight, disposeQuantized } from '../src/ops/matmul_int8.js';
import { attentionDecode, compositeAttention, flashAttention } from '../src/ops/attention.js';

type Row = Record<string, string | number>;
const REPS = Number(process.env.RADGRAD_BENCH_REPS ?? 3);

async function gpuMs(fn: () => void): Promise<number> {
  const ctx = gpu();
  const be = getBackend();
  fn(); // warm-up (pipeline compiles)
  await be.sync();
  const times: number[] = [];
  for (let r = 0; r < REPS; r++) {
    ctx.queue.beginTiming();
    fn();
    times.push((await ctx.queue.endTiming()).ms);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const rand = (shape: number[], seed: number, std = 1) => ops.randNormal(shape, seed, 0, std);

/** GPU bytes of BioGPT-347M with every linear in int8 (CB 1 B/weight + SCB 4 B/row + f32 bias), embeddings f32. */
function biogptBytes(): Row {
  const L = 24, C = 1024, F = 4096, V = 42384, P = 1026;
  const linears: Array<[number, number]> = [[C, C], [C, C], [C, C], [C, C], [F, C], [C, F]];
  let int8 = 0, f32 = 0;
  for (const [o, i] of linears) {
    int8 += L * (o * i + 4 * o + 4 * o);
    f32 += L * 4 * (o * i + o);
  }
  const emb = 4 * (V * C + P * C) + 4 * (L * 4 * C + 2 * C); // token + position embeddings, layer norms
  return {
    kernel: 'BioGPT weights (GPU buffers)', shape: '24 layers, C 1024, FFN 4096, vocab 42384',
    int8_linear_MB: +(int8 / 1e6).toFixed(1), f32_linear_MB: +(f32 / 1e6).toFixed(1),
    embeddings_ln_f32_MB: +(emb / 1e6).toFixed(1), total_int8_GB: +((int8 + emb) / 1e9).toFixed(3),
  };
}

export async function bench(): Promise<Row[]> {
  const full = process.env.RADGRAD_BENCH_SCALE === 'full';
  const N = full ? 2048 : 256;
  const C = 1024, F = 4096, H = 16, D = 64;
  const B = full ? 4 : 2;
  const T = full ? 512 : 128;
  const rows: Row[] = [];
  const card = `${gpu().adapterInfo.description || gpu().adapterInfo.device}`;

  // ---- linear: f32 vs int8 (threshold 6, activations N(0,1): a few outliers on heavy-tailed inputs) ----
  for (const [O, I] of [[F, C], [C, F]] as const) {
    const x = rand([N, I], 1);
    const w = rand([O, I], 2, 0.02);
    const q = quantizeWeight(w);
    const flops = 2 * N * O * I;
    const f32Ms = await gpuMs(() => tidy(() => void ops.matmul(x, w, { transB: true })));
    const i8Ms = await gpuMs(() => tidy(() => void matmulInt8(x, q, null, { threshold: 6 })));
    const fbMs = await gpuMs(() => tidy(() => void matmulInt8(x, q, null, { threshold: 6, forceFallback: true })));
    const shape = `[${N},${I}]x[${O},${I}]ᵀ`;
    rows.push({ kernel: 'linear f32 (matmul_f32)', shape, ms: f32Ms, 'GFLOP/s|TOP/s': flops / f32Ms / 1e6, 'GB/s': (4 * (N * I + O * I + N * O)) / f32Ms / 1e6 });
    rows.push({ kernel: 'Int8Linear dot4I8Packed', shape, ms: i8Ms, 'GFLOP/s|TOP/s': flops / i8Ms / 1e6, 'GB/s': (4 * N * I + O * I + 4 * N * O) / i8Ms / 1e6, speedup_vs_f32: f32Ms / i8Ms });
    rows.push({ kernel: 'Int8Linear unpack fallback', shape, ms: fbMs, 'GFLOP/s|TOP/s': flops / fbMs / 1e6, 'GB/s': (4 * N * I + O * I + 4 * N * O) / fbMs / 1e6, speedup_vs_f32: f32Ms / fbMs });
    // backward to x (int8 weight dequantised on the fly) vs the f32 dx = dy·W
    const dy = rand([N, O], 3);
    const kb = await gpuMs(() => tidy(() => {
      const xx = x.detach().requiresGrad_();
      backward(matmulInt8(xx, q, null, { threshold: 6 }), dy);
    }));
    const fb = await gpuMs(() => tidy(() => {
      const xx = x.detach().requiresGrad_();
      backward(ops.matmul(xx, w, { transB: true }), dy);
    }));
    rows.push({ kernel: 'Int8Linear fwd+bwd(x) vs f32', shape, ms: kb, 'GFLOP/s|TOP/s': (2 * flops) / kb / 1e6, f32_ms: fb, speedup_vs_f32: fb / kb });
    for (const t of [x, w, dy]) t.dispose();
    disposeQuantized(q);
  }

  // ---- attention fwd+bwd at T: fused vs composite ----
  {
    const shape = [B, H, T, D];
    const [q, k, v, dO] = [rand(shape, 4), rand(shape, 5), rand(shape, 6), rand(shape, 7)];
    const maskHost = new Float32Array(B * T).fill(1);
    maskHost.fill(0, 0, T / 4); // sequence 0 left-padded by a quarter
    const be = getBackend();
    const mask = new Tensor(be.upload(maskHost, [B, T], 'f32'), be);
    const run = (f: typeof flashAttention) => () => tidy(() => {
      const [qq, kk, vv] = [q, k, v].map((t) => t.detach().requiresGrad_()) as [Tensor, Tensor, Tensor];
      backward(f(qq, kk, vv, { mask, causal: true, dropout: 0.1, seed: 3 }), dO);
    });
    const fwdOnly = (f: typeof flashAttention) => () => tidy(() => void f(q, k, v, { mask, causal: true, dropout: 0.1, seed: 3 }));
    // causal: about half of the 4·B·H·T²·D forward and 10·B·H·T²·D backward flops are needed
    const flopsF = 2 * B * H * T * T * D;
    const fused = await gpuMs(run(flashAttention));
    const comp = await gpuMs(run(compositeAttention));
    const fusedF = await gpuMs(fwdOnly(flashAttention));
    const compF = await gpuMs(fwdOnly(compositeAttention));
    const sh = `B${B} H${H} T${T} D${D} causal+pad+dropout 0.1`;
    const fusedExtra = 2 * 4 * B * H * T; // lse + D_i
    const compExtra = 3 * 4 * B * H * T * T + 4 * B * T * T; // scores, probs, dropped probs (+ their grads transiently) and the [B,1,T,T] bias
    rows.push({ kernel: 'attention fwd fused (flash)', shape: sh, ms: fusedF, 'GFLOP/s|TOP/s': flopsF / fusedF / 1e6, extra_bytes: fusedExtra });
    rows.push({ kernel: 'attention fwd composite', shape: sh, ms: compF, 'GFLOP/s|TOP/s': flopsF / compF / 1e6, extra_bytes: compExtra, speedup_vs_f32: compF / fusedF });
    rows.push({ kernel: 'attention fwd+bwd fused (flash)', shape: sh, ms: fused, 'GFLOP/s|TOP/s': (3.5 * flopsF) / fused / 1e6, extra_bytes: fusedExtra });
    rows.push({ kernel: 'attention fwd+bwd composite', shape: sh, ms: comp, 'GFLOP/s|TOP/s': (3.5 * flopsF) / comp / 1e6, extra_bytes: compExtra, fused_speedup: comp / fused });
    for (const t of [q, k, v, dO, mask]) t.dispose();
  }

  // ---- decode: one query per sequence against a KV cache ----
  {
    const S = 512, Bd = 4;
    const q = rand([Bd, H, 1, D], 8);
    const k = rand([Bd, H, S, D], 9);
    const v = rand([Bd, H, S, D], 10);
    const ms = await gpuMs(() => tidy(() => void attentionDecode(q, k, v)));
    const bytes = 4 * (2 * Bd * H * S * D + 2 * Bd * H * D);
    rows.push({ kernel: 'attention decode (KV cache)', shape: `B${Bd} H${H} S${S} D${D}`, ms, 'GFLOP/s|TOP/s': (4 * Bd * H * S * D) / ms / 1e6, 'GB/s': bytes / ms / 1e6 });
    for (const t of [q, k, v]) t.dispose();
  }
  rows.push(biogptBytes());
  for (const r of rows) r.card = card;
  return rows;
}
