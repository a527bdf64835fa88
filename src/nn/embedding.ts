/**
 * Embedding: rows of a [num, dim] table gathered by i32 ids. The padding row (torch's padding_idx)
 * gets no gradient, and is zero at random init.
 */
import { OpArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { embedding } from '../ops/nn/embedding.js';
import { normal } from './init.js';
import { Module, nextInitSeed } from './module.js';

export interface EmbeddingOptions {
  /** Row excluded from gradients (and zeroed at init). Default none. */
  paddingIdx?: number | null;
  /** Std of the N(0, std²) init (torch default 1; transformers uses initializer_range). */
  initStd?: number;
}

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    const pad = opts.paddingIdx ?? null;
    if (pad !== null && (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings)) {
      throw new OpArgumentError('Embedding', 'paddingIdx', `an integer in [-${numEmbeddings}, ${numEmbeddings})`, String(pad));
    }
    this.paddingIdx = pad === null ? null : pad < 0 ? pad + numEmbeddings : pad;
    this.addParameter('weight', [numEmbeddings, embeddingDim], () => {
      const w = normal([numEmbeddings, embeddingDim], opts.initStd ?? 1, nextInitSeed());
      if (this.paddingIdx !== null) {
        const be = w.backend;
        const z = be.full([1, embeddingDim], 'f32', 0);
        be.stridedWrite(w.raw(), { offset: this.paddingIdx * embeddingDim, strides: [embeddingDim, 1] }, z);
        be.dispose(z);
      }
      return w;
    });
  }

  /** [num, dim] */
  get weight(): Tensor {
    return this.param('weight');
  }

  /** ids i32 [...] → [..., dim] */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids, { paddingIdx: this.paddingIdx });
  }
}
