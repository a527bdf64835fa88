/**
 * LLM.int8 kernels for WebGPU (shaders/matmul/int8_*.wgsl, matmul_int8*.wgsl): row-wise weight
 * quantisation, the outlier-decomposed int8 forward (dot4I8Packed where the WGSL language feature
 * exists, an unpack-and-multiply fallback otherwise) and the dequantising backward to x.
 */
import type { GpuContext } from '../../gpu/device.js';
import { grid1d } from '../../gpu/kernel.js';
import { OpArgumentError, ShapeError } from '../../errors.js';
import { alloc, bufferOf, grid, launch, release, WG } from './common.js';
import type { RawTensor } from '../types.js';
import type { Int8Backend, Int8Options, Int8Weight } from '../kernels.js';

const R = 'read' as const;
const RW = 'read_write' as const;
const u32 = 'u32' as const;
const f32 = 'f32' as const;
const bool = 'bool' as const;

/** Tile of the int8 GEMM: (WY·4) rows × (WX·4) outputs, TK packed words (4·TK int8) per stage. */
export const INT8_TILE = { WX: 16, WY: 16, TK: 8 };

const quantizeKernel = {
  name: 'int8_quantize', family: 'matmul', file: 'int8_quantize',
  bindings: [{ name: 'x', type: 'f32', access: R }, { name: 'flags', type: 'u32', access: R }, { name: 'q8', type: 'u32', access: RW }, { name: 'scale', type: 'f32', access: RW }],
  uniforms: { rows: u32, cols: u32, words: u32 },
  overrides: { WG: { type: u32, value: WG }, HAS_OUTLIERS: { type: bool, value: false } },
};
const outliersKernel = {
  name: 'int8_outliers', family: 'matmul', file: 'int8_outliers',
  bindings: [{ name: 'x', type: 'f32', access: R }, { name: 'flags', type: 'u32', access: RW }],
  uniforms: { rows: u32, cols: u32, threshold: f32 },
  overrides: { WG: { type: u32, value: WG } },
};
const outlierListKernel = {
  name: 'int8_outlier_list', family: 'matmul', file: 'int8_outlier_list',
  bindings: [{ name: 'flags', type: 'u32', access: R }, { name: 'list', type: 'u32', access: RW }],
  uniforms: { cols: u32 },
};
const dequantizeKernel = {
  name: 'int8_dequantize', family: 'matmul', file: 'int8_dequantize',
  bindings: [{ name: 'cb', type: 'u32', access: R }, { name: 'scb', type: 'f32', access: R }, { name: 'w', type: 'f32', access: RW }],
  uniforms: { rows: u32, cols: u32, words: u32 },
  overrides: { WG: { type: u32, value: WG } },
  includes: ['common/strided.wgsl'],
};
const tileOverrides = {
  WX: { type: u32, value: INT8_TILE.WX }, WY: { type: u32, value: INT8_TILE.WY }, TK: { type: u32, value: INT8_TILE.TK },
};
const matmulKernels = new Map<boolean, ReturnType<typeof makeMatmul>>();
function makeMatmul(native: boolean) {
  return {
    name: native ? 'int8_matmul' : 'int8_matmul_nodot4', family: 'matmul', file: 'matmul_int8',
    bindings: [
      { name: 'xq', type: 'u32', access: R }, { name: 'cb', type: 'u32', access: R },
      { name: 'sca', type: 'f32', access: R }, { name: 'scb', type: 'f32', access: R },
      { name: 'x', type: 'f32', access: R }, { name: 'olist', type: 'u32', access: R },
      { name: 'bias', type: 'f32', access: R }, { name: 'y', type: 'f32', access: RW },
    ],
    uniforms: { N: u32, O: u32, I: u32, words: u32 },
    overrides: {
      ...tileOverrides, USE_DOT4: { type: bool, value: native },
      HAS_BIAS: { type: bool, value: false }, HAS_OUTLIERS: { type: bool, value: false },
    },
    // The builtin may only be named where the language feature exists (see int8_dot_fallback.wgsl).
    includes: [native ? 'matmul/int8_dot_native.wgsl' : 'matmul/int8_dot_fallback.wgsl'],
  };
}
const dequantMatmulKernel = {
  name: 'int8_matmul_dequant', family: 'matmul', file: 'matmul_int8_dequant',
  bindings: [{ name: 'dy', type: 'f32', access: R }, { name: 'cb', type: 'u32', access: R }, { name: 'scb', type: 'f32', access: R }, { name: 'dx', type: 'f32', access: RW }],
  uniforms: { N: u32, O: u32, I: u32, words: u32 },
  overrides: { WX: { type: u32, value: 16 }, WY: { type: u32, value: 16 }, TK: { type: u32, value: 16 } },
};

function requireF32(op: string, arg: string, x: RawTensor, rank = 2): void {
  if (x.dtype !== 'f32') throw new OpArgumentError(op, arg, 'an f32 tensor', x.dtype);
  if (x.shape.length !== rank) throw new ShapeError(op, arg, `rank ${rank}`, `[${x.shape}]`);
}

export function int8Ops(ctx: GpuContext): Int8Backend {
  const hasDot4 = ctx.caps.dot4I8Packed;
  const matmulKernel = (native: boolean) => {
    let k = matmulKernels.get(native);
    if (!k) matmulKernels.set(native, (k = makeMatmul(native)));
    return k;
  };
  /** Quantises the rows of x [rows, cols] (skipping flagged columns) → packed q8, scale. */
  const quantize = (x: RawTensor, flags: RawTensor | null): { q: RawTensor; s: RawTensor } => {
    const [rows, cols] = x.shape as [number, number];
    const words = Math.ceil(cols / 4);
    const q = alloc(ctx, [rows, words], 'u32', 'int8 quantize');
    const s = alloc(ctx, [rows], 'f32', 'int8 quantize');
    if (rows > 0) {
      launch(ctx, quantizeKernel, {
        bindings: { x: bufferOf(x), flags: bufferOf(flags ?? x), q8: bufferOf(q), scale: bufferOf(s) },
        uniforms: { rows, cols, words }, constants: { HAS_OUTLIERS: flags !== null }, workgroups: grid1d(rows),
      });
    }
    return { q, s };
  };
  return {
    quantizeRowwise(w) {
      requireF32('quantizeRowwise', 'w', w);
      const { q, s } = quantize(w, null);
      return { cb: q, scb: s, inFeatures: w.shape[1]! };
    },
    int8Linear(x, w, bias, opts: Int8Options) {
      requireF32('int8Linear', 'x', x);
      const [N, I] = x.shape as [number, number];
      const O = w.scb.shape[0]!;
      if (I !== w.inFeatures) throw new ShapeError('int8Linear', 'x', `[N, ${w.inFeatures}]`, `[${x.shape}]`);
      if (bias && (bias.dtype !== 'f32' || bias.shape.join() !== String(O))) throw new ShapeError('int8Linear', 'bias', `f32 [${O}]`, `${bias.dtype} [${bias.shape}]`);
      const words = Math.ceil(I / 4);
      const y = alloc(ctx, [N, O], 'f32', 'int8Linear');
      if (N === 0 || O === 0) return y;
      let flags: RawTensor | null = null;
      let list: RawTensor | null = null;
      if (opts.threshold > 0 && I > 0) {
        flags = alloc(ctx, [I], 'u32', 'int8 outliers');
        list = alloc(ctx, [I + 1], 'u32', 'int8 outliers');
        launch(ctx, outliersKernel, { bindings: { x: bufferOf(x), flags: bufferOf(flags) }, uniforms: { rows: N, cols: I, threshold: opts.threshold }, workgroups: grid(I) });
        launch(ctx, outlierListKernel, { bindings: { flags: bufferOf(flags), list: bufferOf(list) }, uniforms: { cols: I }, workgroups: [1] });
      }
      const { q, s } = quantize(x, flags);
      const native = hasDot4 && !opts.forceFallback;
      const TM = INT8_TILE.WY * 4;
      const TN = INT8_TILE.WX * 4;
      launch(ctx, matmulKernel(hasDot4), {
        bindings: {
          xq: bufferOf(q), cb: bufferOf(w.cb), sca: bufferOf(s), scb: bufferOf(w.scb), x: bufferOf(x),
          olist: bufferOf(list ?? w.cb), bias: bufferOf(bias ?? w.scb), y: bufferOf(y),
        },
        uniforms: { N, O, I, words },
        constants: { USE_DOT4: native, HAS_BIAS: bias !== null, HAS_OUTLIERS: list !== null },
        workgroups: [Math.ceil(O / TN), Math.ceil(N / TM), 1],
      });
      for (const t of [q, s, flags, list]) if (t) release(ctx, t);
      return y;
    },
    int8LinearBackward(dy, w) {
      requireF32('int8LinearBackward', 'dy', dy);
      const [N, O] = dy.shape as [number, number];
      if (O !== w.scb.shape[0]) throw new ShapeError('int8LinearBackward', 'dy', `[N, ${w.scb.shape[0]}]`, `[${dy.shape}]`);
      const I = w.inFeatures;
      const dx = alloc(ctx, [N, I], 'f32', 'int8LinearBackward');
      if (N === 0 || I === 0) return dx;
      launch(ctx, dequantMatmulKernel, {
        bindings: { dy: bufferOf(dy), cb: bufferOf(w.cb), scb: bufferOf(w.scb), dx: bufferOf(dx) },
        uniforms: { N, O, I, words: Math.ceil(I / 4) },
        workgroups: [Math.ceil(I / 64), Math.ceil(N / 64), 1],
      });
      return dx;
    },
    dequantize(w) {
      const O = w.scb.shape[0]!;
      const I = w.inFeatures;
      const out = alloc(ctx, [O, I], 'f32', 'int8 dequantize');
      launch(ctx, dequantizeKernel, {
        bindings: { cb: bufferOf(w.cb), scb: bufferOf(w.scb), w: bufferOf(out) },
        uniforms: { rows: O, cols: I, words: Math.ceil(I / 4) }, workgroups: grid(O * I),
      });
      return out;
    },
  };
}
