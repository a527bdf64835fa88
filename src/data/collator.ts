/**
 * Batches examples into right-padded [B, T] int32 tensors for causal-LM training, Hugging Face
 * style: `labels` equals `inputIds` on completion positions and -100 on prompt and padding, and the
 * loss shifts them (position t predicts labels[t + 1]). Also a seeded, epoch-dependent loader.
 */
import type { Example, SftDataset } from './dataset.js';
import { permutation } from './rng.js';

export const IGNORE_INDEX = -100;

export interface Batch {
  /** Row-major [batchSize, seqLen]. */
  inputIds: Int32Array;
  /** 1 on real tokens, 0 on padding. */
  attentionMask: Int32Array;
  /** Token id on target positions, -100 elsewhere. */
  labels: Int32Array;
  batchSize: number;
  seqLen: number;
  /** Labels that enter the shifted loss: positions t >= 1 with labels != -100 (the loss denominator). */
  numTargetTokens: number;
  /** Example ids, in row order (handy for logging and evaluation). */
  ids: string[];
}

export interface CollateOptions {
  /** Pad token id (BioGPT: 1). */
  padId: number;
  /** Longest sequence; longer examples are truncated (default 512). */
  maxLength?: number;
  /** 'max_length' pads every batch to maxLength (default); 'longest' pads to the batch's longest row. */
  padding?: 'max_length' | 'longest';
  /** With 'longest', round seqLen up to a multiple of this (kernels like aligned sizes), capped at maxLength. */
  padToMultipleOf?: number;
}

export function collate(examples: readonly Example[], opts: CollateOptions): Batch {
  const maxLength = opts.maxLength ?? 512;
  if (!examples.length) throw new RangeError('collate: empty batch');
  if (!Number.isInteger(opts.padId)) throw new RangeError(`collate: padId must be an integer, got ${opts.padId}`);
  let seqLen = maxLength;
  if ((opts.padding ?? 'max_length') === 'longest') {
    seqLen = 0;
    for (const e of examples) seqLen = Math.max(seqLen, Math.min(e.inputIds.length, maxLength));
    const m = opts.padToMultipleOf;
    if (m && m > 1) seqLen = Math.min(maxLength, Math.ceil(seqLen / m) * m);
  }
  const b = examples.length;
  const inputIds = new Int32Array(b * seqLen).fill(opts.padId);
  const attentionMask = new Int32Array(b * seqLen);
  const labels = new Int32Array(b * seqLen).fill(IGNORE_INDEX);
  let numTargetTokens = 0;
  examples.forEach((e, row) => {
    const len = Math.min(e.inputIds.length, seqLen);
    const base = row * seqLen;
    inputIds.set(e.inputIds.subarray(0, len), base);
    attentionMask.fill(1, base, base + len);
    for (let t = Math.min(e.promptLength, len); t < len; t++) {
      labels[base + t] = e.inputIds[t]!;
      if (t >= 1) numTargetTokens++;
    }
  });
  return { inputIds, attentionMask, labels, batchSize: b, seqLen, numTargetTokens, ids: examples.map((e) => e.id) };
}

export interface LoaderOptions extends CollateOptions {
  batchSize: number;
  /** Shuffle each epoch (default true); the order depends only on (seed, epoch). */
  shuffle?: boolean;
  seed?: number;
  /** Drop a final partial batch (default false). */
  dropLast?: boolean;
}

export class DataLoader {
  private readonly examples: readonly Example[];

  constructor(
    source: SftDataset | readonly Example[],
    private readonly opts: LoaderOptions,
  ) {
    this.examples = Array.isArray(source) ? (source as readonly Example[]) : (source as SftDataset).examples;
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
  }

  get numBatches(): number {
    const n = this.examples.length;
    const b = this.opts.batchSize;
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** Example order for an epoch. */
  order(epoch: number): number[] {
    const n = this.examples.length;
    return this.opts.shuffle === false ? Array.from({ length: n }, (_, i) => i) : permutation(n, this.opts.seed ?? 0, epoch);
  }

  *batches(epoch = 0): Generator<Batch> {
    const idx = this.order(epoch);
    const b = this.opts.batchSize;
    for (let k = 0; k < this.numBatches; k++) {
      yield collate(idx.slice(k * b, (k + 1) * b).map((i) => this.examples[i]!), this.opts);
    }
  }
}

/** Tokens in a batch that are not padding (the attention mask's sum). */
export function tokenCount(b: Batch): number {
  let n = 0;
  for (let i = 0; i < b.attentionMask.length; i++) n += b.attentionMask[i]!;
  return n;
}
