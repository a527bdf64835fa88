/** Inverted dropout with a counter-based mask: the same (seed, p) regenerates the same mask on any backend. */
import { record } from '../../autograd/tape.js';
import { OpArgumentError } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';

export interface DropoutOptions {
  /** Mask seed (used modulo 2^32); give each call site and step its own (e.g. hashSeed(step, layer)). */
  seed: number;
  /** false (eval) makes dropout the identity. Default true. */
  training?: boolean;
}

/**
 * Zeroes each element with probability p and scales the rest by 1 / (1 - p), so the expectation
 * is unchanged. Identity (the same tensor) in eval mode or for p = 0; zeros for p = 1. Backward
 * applies the same mask, regenerated from the seed rather than stored.
 */
export function dropout(x: Tensor, p: number, opts: DropoutOptions): Tensor {
  if (!(p >= 0 && p <= 1)) throw new OpArgumentError('dropout', 'p', 'a probability in [0, 1]', String(p));
  if (!opts || !Number.isFinite(opts.seed)) throw new OpArgumentError('dropout', 'opts.seed', 'a finite integer seed', String(opts?.seed));
  if (opts.training === false || p === 0) return x;
  const be = x.backend;
  const out = new Tensor(be.dropout(x.raw('dropout'), p, opts.seed), be);
  return record(out, 'dropout', [x], (g) => [new Tensor(be.dropout(g.raw('dropout backward'), p, opts.seed), be)]);
}
