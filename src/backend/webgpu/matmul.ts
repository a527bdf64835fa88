/**
 * Batched matmul with transposed operands through register-blocked kernels (f32 or f16 storage,
 * f32 accumulation), with tile sizes chosen per adapter class (MATMUL_TILES).
 */
import type { GpuContext } from '../../gpu/device.js';
import type { PooledBuffer } from '../../gpu/buffer_pool.js';
import { ShapeError, OpArgumentError } from '../../errors.js';
import { alloc, bufferOf, cpuStyle, launch, release, variants, vec4Bindable } from './common.js';
import { checkFloat } from '../nn_checks.js';
import { broadcastShapes, broadcastStrides, contiguousStrides, numel, type Backend, type DType, type RawTensor } from '../types.js';
import { layoutOps } from './layout.js';
import { transposeOps } from './transpose.js';
import { chunkedMatmul } from './chunked_matmul.js';
import { elementwiseOps } from './elementwise.js';

/**
 * Tile sizes per adapter class and storage dtype (all WGSL `override` constants, so one shader
 * serves every entry). 'regs' is matmul_regs.wgsl (8×8 outputs per thread, no workgroup memory),
 * 'tiled' is matmul.wgsl (4×4 outputs per thread, (WY·4)×(WX·4) tiles staged TK deep in workgroup
 * memory). Classes:
 * - cpu (tuning.cpuStyle: lavapipe, SwiftShader): barriers and workgroup memory are emulated and
 *   dominate the tiled kernel, so the register-only kernel is several times faster; f16 storage
 *   only halves the bytes read (the CPU converts each element).
 * - gpu (discrete or integrated hardware): the tiled kernel; f16 storage stages f16 tiles in
 *   workgroup memory, so TK doubles in the same 8 KiB (TK·(WX+WY)·4 elements: 16·128·4 B for f32,
 *   32·128·2 B for f16), halving the barriers per K. Accumulation is always f32.
 * The gpu entries are the defaults of the shader overrides and are not yet tuned on hardware.
 */
export type AdapterClass = 'cpu' | 'gpu';
export interface MatmulTiles {
  readonly kernel: 'regs' | 'tiled';
  readonly WX: number;
  readonly WY: number;
  /** K depth of a staged tile (tiled kernel only). */
  readonly TK: number;
}
export const MATMUL_TILES: Readonly<Record<AdapterClass, Readonly<Record<'f32' | 'f16', MatmulTiles>>>> = {
  cpu: { f32: { kernel: 'regs', WX: 8, WY: 8, TK: 0 }, f16: { kernel: 'regs', WX: 8, WY: 8, TK: 0 } },
  gpu: { f32: { kernel: 'tiled', WX: 16, WY: 16, TK: 16 }, f16: { kernel: 'tiled', WX: 16, WY: 16, TK: 32 } },
};
/**
 * Skinny (GEMV-style) kernels, shaders/matmul/matmul_skinny.wgsl (any layout) and
 * matmul_skinny_vec4.wgsl (x·Wᵀ with K % 4 = 0, operands read as vec4 along K), used when the
 * result has at most maxM rows per batch (token-by-token decoding: M = batch of sequences). Each
 * invocation computes 4 columns (8 in the vec4 kernel from wideRows rows on) for up to maxRows
 * rows; KS invocations split K (partial sums added in workgroup memory) and WN column groups share
 * a workgroup. Measured on lavapipe (bench/kernels.bench.ts "decode GEMV", docs/BENCHMARKS.md): an
 * 8-way K split beats KS 1 by ~2× in the scalar kernel (neighbouring invocations share cache lines
 * of B; in the vec4 kernel KS 1–8 are within noise), vec4 loads gain another ~2–3× at M = 1, 8 columns per invocation was 1.1–1.4× slower than 4 at M = 4–16
 * (register spills; so cpu never widens: wideRows > maxRows), and at M = 8–16 the skinny kernel is
 * 1–1.5× faster than the register kernel. maxM = 16 keeps training GEMMs on the register kernel.
 * gpu: a 32-way K split so a 1024-column product still fills the device, 8 columns from 4 rows so
 * each A load serves more columns (the shader defaults; not yet tuned on hardware).
 */
export interface SkinnyTiles {
  readonly maxM: number;
  readonly maxRows: number;
  readonly KS: number;
  readonly WN: number;
  /** Rows per invocation from which the vec4 kernel computes 8 columns per invocation instead of 4. */
  readonly wideRows: number;
}
export const MATMUL_SKINNY: Readonly<Record<AdapterClass, SkinnyTiles>> = {
  cpu: { maxM: 16, maxRows: 8, KS: 8, WN: 8, wideRows: 9 },
  gpu: { maxM: 16, maxRows: 4, KS: 32, WN: 2, wideRows: 4 },
};
/** 'auto': the skinny kernel for M ≤ maxM; true/false force it on or off (tests and benchmarks). */
export const skinnyTuning: { use: 'auto' | boolean } = { use: 'auto' };

export function skinnyTiles(ctx: GpuContext): SkinnyTiles {
  return MATMUL_SKINNY[cpuStyle(ctx) ? 'cpu' : 'gpu'];
}

/** Whether an M-row product goes to the skinny kernel. */
export function useSkinny(ctx: GpuContext, M: number): boolean {
  return skinnyTuning.use === 'auto' ? M <= skinnyTiles(ctx).maxM : skinnyTuning.use;
}

/**
 * Rows per invocation (balanced: M = 9 with maxRows 8 runs two groups of 5), columns per
 * invocation (8 only in the vec4 kernel, from wideRows rows) and the grid.
 */
export function skinnyLaunch(t: SkinnyTiles, M: number, N: number, batch: number, vec4: boolean): { rows: number; cn: number; workgroups: [number, number, number] } {
  const groups = Math.ceil(M / t.maxRows);
  const rows = Math.ceil(M / groups);
  const cn = vec4 && rows >= t.wideRows ? 8 : 4;
  return { rows, cn, workgroups: [Math.ceil(Math.ceil(N / cn) / t.WN), groups, batch] };
}

/**
 * Row-broadcast register kernel for x·Wᵀ on CPU adapters, shaders/matmul/matmul_regs_nt.wgsl
 * (A·Bᵀ with K % 4 = 0, both read as vec4 along K): R rows × 4 columns per invocation, the R rows
 * shared by the WG invocations of a workgroup, so the A reads are uniform (one scalar load per
 * SIMD group on lavapipe) and only the B reads are per-lane. Measured on lavapipe (bench/
 * matmul.bench.ts, 256 tokens): 1.2–1.6× over matmul_regs.wgsl for K ≥ 1024 (BioGPT's fc1, fc2,
 * q/k/v/out forward; at 2048 tokens 1.05× fc1, 1.3× q/k/v/out), 0.9–1.3× at K = 512, 0.8–1.0× for
 * K ≤ 256 (the small model's linears, its vocab head, attention's q·kᵀ), hence minK. R 16
 * spilled (slower than 8); WG 8–64 were within noise. The same idea for
 * the other layouts (B stored [K, N] read as vec4 along N: dy·W, dyᵀ·x) was 0.7–0.9× the register
 * kernel, so those keep it. From MATMUL_RELAYOUT.minM rows on, the register kernel on a transposed
 * B beats it (see there), so 'auto' keeps it for shorter products (and the fused LoRA linear).
 */
export interface RowTiles {
  readonly R: number;
  readonly WG: number;
  /** Smallest K for which 'auto' picks the row kernel. */
  readonly minK: number;
}
export const MATMUL_ROWS: RowTiles = { R: 8, WG: 16, minK: 1024 };
/**
 * rows: 'auto' the row kernel for x·Wᵀ on CPU adapters when K ≥ minK and B is not re-laid
 * (useRelayout); true: wherever its layout applies (any adapter, any K; tests and benchmarks);
 * false: never. relayout: transB products on the register kernel with B transposed first
 * ('auto' / true / false, see useRelayout).
 */
export const gemmTuning: { rows: 'auto' | boolean; relayout: 'auto' | boolean } = { rows: 'auto', relayout: 'auto' };

/** Whether a product with these transposes and sizes runs matmul_regs_nt.wgsl. */
export function useRowKernel(ctx: GpuContext, ta: boolean, tb: boolean, M: number, K: number, vec4ok: boolean): boolean {
  const t = MATMUL_ROWS;
  // layout, vec4 binding, and the grid's x dimension (M / R row blocks) within the dispatch limit
  if (gemmTuning.rows === false || ta || !tb || K % 4 !== 0 || !vec4ok || Math.ceil(M / t.R) > 65535) return false;
  return gemmTuning.rows === true || (cpuStyle(ctx) && K >= t.minK);
}

/**
 * Register kernel on a re-laid B for transB products on CPU adapters (the forward x·Wᵀ of every
 * linear, attention's q·kᵀ): B stored [N, K] is transposed into a [K, N] temporary
 * (shaders/layout/transpose.wgsl) and matmul_regs.wgsl runs without transB. Its 8 columns per
 * thread are then 8 consecutive floats of a B row, and neighbouring threads read neighbouring
 * runs, instead of 8 rows K apart: on lavapipe the register kernel runs dy·W (no transposes) and
 * dyᵀ·x at 6–7 GFLOP/s against 2.6–2.9 for x·Wᵀ, and the row kernel only reaches 3.3–3.8 there
 * (bench/matmul.bench.ts, 256 tokens). The transpose is one memory pass over B (≈ 15 ms for
 * [4096, 1024] f32), so it pays off from about minM rows of A: x·Wᵀ at 256 tokens ran 1.2–2.0×
 * the register kernel and 1.1–1.6× the row kernel for K ≥ 512 (at 2048 tokens 2.0–2.2× and
 * 1.4–1.5×), 1.1–1.5× the register kernel at K = 256, and 0.95–1.07× for attention's q·kᵀ
 * (K = 64: 8 rows of B K apart are still a few cache lines), hence minK. The opposite direction —
 * transposing dy·W and dyᵀ·x operands into A·Bᵀ form for the row kernel — was 0.4–0.7×.
 */
export const MATMUL_RELAYOUT = { minM: 64, minK: 256 } as const;

/**
 * Whether a transB product transposes B for the register kernel. 'auto': CPU adapters with
 * M ≥ minM and K ≥ minK, unless gemmTuning.rows = true (forcing the row kernel); true: any
 * adapter and size.
 */
export function useRelayout(ctx: GpuContext, tb: boolean, M: number, K: number): boolean {
  if (gemmTuning.relayout === false || !tb) return false;
  if (gemmTuning.relayout === true) return true;
  return gemmTuning.rows !== true && cpuStyle(ctx) && M >= MATMUL_RELAYOUT.minM && K >= MATMUL_RELAYOUT.minK;
}

/**
 * Which kernel family a product of M rows runs, in the one order matmul and the fused LoRA GEMM
 * share: the skinny GEMV for few rows, the row kernel (unless B is re-laid), else the register /
 * tiled kernel, with B transposed first ('relayout') or as stored ('regs').
 */
export type GemmPath = 'skinny' | 'rows' | 'relayout' | 'regs';
export function gemmPath(ctx: GpuContext, ta: boolean, tb: boolean, M: number, K: number, vec4ok: boolean): GemmPath {
  if (useSkinny(ctx, M)) return 'skinny';
  if (useRelayout(ctx, tb, M, K)) return 'relayout';
  return useRowKernel(ctx, ta, tb, M, K, vec4ok) ? 'rows' : 'regs';
}

/**
 * Vec4 tiled kernel for GPUs, shaders/matmul/matmul_tiled8.wgsl: WX×WY threads, 8×8 outputs each
 * ((WY·8)×(WX·8) tiles), TK-deep slices in workgroup memory, every global load a vec4 along the
 * operand's contiguous dimension, the next slice prefetched into registers. It needs that
 * dimension (K or M of A, N or K of B) to be a multiple of 4; other products keep matmul.wgsl.
 * Defaults from the 4096³ sweep on an H200 (bench/gemm_sweep.bench.ts, docs/BENCHMARKS.md): 16×16
 * threads (128×128 tiles), TK 8 gave 35.0 TFLOP/s for A·B and 33.3 for x·Wᵀ (44.6 / 35.5 with
 * Dawn's unsafe toggles), TK 16 25.9 / 25.3, matmul.wgsl 17.1 / 15.4.
 */
export interface Tiled8Tiles {
  readonly WX: number;
  readonly WY: number;
  readonly TK: number;
}
export const MATMUL_TILED8: Tiled8Tiles = { WX: 16, WY: 16, TK: 8 };
/** use: 'auto' on GPU adapters where it applies, true anywhere it applies (tests), false never; tiles: the sweep's choice. */
export const tiled8Tuning: { use: 'auto' | boolean; tiles: Tiled8Tiles } = { use: 'auto', tiles: MATMUL_TILED8 };

/** Why a tile choice cannot run (loads per thread must divide evenly and fit the 4 prefetch registers), or null. */
export function tiled8Invalid(ctx: GpuContext, t: Tiled8Tiles): string | null {
  const threads = t.WX * t.WY;
  if (t.TK % 4 !== 0) return `TK ${t.TK} is not a multiple of 4`;
  if ((2 * t.TK) % t.WX !== 0 || (2 * t.TK) % t.WY !== 0) return `2·TK ${2 * t.TK} is not a multiple of WX ${t.WX} and WY ${t.WY}`;
  if ((2 * t.TK) / t.WX > 4 || (2 * t.TK) / t.WY > 4) return `more than 4 vec4 loads per thread (2·TK/WX, 2·TK/WY)`;
  if (threads > (ctx.limits.maxComputeInvocationsPerWorkgroup ?? 256)) return `${threads} threads per workgroup`;
  const bytes = t.TK * (t.WX + t.WY) * 2 * 16;
  if (bytes > (ctx.limits.maxComputeWorkgroupStorageSize ?? 16384)) return `${bytes} B of workgroup memory`;
  return null;
}

/** Whether a product runs matmul_tiled8.wgsl (instead of the register / tiled kernel). */
export function useTiled8(ctx: GpuContext, ta: boolean, tb: boolean, M: number, N: number, K: number, vec4ok: boolean): boolean {
  if (tiled8Tuning.use === false || !vec4ok) return false;
  if ((ta ? M : K) % 4 !== 0 || (tb ? K : N) % 4 !== 0 || tiled8Invalid(ctx, tiled8Tuning.tiles)) return false;
  return tiled8Tuning.use === true || !cpuStyle(ctx);
}

/**
 * Outputs per thread along each axis: 4 in the tiled kernel (matmul.wgsl RM, RN), 8 in the register
 * kernel (matmul_regs.wgsl, an unrolled 8×8 block) and in matmul_tiled8.wgsl (RM, RN). The shaders'
 * blocks are structural (not overrides); this is the host's one copy, which every grid uses.
 */
export const MATMUL_THREAD_BLOCK = { tiled: 4, regs: 8, tiled8: 8 } as const;

export function matmulTiles(ctx: GpuContext, dtype: DType): MatmulTiles {
  return MATMUL_TILES[cpuStyle(ctx) ? 'cpu' : 'gpu'][dtype === 'f16' ? 'f16' : 'f32'];
}

/** Workgroups covering an M×N output (times the batch) with the given tiles. */
export function matmulGrid(t: MatmulTiles, M: number, N: number, batch: number): [number, number, number] {
  const r = MATMUL_THREAD_BLOCK[t.kernel];
  return [Math.ceil(N / (t.WX * r)), Math.ceil(M / (t.WY * r)), batch];
}

/** Tile overrides of a launch (TK only for the tiled kernel). */
export function matmulConstants(t: MatmulTiles): Record<string, number> {
  return t.kernel === 'tiled' ? { WX: t.WX, WY: t.WY, TK: t.TK } : { WX: t.WX, WY: t.WY };
}

// Both matmul kernels (tiled and register-only) read the same operands and sizes.
export const MATMUL_BINDINGS = [
  { name: 'a', type: 'T', access: 'read' as const },
  { name: 'b', type: 'T', access: 'read' as const },
  { name: 'c', type: 'T', access: 'read_write' as const },
];
export const MATMUL_UNIFORMS = { M: 'u32' as const, N: 'u32' as const, K: 'u32' as const, a_batch_stride: 'u32' as const, b_batch_stride: 'u32' as const };
const TRANS_OVERRIDES = { TRANS_A: { type: 'bool' as const, value: false }, TRANS_B: { type: 'bool' as const, value: false } };

/**
 * Store of a plain product: 'store' (identity, matmul_epilogue.wgsl) or 'linear' (+ bias[n], then
 * GELU, in f32 before the one store, matmul_linear_epilogue.wgsl): a Linear's x·Wᵀ + b [→ gelu] in
 * one dispatch instead of three (MatmulOptions.bias / activation).
 */
type Epilogue = 'store' | 'linear';
function epilogueParts(e: Epilogue): { bindings: typeof MATMUL_BINDINGS; overrides: Record<string, { type: 'bool'; value: boolean }>; includes: string[] } {
  return e === 'linear'
    ? {
      bindings: [{ name: 'bias', type: 'T', access: 'read' as const }],
      overrides: { HAS_BIAS: { type: 'bool' as const, value: false }, GELU: { type: 'bool' as const, value: false } },
      includes: ['common/math.wgsl', 'matmul/matmul_linear_epilogue.wgsl'],
    }
    : { bindings: [], overrides: {}, includes: ['matmul/matmul_epilogue.wgsl'] };
}

/** Overrides and aliases of a matmul kernel body over storage dtype t ('tiled' stages tiles as S). */
export function matmulBody(kernel: 'regs' | 'tiled', t: DType) {
  const g = MATMUL_TILES.gpu[t === 'f16' ? 'f16' : 'f32'];
  const overrides = kernel === 'tiled'
    ? { WX: { type: 'u32' as const, value: g.WX }, WY: { type: 'u32' as const, value: g.WY }, TK: { type: 'u32' as const, value: g.TK }, ...TRANS_OVERRIDES }
    : { WX: { type: 'u32' as const, value: 8 }, WY: { type: 'u32' as const, value: 8 }, ...TRANS_OVERRIDES };
  return {
    family: 'matmul', file: kernel === 'tiled' ? 'matmul' : 'matmul_regs', overrides,
    aliases: { T: t, S: t === 'f16' ? 'f16' : 'f32' }, enables: t === 'f16' ? ['f16'] : [],
  };
}

// 'vec4': x·Wᵀ with K % 4 = 0, A and B bound as vec4 along K (matmul_skinny_vec4.wgsl).
const skinnyKernel = variants((key: `${'scalar' | 'vec4'}/${DType}/${Epilogue}`) => {
  const [form, t, e] = key.split('/') as ['scalar' | 'vec4', DType, Epilogue];
  const v4 = form === 'vec4';
  const ep = epilogueParts(e);
  return {
    name: `matmul_skinny_${v4 ? 'vec4_' : ''}${t}${e === 'linear' ? '_linear' : ''}`, family: 'matmul', file: v4 ? 'matmul_skinny_vec4' : 'matmul_skinny',
    overrides: {
      ROWS: { type: 'u32' as const, value: 1 }, KS: { type: 'u32' as const, value: MATMUL_SKINNY.gpu.KS },
      WN: { type: 'u32' as const, value: MATMUL_SKINNY.gpu.WN }, ...(v4 ? { CN: { type: 'u32' as const, value: 4 } } : TRANS_OVERRIDES), ...ep.overrides,
    },
    aliases: { T: t, V: `vec4<${t}>` }, enables: t === 'f16' ? ['f16'] : [],
    bindings: [...(v4 ? [{ ...MATMUL_BINDINGS[0]!, type: 'V' }, { ...MATMUL_BINDINGS[1]!, type: 'V' }, MATMUL_BINDINGS[2]!] : MATMUL_BINDINGS), ...ep.bindings],
    uniforms: MATMUL_UNIFORMS, includes: v4 ? [...ep.includes, 'matmul/matmul_skinny_vec4_one.wgsl'] : ep.includes,
  };
});

const matmulKernel = variants((key: `${'regs' | 'tiled'}/${DType}/${Epilogue}`) => {
  const [kernel, t, e] = key.split('/') as ['regs' | 'tiled', DType, Epilogue];
  const body = matmulBody(kernel, t);
  const ep = epilogueParts(e);
  return {
    name: `matmul_${kernel === 'regs' ? 'regs_' : ''}${t}${e === 'linear' ? '_linear' : ''}`, ...body, overrides: { ...body.overrides, ...ep.overrides },
    bindings: [...MATMUL_BINDINGS, ...ep.bindings], uniforms: MATMUL_UNIFORMS, includes: ep.includes,
  };
});

/** Overrides, aliases and bindings (a, b as vec4) of matmul_tiled8.wgsl over storage dtype t, before any epilogue. */
export function tiled8Body(t: DType) {
  const g = MATMUL_TILED8;
  return {
    family: 'matmul', file: 'matmul_tiled8',
    overrides: { WX: { type: 'u32' as const, value: g.WX }, WY: { type: 'u32' as const, value: g.WY }, TK: { type: 'u32' as const, value: g.TK }, ...TRANS_OVERRIDES },
    aliases: { T: t, V: `vec4<${t}>` }, enables: t === 'f16' ? ['f16'] : [],
    bindings: [{ ...MATMUL_BINDINGS[0]!, type: 'V' }, { ...MATMUL_BINDINGS[1]!, type: 'V' }, MATMUL_BINDINGS[2]!],
  };
}

/** Tile overrides and grid of a tiled8 launch with tiled8Tuning's tiles (8×8 outputs per thread). */
export function tiled8Launch(M: number, N: number, batch: number): { constants: { WX: number; WY: number; TK: number }; workgroups: [number, number, number] } {
  const t8 = tiled8Tuning.tiles;
  const r = MATMUL_THREAD_BLOCK.tiled8;
  return { constants: { WX: t8.WX, WY: t8.WY, TK: t8.TK }, workgroups: [Math.ceil(N / (t8.WX * r)), Math.ceil(M / (t8.WY * r)), batch] };
}

const tiled8Kernel = variants((key: `${DType}/${Epilogue}`) => {
  const [t, e] = key.split('/') as [DType, Epilogue];
  const ep = epilogueParts(e);
  const body = tiled8Body(t);
  return {
    name: `matmul_tiled8_${t}${e === 'linear' ? '_linear' : ''}`, ...body, overrides: { ...body.overrides, ...ep.overrides },
    bindings: [...body.bindings, ...ep.bindings], uniforms: MATMUL_UNIFORMS, includes: ep.includes,
  };
});

/** Overrides, aliases and bindings (a, b as vec4 along K) of matmul_regs_nt.wgsl over storage dtype t. */
export function rowBody(t: DType) {
  return {
    family: 'matmul', file: 'matmul_regs_nt',
    overrides: { R: { type: 'u32' as const, value: MATMUL_ROWS.R }, WG: { type: 'u32' as const, value: MATMUL_ROWS.WG } },
    aliases: { T: t, V: `vec4<${t}>` }, enables: t === 'f16' ? ['f16'] : [],
    bindings: [{ ...MATMUL_BINDINGS[0]!, type: 'V' }, { ...MATMUL_BINDINGS[1]!, type: 'V' }, MATMUL_BINDINGS[2]!],
  };
}

/** Overrides and grid of a row-kernel launch (row blocks along x, 4·WG column groups along y). */
export function rowLaunch(M: number, N: number, batch: number): { constants: { R: number; WG: number }; workgroups: [number, number, number] } {
  const rt = MATMUL_ROWS;
  return { constants: { R: rt.R, WG: rt.WG }, workgroups: [Math.ceil(M / rt.R), Math.ceil(N / (4 * rt.WG)), batch] };
}

const rowKernel = variants((key: `${DType}/${Epilogue}`) => {
  const [t, e] = key.split('/') as [DType, Epilogue];
  const body = rowBody(t);
  const ep = epilogueParts(e);
  return {
    name: `matmul_regs_nt_${t}${e === 'linear' ? '_linear' : ''}`, ...body, overrides: { ...body.overrides, ...ep.overrides },
    bindings: [...body.bindings, ...ep.bindings], uniforms: MATMUL_UNIFORMS, includes: ep.includes,
  };
});

export function matmulOps(ctx: GpuContext): Pick<Backend, 'matmul'> {
  const layout = layoutOps(ctx);
  /** Materialises x broadcast to batch shape `batch` (only when its batch is neither full nor 1). */
  const expandBatch = (x: RawTensor, batch: number[]): { t: RawTensor; stride: number; owned: boolean } => {
    const xb = x.shape.slice(0, -2);
    const mat = x.shape.slice(-2);
    const bn = numel(batch);
    if (numel(xb) === bn && xb.length === batch.length) return { t: x, stride: numel(mat), owned: false };
    if (numel(xb) === 1) return { t: x, stride: 0, owned: false };
    const full = [...batch, ...mat];
    const strides = [...broadcastStrides(xb, batch).map((s) => s * numel(mat)), ...contiguousStrides(mat)];
    return { t: layout.stridedCopy(x, { offset: 0, strides }, full), stride: numel(mat), owned: true };
  };
  const trans = transposeOps(ctx);
  const ew = elementwiseOps(ctx);
  /** The linear epilogue as separate passes (after a chunked product, whose K blocks are summed). */
  const epilogueApart = (c: RawTensor, bias: RawTensor | null, gelu: boolean): RawTensor => {
    let y = c;
    if (bias) {
      y = ew.binary('add', c, bias);
      release(ctx, c);
    }
    if (gelu) {
      const z = ew.unary('gelu', y);
      release(ctx, y);
      y = z;
    }
    return y;
  };
  const ops: Pick<Backend, 'matmul'> = {
    matmul(a, b, opts = {}) {
      checkFloat('matmul', 'a', a);
      if (a.dtype !== b.dtype) throw new OpArgumentError('matmul', 'b', `dtype ${a.dtype}`, b.dtype);
      if (a.shape.length < 2 || b.shape.length < 2) throw new ShapeError('matmul', 'a/b', 'rank >= 2', `[${a.shape}] and [${b.shape}]`);
      const ta = !!opts.transA;
      const tb = !!opts.transB;
      const [ar, ac] = a.shape.slice(-2) as [number, number];
      const [br, bc] = b.shape.slice(-2) as [number, number];
      const M = ta ? ac : ar;
      const K = ta ? ar : ac;
      const Kb = tb ? bc : br;
      const N = tb ? br : bc;
      if (K !== Kb) throw new ShapeError('matmul', 'b', `inner dimension ${K} (a is [${a.shape}]${ta ? 'ᵀ' : ''})`, `${Kb} (b is [${b.shape}]${tb ? 'ᵀ' : ''})`);
      const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
      if (!batch) throw new ShapeError('matmul', 'b', `batch dims broadcastable with [${a.shape.slice(0, -2)}]`, `[${b.shape.slice(0, -2)}]`);
      const bias = opts.bias ?? null;
      const gelu = opts.activation === 'gelu';
      if (bias && (bias.dtype !== a.dtype || bias.shape.length !== 1 || bias.shape[0] !== N)) {
        throw new OpArgumentError('matmul', 'bias', `${a.dtype} [${N}]`, `${bias.dtype} [${bias.shape}]`);
      }
      const epi: Epilogue = bias || gelu ? 'linear' : 'store';
      // An operand or product over the binding limit (the tied LM head): blocks that each fit.
      const blocked = chunkedMatmul(ctx, a, b, ta, tb, batch, (x, y) => ops.matmul(x, y, { transA: ta, transB: tb }));
      if (blocked) return epilogueApart(blocked, bias, gelu);
      // The linear epilogue's bias binding (a dummy, `a`, when there is no bias) and overrides.
      const epiBind: Record<string, PooledBuffer> = epi === 'linear' ? { bias: bufferOf(bias ?? a) } : {};
      const epiConst: Record<string, boolean> = epi === 'linear' ? { HAS_BIAS: !!bias, GELU: gelu } : {};
      const ea = expandBatch(a, batch);
      const eb = expandBatch(b, batch);
      const out = alloc(ctx, [...batch, M, N], a.dtype, 'matmul');
      const nb = numel(batch);
      const tiles = matmulTiles(ctx, a.dtype);
      const path = M * N > 0 ? gemmPath(ctx, ta, tb, M, K, vec4Bindable(ea.t, eb.t)) : null;
      if (path === 'skinny') {
        const st = skinnyTiles(ctx);
        const v4 = !ta && tb && K % 4 === 0 && vec4Bindable(ea.t, eb.t);
        const { rows, cn, workgroups } = skinnyLaunch(st, M, N, nb, v4);
        launch(ctx, skinnyKernel(`${v4 ? 'vec4' : 'scalar'}/${a.dtype}/${epi}`), {
          bindings: { a: bufferOf(ea.t), b: bufferOf(eb.t), c: bufferOf(out), ...epiBind },
          uniforms: { M, N, K, a_batch_stride: ea.stride, b_batch_stride: eb.stride },
          constants: { ...(v4 ? { CN: cn } : { TRANS_A: ta, TRANS_B: tb }), ROWS: rows, KS: st.KS, WN: st.WN, ...epiConst },
          workgroups,
        });
      } else if (path === 'rows') {
        const rl = rowLaunch(M, N, nb);
        launch(ctx, rowKernel(`${a.dtype}/${epi}`), {
          bindings: { a: bufferOf(ea.t), b: bufferOf(eb.t), c: bufferOf(out), ...epiBind },
          uniforms: { M, N, K, a_batch_stride: ea.stride, b_batch_stride: eb.stride },
          constants: { ...rl.constants, ...epiConst },
          workgroups: rl.workgroups,
        });
      } else if (path) {
        // B as [K, N] (a broadcast B, stride 0, is transposed once), released right after.
        const relayout = path === 'relayout';
        const bt = relayout ? trans.transpose(eb.t, N, K) : eb.t;
        if (!relayout && useTiled8(ctx, ta, tb, M, N, K, vec4Bindable(ea.t, eb.t))) {
          const t8 = tiled8Launch(M, N, nb);
          launch(ctx, tiled8Kernel(`${a.dtype}/${epi}`), {
            bindings: { a: bufferOf(ea.t), b: bufferOf(eb.t), c: bufferOf(out), ...epiBind },
            uniforms: { M, N, K, a_batch_stride: ea.stride, b_batch_stride: eb.stride },
            constants: { TRANS_A: ta, TRANS_B: tb, ...t8.constants, ...epiConst },
            workgroups: t8.workgroups,
          });
        } else launch(ctx, matmulKernel(`${tiles.kernel}/${a.dtype}/${epi}`), {
          bindings: { a: bufferOf(ea.t), b: bufferOf(bt), c: bufferOf(out), ...epiBind },
          uniforms: { M, N, K, a_batch_stride: ea.stride, b_batch_stride: eb.stride },
          constants: { TRANS_A: ta, TRANS_B: tb && !relayout, ...matmulConstants(tiles), ...epiConst },
          workgroups: matmulGrid(tiles, M, N, nb),
        });
        if (bt !== eb.t) release(ctx, bt);
      }
      if (ea.owned) release(ctx, ea.t);
      if (eb.owned) release(ctx, eb.t);
      return out;
    },
  };
  return ops;
}
