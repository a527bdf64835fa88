/**
 * LLM.int8 kernels for WebGPU (shaders/matmul/int8_*.wgsl, matmul_int8*.wgsl): row-wise weight
 * quantisation, the outlier-decomposed int8 forward (dot4I8Packed where the WGSL language feature
 * exists, an unpack-and-multiply fallback otherwise) with an optional fused LoRA addend, and the
 * dequantising backward to x. GPUs get workgroup-tiled kernels (matmul_int8_tiled8.wgsl, 8×8 per
 * thread with vec4 loads, where words % 4 == 0; matmul_int8.wgsl otherwise); CPU adapters (cpuStyle) get
 * barrier-free register-blocked ones (matmul_int8_regs.wgsl, matmul_int8_dequant_regs.wgsl); a
 * forward with few rows (decoding) goes to the GEMV-style matmul_int8_skinny.wgsl on both.
 */
import type { GpuContext } from '../../gpu/device.js';
import { grid1d, type KernelDecl } from '../../gpu/kernel.js';
import { OpArgumentError, ShapeError } from '../../errors.js';
import { alloc, bufferOf, cpuStyle, grid, launch, release, WG } from './common.js';
import { transposeOps } from './transpose.js';
import type { RawTensor } from '../types.js';
import type { Int8Backend, Int8Options, Int8Weight, LowRankAddend } from '../kernels.js';

const R = 'read' as const;
const RW = 'read_write' as const;
const u32 = 'u32' as const;
const f32 = 'f32' as const;
const bool = 'bool' as const;

/** Tile of the int8 GEMM: (WY·4) rows × (WX·4) outputs, TK packed words (4·TK int8) per stage. */
export const INT8_TILE = { WX: 16, WY: 16, TK: 8 };
/** Tile of the GPU dequantising backward (matmul_int8_dequant.wgsl): (WY·4)×(WX·4) outputs of dx, TK deep. */
export const INT8_DEQUANT_TILE = { WX: 16, WY: 16, TK: 16 };
/**
 * Outputs per thread along each axis of the workgroup-tiled int8 kernels: 4 in matmul_int8.wgsl and
 * matmul_int8_dequant.wgsl (RM, RN), 8 in matmul_int8_tiled8.wgsl. Structural in the shaders (not
 * overrides); this is the host's one copy, which the grids and tiled8's load check use. The
 * barrier-free kernels' 8×8 block is INT8_REGS.R.
 */
export const INT8_THREAD_BLOCK = { tiled: 4, tiled8: 8 } as const;
/**
 * Forward GEMM kernel choice (the skinny decode kernel is chosen first, see int8SkinnyTuning).
 * 'auto': 'regs' on CPU adapters; on GPU adapters 'tiled8' where its preconditions hold (words % 4
 * == 0 and room for its two extra vec4 views of act / cb, 10 storage bindings), else 'tiled'. A
 * forced 'tiled8' also falls back to 'tiled' where they do not hold. WX, WY, TK are tiled8's
 * override constants (tile (WY·8)×(WX·8), TK words deep, TK % 4 == 0), there so benchmarks can
 * sweep them, and prefetch its PREFETCH override (the next K stage loaded into registers during
 * the current one; at most 4 vec4 loads per thread and operand). Defaults from the 4096³ sweep on
 * an H200 (bench/gemm_sweep.bench.ts, docs/BENCHMARKS.md): 16×16 threads, TK 16, no prefetch gave
 * 56.7 TOP/s (59.9 with Dawn's unsafe toggles), prefetch 53.8 (55.2), the old 4×4 kernel 12.1.
 */
export const int8GemmTuning: {
  kernel: 'auto' | 'tiled' | 'tiled8' | 'regs' | 'smat'; WX: number; WY: number; TK: number; prefetch: boolean;
  /**
   * The register kernel ('regs') on cb transposed to [words][O] in a pooled temporary (the int8
   * form of matmul's relayout): its 8 weight rows' words of one k are then neighbours, where in
   * [O][words] each lane reads 8 rows W words apart. 'auto': from INT8_TRANSPOSE_MIN_ROWS rows on.
   * Transposed per call, not cached: a kept copy would double the codes' memory (the 0.5 GB budget
   * of BioGPT's int8 weights), and the pass costs a few % of the product it speeds up.
   */
  transposeW: 'auto' | boolean;
} = {
  kernel: 'auto', WX: 16, WY: 16, TK: 16, prefetch: false, transposeW: 'auto',
};
/**
 * Rows from which 'auto' transposes cb for the register kernel: the transpose is one pass over
 * the codes (O·I bytes), paid back at the training shapes (lavapipe, [256, 1024]·[4096, 1024]ᵀ and
 * [256, 4096]·[1024, 4096]ᵀ: docs/BENCHMARKS.md); decoding runs the skinny kernel anyway.
 */
export const INT8_TRANSPOSE_MIN_ROWS = 64;
/**
 * Tensor-core forward (matmul_int8_smat.wgsl, Dawn's chromium-experimental-subgroup-matrix, i8
 * 16×16×32 MMAs with i32 results; bit-identical to tiled8; H200 4096³: 123 TOP/s vs tiled8's 57):
 * 'auto' picks it once prepareInt8Smat() has compiled it (or force int8GemmTuning.kernel = 'smat').
 * It runs where the device has the feature and an i8→i32 16×16×32 configuration, I % 32 == 0 and
 * the vec4 views fit (else the tiled8 choice applies). int8GemmTuning.TK is its stage depth in
 * words (TK % 8 == 0). typeOrder: how this Dawn orders the matrix type parameters ('MK': the
 * proposal's left<T, M, K>, right<T, K, N>, result<T, M, N>; 'KM': the older left<T, K, M>,
 * right<T, N, K>, result<T, N, M>: what the npm webgpu 0.6.2 Dawn takes, seen on an H200), settled
 * at run time by prepareInt8Smat(); i8Bytes: i8 load offsets / strides counted in bytes instead of
 * i32 words (older Dawn; 0.6.2 counts words); PAD: words of padding per
 * staged row (a multiple of 4: 16-byte aligned rows for the cooperative loads).
 */
export const int8SmatTuning: { typeOrder: 'MK' | 'KM'; i8Bytes: boolean; PAD: number } = { typeOrder: 'KM', i8Bytes: false, PAD: 4 };
/**
 * Geometry of matmul_int8_smat.wgsl, passed to it as its TILE and NSG overrides (the shader has no
 * copy): a workgroup of SMAT_NSG subgroups, 2×2 over a SMAT_TILE × SMAT_TILE tile of y, each
 * subgroup 4×4 result tiles of 16×16. The shader's layout is written for exactly these values.
 */
export const SMAT_NSG = 4;
export const SMAT_TILE = 2 * 4 * 16;
/** Set when prepareInt8Smat() found that neither type order compiles: 'smat' then falls back. */
let smatUnusable = false;
/** Set when prepareInt8Smat() compiled the kernel: 'auto' then picks it on GPU adapters. */
let smatReady = false;

/** Whether the adapter lists the i8 × i8 → i32 16×16×32 subgroup-matrix configuration. */
function hasSmatConfig(ctx: GpuContext): boolean {
  if (!ctx.features.has('chromium-experimental-subgroup-matrix') || ctx.caps.subgroupMaxSize < 1) return false;
  const cfgs = (ctx.adapter.info as unknown as { subgroupMatrixConfigs?: Iterable<Record<string, unknown>> }).subgroupMatrixConfigs;
  for (const c of cfgs ?? []) {
    if (c.componentType === 'i8' && c.resultComponentType === 'i32' && c.M === 16 && c.N === 16 && c.K === 32) return true;
  }
  return false;
}

/** Workgroup bytes of the smat kernel for stage depth TK (two staged 128-row operands). */
function smatBytes(TK: number): number {
  return 2 * SMAT_TILE * (TK + int8SmatTuning.PAD) * 4;
}

/**
 * Barrier-free kernels (CPU adapters): WX×WY threads per workgroup, each an R×R block (R = 8:
 * matmul_int8_regs.wgsl and matmul_int8_dequant_regs.wgsl unroll an 8×8 block; the host's one copy).
 */
export const INT8_REGS = { WX: 8, WY: 8, R: 8 };

/**
 * Skinny forward (matmul_int8_skinny.wgsl), used when x has at most maxM rows: each invocation
 * computes 4 outputs for up to maxRows rows, KS invocations split K (i32 partial sums added in
 * workgroup memory), WN output groups per workgroup. Measured on lavapipe (bench/kernels.bench.ts
 * "decode GEMV int8" rows, quantize/outlier passes included): 1.7–5.8× faster than the register
 * kernel at N = 1 on BioGPT's shapes, about even at N = 8, ahead up to N = 12 and behind at 16 (two
 * row groups read the weights twice), hence cpu maxM 12; KS 1–8 and WN 4–16 were within noise of
 * each other, and reading CB as vec4<u32> gained little at N = 1 but was ~2× slower at N = 8.
 * gpu: a 32-way K split so a 1024-output product still fills the device (not yet tuned on hardware).
 */
export interface Int8SkinnyTiles {
  readonly maxM: number;
  readonly maxRows: number;
  readonly KS: number;
  readonly WN: number;
}
export const INT8_SKINNY: Readonly<Record<'cpu' | 'gpu', Int8SkinnyTiles>> = {
  cpu: { maxM: 12, maxRows: 8, KS: 4, WN: 8 },
  gpu: { maxM: 16, maxRows: 4, KS: 32, WN: 2 },
};
/** 'auto': the skinny kernel for N ≤ maxM; true/false force it on or off (tests and benchmarks). */
export const int8SkinnyTuning: { use: 'auto' | boolean } = { use: 'auto' };

/** Whether an int8Linear forward of N rows runs the skinny kernel (before int8GemmKernel is asked). */
export function int8UsesSkinny(ctx: GpuContext, N: number): boolean {
  return int8SkinnyTuning.use === 'auto' ? N <= INT8_SKINNY[cpuStyle(ctx) ? 'cpu' : 'gpu'].maxM : int8SkinnyTuning.use;
}

/** Rows per invocation (balanced: N = 9 with maxRows 8 runs two groups of 5) and the grid. */
function skinnyLaunch(t: Int8SkinnyTiles, N: number, O: number): { rows: number; workgroups: [number, number, number] } {
  const groups = Math.ceil(N / t.maxRows);
  return { rows: Math.ceil(N / groups), workgroups: [Math.ceil(Math.ceil(O / 4) / t.WN), groups, 1] };
}

const quantizeKernel = {
  name: 'int8_quantize', family: 'matmul', file: 'int8_quantize',
  bindings: [{ name: 'x', type: 'f32', access: R }, { name: 'flags', type: 'u32', access: R }, { name: 'q8', type: 'u32', access: RW }, { name: 'scale', type: 'f32', access: RW }],
  uniforms: { rows: u32, cols: u32, words: u32, scale_off: u32 },
  overrides: { WG: { type: u32, value: WG }, HAS_OUTLIERS: { type: bool, value: false }, SCALE_IN_Q8: { type: bool, value: false } },
  includes: ['common/div_rn.wgsl', 'matmul/int8_quantize_row.wgsl'],
};
/**
 * With outliers and at most fusedMaxRows rows (decoding), the flag, list and quantise passes run as one
 * single-workgroup launch (int8_quantize_outliers.wgsl; same values, one dispatch instead of three:
 * host time per launch is what bounds a decode step on a fast GPU). 0 disables (tests compare).
 * parallelOutliers: the flag and list passes for more rows as a (column block × row chunk) grid
 * (int8_outliers_grid.wgsl, chunks of max(outlierChunkRows, N / outlierMaxChunks) rows, partial
 * flags after the final ones in the flags buffer) and a one-workgroup prefix-sum list pass
 * (int8_outlier_scan.wgsl) instead of one serial thread per column and a single-thread list walk;
 * the same flags, list and count bit for bit. 'auto': on GPU adapters (CPU adapters keep the serial
 * kernels, which have no barriers). Chunk sizes are untuned guesses (no GPU timing yet).
 */
export const int8QuantizeTuning: {
  fusedMaxRows: number; parallelOutliers: 'auto' | boolean; outlierChunkRows: number; outlierMaxChunks: number;
} = { fusedMaxRows: 16, parallelOutliers: 'auto', outlierChunkRows: 32, outlierMaxChunks: 32 };
const quantizeOutliersKernel = {
  name: 'int8_quantize_outliers', family: 'matmul', file: 'int8_quantize_outliers',
  bindings: [{ name: 'x', type: 'f32', access: R }, { name: 'flags', type: 'u32', access: RW }, { name: 'q8', type: 'u32', access: RW }],
  uniforms: { rows: u32, cols: u32, words: u32, scale_off: u32, list_off: u32, threshold: f32 },
  overrides: { WG: { type: u32, value: WG } },
  includes: ['common/div_rn.wgsl', 'matmul/int8_quantize_row.wgsl', 'matmul/int8_outlier_block_list.wgsl'],
};
const outliersKernel = {
  name: 'int8_outliers', family: 'matmul', file: 'int8_outliers',
  bindings: [{ name: 'x', type: 'f32', access: R }, { name: 'flags', type: 'u32', access: RW }],
  uniforms: { rows: u32, cols: u32, threshold: f32 },
  overrides: { WG: { type: u32, value: WG } },
};
const outliersGridKernel = {
  name: 'int8_outliers_grid', family: 'matmul', file: 'int8_outliers_grid',
  bindings: [{ name: 'x', type: 'f32', access: R }, { name: 'part', type: 'u32', access: RW }],
  uniforms: { rows: u32, cols: u32, chunk: u32, threshold: f32 },
  overrides: { WG: { type: u32, value: WG } },
};
const outlierScanKernel = {
  name: 'int8_outlier_scan', family: 'matmul', file: 'int8_outlier_scan',
  bindings: [{ name: 'flags', type: 'u32', access: RW }, { name: 'list', type: 'u32', access: RW }],
  uniforms: { cols: u32, chunks: u32, off: u32 },
  overrides: { WG: { type: u32, value: WG } },
  includes: ['matmul/int8_outlier_block_list.wgsl'],
};
const outlierListKernel = {
  name: 'int8_outlier_list', family: 'matmul', file: 'int8_outlier_list',
  bindings: [{ name: 'flags', type: 'u32', access: R }, { name: 'list', type: 'u32', access: RW }],
  uniforms: { cols: u32, off: u32 },
};
const dequantizeKernel = {
  name: 'int8_dequantize', family: 'matmul', file: 'int8_dequantize',
  bindings: [{ name: 'cb', type: 'u32', access: R }, { name: 'scb', type: 'f32', access: R }, { name: 'w', type: 'f32', access: RW }],
  uniforms: { rows: u32, cols: u32, words: u32 },
  overrides: { WG: { type: u32, value: WG } },
  includes: ['common/strided.wgsl'],
};
const matmulKernels = new Map<string, KernelDecl>();
export type Int8Kernel = 'tiled' | 'tiled8' | 'regs' | 'skinny' | 'smat';
/** Body file (shaders/matmul/) of each int8 forward kernel. */
export const INT8_FILES: Readonly<Record<Int8Kernel, string>> = {
  tiled: 'matmul_int8', tiled8: 'matmul_int8_tiled8', regs: 'matmul_int8_regs', skinny: 'matmul_int8_skinny', smat: 'matmul_int8_smat',
};
/** Subgroup-matrix types of the smat kernel in either parameter order (see int8SmatTuning). */
function smatAliases(order: 'MK' | 'KM'): Record<string, string> {
  return order === 'MK'
    ? { SmatL: 'subgroup_matrix_left<i8, 16, 32>', SmatR: 'subgroup_matrix_right<i8, 32, 16>', SmatC: 'subgroup_matrix_result<i32, 16, 16>' }
    : { SmatL: 'subgroup_matrix_left<i8, 32, 16>', SmatR: 'subgroup_matrix_right<i8, 16, 32>', SmatC: 'subgroup_matrix_result<i32, 16, 16>' };
}
function makeMatmul(native: boolean, kernel: Int8Kernel, order: 'MK' | 'KM' = 'MK'): KernelDecl {
  const s = INT8_SKINNY.gpu;
  const tiles: KernelDecl['overrides'] = kernel === 'regs'
    ? { WX: { type: u32, value: INT8_REGS.WX }, WY: { type: u32, value: INT8_REGS.WY } }
    : kernel === 'skinny'
      ? { ROWS: { type: u32, value: 1 }, KS: { type: u32, value: s.KS }, WN: { type: u32, value: s.WN } }
      : kernel === 'tiled8'
        ? { WX: { type: u32, value: 16 }, WY: { type: u32, value: 16 }, TK: { type: u32, value: 16 }, PREFETCH: { type: bool, value: true } }
        : kernel === 'smat'
          ? {
            SG: { type: u32, value: 32 }, TK: { type: u32, value: 16 }, PAD: { type: u32, value: 4 }, I8_BYTES: { type: bool, value: false },
            NSG: { type: u32, value: SMAT_NSG }, TILE: { type: u32, value: SMAT_TILE },
          }
          : { WX: { type: u32, value: INT8_TILE.WX }, WY: { type: u32, value: INT8_TILE.WY }, TK: { type: u32, value: INT8_TILE.TK } };
  return {
    name: `int8_matmul${kernel === 'tiled' ? '' : `_${kernel}`}${kernel === 'smat' ? `_${order}` : ''}${native ? '' : '_nodot4'}`, family: 'matmul', file: INT8_FILES[kernel],
    ...(kernel === 'smat' ? { enables: ['chromium_experimental_subgroup_matrix'], aliases: smatAliases(order) } : {}),
    bindings: [
      // act = [codes N×words | SCA bits N | outlier list]: see shaders/matmul/int8_common.wgsl.
      { name: 'act', type: 'u32', access: R }, { name: 'cb', type: 'u32', access: R }, { name: 'scb', type: 'f32', access: R },
      { name: 'x', type: 'f32', access: R }, { name: 'bias', type: 'f32', access: R },
      { name: 'lu', type: 'f32', access: R }, { name: 'lb', type: 'f32', access: R }, { name: 'y', type: 'f32', access: RW },
      // tiled8 also reads act and cb as vec4<u32> (read-only aliases of the same buffers).
      ...(kernel === 'tiled8' || kernel === 'smat' ? [{ name: 'act4', type: 'vec4<u32>', access: R }, { name: 'cb4', type: 'vec4<u32>', access: R }] : []),
    ],
    uniforms: { N: u32, O: u32, I: u32, words: u32, sca_off: u32, list_off: u32, flags: u32, rank: u32, lr_scale: f32 },
    // Bias / outliers / LoRA are uniforms (flags, rank): see shaders/matmul/int8_common.wgsl.
    overrides: { ...tiles, USE_DOT4: { type: bool, value: native }, W_T: { type: bool, value: false } },
    // The builtin may only be named where the language feature exists (see int8_dot_fallback.wgsl).
    includes: [native ? 'matmul/int8_dot_native.wgsl' : 'matmul/int8_dot_fallback.wgsl', 'matmul/int8_common.wgsl'],
  };
}
const dequantBindings = [
  { name: 'dy', type: 'f32', access: R }, { name: 'cb', type: 'u32', access: R }, { name: 'scb', type: 'f32', access: R }, { name: 'dx', type: 'f32', access: RW },
];
const dequantMatmulKernel = {
  name: 'int8_matmul_dequant', family: 'matmul', file: 'matmul_int8_dequant', bindings: dequantBindings,
  uniforms: { N: u32, O: u32, I: u32, words: u32 },
  overrides: { WX: { type: u32, value: INT8_DEQUANT_TILE.WX }, WY: { type: u32, value: INT8_DEQUANT_TILE.WY }, TK: { type: u32, value: INT8_DEQUANT_TILE.TK } },
};
const dequantRegsKernel = {
  name: 'int8_matmul_dequant_regs', family: 'matmul', file: 'matmul_int8_dequant_regs', bindings: dequantBindings,
  uniforms: { N: u32, O: u32, I: u32, words: u32 },
  overrides: { WX: { type: u32, value: INT8_REGS.WX }, WY: { type: u32, value: INT8_REGS.WY } },
};

function requireF32(op: string, arg: string, x: RawTensor, rank = 2): void {
  if (x.dtype !== 'f32') throw new OpArgumentError(op, arg, 'an f32 tensor', x.dtype);
  if (x.shape.length !== rank) throw new ShapeError(op, arg, `rank ${rank}`, `[${x.shape}]`);
}

/** Validates the fused LoRA operands (u [N, r], b [O, r], r ≥ 1) and returns r. */
export function checkLowRank(op: string, lr: LowRankAddend, N: number, O: number): number {
  requireF32(op, 'lowRank.u', lr.u);
  requireF32(op, 'lowRank.b', lr.b);
  const r = lr.u.shape[1]!;
  if (lr.u.shape[0] !== N || r < 1) throw new ShapeError(op, 'lowRank.u', `[${N}, r ≥ 1]`, `[${lr.u.shape}]`);
  if (lr.b.shape[0] !== O || lr.b.shape[1] !== r) throw new ShapeError(op, 'lowRank.b', `[${O}, ${r}]`, `[${lr.b.shape}]`);
  if (!Number.isFinite(lr.scale)) throw new OpArgumentError(op, 'lowRank.scale', 'a finite number', String(lr.scale));
  return r;
}

/**
 * The GEMM kernel int8Linear runs for in-features I when the skinny kernel is not chosen (exported so
 * benchmarks can label rows with the kernel that actually ran, tiled8 falling back to tiled).
 */
export function int8GemmKernel(ctx: GpuContext, I: number): 'tiled' | 'tiled8' | 'regs' | 'smat' {
  // 'auto' takes the tensor-core kernel once prepareInt8Smat() has compiled it (initWebGpuBackend
  // does where the feature exists: NVIDIA with RADGRAD_UNSAFE_GPU_FEATURES=1); it falls back below.
  let k = int8GemmTuning.kernel === 'auto' ? (cpuStyle(ctx) ? 'regs' : smatReady ? 'smat' : 'tiled8') : int8GemmTuning.kernel;
  const vec4Ok = Math.ceil(I / 4) % 4 === 0 && (ctx.limits.maxStorageBuffersPerShaderStage ?? 8) >= 10;
  if (k === 'smat') {
    const threads = SMAT_NSG * ctx.caps.subgroupMaxSize;
    const fits = threads <= (ctx.limits.maxComputeInvocationsPerWorkgroup ?? 256) && threads <= (ctx.limits.maxComputeWorkgroupSizeX ?? 256);
    if (I % 32 === 0 && vec4Ok && fits && !smatUnusable && hasSmatConfig(ctx)) return 'smat';
    k = 'tiled8';
  }
  return k === 'tiled8' && !vec4Ok ? 'tiled' : k;
}

/** Rejects smat stage depths the kernel or the device cannot run. */
function checkSmat(ctx: GpuContext, TK: number): void {
  const cfg = `TK=${TK} PAD=${int8SmatTuning.PAD}`;
  if (!Number.isInteger(TK) || TK < 8 || TK % 8 !== 0) throw new OpArgumentError('int8Linear', 'int8GemmTuning', 'smat TK a positive multiple of 8 (whole 32-deep MMAs)', cfg);
  const pad = int8SmatTuning.PAD;
  if (!Number.isInteger(pad) || pad < 0 || pad % 4 !== 0) throw new OpArgumentError('int8Linear', 'int8SmatTuning.PAD', 'a multiple of 4 words', cfg);
  const room = ctx.limits.maxComputeWorkgroupStorageSize ?? 16384;
  if (smatBytes(TK) > room) throw new OpArgumentError('int8Linear', 'int8GemmTuning', `smat workgroup memory ≤ ${room} bytes`, `${smatBytes(TK)} (${cfg})`);
}

/**
 * Settles int8SmatTuning.typeOrder by compiling the smat kernel in either order (the current one
 * first). Returns the order that compiled, or null with the compile errors where the feature is
 * missing or neither compiles; never throws.
 */
export async function prepareInt8Smat(ctx: GpuContext): Promise<{ order: 'MK' | 'KM' | null; errors: string[] }> {
  if (!hasSmatConfig(ctx)) return { order: null, errors: ['no chromium-experimental-subgroup-matrix feature with an i8→i32 16×16×32 configuration'] };
  const errors: string[] = [];
  const first = int8SmatTuning.typeOrder;
  for (const order of [first, first === 'MK' ? 'KM' : 'MK'] as const) {
    try {
      await ctx.pipelines.compile(smatDecl(ctx.caps.dot4I8Packed, order), smatConstants(ctx, int8GemmTuning.TK));
      int8SmatTuning.typeOrder = order;
      smatReady = true;
      return { order, errors };
    } catch (e) {
      errors.push(`${order}: ${(e as Error).message}`);
    }
  }
  smatUnusable = true;
  return { order: null, errors };
}

function smatConstants(ctx: GpuContext, TK: number): Record<string, number | boolean> {
  return { SG: ctx.caps.subgroupMaxSize, TK, PAD: int8SmatTuning.PAD, I8_BYTES: int8SmatTuning.i8Bytes, USE_DOT4: false };
}

const smatDecls = new Map<string, KernelDecl>();
function smatDecl(native: boolean, order: 'MK' | 'KM'): KernelDecl {
  const key = `${native}/${order}`;
  let k = smatDecls.get(key);
  if (!k) smatDecls.set(key, (k = makeMatmul(native, 'smat', order)));
  return k;
}

/** Rejects tiled8 tunings the kernel or the device cannot run (benchmark sweeps set them). */
function checkTiled8(ctx: GpuContext, t: { WX: number; WY: number; TK: number; prefetch: boolean }): void {
  const arg = 'int8GemmTuning';
  const cfg = `WX=${t.WX} WY=${t.WY} TK=${t.TK} prefetch=${t.prefetch}`;
  for (const v of [t.WX, t.WY, t.TK]) if (!Number.isInteger(v) || v < 1) throw new OpArgumentError('int8Linear', arg, 'positive integers', cfg);
  if (t.TK % 4 !== 0) throw new OpArgumentError('int8Linear', arg, 'TK a multiple of 4', cfg);
  const threads = ctx.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  if (t.WX * t.WY > threads) throw new OpArgumentError('int8Linear', arg, `WX·WY ≤ ${threads}`, cfg);
  const bytes = t.TK * (t.WX + t.WY) * 32;
  const room = ctx.limits.maxComputeWorkgroupStorageSize ?? 16384;
  if (bytes > room) throw new OpArgumentError('int8Linear', arg, `workgroup memory ≤ ${room} bytes`, `${bytes} (${cfg})`);
  // Vec4 loads per thread and stage: TK/4 per row, WY·8 rows (WX·8 for cb), WX·WY threads.
  const loads = Math.ceil((t.TK / 4) * INT8_THREAD_BLOCK.tiled8 * Math.max(t.WX, t.WY) / (t.WX * t.WY));
  if (t.prefetch && loads > 4) throw new OpArgumentError('int8Linear', arg, 'at most 4 vec4 loads per thread with prefetch (TK ≤ 2·min(WX, WY))', cfg);
}

export function int8Ops(ctx: GpuContext): Int8Backend {
  const hasDot4 = ctx.caps.dot4I8Packed;
  const trans = transposeOps(ctx);
  // The kernel declaration is shared by both dot paths (USE_DOT4 is an override), but the include
  // that names the builtin must only be compiled where the language feature exists.
  const matmulKernel = (kernel: Int8Kernel) => {
    if (kernel === 'smat') return smatDecl(hasDot4, int8SmatTuning.typeOrder);
    const key = `${hasDot4}/${kernel}`;
    let k = matmulKernels.get(key);
    if (!k) matmulKernels.set(key, (k = makeMatmul(hasDot4, kernel)));
    return k;
  };
  return {
    quantizeRowwise(w) {
      requireF32('quantizeRowwise', 'w', w);
      const [rows, cols] = w.shape as [number, number];
      const words = Math.ceil(cols / 4);
      const q = alloc(ctx, [rows, words], 'u32', 'int8 quantize');
      const s = alloc(ctx, [rows], 'f32', 'int8 quantize');
      if (rows > 0) {
        launch(ctx, quantizeKernel, {
          bindings: { x: bufferOf(w), flags: bufferOf(w), q8: bufferOf(q), scale: bufferOf(s) },
          uniforms: { rows, cols, words, scale_off: 0 }, workgroups: grid1d(rows),
        });
      }
      return { cb: q, scb: s, inFeatures: cols };
    },
    int8Linear(x, w, bias, opts: Int8Options) {
      requireF32('int8Linear', 'x', x);
      const [N, I] = x.shape as [number, number];
      const O = w.scb.shape[0]!;
      if (I !== w.inFeatures) throw new ShapeError('int8Linear', 'x', `[N, ${w.inFeatures}]`, `[${x.shape}]`);
      if (bias && (bias.dtype !== 'f32' || bias.shape.join() !== String(O))) throw new ShapeError('int8Linear', 'bias', `f32 [${O}]`, `${bias.dtype} [${bias.shape}]`);
      const lr = opts.lowRank ?? null;
      const rank = lr ? checkLowRank('int8Linear', lr, N, O) : 0;
      const words = Math.ceil(I / 4);
      // Kernel choice first: a bad tuning then throws before anything is allocated.
      const { outlierChunkRows: cr, outlierMaxChunks: mc } = int8QuantizeTuning;
      // chunks = ⌈N / max(cr, ⌈N / mc⌉)⌉ ≤ mc: the grid's y dimension.
      if (!(Number.isInteger(cr) && cr >= 1 && Number.isInteger(mc) && mc >= 1 && mc <= 65535)) {
        throw new OpArgumentError('int8Linear', 'int8QuantizeTuning', 'integer outlierChunkRows ≥ 1, outlierMaxChunks in [1, 65535]', JSON.stringify(int8QuantizeTuning));
      }
      const st = INT8_SKINNY[cpuStyle(ctx) ? 'cpu' : 'gpu'];
      const skinny = int8UsesSkinny(ctx, N);
      let kernel: Int8Kernel;
      let constants: Record<string, number | boolean>;
      let workgroups: [number, number, number];
      if (skinny) {
        const sl = skinnyLaunch(st, N, O);
        kernel = 'skinny';
        constants = { ROWS: sl.rows, KS: st.KS, WN: st.WN };
        workgroups = sl.workgroups;
      } else {
        const tu = int8GemmTuning;
        kernel = int8GemmKernel(ctx, I);
        if (kernel === 'tiled8') {
          checkTiled8(ctx, tu);
          constants = { WX: tu.WX, WY: tu.WY, TK: tu.TK, PREFETCH: tu.prefetch };
          const r = INT8_THREAD_BLOCK.tiled8;
          workgroups = [Math.ceil(O / (tu.WX * r)), Math.ceil(N / (tu.WY * r)), 1];
        } else if (kernel === 'smat') {
          checkSmat(ctx, tu.TK);
          constants = smatConstants(ctx, tu.TK);
          workgroups = [Math.ceil(O / SMAT_TILE), Math.ceil(N / SMAT_TILE), 1];
        } else {
          const bm = kernel === 'regs' ? INT8_REGS.WY * INT8_REGS.R : INT8_TILE.WY * INT8_THREAD_BLOCK.tiled;
          const bn = kernel === 'regs' ? INT8_REGS.WX * INT8_REGS.R : INT8_TILE.WX * INT8_THREAD_BLOCK.tiled;
          constants = {};
          workgroups = [Math.ceil(O / bn), Math.ceil(N / bm), 1];
        }
      }
      const y = alloc(ctx, [N, O], 'f32', 'int8Linear');
      if (N === 0 || O === 0) return y;
      const outliers = opts.threshold > 0 && I > 0;
      // One u32 buffer for the activation codes, their row scales and the outlier list.
      const scaOff = N * words;
      const listOff = scaOff + N;
      const act = alloc(ctx, [listOff + (outliers ? I + 1 : 0)], 'u32', 'int8 activations');
      const fused = outliers && N <= int8QuantizeTuning.fusedMaxRows;
      const pt = int8QuantizeTuning.parallelOutliers;
      const parallel = outliers && !fused && (pt === 'auto' ? !cpuStyle(ctx) : pt);
      const chunk = Math.max(cr, Math.ceil(N / mc));
      const chunks = parallel ? Math.ceil(N / chunk) : 0;
      let flags: RawTensor | null = null;
      // With parallel passes the partial flags of each row chunk follow the final ones.
      if (outliers) flags = alloc(ctx, [I * (1 + chunks)], 'u32', 'int8 outliers');
      if (flags && fused) {
        launch(ctx, quantizeOutliersKernel, {
          bindings: { x: bufferOf(x), flags: bufferOf(flags), q8: bufferOf(act) },
          uniforms: { rows: N, cols: I, words, scale_off: scaOff, list_off: listOff, threshold: opts.threshold }, workgroups: [1],
        });
      } else {
        if (flags && parallel) {
          launch(ctx, outliersGridKernel, {
            bindings: { x: bufferOf(x), part: bufferOf(flags) }, uniforms: { rows: N, cols: I, chunk, threshold: opts.threshold },
            workgroups: [Math.ceil(I / WG), chunks, 1],
          });
          launch(ctx, outlierScanKernel, { bindings: { flags: bufferOf(flags), list: bufferOf(act) }, uniforms: { cols: I, chunks, off: listOff }, workgroups: [1] });
        } else if (flags) {
          launch(ctx, outliersKernel, { bindings: { x: bufferOf(x), flags: bufferOf(flags) }, uniforms: { rows: N, cols: I, threshold: opts.threshold }, workgroups: grid(I) });
          launch(ctx, outlierListKernel, { bindings: { flags: bufferOf(flags), list: bufferOf(act) }, uniforms: { cols: I, off: listOff }, workgroups: [1] });
        }
        launch(ctx, quantizeKernel, {
          bindings: { x: bufferOf(x), flags: bufferOf(flags ?? x), q8: bufferOf(act), scale: bufferOf(y) }, // scale unused: SCALE_IN_Q8
          uniforms: { rows: N, cols: I, words, scale_off: scaOff },
          constants: { HAS_OUTLIERS: flags !== null, SCALE_IN_Q8: true }, workgroups: grid1d(N),
        });
      }
      const tw = int8GemmTuning.transposeW;
      const cbT = kernel === 'regs' && (tw === 'auto' ? N >= INT8_TRANSPOSE_MIN_ROWS : tw) ? trans.transpose(w.cb, O, words) : null; // [words, O]
      launch(ctx, matmulKernel(kernel), {
        bindings: {
          act: bufferOf(act), cb: bufferOf(cbT ?? w.cb), scb: bufferOf(w.scb), x: bufferOf(x), bias: bufferOf(bias ?? w.scb),
          lu: bufferOf(lr?.u ?? w.scb), lb: bufferOf(lr?.b ?? w.scb), y: bufferOf(y),
          ...(kernel === 'tiled8' || kernel === 'smat' ? { act4: bufferOf(act), cb4: bufferOf(w.cb) } : {}),
        },
        uniforms: { N, O, I, words, sca_off: scaOff, list_off: listOff, flags: (bias ? 1 : 0) | (outliers ? 2 : 0), rank, lr_scale: lr?.scale ?? 0 },
        // smat never calls dot4 (its constants keep USE_DOT4 false).
        constants: { USE_DOT4: hasDot4 && !opts.forceFallback, W_T: cbT !== null, ...constants },
        workgroups,
      });
      if (cbT) release(ctx, cbT);
      release(ctx, act);
      if (flags) release(ctx, flags);
      return y;
    },
    int8LinearBackward(dy, w) {
      requireF32('int8LinearBackward', 'dy', dy);
      const [N, O] = dy.shape as [number, number];
      if (O !== w.scb.shape[0]) throw new ShapeError('int8LinearBackward', 'dy', `[N, ${w.scb.shape[0]}]`, `[${dy.shape}]`);
      const I = w.inFeatures;
      const dx = alloc(ctx, [N, I], 'f32', 'int8LinearBackward');
      if (N === 0 || I === 0) return dx;
      const regs = cpuStyle(ctx);
      const bn = regs ? INT8_REGS.WX * INT8_REGS.R : INT8_DEQUANT_TILE.WX * INT8_THREAD_BLOCK.tiled;
      const bm = regs ? INT8_REGS.WY * INT8_REGS.R : INT8_DEQUANT_TILE.WY * INT8_THREAD_BLOCK.tiled;
      launch(ctx, regs ? dequantRegsKernel : dequantMatmulKernel, {
        bindings: { dy: bufferOf(dy), cb: bufferOf(w.cb), scb: bufferOf(w.scb), dx: bufferOf(dx) },
        uniforms: { N, O, I, words: Math.ceil(I / 4) },
        workgroups: [Math.ceil(I / bn), Math.ceil(N / bm), 1],
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
