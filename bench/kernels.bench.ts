/**
 * Fused-kernel benchmarks at BioGPT shapes: LLM.int8 linear vs the f32 linear (same shape, same
 * run), flash attention forward+backward vs the composite path, single-query decode, the fused LoRA
 * linear vs its unfused ops and f16- vs f32-storage GEMM (loraAndF16Rows), and the GPU bytes of
 * BioGPT's quantised weights. GPU time from timestamp queries (ctx.queue.beginTiming /
 * endTiming), median of REPS runs after one warm-up. The rate column is GFLOP/s (GOP/s for the
 * int8 products); rows name the shaders that ran (bench/kernel_names.ts).
 *
 * Shapes: full = BioGPT training (tokens B·T = 2048, C = 1024, FFN 4096, 16 heads × 64, T = 512)
 * and decoding (B = 4, S = 512). Lavapipe is slow, so the default is scaled down:
 * RADGRAD_BENCH_SCALE=full for the full shapes, otherwise tokens = 256, T = 128 (B = 2), the same
 * C / FFN / heads, plus attention at B 1 × T 512. Run: npm run bench -- kernels   (RADGRAD_BENCH_SCALE=full npm run bench -- kernels;
 * BENCH_KERNELS=attention,gemv runs only those sections: int8, attention, decode, lora, gemv, memory)
 */
import { REPS, alternatingMs, benchScale, forcing } from './timing.js';
import { autotune } from '../src/backend/webgpu/autotune.js';
import { gpu } from '../src/gpu/device.js';
import { getBackend } from '../src/backend/registry.js';
import { backward } from '../src/autograd/tape.js';
import { tidy } from '../src/tensor/scope.js';
import { Tensor } from '../src/tensor/tensor.js';
import * as ops from '../src/ops/index.js';
import { matmulInt8, quantizeWeight, disposeQuantized } from '../src/ops/matmul_int8.js';
import { kernelsFor } from '../src/backend/fused.js';
import { attentionDecode, compositeAttention, flashAttention } from '../src/ops/attention.js';
import { loraLinear } from '../src/ops/lora_linear.js';
import { gemmTuning, skinnyTuning } from '../src/backend/webgpu/matmul.js';
import { int8GemmKernel, int8GemmTuning, int8SkinnyTuning } from '../src/backend/webgpu/int8.js';
import { tuning } from '../src/backend/webgpu/common.js';
import { flashTuning } from '../src/backend/webgpu/attention.js';
import { gemmKernelName, int8BackwardKernelName, int8KernelName } from './kernel_names.js';

type Row = Record<string, string | number>;

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

/** Sections to run (BENCH_KERNELS, comma-separated: int8, attention, decode, lora, gemv, memory); all when unset. */
const SECTIONS = ['int8', 'attention', 'decode', 'lora', 'gemv', 'memory'] as const;
function sectionsToRun(): Set<string> {
  const env = process.env.BENCH_KERNELS;
  if (!env) return new Set(SECTIONS);
  const want = env.split(',').map((k) => k.trim()).filter(Boolean);
  const bad = want.filter((k) => !(SECTIONS as readonly string[]).includes(k));
  if (bad.length) throw new Error(`BENCH_KERNELS: unknown section ${bad.join(', ')} (have ${SECTIONS.join(', ')})`);
  return new Set(want);
}

export async function bench(): Promise<Row[]> {
  const only = sectionsToRun();
  const full = benchScale() === 'full';
  const N = full ? 2048 : 256;
  const C = 1024, F = 4096, H = 16, D = 64;
  const B = full ? 4 : 2;
  const T = full ? 512 : 128;
  const rows: Row[] = [];

  // ---- linear: f32 vs int8 (threshold 6, activations N(0,1): a few outliers on heavy-tailed inputs) ----
  // All variants of a shape alternate within each repetition (alternatingMs), so load changes on a
  // shared machine hit them alike.
  const kern = kernelsFor(getBackend());
  for (const [O, I] of only.has('int8') ? ([[F, C], [C, F]] as const) : []) {
    const x = rand([N, I], 1);
    const w = rand([O, I], 2, 0.02);
    const q = quantizeWeight(w);
    const dy = rand([N, O], 3);
    const R = 16; // LoRA rank of the fused-epilogue rows
    const u = rand([N, R], 4);
    const lb = rand([O, R], 5, 0.1);
    const flops = 2 * N * O * I;
    // The register kernel (CPU adapters) also runs on cb as stored, to show what its transpose buys.
    const regs = int8GemmKernel(gpu(), I) === 'regs';
    const [f32Ms, i8Ms, fbMs, kb, fb, dx8, dx32, lora, loraUnfused, storedMs] = await alternatingMs([
      () => tidy(() => void ops.matmul(x, w, { transB: true })),
      () => tidy(() => void matmulInt8(x, q, null, { threshold: 6 })),
      () => tidy(() => void matmulInt8(x, q, null, { threshold: 6, forceFallback: true })),
      () => tidy(() => {
        const xx = x.detach().requiresGrad_();
        backward(matmulInt8(xx, q, null, { threshold: 6 }), dy);
      }),
      () => tidy(() => {
        const xx = x.detach().requiresGrad_();
        backward(ops.matmul(xx, w, { transB: true }), dy);
      }),
      () => getBackend().dispose(kern.int8LinearBackward(dy.raw('bench'), q)),
      () => tidy(() => void ops.matmul(dy, w)),
      () => getBackend().dispose(kern.int8Linear(x.raw('bench'), q, null, { threshold: 6, lowRank: { u: u.raw('bench'), b: lb.raw('bench'), scale: 2 } })),
      () => tidy(() => void ops.add(matmulInt8(x, q, null, { threshold: 6 }), ops.mul(ops.matmul(u, lb, { transB: true }), 2))),
      ...(regs ? [forcing(int8GemmTuning, 'transposeW', false, () => tidy(() => void matmulInt8(x, q, null, { threshold: 6 })))] : []),
    ]);
    const shape = `[${N},${I}]x[${O},${I}]ᵀ`;
    const i8GBs = (ms: number) => (4 * N * I + O * I + 4 * N * O) / ms / 1e6;
    const f32Kernel = gemmKernelName(false, true, N, O, I);
    rows.push({ kernel: `linear f32 (${f32Kernel})`, shape, ms: f32Ms, 'GFLOP/s|GOP/s': flops / f32Ms / 1e6, 'GB/s': (4 * (N * I + O * I + N * O)) / f32Ms / 1e6 });
    rows.push({ kernel: `Int8Linear (${int8KernelName(N, I)})`, shape, ms: i8Ms, 'GFLOP/s|GOP/s': flops / i8Ms / 1e6, 'GB/s': i8GBs(i8Ms), speedup_vs_f32: f32Ms / i8Ms });
    if (storedMs !== undefined) {
      const name = forcing(int8GemmTuning, 'transposeW', false, () => int8KernelName(N, I))();
      rows.push({ kernel: `Int8Linear, cb as stored (${name})`, shape, ms: storedMs, 'GFLOP/s|GOP/s': flops / storedMs / 1e6, 'GB/s': i8GBs(storedMs), speedup_vs_f32: f32Ms / storedMs });
    }
    rows.push({ kernel: `Int8Linear forceFallback (${int8KernelName(N, I, true)})`, shape, ms: fbMs, 'GFLOP/s|GOP/s': flops / fbMs / 1e6, 'GB/s': i8GBs(fbMs), speedup_vs_f32: f32Ms / fbMs });
    // backward to x (int8 weight dequantised in registers) vs the f32 dx = dy·W
    rows.push({ kernel: `Int8Linear bwd(x) (${int8BackwardKernelName()}) vs f32 dy·W (${gemmKernelName(false, false, N, I, O)})`, shape, ms: dx8, 'GFLOP/s|GOP/s': flops / dx8 / 1e6, f32_ms: dx32, speedup_vs_f32: dx32 / dx8 });
    rows.push({ kernel: 'Int8Linear fwd+bwd(x) vs f32', shape, ms: kb, 'GFLOP/s|GOP/s': (2 * flops) / kb / 1e6, f32_ms: fb, speedup_vs_f32: fb / kb });
    rows.push({ kernel: `Int8Linear + LoRA r${R} fused epilogue vs unfused`, shape, ms: lora, 'GFLOP/s|GOP/s': flops / lora / 1e6, unfused_ms: loraUnfused, speedup_vs_unfused: loraUnfused / lora, speedup_vs_f32: f32Ms / lora });
    for (const t of [x, w, dy, u, lb]) t.dispose();
    disposeQuantized(q);
  }

  // ---- attention fwd+bwd: fused vs composite, at the run's shape and (scaled run) also at T = 512 ----
  // Fused and composite alternate within each repetition (alternatingMs), so load changes on a shared
  // machine hit both alike.
  for (const [Ba, Ta] of !only.has('attention') ? [] : full ? [[B, T]] : [[B, T], [1, 512]]) {
    const shape = [Ba, H, Ta, D];
    const [q, k, v, dO] = [rand(shape, 4), rand(shape, 5), rand(shape, 6), rand(shape, 7)];
    const maskHost = new Float32Array(Ba * Ta).fill(1);
    maskHost.fill(0, 0, Ta / 4); // sequence 0 left-padded by a quarter
    const be = getBackend();
    const mask = new Tensor(be.upload(maskHost, [Ba, Ta], 'f32'), be);
    const run = (f: typeof flashAttention) => () => tidy(() => {
      const [qq, kk, vv] = [q, k, v].map((t) => t.detach().requiresGrad_()) as [Tensor, Tensor, Tensor];
      backward(f(qq, kk, vv, { mask, causal: true, dropout: 0.1, seed: 3 }), dO);
    });
    const fwdOnly = (f: typeof flashAttention) => () => tidy(() => void f(q, k, v, { mask, causal: true, dropout: 0.1, seed: 3 }));
    // causal: about half of the 4·B·H·T²·D forward and 10·B·H·T²·D backward flops are needed
    const flopsF = 2 * Ba * H * Ta * Ta * D;
    const [fusedF, compF] = await alternatingMs([fwdOnly(flashAttention), fwdOnly(compositeAttention)]);
    const [fused, comp] = await alternatingMs([run(flashAttention), run(compositeAttention)]);
    const sh = `B${Ba} H${H} T${Ta} D${D} causal+pad+dropout 0.1`;
    const fusedExtra = 2 * 4 * Ba * H * Ta; // lse + D_i
    const compExtra = 3 * 4 * Ba * H * Ta * Ta + 4 * Ba * Ta * Ta; // scores, probs, dropped probs (+ their grads transiently) and the [B,1,T,T] bias
    rows.push({ kernel: 'attention fwd fused (flash)', shape: sh, ms: fusedF, 'GFLOP/s|GOP/s': flopsF / fusedF / 1e6, extra_bytes: fusedExtra, composite_ms: compF, speedup_vs_composite: compF / fusedF });
    rows.push({ kernel: 'attention fwd composite', shape: sh, ms: compF, 'GFLOP/s|GOP/s': flopsF / compF / 1e6, extra_bytes: compExtra });
    rows.push({ kernel: 'attention fwd+bwd fused (flash)', shape: sh, ms: fused, 'GFLOP/s|GOP/s': (3.5 * flopsF) / fused / 1e6, extra_bytes: fusedExtra, composite_ms: comp, speedup_vs_composite: comp / fused });
    rows.push({ kernel: 'attention fwd+bwd composite', shape: sh, ms: comp, 'GFLOP/s|GOP/s': (3.5 * flopsF) / comp / 1e6, extra_bytes: compExtra });
    if (!gpu().adapterInfo.isCpu || process.env.RADGRAD_FLASH_SWEEP) {
      // GPUs (and CPU adapters when sweeping): the workgroup-blocked kernels against the
      // one-row-per-thread ones and the register-tiled kernels of CPU adapters, alternating.
      const keepBackward = flashTuning.backward;
      const using = (kernel: 'rows' | 'blocked' | 'blocked2' | 'tiles', f: () => void) => () => {
        if (kernel === 'tiles') tuning.cpuStyle = true;
        else flashTuning.kernel = kernel === 'blocked2' ? 'blocked' : kernel;
        flashTuning.backward = kernel === 'blocked2' ? 'two-pass' : 'one-pass';
        try {
          f();
        } finally {
          tuning.cpuStyle = 'auto';
          flashTuning.kernel = 'auto';
          flashTuning.backward = keepBackward;
        }
      };
      // The forward has no two-pass form: timed once per kernel family.
      const fwdKinds = ['blocked', 'rows', 'tiles'] as const;
      const kinds = ['blocked', 'blocked2', 'rows', 'tiles'] as const;
      const fwdMs = await alternatingMs(fwdKinds.map((kd) => using(kd, fwdOnly(flashAttention))));
      const bothMs = await alternatingMs(kinds.map((kd) => using(kd, run(flashAttention))));
      const what = { blocked: 'workgroup-blocked', blocked2: 'workgroup-blocked, two-pass backward', rows: 'one row per thread', tiles: 'register tiles' };
      fwdKinds.forEach((kd, i) => {
        rows.push({ kernel: `attention fwd fused, ${what[kd]}`, shape: sh, ms: fwdMs[i]!, 'GFLOP/s|GOP/s': flopsF / fwdMs[i]! / 1e6, speedup_vs_blocked: fwdMs[0]! / fwdMs[i]! });
      });
      kinds.forEach((kd, i) => {
        rows.push({ kernel: `attention fwd+bwd fused, ${what[kd]}`, shape: sh, ms: bothMs[i]!, 'GFLOP/s|GOP/s': (3.5 * flopsF) / bothMs[i]! / 1e6, speedup_vs_blocked: bothMs[0]! / bothMs[i]! });
      });
      // RADGRAD_FLASH_SWEEP=1: each blocked pass's geometry choices, as `radgrad tune --only attention` times them.
      if (process.env.RADGRAD_FLASH_SWEEP) {
        const sizes = Ta >= 512 ? 'model' : 'small';
        tuning.cpuStyle = false; // the blocked kernels' choices, also on CPU adapters
        try {
          rows.push(...(await autotune(gpu(), getBackend(), { gemm: false, attention: true, sizes, reps: REPS })).rows);
        } finally {
          tuning.cpuStyle = 'auto';
        }
      }
    }
    for (const t of [q, k, v, dO, mask]) t.dispose();
  }

  // ---- decode: one query per sequence against a KV cache ----
  if (only.has('decode')) {
    const S = 512, Bd = 4;
    const q = rand([Bd, H, 1, D], 8);
    const k = rand([Bd, H, S, D], 9);
    const v = rand([Bd, H, S, D], 10);
    const [ms] = await alternatingMs([() => tidy(() => void attentionDecode(q, k, v))]);
    const bytes = 4 * (2 * Bd * H * S * D + 2 * Bd * H * D);
    rows.push({ kernel: 'attention decode (KV cache)', shape: `B${Bd} H${H} S${S} D${D}`, ms, 'GFLOP/s|GOP/s': (4 * Bd * H * S * D) / ms / 1e6, 'GB/s': bytes / ms / 1e6 });
    for (const t of [q, k, v]) t.dispose();
  }
  if (only.has('lora')) rows.push(...(await loraAndF16Rows(N)));
  if (only.has('gemv')) rows.push(...(await decodeGemvRows()));
  if (only.has('memory')) rows.push(biogptBytes());
  return rows;
}

/**
 * LoRA linear at BioGPT's q_proj ([N,1024]·[1024,1024]ᵀ + bias, r 8, α 16, dropout 0.1, training):
 * fused (src/ops/lora_linear.ts) vs the unfused ops, forward and forward+backward (x, A, B), f32 and
 * int8 W (f32 W also with the forward GEMM forced onto the re-laid register kernel, the
 * row-broadcast kernel and the transB register kernel, gemmTuning.relayout / rows); and f16-storage
 * GEMM vs f32 at the linear shape [N,1024]·[4096,1024]ᵀ.
 */
export async function loraAndF16Rows(N: number): Promise<Row[]> {
  const rows: Row[] = [];
  // The two variants of each row alternate within each repetition (alternatingMs: medians of REPS
  // pairs), so a load change on a shared machine hits both alike; their ratio is what the rows report.
  const C = 1024, r = 8;
  const x = rand([N, C], 11);
  const w = rand([C, C], 12, 0.02);
  const bias = rand([C], 13, 0.02);
  const a = rand([r, C], 14, 0.02);
  const b = rand([C, r], 15, 0.02);
  const dy = rand([N, C], 16);
  const q = quantizeWeight(w);
  const shape = `[${N},${C}]·[${C},${C}]ᵀ r${r} p0.1`;
  for (const [wn, base] of [['f32', w], ['int8', q]] as const) {
    const opts = (composed: boolean) => ({ alpha: 16, dropout: 0.1, seed: 7, composed });
    const fwd = (composed: boolean) => () => tidy(() => void loraLinear(x, base, bias, a, b, opts(composed)));
    const both = (composed: boolean) => () => tidy(() => {
      const [xx, aa, bb] = [x, a, b].map((t) => t.detach().requiresGrad_()) as [Tensor, Tensor, Tensor];
      backward(loraLinear(xx, base, bias, aa, bb, opts(composed)), dy);
    });
    const flops = 2 * N * C * C + 2 * N * r * 2 * C;
    const [compF, fusedF] = await alternatingMs([fwd(true), fwd(false)]) as [number, number];
    const [compB, fusedB] = await alternatingMs([both(true), both(false)]) as [number, number];
    rows.push({ kernel: `LoRA linear fwd, ${wn} W, fused`, shape, ms: fusedF, 'GFLOP/s|GOP/s': flops / fusedF / 1e6, composed_ms: compF, speedup_vs_composed: compF / fusedF });
    rows.push({ kernel: `LoRA linear fwd+bwd, ${wn} W, fused`, shape, ms: fusedB, 'GFLOP/s|GOP/s': (2 * flops) / fusedB / 1e6, composed_ms: compB, speedup_vs_composed: compB / fusedB });
    if (wn !== 'f32') continue;
    // The fused forward GEMM three ways, all forced and alternating: W transposed + matmul_regs.wgsl
    // (relayout), matmul_regs_nt.wgsl (row kernel), matmul_regs.wgsl with transB (neither).
    const relayout = (f: () => void) => forcing(gemmTuning, 'relayout', true, f);
    const rowsOn = (f: () => void) => forcing(gemmTuning, 'relayout', false, forcing(gemmTuning, 'rows', true, f));
    const neither = (f: () => void) => forcing(gemmTuning, 'relayout', false, forcing(gemmTuning, 'rows', false, f));
    for (const [what, f, fl] of [['fwd', fwd(false), flops], ['fwd+bwd', both(false), 2 * flops]] as const) {
      const [rel, on, off] = await alternatingMs([relayout(f), rowsOn(f), neither(f)]);
      rows.push({ kernel: `LoRA linear ${what}, f32 W, fused, row kernel on`, shape, ms: on, 'GFLOP/s|GOP/s': fl / on / 1e6, transB_regs_ms: off, speedup_vs_transB_regs: off / on });
      rows.push({ kernel: `LoRA linear ${what}, f32 W, fused, relayout on`, shape, ms: rel, 'GFLOP/s|GOP/s': fl / rel / 1e6, rows_ms: on, speedup_vs_rows: on / rel, speedup_vs_transB_regs: off / rel });
    }
  }
  disposeQuantized(q);
  for (const t of [x, w, bias, a, b, dy]) t.dispose();

  if (gpu().caps.f16) {
    const F = 4096;
    const x32 = rand([N, C], 17);
    const w32 = rand([F, C], 18, 0.02);
    const [x16, w16] = [x32, w32].map((t) => ops.cast(t, 'f16'));
    const flops = 2 * N * F * C;
    const [ms32, ms16] = await alternatingMs([() => tidy(() => void ops.matmul(x32, w32, { transB: true })), () => tidy(() => void ops.matmul(x16!, w16!, { transB: true }))]) as [number, number];
    const sh = `[${N},${C}]·[${F},${C}]ᵀ`;
    rows.push({ kernel: `GEMM f32 storage (${gemmKernelName(false, true, N, F, C)})`, shape: sh, ms: ms32, 'GFLOP/s|GOP/s': flops / ms32 / 1e6, 'GB/s': (4 * (N * C + F * C + N * F)) / ms32 / 1e6 });
    rows.push({ kernel: `GEMM f16 storage, f32 accumulate (${gemmKernelName(false, true, N, F, C, 'f16')})`, shape: sh, ms: ms16, 'GFLOP/s|GOP/s': flops / ms16 / 1e6, 'GB/s': (2 * (N * C + F * C + N * F)) / ms16 / 1e6, speedup_vs_f32: ms32 / ms16 });
    for (const t of [x32, w32, x16!, w16!]) t.dispose();
  }
  return rows;
}

/**
 * Decode GEMV: the linears of one BioGPT decode step (M = tokens = batch of sequences) with the
 * skinny kernel (matmul_skinny.wgsl, chosen for M ≤ MATMUL_SKINNY[class].maxM) vs the same matmul
 * forced onto the register/tiled kernel, alternating within each repetition. The tied head
 * [M,1024]·[42384,1024]ᵀ (174 MB) exceeds lavapipe's binding limit and runs chunked, so its rows
 * also time the chunked path with the skinny kernel under it. The int8 rows (LLM.int8, threshold 6,
 * quantize/outlier passes included) time the skinny int8 kernel (matmul_int8_skinny.wgsl) vs the
 * same call forced onto the register/tiled int8 kernel vs the f32 skinny matmul, all three alternating.
 */
export async function decodeGemvRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const C = 1024, F = 4096, V = 42384;
  const shapes: Array<[number, number, number, string]> = [
    [1, C, F, 'fc1'], [8, C, F, 'fc1'], [1, C, C, 'q/k/v/out'], [8, C, C, 'q/k/v/out'],
    [1, F, C, 'fc2'], [8, F, C, 'fc2'], [1, C, V, 'tied head'], [8, C, V, 'tied head'],
  ];
  const forced = (use: boolean, f: () => void) => forcing(skinnyTuning, 'use', use, f);
  for (const [M, K, N, what] of shapes) {
    const x = rand([M, K], 21);
    const w = rand([N, K], 22, 0.02);
    const f = () => tidy(() => void ops.matmul(x, w, { transB: true }));
    const [skinny, tiled] = await alternatingMs([forced(true, f), forced(false, f)]);
    const bytes = 4 * (M * K + N * K + M * N);
    rows.push({
      kernel: `decode GEMV ${what}: ${gemmKernelName(false, true, M, N, K)} vs ${forcing(skinnyTuning, 'use', false, () => gemmKernelName(false, true, M, N, K))()}`, shape: `[${M},${K}]·[${N},${K}]ᵀ`, ms: skinny,
      'GFLOP/s|GOP/s': (2 * M * N * K) / skinny / 1e6, 'GB/s': bytes / skinny / 1e6, nonskinny_ms: tiled, speedup_vs_nonskinny: tiled / skinny,
    });
    x.dispose();
    w.dispose();
  }
  const forced8 = (use: boolean, f: () => void) => forcing(int8SkinnyTuning, 'use', use, f);
  for (const [M, K, N, what] of shapes.filter(([, , n]) => n !== V)) {
    const x = rand([M, K], 21);
    const w = rand([N, K], 22, 0.02);
    const q = quantizeWeight(w);
    const f8 = () => tidy(() => void matmulInt8(x, q, null, { threshold: 6 }));
    const [skinny, regs, f32] = await alternatingMs([forced8(true, f8), forced8(false, f8), () => tidy(() => void ops.matmul(x, w, { transB: true }))]);
    rows.push({
      kernel: `decode GEMV int8 ${what}: ${int8KernelName(M, K)} vs ${forcing(int8SkinnyTuning, 'use', false, () => int8KernelName(M, K))()}, f32 ${gemmKernelName(false, true, M, N, K)}`, shape: `[${M},${K}]·[${N},${K}]ᵀ`, ms: skinny,
      'GFLOP/s|GOP/s': (2 * M * N * K) / skinny / 1e6, 'GB/s': (M * K * 4 + N * K + M * N * 4) / skinny / 1e6,
      nonskinny_ms: regs, speedup_vs_nonskinny: regs / skinny, f32_ms: f32, speedup_vs_f32: f32 / skinny,
    });
    disposeQuantized(q);
    x.dispose();
    w.dispose();
  }
  return rows;
}
