/**
 * Fused attention kernels (shaders/attention/): FlashAttention-style forward with an online softmax
 * and saved log-sum-exp, a backward recomputing the probabilities blockwise (two passes, dQ over
 * query blocks and dK, dV over key blocks; on GPUs one pass adding dQ with atomics where it fits), and single-query decoding against a KV cache. Extra
 * memory is O(B·H·T) (lse and D_i), never O(T²). Three kernel families: register-tiled ones for
 * CPU adapters (8×8 blocks per thread, no workgroup memory or barriers; flash_*_tile.wgsl,
 * chosen by cpuStyle(ctx)); workgroup-blocked ones for GPUs (block products as small GEMMs over
 * slices staged in workgroup memory; flash_*_blocked.wgsl, see flashTuning); and one row per
 * thread (flash_fwd.wgsl, flash_bwd.wgsl) for GPUs where the blocked ones do not apply (head dims
 * not a multiple of 8). Kernels are specialised per head dim (private arrays need a constant
 * length, which the declaration supplies as an alias or override).
 */
import { checkAttention, checkAttentionOptions } from '../nn_checks.js';
import type { GpuContext } from '../../gpu/device.js';
import type { LaunchArgs } from '../../gpu/queue.js';
import { OpArgumentError } from '../../errors.js';
import { alloc, bufferOf, cpuStyle, grid, launch, release, variants, vec4Bindable } from './common.js';
import type { RawTensor } from '../types.js';
import { seedU32, threshold24 } from '../rng.js';
import type { AttentionBackend, AttentionOptions } from '../kernels.js';
import { fill } from './memory.js';

const R = 'read' as const;
const RW = 'read_write' as const;
const u32 = 'u32' as const;
const f32 = 'f32' as const;
/** Query (or key) rows per workgroup in the flash kernels: one invocation per row. */
export const FLASH_BQ = 64;
const DECODE_WG = 64;

const flashUniforms = { T: u32, H: u32, scale: f32, causal: u32, has_mask: u32, drop_threshold: u32, drop_scale: f32, seed: u32 };

/** Streamed rows per block: K and V (or Q and dO) blocks of BK×D f32 must fit workgroup memory. */
export function flashBlockK(D: number, wgBytes = 16384): number {
  return Math.max(1, Math.min(32, Math.floor((wgBytes - 1024) / (8 * D))));
}

const specialise = (key: string) => {
  const [D, BK] = key.split('/').map(Number) as [number, number];
  return {
    aliases: { VecD: `array<f32, ${D}>`, VecK: `array<f32, ${BK}>` },
    overrides: { BQ: { type: u32, value: FLASH_BQ }, BK: { type: u32, value: BK }, HD: { type: u32, value: D } },
  };
};

const fwdKernel = variants((key: string) => {
  const s = specialise(key);
  return {
    name: `attention_flash_fwd_${key.replace('/', 'x')}`, family: 'attention', file: 'flash_fwd',
    bindings: [
      { name: 'q', type: 'f32', access: R }, { name: 'k', type: 'f32', access: R }, { name: 'v', type: 'f32', access: R },
      { name: 'mask', type: 'f32', access: R }, { name: 'o', type: 'f32', access: RW }, { name: 'lse', type: 'f32', access: RW },
    ],
    uniforms: flashUniforms, ...s, includes: ['common/rng.wgsl'],
  };
});

const bwdKernel = variants((key: string) => {
  const s = specialise(key);
  return {
    name: `attention_flash_bwd_${key.replace('/', 'x')}`, family: 'attention', file: 'flash_bwd',
    bindings: [
      { name: 'q', type: 'f32', access: R }, { name: 'k', type: 'f32', access: R }, { name: 'v', type: 'f32', access: R },
      { name: 'mask', type: 'f32', access: R }, { name: 'lse', type: 'f32', access: R }, { name: 'di', type: 'f32', access: R },
      { name: 'dout', type: 'f32', access: R }, { name: 'out1', type: 'f32', access: RW }, { name: 'out2', type: 'f32', access: RW },
    ],
    uniforms: flashUniforms,
    aliases: s.aliases, overrides: { ...s.overrides, KV_PASS: { type: 'bool' as const, value: false } },
    includes: ['common/rng.wgsl'],
  };
});

/**
 * Register-tiled variants for CPU adapters (shaders/attention/flash_*_tile.wgsl): 8 rows per thread,
 * 8×8 score blocks in registers, no workgroup memory or barriers (emulated, hence slow, on CPUs).
 * TILE_WG threads per workgroup (8·TILE_WG rows): one SIMD group on lavapipe, small enough that the
 * workgroup-uniform causal ranges waste little beyond the diagonal.
 */
export const TILE_ROWS = 8;
const TILE_WG = 8;
const tileOutputs = {
  fwd: [{ name: 'o', type: 'f32', access: RW }, { name: 'lse', type: 'f32', access: RW }],
  bwd: [
    { name: 'lse', type: 'f32', access: R }, { name: 'di', type: 'f32', access: R }, { name: 'dout', type: 'f32', access: R },
    { name: 'out1', type: 'f32', access: RW },
  ],
  out2: [{ name: 'out2', type: 'f32', access: RW }],
} as const;
const tileKernel = variants((key: string) => {
  const [file, D] = key.split('/') as ['flash_fwd_tile' | 'flash_bwd_q_tile' | 'flash_bwd_kv_tile', string];
  return {
    name: `attention_${file}_${D}`, family: 'attention', file,
    bindings: [
      { name: 'q', type: 'f32', access: R }, { name: 'k', type: 'f32', access: R }, { name: 'v', type: 'f32', access: R },
      { name: 'mask', type: 'f32', access: R }, ...tileOutputs[file === 'flash_fwd_tile' ? 'fwd' : 'bwd'],
      ...(file === 'flash_bwd_kv_tile' ? tileOutputs.out2 : []),
    ],
    uniforms: flashUniforms,
    aliases: { AccD: `array<vec4<f32>, ${2 * Number(D)}>` },
    overrides: { WG: { type: u32, value: TILE_WG }, HD: { type: u32, value: Number(D) } },
    includes: ['common/rng.wgsl', 'attention/attn_common.wgsl', 'attention/tile_common.wgsl'],
  };
});

/**
 * Workgroup-blocked kernels for GPUs (shaders/attention/flash_*_blocked.wgsl, blocked_common.wgsl):
 * every block product is a small GEMM with TK-deep slices staged in workgroup memory and 8×8 (dK/dV
 * pass: 4×8) outputs per thread in vec4 registers, as in matmul_tiled8.wgsl; WX = D/8 threads across
 * (key blocks of D keys), WY down. The one-row-per-thread kernels (flash_fwd.wgsl, flash_bwd.wgsl)
 * did 1 FMA per workgroup-memory load and reached 2.8 TFLOP/s forward + backward on an H200 at
 * B4 H16 T512 D64; these do 16 (8 in the dK/dV pass). Not yet measured on a GPU.
 *
 * The backward runs in one pass where its square blocks fit (the dK/dV pass with flash_dq_atomic.wgsl:
 * it also adds dS·K into dQ with float atomics, 5 block products per block pair instead of the two
 * passes' 9, but dQ's sums then run in no fixed order), else in two passes (dQ; dK and dV), which
 * are deterministic: `flashTuning.backward = 'two-pass'` asks for them.
 */
export interface BlockedGeometry { readonly WY: number; readonly TK: number }
/** RADGRAD_FLASH_BACKWARD=two-pass makes bit-repeatable runs the default (as torch.use_deterministic_algorithms). */
const backwardEnv = process.env.RADGRAD_FLASH_BACKWARD ?? 'one-pass';
if (backwardEnv !== 'one-pass' && backwardEnv !== 'two-pass') throw new OpArgumentError('RADGRAD_FLASH_BACKWARD', 'value', 'one-pass or two-pass', backwardEnv);
export const flashTuning: {
  /** 'auto': blocked on GPU adapters where it applies; 'blocked': wherever it applies (tests); 'rows': never. */
  kernel: 'auto' | 'blocked' | 'rows';
  /** The blocked backward: 'one-pass' where it fits (else two passes), or always 'two-pass' (deterministic). */
  backward: 'one-pass' | 'two-pass';
  fwd: BlockedGeometry; q: BlockedGeometry; kv: BlockedGeometry;
  /** The one-pass backward's slice depth (its WY is D/4: square blocks of D keys × D queries). */
  bwd: { TK: number };
} = { kernel: 'auto', backward: backwardEnv, fwd: { WY: 8, TK: 16 }, q: { WY: 8, TK: 16 }, kv: { WY: 16, TK: 16 }, bwd: { TK: 16 } };

type BlockedFile = 'flash_fwd_blocked' | 'flash_bwd_q_blocked' | 'flash_bwd_kv_blocked' | 'flash_bwd_blocked';
/** Rows of a blocked kernel's output block: 4 per thread down in the key-block kernels, else 8. */
const blockRows = (file: BlockedFile, WY: number): number => (file === 'flash_bwd_kv_blocked' || file === 'flash_bwd_blocked' ? 4 : 8) * WY;

/** Workgroup memory (bytes) of a blocked kernel: its stage, P and (forward) row-partial regions. */
export function blockedBytes(file: BlockedFile, D: number, g: BlockedGeometry): number {
  const WX = D / 8;
  const rows = blockRows(file, g.WY);
  const vec4s = (g.TK * (rows + D)) / 4 + (D * rows) / 4 + (file === 'flash_fwd_blocked' ? (WX * rows) / 4 : 0);
  return 16 * vec4s;
}

/**
 * The geometry a blocked kernel runs with at head dim D for a request (default: flashTuning's), or
 * null: WY halved until the workgroup
 * memory fits, TK the largest multiple of 4 up to the requested one that divides D and keeps every
 * thread's share of a staged slice within the PF = 4 prefetch registers (blocked_common.wgsl: one
 * 4 × 4 block of a head-dim slice, or at most 4 vec4s of a row slice).
 */
export function blockedGeometry(ctx: GpuContext, file: BlockedFile, D: number, request?: BlockedGeometry): BlockedGeometry | null {
  const square = file === 'flash_bwd_blocked';
  // The request (flashTuning's unless given); the one-pass backward's WY is always D/4.
  const want: BlockedGeometry = square ? { WY: D / 4, TK: (request ?? flashTuning.bwd).TK }
    : request ?? (file === 'flash_fwd_blocked' ? flashTuning.fwd : file === 'flash_bwd_q_blocked' ? flashTuning.q : flashTuning.kv);
  if (D % 8 !== 0 || D > 256) return null;
  const WX = D / 8;
  const room = ctx.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const threads = ctx.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  for (let WY = want.WY; WY >= (square ? want.WY : 1); WY = Math.floor(WY / 2)) {
    // Vec4 loads per slice ≤ 4 per thread: rows of the head-dim slices (8·WY or 4·WY, and D) and D-wide row slices.
    const maxTK = Math.min(blockRows(file, WY) === 4 * WY ? 4 * WX : 2 * WX, 2 * WY, want.TK);
    let TK = maxTK - (maxTK % 4);
    while (TK >= 4 && D % TK !== 0) TK -= 4;
    if (TK < 4) continue;
    const g = { WY, TK };
    if (blockedBytes(file, D, g) <= room && WX * WY <= threads) return g;
  }
  return null;
}

const blockedOutputs = {
  flash_fwd_blocked: [{ name: 'o', type: 'vec4<f32>', access: RW }, { name: 'lse', type: 'f32', access: RW }],
  flash_bwd_q_blocked: [
    { name: 'lse', type: 'f32', access: R }, { name: 'di', type: 'f32', access: R }, { name: 'dout', type: 'vec4<f32>', access: R },
    { name: 'out1', type: 'vec4<f32>', access: RW },
  ],
  flash_bwd_kv_blocked: [
    { name: 'lse', type: 'f32', access: R }, { name: 'di', type: 'f32', access: R }, { name: 'dout', type: 'vec4<f32>', access: R },
    { name: 'out1', type: 'vec4<f32>', access: RW }, { name: 'out2', type: 'vec4<f32>', access: RW },
  ],
  flash_bwd_blocked: [
    { name: 'lse', type: 'f32', access: R }, { name: 'di', type: 'f32', access: R }, { name: 'dout', type: 'vec4<f32>', access: R },
    { name: 'out1', type: 'vec4<f32>', access: RW }, { name: 'out2', type: 'vec4<f32>', access: RW },
    { name: 'dq', type: 'atomic<u32>', access: RW },
  ],
} as const;
/** The one-pass backward is the dK/dV pass's body with the dQ part that adds into dq (flash_dq_atomic.wgsl). */
const dqPart = { flash_bwd_kv_blocked: ['attention/flash_dq_none.wgsl'], flash_bwd_blocked: ['attention/flash_dq_atomic.wgsl'] } as Partial<Record<BlockedFile, string[]>>;
const blockedKernel = variants((key: `${BlockedFile}/${number}`) => {
  const [file, D] = key.split('/') as [BlockedFile, string];
  return {
    name: `attention_${file}_${D}`, family: 'attention', file: file === 'flash_bwd_blocked' ? 'flash_bwd_kv_blocked' : file,
    bindings: [
      { name: 'q', type: 'vec4<f32>', access: R }, { name: 'k', type: 'vec4<f32>', access: R }, { name: 'v', type: 'vec4<f32>', access: R },
      { name: 'mask', type: 'f32', access: R }, ...blockedOutputs[file],
    ],
    uniforms: flashUniforms,
    overrides: { HD: { type: u32, value: Number(D) }, WY: { type: u32, value: 8 }, TK: { type: u32, value: 16 } },
    includes: ['common/rng.wgsl', 'attention/attn_common.wgsl', 'attention/blocked_common.wgsl', ...(dqPart[file] ?? [])],
  };
});

/** Each blocked pass's geometry; the one-pass backward's is null where it does not fit or is not asked for. */
type BlockedPlan = Readonly<Record<Exclude<BlockedFile, 'flash_bwd_blocked'>, BlockedGeometry> & { flash_bwd_blocked: BlockedGeometry | null }>;
const BLOCKED_FILES = ['flash_fwd_blocked', 'flash_bwd_q_blocked', 'flash_bwd_kv_blocked'] as const;

/** The geometry of each blocked pass when the blocked kernels run these tensors (the three two-pass kernels must fit), else null. */
function blockedPlan(ctx: GpuContext, D: number, ...xs: RawTensor[]): BlockedPlan | null {
  if (flashTuning.kernel === 'rows' || (flashTuning.kernel === 'auto' && cpuStyle(ctx))) return null;
  if (!vec4Bindable(...xs)) return null;
  const plan: Partial<Record<BlockedFile, BlockedGeometry | null>> = {};
  for (const f of BLOCKED_FILES) {
    const g = blockedGeometry(ctx, f, D);
    if (!g) return null;
    plan[f] = g;
  }
  plan.flash_bwd_blocked = flashTuning.backward === 'one-pass' ? blockedGeometry(ctx, 'flash_bwd_blocked', D) : null;
  return plan as BlockedPlan;
}

function launchBlocked(ctx: GpuContext, g: BlockedGeometry, file: BlockedFile, D: number, T: number, bh: number, bindings: LaunchArgs['bindings'], uniforms: LaunchArgs['uniforms']): void {
  launch(ctx, blockedKernel(`${file}/${D}`), { bindings, uniforms, constants: { WY: g.WY, TK: g.TK }, workgroups: [Math.ceil(T / blockRows(file, g.WY)), bh, 1] });
}

const preKernel = {
  name: 'attention_flash_bwd_pre', family: 'attention', file: 'flash_bwd_pre',
  bindings: [{ name: 'dout', type: 'f32', access: R }, { name: 'o', type: 'f32', access: R }, { name: 'di', type: 'f32', access: RW }],
  uniforms: { rows: u32, D: u32 },
  overrides: { WG: { type: u32, value: 256 } },
  includes: ['common/strided.wgsl'],
};

const decodeKernel = {
  name: 'attention_decode', family: 'attention', file: 'decode',
  bindings: [
    { name: 'q', type: 'f32', access: R }, { name: 'k', type: 'f32', access: R }, { name: 'v', type: 'f32', access: R },
    { name: 'mask', type: 'f32', access: R }, { name: 'o', type: 'f32', access: RW },
  ],
  uniforms: { S: u32, H: u32, D: u32, scale: f32, has_mask: u32 },
  overrides: { WG: { type: u32, value: DECODE_WG } },
};

/**
 * Decode for GPUs (decode_wide.wgsl): DECODE_WIDE_WG invocations per (b, h), keys in chunks of
 * 4·WG scored with vec4 loads, one reduction per chunk; specialised per head dim (a multiple of 4).
 * On an H200 9× faster than decode.wgsl at B4 H16 S512 D64, 2.7× at BioGPT's B1 H16 S72. The 64-wide
 * decode.wgsl stays for CPU adapters (on lavapipe it wins at short caches, S ≤ 72, where emulated
 * barriers over 256 invocations dominate) and for head dims that are not a multiple of 4.
 */
const DECODE_WIDE_WG = 256;
const decodeWideKernel = variants((D: string) => ({
  name: `attention_decode_wide_${D}`, family: 'attention', file: 'decode_wide',
  bindings: [
    { name: 'q', type: 'vec4<f32>', access: R }, { name: 'k', type: 'vec4<f32>', access: R }, { name: 'v', type: 'vec4<f32>', access: R },
    { name: 'mask', type: 'f32', access: R }, { name: 'o', type: 'vec4<f32>', access: RW },
  ],
  uniforms: { S: u32, H: u32, scale: f32, has_mask: u32 },
  overrides: { WG: { type: u32, value: DECODE_WIDE_WG }, HD: { type: u32, value: Number(D) } },
}));

export function attentionOps(ctx: GpuContext): AttentionBackend {
  const wgBytes = ctx.limits.maxComputeWorkgroupStorageSize ?? 16384;
  const tileGrid = (T: number, bh: number): [number, number, number] => [Math.ceil(T / (TILE_ROWS * TILE_WG)), bh, 1];
  const uniforms = (T: number, H: number, o: AttentionOptions, hasMask: boolean) => ({
    T, H, scale: o.scale, causal: o.causal ? 1 : 0, has_mask: hasMask ? 1 : 0,
    drop_threshold: o.dropout > 0 ? threshold24(o.dropout) : 0, drop_scale: o.dropout > 0 ? 1 / (1 - o.dropout) : 1, seed: seedU32(o.seed),
  });
  return {
    flashForward(q, k, v, mask, opts) {
      const [B, H, T, D] = checkAttention('flashAttention', q, k, v, mask);
      checkAttentionOptions('flashAttention', opts);
      const o = alloc(ctx, q.shape, 'f32', 'flash fwd');
      const lse = alloc(ctx, [B, H, T], 'f32', 'flash fwd');
      if (B * H * T === 0) return { o, lse };
      const bind = { q: bufferOf(q), k: bufferOf(k), v: bufferOf(v), mask: bufferOf(mask ?? q), o: bufferOf(o), lse: bufferOf(lse) };
      const plan = blockedPlan(ctx, D, q, k, v, o);
      if (plan) {
        launchBlocked(ctx, plan.flash_fwd_blocked, 'flash_fwd_blocked', D, T, B * H, bind, uniforms(T, H, opts, !!mask));
        return { o, lse };
      }
      if (cpuStyle(ctx)) {
        launch(ctx, tileKernel(`flash_fwd_tile/${D}`), { bindings: bind, uniforms: uniforms(T, H, opts, !!mask), workgroups: tileGrid(T, B * H) });
        return { o, lse };
      }
      const key = `${D}/${flashBlockK(D, wgBytes)}`;
      launch(ctx, fwdKernel(key), {
        bindings: bind, uniforms: uniforms(T, H, opts, !!mask), workgroups: [Math.ceil(T / FLASH_BQ), B * H, 1],
      });
      return { o, lse };
    },
    flashBackward(q, k, v, mask, o, lse, dO, opts) {
      const [B, H, T, D] = checkAttention('flashAttention backward', q, k, v, mask);
      const dq = alloc(ctx, q.shape, 'f32', 'flash bwd');
      const dk = alloc(ctx, q.shape, 'f32', 'flash bwd');
      const dv = alloc(ctx, q.shape, 'f32', 'flash bwd');
      if (B * H * T === 0) return { dq, dk, dv };
      const rows = B * H * T;
      const di = alloc(ctx, [rows], 'f32', 'flash bwd');
      launch(ctx, preKernel, { bindings: { dout: bufferOf(dO), o: bufferOf(o), di: bufferOf(di) }, uniforms: { rows, D }, workgroups: grid(rows) });
      const common = { q: bufferOf(q), k: bufferOf(k), v: bufferOf(v), mask: bufferOf(mask ?? q), lse: bufferOf(lse), di: bufferOf(di), dout: bufferOf(dO) };
      const u = uniforms(T, H, opts, !!mask);
      const plan = blockedPlan(ctx, D, q, k, v, dO, dq);
      if (plan?.flash_bwd_blocked) {
        fill(ctx, dq, 0); // the one pass adds into dq
        launchBlocked(ctx, plan.flash_bwd_blocked, 'flash_bwd_blocked', D, T, B * H, { ...common, out1: bufferOf(dk), out2: bufferOf(dv), dq: bufferOf(dq) }, u);
        release(ctx, di);
        return { dq, dk, dv };
      }
      if (plan) {
        launchBlocked(ctx, plan.flash_bwd_q_blocked, 'flash_bwd_q_blocked', D, T, B * H, { ...common, out1: bufferOf(dq) }, u);
        launchBlocked(ctx, plan.flash_bwd_kv_blocked, 'flash_bwd_kv_blocked', D, T, B * H, { ...common, out1: bufferOf(dk), out2: bufferOf(dv) }, u);
        release(ctx, di);
        return { dq, dk, dv };
      }
      if (cpuStyle(ctx)) {
        const g = tileGrid(T, B * H);
        launch(ctx, tileKernel(`flash_bwd_q_tile/${D}`), { bindings: { ...common, out1: bufferOf(dq) }, uniforms: u, workgroups: g });
        launch(ctx, tileKernel(`flash_bwd_kv_tile/${D}`), { bindings: { ...common, out1: bufferOf(dk), out2: bufferOf(dv) }, uniforms: u, workgroups: g });
        release(ctx, di);
        return { dq, dk, dv };
      }
      const decl = bwdKernel(`${D}/${flashBlockK(D, wgBytes)}`);
      const wg: [number, number, number] = [Math.ceil(T / FLASH_BQ), B * H, 1];
      launch(ctx, decl, { bindings: { ...common, out1: bufferOf(dq), out2: bufferOf(dv) }, uniforms: u, constants: { KV_PASS: false }, workgroups: wg });
      launch(ctx, decl, { bindings: { ...common, out1: bufferOf(dk), out2: bufferOf(dv) }, uniforms: u, constants: { KV_PASS: true }, workgroups: wg });
      release(ctx, di);
      return { dq, dk, dv };
    },
    decode(q, k, v, mask, scale) {
      const [B, H, S, D] = checkAttention('attentionDecode', q, k, v, mask, true);
      if (D > 4 * DECODE_WG) throw new OpArgumentError('attentionDecode', 'head dim', `<= ${4 * DECODE_WG}`, String(D));
      const o = alloc(ctx, q.shape, 'f32', 'attention decode');
      if (B * H === 0) return o;
      const bindings = { q: bufferOf(q), k: bufferOf(k), v: bufferOf(v), mask: bufferOf(mask ?? q), o: bufferOf(o) };
      if (!cpuStyle(ctx) && D % 4 === 0 && vec4Bindable(q, k, v, o)) {
        launch(ctx, decodeWideKernel(String(D)), { bindings, uniforms: { S, H, scale, has_mask: mask ? 1 : 0 }, workgroups: [B * H, 1, 1] });
        return o;
      }
      launch(ctx, decodeKernel, {
        bindings,
        uniforms: { S, H, D, scale, has_mask: mask ? 1 : 0 }, workgroups: [B * H, 1, 1],
      });
      return o;
    },
  };
}
