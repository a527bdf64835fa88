/** Cross-entropy from logits with integer targets and ignore_index, as torch.nn.functional.cross_entropy. */
import { record } from '../../autograd/tape.js';
import { OpArgumentError } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { bytesPerElement, numel, type Backend, type RawTensor } from '../../backend/types.js';

export interface CrossEntropyOptions {
  /** Target value whose rows contribute no loss and no gradient (default -100, as PyTorch). */
  ignoreIndex?: number;
  /**
   * 'mean' (default): Σ loss / max(count, 1) over non-ignored rows (0, not NaN, when all are
   * ignored); 'sum': Σ loss; 'none': the per-row losses (shape of targets, ignored rows 0).
   */
  reduction?: 'mean' | 'sum' | 'none';
  /**
   * The backward writes the logits' gradient over the logits' own storage, a block of rows at a
   * time, instead of into a second [rows, V] tensor (BioGPT at batch 4 × 512: 347 MB less at the
   * loss's backward, the step's peak). Only for a caller that gives the logits up: nothing may read
   * them after the loss's backward, and no other tensor may share their storage
   * (BioGptForCausalLM.forwardLoss). Same values (the gradient is elementwise per row).
   */
  overwriteLogits?: boolean;
}

/**
 * Blocks of the overwriting backward: at most overwriteBlockBytes and an eighth of the rows, so that
 * the two block temporaries stay well below the [rows, V] gradient they replace (tests shrink it).
 */
export const crossEntropyTuning: { overwriteBlockBytes: number } = { overwriteBlockBytes: 32 * 2 ** 20 };

function disposeAll(be: Backend, ...xs: RawTensor[]): void {
  for (const x of xs) be.dispose(x);
}

/** Number of rows whose target is not ignoreIndex, as a [] f32 tensor (a GPU reduction; no readback). */
function countRaw(be: Backend, targets: Tensor, ignoreIndex: number): RawTensor {
  const tf = be.cast(targets.raw('crossEntropy'), 'f32');
  const ig = be.full([], 'f32', ignoreIndex);
  const valid = be.binary('ne', tf, ig);
  const cnt = be.reduce('sum', valid, valid.shape.map((_, i) => i), false);
  disposeAll(be, tf, ig, valid);
  return cnt;
}

/** The per-row gradient dloss [rows] = g broadcast (and divided by `denom` when given). */
function rowGrad(be: Backend, g: RawTensor, shape: readonly number[], denom: RawTensor | null): RawTensor {
  const scaled = denom ? be.binary('div', g, denom) : g;
  const zeros = be.full(shape, g.dtype, 0);
  const out = be.binary('add', zeros, scaled);
  be.dispose(zeros);
  if (scaled !== g) be.dispose(scaled);
  return out;
}

/**
 * crossEntropyBackward written over the logits, in blocks of rows: each block is copied out, its
 * gradient computed and written back in its place. Returns a new reference to the logits' storage,
 * which now holds the gradient. A single block would copy everything: then the plain backward.
 */
function overwritingBackward(be: Backend, logits: RawTensor, targets: RawTensor, lse: RawTensor, dloss: RawTensor, ignoreIndex: number): RawTensor {
  const V = logits.shape[logits.shape.length - 1] ?? 1;
  const rows = numel(targets.shape);
  const block = Math.max(1, Math.min(Math.floor(crossEntropyTuning.overwriteBlockBytes / (V * bytesPerElement(logits.dtype))), Math.ceil(rows / 8)));
  if (rows <= block) return be.crossEntropyBackward(logits, targets, lse, dloss, ignoreIndex);
  const flat = (x: RawTensor, shape: number[]) => be.reshape(x, shape);
  const [x2, t1, l1, d1] = [flat(logits, [rows, V]), flat(targets, [rows]), flat(lse, [rows]), flat(dloss, [rows])];
  for (let r0 = 0; r0 < rows; r0 += block) {
    const n = Math.min(block, rows - r0);
    const rowsOf = (x: RawTensor) => be.stridedCopy(x, { offset: r0, strides: [1] }, [n]);
    const piece = be.stridedCopy(x2, { offset: r0 * V, strides: [V, 1] }, [n, V]);
    const [tp, lp, dp] = [rowsOf(t1), rowsOf(l1), rowsOf(d1)];
    const g = be.crossEntropyBackward(piece, tp, lp, dp, ignoreIndex);
    be.stridedWrite(x2, { offset: r0 * V, strides: [V, 1] }, g);
    disposeAll(be, piece, tp, lp, dp, g);
  }
  disposeAll(be, t1, l1, d1);
  const out = flat(x2, [...logits.shape]);
  be.dispose(x2);
  return out;
}

interface CeResult {
  loss: Tensor;
  /** Non-ignored rows as a [] f32 tensor (only for reduction 'mean'). */
  count: Tensor | null;
}

function crossEntropyImpl(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions): CeResult {
  // On autocast's float32 list, but no upcast copy is made: the backends read f16 logits as f32 and
  // keep lse and the losses in f32 (the gradient is computed in f32 and stored as f16, as the
  // backward of torch's upcast would), so the numbers are an upcast's without the [rows, V] copy.
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const reduction = opts.reduction ?? 'mean';
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new OpArgumentError('crossEntropy', 'reduction', "'mean', 'sum' or 'none'", String(reduction));
  if (!Number.isInteger(ignoreIndex)) throw new OpArgumentError('crossEntropy', 'ignoreIndex', 'an integer', String(ignoreIndex));
  if (logits.backend !== targets.backend) throw new OpArgumentError('crossEntropy', 'targets', `a tensor on backend '${logits.backend.name}'`, `backend '${targets.backend.name}'`);
  const be = logits.backend;
  const { loss: rowLoss, lse } = be.crossEntropy(logits.raw('crossEntropy'), targets.raw('crossEntropy'), ignoreIndex);
  const lseT = new Tensor(lse, be);
  const rowShape = targets.shape;
  const backwardRows = (dloss: RawTensor): Tensor => {
    const args = [logits.raw('crossEntropy backward'), targets.raw('crossEntropy backward'), lseT.raw('crossEntropy backward'), dloss] as const;
    const dx = opts.overwriteLogits ? overwritingBackward(be, ...args, ignoreIndex) : be.crossEntropyBackward(...args, ignoreIndex);
    lseT.dispose();
    return new Tensor(dx, be);
  };

  let out: Tensor;
  let count: Tensor | null = null;
  if (reduction === 'none') {
    out = new Tensor(rowLoss, be);
    record(out, 'crossEntropy', [logits], (g) => [backwardRows(g.raw('crossEntropy backward'))]);
  } else {
    const all = rowShape.map((_, i) => i);
    const total = be.reduce('sum', rowLoss, all, false);
    be.dispose(rowLoss);
    if (reduction === 'sum') {
      out = new Tensor(total, be);
      record(out, 'crossEntropy', [logits], (g) => {
        const d = rowGrad(be, g.raw('crossEntropy backward'), rowShape, null);
        const r = backwardRows(d);
        be.dispose(d);
        return [r];
      });
    } else {
      const cnt = countRaw(be, targets, ignoreIndex);
      // max(count, 1): an all-ignored batch gives 0 / 1 = 0 and a zero gradient, never NaN.
      const denom = new Tensor(be.unary('max_scalar', cnt, 1), be);
      out = new Tensor(be.binary('div', total, denom.raw()), be);
      be.dispose(total);
      count = new Tensor(cnt, be);
      record(out, 'crossEntropy', [logits], (g) => {
        const d = rowGrad(be, g.raw('crossEntropy backward'), rowShape, denom.raw('crossEntropy backward'));
        denom.dispose();
        const r = backwardRows(d);
        be.dispose(d);
        return [r];
      });
      if (!out.node) denom.dispose();
    }
  }
  if (!out.node) lseT.dispose();
  return { loss: out, count };
}

/**
 * Cross-entropy of logits [..., V] against i32 class targets [...] (torch's F.cross_entropy with
 * ignore_index). The default 'mean' reduction returns a [] tensor: Σ loss / max(count, 1) over
 * rows whose target is not ignoreIndex, so a batch of only ignored rows gives 0, not NaN.
 * Out-of-range targets throw on the CPU backend and give NaN on the GPU.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const r = crossEntropyImpl(logits, targets, opts);
  r.count?.dispose();
  return r.loss;
}

/**
 * Mean cross-entropy plus the number of non-ignored rows as a [] f32 tensor computed on the device
 * (read it when convenient, e.g. to weight per-batch losses or to detect all-ignored batches).
 */
export function crossEntropyWithCount(logits: Tensor, targets: Tensor, opts: { ignoreIndex?: number } = {}): { loss: Tensor; count: Tensor } {
  const r = crossEntropyImpl(logits, targets, { ...opts, reduction: 'mean' });
  return { loss: r.loss, count: r.count! };
}
