/** Embedding lookup (row gather) with a scatter-add backward that skips the padding row. */
import { record } from '../../autograd/tape.js';
import { OpArgumentError } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';

export interface EmbeddingOptions {
  /**
   * Row that receives no gradient (torch.nn.Embedding's padding_idx); negative values count from
   * the end. Default: none.
   */
  paddingIdx?: number | null;
}

/**
 * table [V, C] gathered at i32 ids of any shape → [...ids.shape, C] (torch's F.embedding).
 * Out-of-range ids (< 0 or >= V) throw OpArgumentError('embedding', 'ids', ...) on the CPU backend;
 * on the GPU a kernel cannot throw, so their rows come out NaN and they contribute no gradient to
 * the table (the loss turns NaN, as crossEntropy's does for bad targets). Check ids against the
 * table (e.g. the tokenizer's vocabulary size) before the GPU sees them.
 */
export function embedding(table: Tensor, ids: Tensor, opts: EmbeddingOptions = {}): Tensor {
  const be = table.backend;
  const V = table.shape[0] ?? 0;
  let pad = opts.paddingIdx ?? null;
  if (pad !== null) {
    if (!Number.isInteger(pad) || pad < -V || pad >= V) throw new OpArgumentError('embedding', 'paddingIdx', `an integer in [-${V}, ${V})`, String(pad));
    if (pad < 0) pad += V;
  }
  const out = new Tensor(be.embedding(table.raw('embedding'), ids.raw('embedding')), be);
  // -1 never matches a valid id: the backend's "no padding row".
  const padIdx = pad ?? -1;
  return record(out, 'embedding', [table], (g) => [new Tensor(be.embeddingBackward(ids.raw('embedding backward'), g.raw('embedding backward'), V, padIdx), be)]);
}
