/**
 * nn primitives as WGSL kernels (shaders/nn/): softmax / log-softmax and their backward, layer
 * norm (dx per row; dweight/dbias as deterministic two-stage column sums), cross-entropy, embedding
 * (deterministic scatter-add backward without float atomics) and counter-based dropout.
 * Row kernels run one workgroup per row with workgroup-memory reductions (shaders/nn/row_reduce.wgsl);
 * on CPU adapters (cpuStyle) softmax and layer norm use one thread per row instead (softmax*_thread.wgsl;
 * the layer-norm bodies are shared by both and get their entry point from nn/row_lanes*.wgsl).
 * Float tensors may be f32 or f16 (statistics, lse and losses are always f32).
 */
import type { GpuContext } from '../../gpu/device.js';
import { grid1d } from '../../gpu/kernel.js';
import { OpArgumentError } from '../../errors.js';
import { alloc, bufferOf, cpuStyle, forRowChunks, grid, launch, release, strideGrid, variants, WG } from './common.js';
import { memoryOps } from './memory.js';
import { numel, type Backend, type DType, type RawTensor } from '../types.js';
import { seedU32, threshold24 } from '../rng.js';
import {
  checkAddLayerNorm, checkCrossEntropy, checkCrossEntropyBackward, checkDropout, checkEmbedding, checkEmbeddingBackward, checkFloat,
  checkLayerNorm, checkLayerNormBackward, checkRowBackward, rowsOf,
} from '../nn_checks.js';

type NnOps = 'softmax' | 'softmaxBackward' | 'logSoftmax' | 'logSoftmaxBackward' | 'layerNorm' | 'addLayerNorm' | 'layerNormBackward'
  | 'crossEntropy' | 'crossEntropyBackward' | 'embedding' | 'embeddingBackward' | 'dropout';

const R = 'read' as const;
const RW = 'read_write' as const;
const u32 = 'u32' as const;
const i32 = 'i32' as const;
const f32 = 'f32' as const;
const wgOverride = { WG: { type: u32, value: WG } };
const ROW = ['nn/lse.wgsl', 'nn/row_reduce.wgsl'];
const ROW_THREAD = ['nn/lse.wgsl', 'common/strided.wgsl'];
const ELEM = ['common/strided.wgsl'];
const typed = (t: DType) => ({ aliases: { T: t }, enables: t === 'f16' ? ['f16'] : [] });

/** Row-kernel variant key: dtype, and '/thread' for the one-thread-per-row CPU-adapter kernel. */
type RowKey = DType | `${DType}/thread`;
/**
 * Without `shared`, each launch style has its own body file (name, name_thread). With it, the file
 * holds one `row_body(row, lane)` for both: the style's entry point (nn/row_lanes*.wgsl) comes first,
 * then the `shared` includes.
 */
const rowVariant = (key: RowKey, name: string, shared?: readonly string[]) => {
  const [t, thread] = key.split('/') as [DType, string | undefined];
  const style = thread ? '_thread' : '';
  const includes = shared ? [...(thread ? ROW_THREAD : ROW), `nn/row_lanes${style}.wgsl`, ...shared] : thread ? ROW_THREAD : ROW;
  return { name: `nn_${name}${style}_${t}`, file: shared ? name : `${name}${style}`, ...typed(t), includes };
};
/** Layer norm's shifted mean, summed by the same code in forward and backward. */
const LN_SHIFT = ['nn/layer_norm_shift.wgsl'];
/** Where the row values come from: x, or x + r for the fused residual layer norm. */
const LN_X = [...LN_SHIFT, 'nn/layer_norm_x.wgsl'];
const LN_X_ADD = [...LN_SHIFT, 'nn/layer_norm_x_add.wgsl'];

const softmaxKernel = variants((key: RowKey) => ({
  family: 'nn',
  bindings: [{ name: 'x', type: 'T', access: R }, { name: 'y', type: 'T', access: RW }],
  uniforms: { rows: u32, len: u32 },
  overrides: { ...wgOverride, LOG: { type: 'bool' as const, value: false } },
  ...rowVariant(key, 'softmax'),
}));

const softmaxBackwardKernel = variants((key: RowKey) => ({
  family: 'nn',
  bindings: [{ name: 'y', type: 'T', access: R }, { name: 'dy', type: 'T', access: R }, { name: 'dx', type: 'T', access: RW }],
  uniforms: { rows: u32, len: u32 },
  overrides: { ...wgOverride, LOG: { type: 'bool' as const, value: false } },
  ...rowVariant(key, 'softmax_backward'),
}));

const layerNormKernel = variants((key: RowKey) => ({
  family: 'nn',
  bindings: [
    { name: 'x', type: 'T', access: R }, { name: 'w', type: 'T', access: R }, { name: 'b', type: 'T', access: R },
    { name: 'y', type: 'T', access: RW }, { name: 'mean', type: 'f32', access: RW }, { name: 'rstd', type: 'f32', access: RW },
  ],
  uniforms: { rows: u32, len: u32, eps: f32 },
  overrides: { ...wgOverride, HAS_W: { type: 'bool' as const, value: true }, HAS_B: { type: 'bool' as const, value: true } },
  ...rowVariant(key, 'layer_norm', LN_X),
}));

/** layer_norm.wgsl over s = x + r, also writing s (one dispatch for a residual add and the next norm). */
const addLayerNormKernel = variants((key: RowKey) => {
  const v = rowVariant(key, 'layer_norm', LN_X_ADD);
  return {
    family: 'nn',
    bindings: [
      { name: 'x', type: 'T', access: R }, { name: 'r', type: 'T', access: R }, { name: 'w', type: 'T', access: R }, { name: 'b', type: 'T', access: R },
      { name: 'y', type: 'T', access: RW }, { name: 'mean', type: 'f32', access: RW }, { name: 'rstd', type: 'f32', access: RW }, { name: 's', type: 'T', access: RW },
    ],
    uniforms: { rows: u32, len: u32, eps: f32 },
    overrides: { ...wgOverride, HAS_W: { type: 'bool' as const, value: true }, HAS_B: { type: 'bool' as const, value: true } },
    ...v, name: v.name.replace('nn_layer_norm', 'nn_add_layer_norm'),
  };
});

const layerNormBackwardKernel = variants((key: RowKey) => ({
  family: 'nn',
  bindings: [
    { name: 'dy', type: 'T', access: R }, { name: 'x', type: 'T', access: R }, { name: 'w', type: 'T', access: R },
    { name: 'rstd', type: 'f32', access: R }, { name: 'dx', type: 'T', access: RW }, { name: 'shift', type: 'f32', access: RW },
  ],
  uniforms: { rows: u32, len: u32 },
  overrides: { ...wgOverride, HAS_W: { type: 'bool' as const, value: true } },
  ...rowVariant(key, 'layer_norm_backward', LN_X),
}));

const layerNormParamGradKernel = variants((t: DType) => ({
  name: `nn_layer_norm_param_grad_${t}`, family: 'nn', file: 'layer_norm_param_grad',
  bindings: [
    { name: 'dy', type: 'T', access: R }, { name: 'x', type: 'T', access: R },
    { name: 'shift', type: 'f32', access: R }, { name: 'rstd', type: 'f32', access: R },
    { name: 'pw', type: 'f32', access: RW }, { name: 'pb', type: 'f32', access: RW },
  ],
  uniforms: { rows: u32, len: u32, rows_per_chunk: u32 },
  overrides: wgOverride,
  ...typed(t),
}));

const colSumKernel = variants((t: DType) => ({
  name: `nn_col_sum_${t}`, family: 'nn', file: 'col_sum',
  bindings: [{ name: 'part', type: 'f32', access: R }, { name: 'out', type: 'T', access: RW }],
  uniforms: { parts: u32, len: u32 },
  overrides: wgOverride,
  ...typed(t), includes: ELEM,
}));

const crossEntropyKernel = variants((t: DType) => ({
  name: `nn_cross_entropy_${t}`, family: 'nn', file: 'cross_entropy',
  bindings: [
    { name: 'logits', type: 'T', access: R }, { name: 'targets', type: 'i32', access: R },
    { name: 'loss', type: 'f32', access: RW }, { name: 'lse', type: 'f32', access: RW },
  ],
  uniforms: { rows: u32, len: u32, ignore_index: i32 },
  overrides: wgOverride,
  ...typed(t), includes: ROW,
}));

// dloss may be f16 when the loss graph ran in f16; it gets its own alias.
const crossEntropyBackwardKernel = variants((key: `${DType}/${DType}`) => {
  const [t, g] = key.split('/') as [DType, DType];
  return {
    name: `nn_cross_entropy_backward_${t}_${g}`, family: 'nn', file: 'cross_entropy_backward',
    bindings: [
      { name: 'logits', type: 'T', access: R }, { name: 'targets', type: 'i32', access: R },
      { name: 'lse', type: 'LSE', access: R }, { name: 'dloss', type: 'G', access: R }, { name: 'dx', type: 'T', access: RW },
    ],
    uniforms: { n: u32, len: u32, ignore_index: i32 },
    overrides: wgOverride,
    aliases: { T: t, G: g, LSE: 'f32' }, enables: t === 'f16' || g === 'f16' ? ['f16'] : [], includes: ELEM,
  };
});

const embeddingKernel = variants((t: DType) => ({
  name: `nn_embedding_${t}`, family: 'nn', file: 'embedding',
  bindings: [{ name: 'table', type: 'T', access: R }, { name: 'ids', type: 'i32', access: R }, { name: 'out', type: 'T', access: RW }],
  uniforms: { n: u32, dim: u32, num_rows: u32, row_start: u32, chunk_rows: u32 },
  overrides: wgOverride,
  ...typed(t), includes: ELEM,
}));

const embeddingLinksKernel = {
  name: 'nn_embedding_links', family: 'nn', file: 'embedding_links',
  bindings: [{ name: 'ids', type: 'i32', access: R }, { name: 'link', type: 'u32', access: RW }],
  uniforms: { n: u32 },
  overrides: wgOverride,
  includes: ELEM,
};

const embeddingBackwardKernel = variants((t: DType) => ({
  name: `nn_embedding_backward_${t}`, family: 'nn', file: 'embedding_backward',
  bindings: [
    { name: 'ids', type: 'i32', access: R }, { name: 'link', type: 'u32', access: R },
    { name: 'dy', type: 'T', access: R }, { name: 'out', type: 'T', access: RW },
  ],
  uniforms: { total: u32, n: u32, dim: u32, num_rows: u32, padding_idx: i32, row_start: u32, chunk_rows: u32 },
  overrides: wgOverride,
  ...typed(t), includes: ELEM,
}));

const dropoutKernel = variants((t: DType) => ({
  name: `nn_dropout_${t}`, family: 'nn', file: 'dropout',
  bindings: [{ name: 'x', type: 'T', access: R }, { name: 'out', type: 'T', access: RW }],
  uniforms: { n: u32, base: u32, seed: u32, threshold: u32, scale: f32 },
  overrides: wgOverride,
  ...typed(t), includes: ['common/rng.wgsl', ...ELEM],
}));

/** Rows per stage-1 chunk of the layer-norm parameter gradients: at most ~256 chunks, >= 16 rows each. */
export function lnRowsPerChunk(rows: number): number {
  return Math.max(16, Math.ceil(rows / 256));
}

/** Clamps an i32 uniform (ignore/padding indices outside i32 can never match an i32 id anyway). */
function asI32(v: number): number {
  return Math.max(-2147483648, Math.min(2147483647, Math.trunc(v)));
}

/**
 * Softmax / layer-norm rows longer than this keep one workgroup per row even on CPU adapters: the
 * barrier cost is amortised over the row, and on lavapipe the workgroup softmax was up to 2× faster
 * on vocabulary-sized rows (256×32768), while at ≤ 8192 the thread kernel won or tied.
 */
export const THREAD_ROW_MAX_LEN = 8192;

export function nnOps(ctx: GpuContext): Pick<Backend, NnOps> {
  const mem = memoryOps(ctx);

  /** Row ranges of an embedding table [numRows, dim] (one range, the table itself, when it fits). */
  const forTableChunks = (table: RawTensor, numRows: number, dim: number, op: string, fn: (r0: number, count: number, t: RawTensor) => void): void => {
    forRowChunks(ctx, op, numRows, [{ x: table, per: dim }], (r0, c, [t]) => fn(r0, c, t!));
  };

  // Barrier-free one-thread-per-row kernels for CPU adapters (see tuning in common.ts), grid-stride
  // over rows; otherwise one workgroup per row.
  const rowLaunch = (t: DType, rows: number, len: number): { key: RowKey; workgroups: [number, number, number] } =>
    cpuStyle(ctx) && len <= THREAD_ROW_MAX_LEN ? { key: `${t}/thread`, workgroups: strideGrid(ctx, rows) } : { key: t, workgroups: grid1d(rows) };

  const softmaxLike = (x: RawTensor, log: boolean): RawTensor => {
    checkFloat(log ? 'logSoftmax' : 'softmax', 'x', x);
    const { rows, len } = rowsOf(x.shape);
    const y = alloc(ctx, x.shape, x.dtype, log ? 'logSoftmax' : 'softmax');
    if (rows * len > 0) {
      forRowChunks(ctx, log ? 'logSoftmax' : 'softmax', rows, [{ x, per: len }, { x: y, per: len }], (_, c, [xc, yc]) => {
        const { key, workgroups } = rowLaunch(x.dtype, c, len);
        launch(ctx, softmaxKernel(key), { bindings: { x: bufferOf(xc!), y: bufferOf(yc!) }, uniforms: { rows: c, len }, constants: { LOG: log }, workgroups });
      });
    }
    return y;
  };

  const softmaxBackwardLike = (y: RawTensor, dy: RawTensor, log: boolean): RawTensor => {
    checkRowBackward(log ? 'logSoftmaxBackward' : 'softmaxBackward', y, dy);
    const { rows, len } = rowsOf(y.shape);
    const dx = alloc(ctx, y.shape, y.dtype, 'softmaxBackward');
    if (rows * len > 0) {
      forRowChunks(ctx, 'softmaxBackward', rows, [{ x: y, per: len }, { x: dy, per: len }, { x: dx, per: len }], (_, c, [yc, dyc, dxc]) => {
        const { key, workgroups } = rowLaunch(y.dtype, c, len);
        launch(ctx, softmaxBackwardKernel(key), {
          bindings: { y: bufferOf(yc!), dy: bufferOf(dyc!), dx: bufferOf(dxc!) }, uniforms: { rows: c, len }, constants: { LOG: log }, workgroups,
        });
      });
    }
    return dx;
  };

  return {
    softmax: (x) => softmaxLike(x, false),
    logSoftmax: (x) => softmaxLike(x, true),
    softmaxBackward: (y, dy) => softmaxBackwardLike(y, dy, false),
    logSoftmaxBackward: (y, dy) => softmaxBackwardLike(y, dy, true),

    layerNorm(x, weight, bias, eps) {
      checkLayerNorm(x, weight, bias, eps);
      const { rows, len } = rowsOf(x.shape);
      const y = alloc(ctx, x.shape, x.dtype, 'layerNorm');
      const mean = alloc(ctx, [rows], 'f32', 'layerNorm');
      const rstd = alloc(ctx, [rows], 'f32', 'layerNorm');
      if (rows * len > 0) {
        // Absent parameters are bound to x (never read: HAS_W / HAS_B are false).
        const { key, workgroups } = rowLaunch(x.dtype, rows, len);
        launch(ctx, layerNormKernel(key), {
          bindings: {
            x: bufferOf(x), w: bufferOf(weight ?? x), b: bufferOf(bias ?? x),
            y: bufferOf(y), mean: bufferOf(mean), rstd: bufferOf(rstd),
          },
          uniforms: { rows, len, eps },
          constants: { HAS_W: !!weight, HAS_B: !!bias },
          workgroups,
        });
      }
      return { y, mean, rstd };
    },

    addLayerNorm(x, r, weight, bias, eps) {
      checkAddLayerNorm(x, r, weight, bias, eps);
      const { rows, len } = rowsOf(x.shape);
      const s = alloc(ctx, x.shape, x.dtype, 'addLayerNorm');
      const y = alloc(ctx, x.shape, x.dtype, 'addLayerNorm');
      const mean = alloc(ctx, [rows], 'f32', 'addLayerNorm');
      const rstd = alloc(ctx, [rows], 'f32', 'addLayerNorm');
      if (rows * len > 0) {
        const { key, workgroups } = rowLaunch(x.dtype, rows, len);
        launch(ctx, addLayerNormKernel(key), {
          bindings: {
            x: bufferOf(x), r: bufferOf(r), w: bufferOf(weight ?? x), b: bufferOf(bias ?? x),
            y: bufferOf(y), mean: bufferOf(mean), rstd: bufferOf(rstd), s: bufferOf(s),
          },
          uniforms: { rows, len, eps },
          constants: { HAS_W: !!weight, HAS_B: !!bias },
          workgroups,
        });
      }
      return { s, y, mean, rstd };
    },

    layerNormBackward(dy, x, weight, mean, rstd) {
      checkLayerNormBackward(dy, x, weight, mean, rstd);
      const { rows, len } = rowsOf(x.shape);
      const dx = alloc(ctx, x.shape, x.dtype, 'layerNormBackward');
      // The kernels form x - mean from the row itself (see layer_norm.wgsl), not from the saved
      // f32 mean; the dx kernel leaves each row's shifted mean in `shift` for the dweight kernel.
      const shift = alloc(ctx, [rows], 'f32', 'layerNormBackward');
      if (rows * len > 0) {
        const { key, workgroups } = rowLaunch(x.dtype, rows, len);
        launch(ctx, layerNormBackwardKernel(key), {
          bindings: { dy: bufferOf(dy), x: bufferOf(x), w: bufferOf(weight ?? x), rstd: bufferOf(rstd), dx: bufferOf(dx), shift: bufferOf(shift) },
          uniforms: { rows, len },
          constants: { HAS_W: !!weight },
          workgroups,
        });
      }
      if (rows === 0 || len === 0) {
        release(ctx, shift);
        return { dx, dweight: weight ? mem.full([len], x.dtype, 0) : null, dbias: mem.full([len], x.dtype, 0) };
      }
      const rpc = lnRowsPerChunk(rows);
      const parts = Math.ceil(rows / rpc);
      const pw = alloc(ctx, [parts, len], 'f32', 'layerNormBackward');
      const pb = alloc(ctx, [parts, len], 'f32', 'layerNormBackward');
      launch(ctx, layerNormParamGradKernel(x.dtype), {
        bindings: { dy: bufferOf(dy), x: bufferOf(x), shift: bufferOf(shift), rstd: bufferOf(rstd), pw: bufferOf(pw), pb: bufferOf(pb) },
        uniforms: { rows, len, rows_per_chunk: rpc },
        workgroups: [Math.ceil(len / WG), parts],
      });
      const colSum = (part: RawTensor): RawTensor => {
        const out = alloc(ctx, [len], x.dtype, 'layerNormBackward');
        launch(ctx, colSumKernel(x.dtype), { bindings: { part: bufferOf(part), out: bufferOf(out) }, uniforms: { parts, len }, workgroups: grid(len) });
        return out;
      };
      const dweight = weight ? colSum(pw) : null;
      const dbias = colSum(pb);
      release(ctx, pw);
      release(ctx, pb);
      release(ctx, shift);
      return { dx, dweight, dbias };
    },

    crossEntropy(logits, targets, ignoreIndex) {
      const { rows, len } = checkCrossEntropy('crossEntropy', logits, targets);
      const loss = alloc(ctx, targets.shape, 'f32', 'crossEntropy');
      const lse = alloc(ctx, targets.shape, 'f32', 'crossEntropy');
      if (rows > 0) {
        const parts = [{ x: logits, per: len }, { x: targets, per: 1 }, { x: loss, per: 1 }, { x: lse, per: 1 }];
        forRowChunks(ctx, 'crossEntropy', rows, parts, (_, c, [lc, tc, lossc, lsec]) => {
          launch(ctx, crossEntropyKernel(logits.dtype), {
            bindings: { logits: bufferOf(lc!), targets: bufferOf(tc!), loss: bufferOf(lossc!), lse: bufferOf(lsec!) },
            uniforms: { rows: c, len, ignore_index: asI32(ignoreIndex) },
            workgroups: grid1d(c),
          });
        });
      }
      return { loss, lse };
    },

    crossEntropyBackward(logits, targets, lse, dloss, ignoreIndex) {
      const op = 'crossEntropyBackward';
      const { rows, len } = checkCrossEntropyBackward(logits, targets, lse, dloss);
      if (lse.dtype !== 'f32') throw new OpArgumentError(op, 'lse', 'dtype f32 (as returned by crossEntropy)', lse.dtype);
      const dx = alloc(ctx, logits.shape, logits.dtype, op);
      const n = rows * len;
      if (n > 0) {
        const parts = [{ x: logits, per: len }, { x: targets, per: 1 }, { x: lse, per: 1 }, { x: dloss, per: 1 }, { x: dx, per: len }];
        forRowChunks(ctx, op, rows, parts, (_, c, [lc, tc, lsec, dlc, dxc]) => {
          launch(ctx, crossEntropyBackwardKernel(`${logits.dtype}/${dloss.dtype}`), {
            bindings: { logits: bufferOf(lc!), targets: bufferOf(tc!), lse: bufferOf(lsec!), dloss: bufferOf(dlc!), dx: bufferOf(dxc!) },
            uniforms: { n: c * len, len, ignore_index: asI32(ignoreIndex) },
            workgroups: grid(c * len),
          });
        });
      }
      return dx;
    },

    embedding(table, ids) {
      const { numRows, dim } = checkEmbedding(table, ids);
      const out = alloc(ctx, [...ids.shape, dim], table.dtype, 'embedding');
      const n = numel(ids.shape) * dim;
      if (n > 0) {
        // A table over the binding limit is gathered from in row ranges: each launch writes the
        // outputs whose id falls in its range (the first also writes NaN for invalid ids).
        forTableChunks(table, numRows, dim, 'embedding', (r0, count, t) => {
          launch(ctx, embeddingKernel(table.dtype), {
            bindings: { table: bufferOf(t), ids: bufferOf(ids), out: bufferOf(out) },
            uniforms: { n, dim, num_rows: numRows, row_start: r0, chunk_rows: count },
            workgroups: grid(n),
          });
        });
      }
      return out;
    },

    embeddingBackward(ids, dy, numRows, paddingIdx) {
      const op = 'embeddingBackward';
      const { n, dim } = checkEmbeddingBackward(ids, dy, numRows);
      const out = mem.full([numRows, dim], dy.dtype, 0);
      const total = n * dim;
      if (total === 0 || numRows === 0) return out;
      const link = alloc(ctx, [n], 'u32', 'embeddingBackward');
      launch(ctx, embeddingLinksKernel, { bindings: { ids: bufferOf(ids), link: bufferOf(link) }, uniforms: { n }, workgroups: grid(n) });
      forTableChunks(out, numRows, dim, op, (r0, count, o) => {
        launch(ctx, embeddingBackwardKernel(dy.dtype), {
          bindings: { ids: bufferOf(ids), link: bufferOf(link), dy: bufferOf(dy), out: bufferOf(o) },
          uniforms: { total, n, dim, num_rows: numRows, padding_idx: asI32(paddingIdx), row_start: r0, chunk_rows: count },
          workgroups: grid(total),
        });
      });
      release(ctx, link);
      return out;
    },

    dropout(x, p, seed) {
      checkDropout(x, p, seed);
      const out = alloc(ctx, x.shape, x.dtype, 'dropout');
      const n = numel(x.shape);
      if (n > 0) {
        forRowChunks(ctx, 'dropout', n, [{ x, per: 1 }, { x: out, per: 1 }], (i0, c, [xc, oc]) => {
          launch(ctx, dropoutKernel(x.dtype), {
            bindings: { x: bufferOf(xc!), out: bufferOf(oc!) },
            uniforms: { n: c, base: i0, seed: seedU32(seed), threshold: threshold24(p), scale: p >= 1 ? 0 : 1 / (1 - p) },
            workgroups: grid(c),
          });
        });
      }
      return out;
    },
  };
}
