/**
 * Fused LoRA linear kernels (shaders/matmul/lora_*.wgsl). Forward in two passes: the rank-r
 * projection u = scale·dropout(x)·Aᵀ with the dropout mask hashed in the kernel, then the base GEMM
 * x·Wᵀ whose epilogue adds bias + u·Bᵀ (the matmul kernels of ./matmul.ts with lora_epilogue.wgsl in
 * place of the identity store). Backward: g = scale·dy·B (projection), dx = dy·W + mask ⊙ (g·A) in
 * one GEMM pass, dA = gᵀ·dropout(x) with the mask hashed again. For an int8 base, loraAdd applies the
 * same epilogue as one elementwise pass over the int8 kernel's output.
 */
import type { GpuContext } from '../../gpu/device.js';
import { ShapeError } from '../../errors.js';
import { alloc, bufferOf, grid, launch, variants } from './common.js';
import type { RawTensor } from '../types.js';
import { seedU32, threshold24 } from '../rng.js';
import { dims2, expect, type LoraBackend, type LoraDropout } from '../kernels.js';
import { MATMUL_BINDINGS, MATMUL_UNIFORMS, matmulBody, matmulConstants, matmulGrid, matmulTiles } from './matmul.js';

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

/** The f32 matmul kernels (as matmul picks them) with the LoRA epilogue. */
const gemmKernel = variants((kernel: 'regs' | 'tiled') => {
  const body = matmulBody(kernel, 'f32');
  return {
    name: `lora_gemm_${kernel}`, ...body,
    bindings: [...MATMUL_BINDINGS, ...EPILOGUE_BINDINGS],
    uniforms: { ...MATMUL_UNIFORMS, ...EPILOGUE_UNIFORMS },
    overrides: { ...body.overrides, ...EPILOGUE_OVERRIDES },
    includes: EPILOGUE_INCLUDES,
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

const gradAKernel = {
  name: 'lora_grad_a', family: 'matmul', file: 'lora_grad_a',
  bindings: [{ name: 'g', type: f32, access: R }, { name: 'x', type: f32, access: R }, { name: 'out', type: f32, access: RW }],
  uniforms: { rows: u32, K: u32, r: u32, ...DROP_UNIFORMS },
  overrides: { WG: { type: u32, value: LORA_WG }, MASKED: { type: 'bool' as const, value: false } },
  includes: ['common/rng.wgsl', 'common/strided.wgsl'],
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
  /** c [M, N] = op(a)·op(b) + epilogue (u [M, r], lw, bias). */
  const gemm = (a: RawTensor, b: RawTensor, M: number, N: number, K: number, transB: boolean, u: RawTensor, lw: RawTensor, bias: RawTensor | null, lwT: boolean, d: LoraDropout | undefined, op: string) => {
    const out = alloc(ctx, [M, N], 'f32', op);
    if (M * N === 0) return out;
    const tiles = matmulTiles(ctx, 'f32');
    const dr = drop(d);
    launch(ctx, gemmKernel(tiles.kernel), {
      bindings: { a: bufferOf(a), b: bufferOf(b), c: bufferOf(out), u: bufferOf(u), lw: bufferOf(lw), bias: bufferOf(bias ?? u) },
      uniforms: { M, N, K, a_batch_stride: 0, b_batch_stride: 0, r: u.shape[1]!, ...dr.uniforms, has_bias: bias ? 1 : 0 },
      constants: { TRANS_A: false, TRANS_B: transB, ...matmulConstants(tiles), MASKED: dr.masked, LW_T: lwT },
      workgroups: matmulGrid(tiles, M, N, 1),
    });
    return out;
  };

  return {
    loraProject(x, w, opts) {
      const [N, K] = dims2('loraProject', 'x', x);
      const r = opts.wKMajor ? w.shape[1]! : w.shape[0]!;
      expect('loraProject', 'w', w, opts.wKMajor ? [K, r] : [r, K]);
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
      const [N, I] = dims2('loraLinear', 'x', x);
      const O = dims2('loraLinear', 'w', w)[0];
      expect('loraLinear', 'w', w, [O, I]);
      const r = dims2('loraLinear', 'u', u)[1];
      expect('loraLinear', 'u', u, [N, r]);
      expect('loraLinear', 'b', b, [O, r]);
      if (bias && (bias.dtype !== 'f32' || bias.shape.length !== 1 || bias.shape[0] !== O)) throw new ShapeError('loraLinear', 'bias', `f32 [${O}]`, `${bias.dtype} [${bias.shape}]`);
      return gemm(x, w, N, O, I, true, u, b, bias, false, undefined, 'loraLinear');
    },
    loraLinearBackward(dy, w, g, a, dropout) {
      const [N, O] = dims2('loraLinearBackward', 'dy', dy);
      const I = dims2('loraLinearBackward', 'w', w)[1];
      expect('loraLinearBackward', 'w', w, [O, I]);
      const r = dims2('loraLinearBackward', 'g', g)[1];
      expect('loraLinearBackward', 'g', g, [N, r]);
      expect('loraLinearBackward', 'a', a, [r, I]);
      return gemm(dy, w, N, I, O, false, g, a, null, true, dropout, 'loraLinearBackward');
    },
    loraAdd(base, u, l, opts) {
      const [N, C] = dims2('loraAdd', 'base', base);
      const r = dims2('loraAdd', 'u', u)[1];
      expect('loraAdd', 'u', u, [N, r]);
      expect('loraAdd', 'l', l, opts.aLayout ? [r, C] : [C, r]);
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
      const [N, K] = dims2('loraGradA', 'x', x);
      const r = dims2('loraGradA', 'g', g)[1];
      expect('loraGradA', 'g', g, [N, r]);
      const out = alloc(ctx, [r, K], 'f32', 'loraGradA');
      if (r * K === 0) return out;
      const dr = drop(dropout);
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
