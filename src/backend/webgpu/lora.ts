/**
 * Fused LoRA linear kernels (shaders/matmul/lora_*.wgsl). Forward in two passes: the rank-r
 * projection u = scale·dropout(x)·Aᵀ with the dropout mask hashed in the kernel, then the base GEMM
 * x·Wᵀ whose epilogue adds bias + u·Bᵀ (the matmul kernels of ./matmul.ts with lora_epilogue.wgsl in
 * place of the identity store, picked as matmul picks them: on CPU adapters x·Wᵀ from
 * MATMUL_RELAYOUT's sizes on transposes W and runs the register kernel on the plain layout,
 * useRelayout; shorter products with K % 4 = 0, K ≥ 1024 run the row kernel, useRowKernel; on GPU
 * adapters matmul_tiled8.wgsl where its vec4 layout applies, useTiled8, else matmul.wgsl).
 * Backward: g = scale·dy·B (projection), dx = dy·W + mask ⊙ (g·A) in one GEMM pass,
 * dA = gᵀ·dropout(x) with the mask hashed again (on GPU adapters with the tokens split across a
 * workgroup, lora_grad_a_split.wgsl). For an int8 base, loraAdd applies the same
 * epilogue as one elementwise pass over the int8 kernel's output. Products with few rows (decoding)
 * run the skinny kernels of ./matmul.ts with the same epilogue.
 */
import type { GpuContext } from '../../gpu/device.js';
import { alloc, bufferOf, cpuStyle, grid, launch, release, variants, vec4Bindable } from './common.js';
import type { RawTensor } from '../types.js';
import { seedU32, threshold24 } from '../rng.js';
import { loraChecks, type LoraBackend, type LoraDropout } from '../kernels.js';
import {
  MATMUL_BINDINGS, MATMUL_SKINNY, MATMUL_UNIFORMS, matmulBody, matmulConstants, matmulGrid, matmulTiles, rowBody, rowLaunch, skinnyLaunch, skinnyTiles,
  gemmPath, tiled8Body, tiled8Launch, useTiled8,
} from './matmul.js';
import { transposeOps } from './transpose.js';

const R = 'read' as const;
const RW = 'read_write' as const;
const u32 = 'u32' as const;
const f32 = 'f32' as const;
const LORA_WG = 64;
const DROP_UNIFORMS = { seed: u32, threshold: u32, keep_scale: f32 };
const EPILOGUE_BINDINGS = [{ name: 'u', type: f32, access: R }, { name: 'lw', type: f32, access: R }, { name: 'bias', type: f32, access: R }];
const EPILOGUE_UNIFORMS = { r: u32, ...DROP_UNIFORMS, has_bias: u32 };
const EPILOGUE_OVERRIDES = { MASKED: { type: 'bool' as const, value: false }, LW_T: { type: 'bool' as const, value: false } };
const EPILOGUE_INCLUDES = ['common/rng.wgsl', 'matmul/lora_epilogue.wgsl'];

/**
 * The f32 matmul kernels (as matmul picks them) with the LoRA epilogue: 'rows' is the row-broadcast
 * x·Wᵀ kernel (matmul_regs_nt.wgsl, under useRowKernel: CPU adapters, K % 4 = 0, K ≥ minK), 'regs'
 * also runs the re-laid x·Wᵀ (useRelayout), 'tiled8' is the vec4 GPU kernel (matmul_tiled8.wgsl,
 * under useTiled8: GPU adapters, the contiguous dimensions multiples of 4, B as stored), so the
 * base GEMMs run the same kernel as the unfused matmul.
 */
const gemmKernel = variants((kernel: 'regs' | 'tiled' | 'rows' | 'tiled8') => {
  const body = kernel === 'rows' ? rowBody('f32') : kernel === 'tiled8' ? tiled8Body('f32') : { ...matmulBody(kernel, 'f32'), bindings: MATMUL_BINDINGS };
  return {
    name: `lora_gemm_${kernel}`, ...body,
    bindings: [...body.bindings, ...EPILOGUE_BINDINGS],
    uniforms: { ...MATMUL_UNIFORMS, ...EPILOGUE_UNIFORMS },
    overrides: { ...body.overrides, ...EPILOGUE_OVERRIDES },
    includes: EPILOGUE_INCLUDES,
  };
});

/**
 * The f32 skinny (decode) kernels of ./matmul.ts with the LoRA epilogue, for products with few rows
 * (M ≤ MATMUL_SKINNY[class].maxM, skinnyTuning): 'vec4' is matmul_skinny_vec4.wgsl (x·Wᵀ, K % 4 = 0),
 * 'scalar' matmul_skinny.wgsl (any layout, so the backward to x too).
 */
const skinnyKernel = variants((form: 'scalar' | 'vec4') => {
  const v4 = form === 'vec4';
  const t = MATMUL_SKINNY.gpu;
  return {
    name: `lora_skinny${v4 ? '_vec4' : ''}`, family: 'matmul', file: v4 ? 'matmul_skinny_vec4' : 'matmul_skinny',
    bindings: v4
      ? [{ ...MATMUL_BINDINGS[0]!, type: 'V' }, { ...MATMUL_BINDINGS[1]!, type: 'V' }, MATMUL_BINDINGS[2]!, ...EPILOGUE_BINDINGS]
      : [...MATMUL_BINDINGS, ...EPILOGUE_BINDINGS],
    uniforms: { ...MATMUL_UNIFORMS, ...EPILOGUE_UNIFORMS },
    overrides: {
      ROWS: { type: u32, value: 1 }, KS: { type: u32, value: t.KS }, WN: { type: u32, value: t.WN },
      ...(v4 ? { CN: { type: u32, value: 4 } } : { TRANS_A: { type: 'bool' as const, value: false }, TRANS_B: { type: 'bool' as const, value: false } }),
      ...EPILOGUE_OVERRIDES,
    },
    aliases: { T: 'f32', V: 'vec4<f32>' },
    // The vec4 body reads its weights and bias through the one-weight accessors (as plain matmul).
    includes: v4 ? [...EPILOGUE_INCLUDES, 'matmul/matmul_skinny_vec4_one.wgsl'] : EPILOGUE_INCLUDES,
  };
});

const addKernel = {
  name: 'lora_add', family: 'matmul', file: 'lora_add',
  bindings: [{ name: 'base', type: f32, access: R }, { name: 'c', type: f32, access: RW }, ...EPILOGUE_BINDINGS],
  uniforms: { M: u32, N: u32, ...EPILOGUE_UNIFORMS },
  overrides: { WG: { type: u32, value: LORA_WG }, ...EPILOGUE_OVERRIDES },
  includes: ['common/strided.wgsl', ...EPILOGUE_INCLUDES],
};

const projectKernel = {
  name: 'lora_project', family: 'matmul', file: 'lora_project',
  bindings: [{ name: 'x', type: f32, access: R }, { name: 'w', type: f32, access: R }, { name: 'out', type: f32, access: RW }],
  uniforms: { rows: u32, K: u32, r: u32, scale: f32, ...DROP_UNIFORMS },
  overrides: { WG: { type: u32, value: LORA_WG }, MASKED: { type: 'bool' as const, value: false }, W_KMAJOR: { type: 'bool' as const, value: false } },
  includes: ['common/rng.wgsl', 'common/strided.wgsl'],
};

const GRAD_A_BINDINGS = [{ name: 'g', type: f32, access: R }, { name: 'x', type: f32, access: R }, { name: 'out', type: f32, access: RW }];
const gradAKernel = {
  name: 'lora_grad_a', family: 'matmul', file: 'lora_grad_a',
  bindings: GRAD_A_BINDINGS,
  uniforms: { rows: u32, K: u32, r: u32, ...DROP_UNIFORMS },
  overrides: { WG: { type: u32, value: LORA_WG }, MASKED: { type: 'bool' as const, value: false } },
  includes: ['common/rng.wgsl', 'common/strided.wgsl', 'matmul/lora_grad_a_common.wgsl'],
};

/**
 * dA on GPU adapters (lora_grad_a_split.wgsl): one workgroup per KC columns × 4 ranks, its NS rows
 * of threads splitting the N tokens (partial sums combined in workgroup memory in a fixed order).
 * lora_grad_a.wgsl sums all N tokens serially per output with K·r/4 invocations in all (BioGPT,
 * K = 1024, r = 8, N = 2048: 2048 invocations, 0.8 ms per launch on an H200); this runs NS× the
 * invocations with N/NS tokens each. CPU adapters keep the serial kernel (no barrier, no workgroup
 * memory, which lavapipe emulates). KC 16 keeps 64-byte runs of an x row per warp; not yet tuned on
 * hardware.
 */
export const LORA_GRAD_A_SPLIT = { KC: 16, NS: 16 } as const;
/** 'auto': the split kernel on GPU adapters; true / false force it on or off (tests). */
export const loraGradATuning: { split: 'auto' | boolean } = { split: 'auto' };
const gradASplitKernel = {
  name: 'lora_grad_a_split', family: 'matmul', file: 'lora_grad_a_split',
  bindings: GRAD_A_BINDINGS,
  uniforms: { rows: u32, K: u32, r: u32, ...DROP_UNIFORMS },
  overrides: {
    KC: { type: u32, value: LORA_GRAD_A_SPLIT.KC }, NS: { type: u32, value: LORA_GRAD_A_SPLIT.NS },
    MASKED: { type: 'bool' as const, value: false },
  },
  includes: ['common/rng.wgsl', 'matmul/lora_grad_a_common.wgsl'],
};

/** Uniforms and the MASKED override of a dropout (p = 0 or absent: no mask). */
function drop(d: LoraDropout | undefined): { uniforms: { seed: number; threshold: number; keep_scale: number }; masked: boolean } {
  const p = d?.p ?? 0;
  return {
    uniforms: { seed: seedU32(d?.seed ?? 0), threshold: threshold24(p), keep_scale: p >= 1 ? 0 : 1 / (1 - p) },
    masked: p > 0,
  };
}

export function loraOps(ctx: GpuContext): LoraBackend {
  const trans = transposeOps(ctx);
  /** c [M, N] = op(a)·op(b) + epilogue (u [M, r], lw, bias). */
  const gemm = (a: RawTensor, b: RawTensor, M: number, N: number, K: number, transB: boolean, u: RawTensor, lw: RawTensor, bias: RawTensor | null, lwT: boolean, d: LoraDropout | undefined, op: string) => {
    const out = alloc(ctx, [M, N], 'f32', op);
    if (M * N === 0) return out;
    const dr = drop(d);
    const epilogue = { u: bufferOf(u), lw: bufferOf(lw), bias: bufferOf(bias ?? u) };
    const uniforms = { M, N, K, a_batch_stride: 0, b_batch_stride: 0, r: u.shape[1]!, ...dr.uniforms, has_bias: bias ? 1 : 0 };
    const path = gemmPath(ctx, false, transB, M, K, vec4Bindable(a, b));
    if (path === 'skinny') {
      // Decoding: few rows, so the GEMV-style kernel (see ./matmul.ts) instead of whole row tiles.
      const st = skinnyTiles(ctx);
      const v4 = transB && K % 4 === 0 && vec4Bindable(a, b);
      const { rows, cn, workgroups } = skinnyLaunch(st, M, N, 1, v4);
      launch(ctx, skinnyKernel(v4 ? 'vec4' : 'scalar'), {
        bindings: { a: bufferOf(a), b: bufferOf(b), c: bufferOf(out), ...epilogue },
        uniforms,
        constants: { ...(v4 ? { CN: cn } : { TRANS_A: false, TRANS_B: transB }), ROWS: rows, KS: st.KS, WN: st.WN, MASKED: dr.masked, LW_T: lwT },
        workgroups,
      });
      return out;
    }
    if (path === 'rows') {
      // x·Wᵀ (the forward) with K a multiple of 4: rows shared per workgroup, vec4 loads along K.
      const rl = rowLaunch(M, N, 1);
      launch(ctx, gemmKernel('rows'), {
        bindings: { a: bufferOf(a), b: bufferOf(b), c: bufferOf(out), ...epilogue },
        uniforms,
        constants: { ...rl.constants, MASKED: dr.masked, LW_T: lwT },
        workgroups: rl.workgroups,
      });
      return out;
    }
    // x·Wᵀ re-laid (as matmul does): W [N, K] transposed into a pooled [K, N] temporary so the
    // register kernel reads 8 consecutive columns per thread; released once the GEMM is queued.
    const tiles = matmulTiles(ctx, 'f32');
    const relayout = path === 'relayout';
    const bt = relayout ? trans.transpose(b, N, K) : b;
    if (!relayout && useTiled8(ctx, false, transB, M, N, K, vec4Bindable(a, b))) {
      // Same per-output f32 fma chain over k as matmul.wgsl, so the same bits (see matmul_tiled8.wgsl).
      const t8 = tiled8Launch(M, N, 1);
      launch(ctx, gemmKernel('tiled8'), {
        bindings: { a: bufferOf(a), b: bufferOf(b), c: bufferOf(out), ...epilogue },
        uniforms,
        constants: { TRANS_A: false, TRANS_B: transB, ...t8.constants, MASKED: dr.masked, LW_T: lwT },
        workgroups: t8.workgroups,
      });
      return out;
    }
    launch(ctx, gemmKernel(tiles.kernel), {
      bindings: { a: bufferOf(a), b: bufferOf(bt), c: bufferOf(out), ...epilogue },
      uniforms,
      constants: { TRANS_A: false, TRANS_B: transB && !relayout, ...matmulConstants(tiles), MASKED: dr.masked, LW_T: lwT },
      workgroups: matmulGrid(tiles, M, N, 1),
    });
    if (bt !== b) release(ctx, bt);
    return out;
  };

  return {
    loraProject(x, w, opts) {
      const { N, K, r } = loraChecks.project(x, w, opts.wKMajor);
      const out = alloc(ctx, [N, r], 'f32', 'loraProject');
      if (N * r === 0) return out;
      const dr = drop(opts.dropout);
      launch(ctx, projectKernel, {
        bindings: { x: bufferOf(x), w: bufferOf(w), out: bufferOf(out) },
        uniforms: { rows: N, K, r, scale: opts.scale, ...dr.uniforms },
        constants: { MASKED: dr.masked, W_KMAJOR: opts.wKMajor },
        workgroups: grid(N * Math.ceil(r / 4), LORA_WG),
      });
      return out;
    },
    loraLinear(x, w, bias, u, b) {
      const { N, I, O } = loraChecks.linear(x, w, bias, u, b);
      return gemm(x, w, N, O, I, true, u, b, bias, false, undefined, 'loraLinear');
    },
    loraLinearBackward(dy, w, g, a, dropout) {
      const { N, O, I } = loraChecks.linearBackward(dy, w, g, a);
      return gemm(dy, w, N, I, O, false, g, a, null, true, dropout, 'loraLinearBackward');
    },
    loraAdd(base, u, l, opts) {
      const { N, C, r } = loraChecks.add(base, u, l, opts.aLayout);
      const out = alloc(ctx, [N, C], 'f32', 'loraAdd');
      if (N * C === 0) return out;
      const dr = drop(opts.dropout);
      launch(ctx, addKernel, {
        bindings: { base: bufferOf(base), c: bufferOf(out), u: bufferOf(u), lw: bufferOf(l), bias: bufferOf(u) },
        uniforms: { M: N, N: C, r, ...dr.uniforms, has_bias: 0 },
        constants: { MASKED: dr.masked, LW_T: opts.aLayout },
        workgroups: grid(N * C, LORA_WG),
      });
      return out;
    },
    loraGradA(g, x, dropout) {
      const { N, K, r } = loraChecks.gradA(g, x);
      const out = alloc(ctx, [r, K], 'f32', 'loraGradA');
      if (r * K === 0) return out;
      const dr = drop(dropout);
      const t = LORA_GRAD_A_SPLIT;
      const split = loraGradATuning.split === 'auto' ? !cpuStyle(ctx) : loraGradATuning.split;
      if (split && Math.ceil(K / t.KC) <= 65535) {
        launch(ctx, gradASplitKernel, {
          bindings: { g: bufferOf(g), x: bufferOf(x), out: bufferOf(out) },
          uniforms: { rows: N, K, r, ...dr.uniforms },
          constants: { KC: t.KC, NS: t.NS, MASKED: dr.masked },
          workgroups: [Math.ceil(K / t.KC), Math.ceil(r / 4), 1],
        });
        return out;
      }
      launch(ctx, gradAKernel, {
        bindings: { g: bufferOf(g), x: bufferOf(x), out: bufferOf(out) },
        uniforms: { rows: N, K, r, ...dr.uniforms },
        constants: { MASKED: dr.masked },
        workgroups: grid(K * Math.ceil(r / 4), LORA_WG),
      });
      return out;
    },
  };
}
