/**
 * Key/value cache for incremental decoding: per layer, the projected keys and values of every
 * position seen so far, [B, H, S, D] each (transformers' legacy tuple layout).
 */
import { OpArgumentError } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../ops/creation.js';
import { noGrad } from '../../autograd/tape.js';

export interface LayerKv {
  /** [B, H, S, D] */
  key: Tensor;
  /** [B, H, S, D] */
  value: Tensor;
}

/** One entry per decoder layer. */
export type KvCache = LayerKv[];

/** Cached positions S (0 for an empty cache). */
export function cacheLength(cache: KvCache | undefined | null): number {
  return cache && cache.length ? cache[0]!.key.shape[2]! : 0;
}

/** Batch size of the cache. */
export function cacheBatch(cache: KvCache): number {
  return cache.length ? cache[0]!.key.shape[0]! : 0;
}

/**
 * Selects batch rows of every cached tensor (beam search: beamIdx[i] is the row new row i comes
 * from; rows may repeat). A gather along the batch axis done as an embedding lookup over the
 * flattened rows, one launch per tensor. Returns new tensors; pass dispose to free the old cache.
 */
export function reorderCache(cache: KvCache, beamIdx: ArrayLike<number>, opts: { dispose?: boolean } = {}): KvCache {
  const B = cacheBatch(cache);
  for (let i = 0; i < beamIdx.length; i++) {
    const b = beamIdx[i]!;
    if (!Number.isInteger(b) || b < 0 || b >= B) throw new OpArgumentError('reorderCache', 'beamIdx', `row indices in [0, ${B})`, `${b} at ${i}`);
  }
  if (!cache.length) return [];
  return noGrad(() => {
    const idx = tensor(Int32Array.from(beamIdx), [beamIdx.length], { dtype: 'i32' });
    const pick = (t: Tensor): Tensor => {
      const be = t.backend;
      const rest = t.shape.slice(1);
      const rowLen = rest.reduce((a, b) => a * b, 1);
      const flat = be.reshape(t.raw('reorderCache'), [t.shape[0]!, rowLen]); // [B, H*S*D]
      const g = be.embedding(flat, idx.raw('reorderCache')); // [n, H*S*D]
      const out = be.reshape(g, [beamIdx.length, ...rest]);
      be.dispose(flat);
      be.dispose(g);
      return new Tensor(out, be);
    };
    const out = cache.map((l) => ({ key: pick(l.key), value: pick(l.value) }));
    idx.dispose();
    if (opts.dispose) disposeCache(cache);
    return out;
  });
}

/** Frees every tensor of the cache. */
export function disposeCache(cache: KvCache | undefined | null): void {
  for (const l of cache ?? []) {
    l.key.dispose();
    l.value.dispose();
  }
}
