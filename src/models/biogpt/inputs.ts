/**
 * Host-side input handling for BioGPT: id matrices, learned-position ids and the additive
 * attention bias. Positions need a cumulative sum over the padding mask, and the bias depends on
 * the cache length, so both are computed on the host from the (small) [B, S] mask and uploaded.
 */
import { OpArgumentError, RadgradError, ShapeError } from '../../errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../ops/creation.js';
import { FLOAT32_MIN } from '../../ops/nn/attention_mask.js';

/** A [B, T] integer matrix given as nested arrays or flat data with its shape. */
export type IdMatrixInput = ReadonlyArray<ReadonlyArray<number>> | { readonly data: ArrayLike<number>; readonly shape: readonly [number, number] | readonly number[] };

/** A [B, T] integer matrix in host memory, row-major. */
export interface IdMatrix {
  readonly data: Int32Array;
  readonly batch: number;
  readonly length: number;
}

export function isIdMatrixInput(x: unknown): x is IdMatrixInput {
  return Array.isArray(x) || (typeof x === 'object' && x !== null && !(x instanceof Tensor) && 'data' in x && 'shape' in x);
}

/** Normalises nested arrays / {data, shape} into an Int32Array matrix (checks rectangular shape and integers). */
export function toIdMatrix(x: IdMatrixInput, what: string): IdMatrix {
  if (Array.isArray(x)) {
    const rows = x as ReadonlyArray<ReadonlyArray<number>>;
    const B = rows.length;
    const T = B ? rows[0]!.length : 0;
    const data = new Int32Array(B * T);
    rows.forEach((r, b) => {
      if (!r || r.length !== T) throw new ShapeError('BioGPT', what, `a rectangular [B, T] matrix (row 0 has ${T} values)`, `row ${b} with ${r?.length} values`);
      for (let t = 0; t < T; t++) data[b * T + t] = checkInt(r[t]!, what, b, t);
    });
    return { data, batch: B, length: T };
  }
  const m = x as { data: ArrayLike<number>; shape: readonly number[] };
  if (m.shape.length !== 2) throw new ShapeError('BioGPT', what, 'shape [B, T]', `[${m.shape.join(', ')}]`);
  const [B, T] = m.shape as [number, number];
  if (m.data.length !== B * T) throw new ShapeError('BioGPT', what, `${B * T} values for shape [${B}, ${T}]`, `${m.data.length}`);
  if (m.data instanceof Int32Array) return { data: m.data, batch: B, length: T };
  const data = new Int32Array(B * T);
  for (let i = 0; i < data.length; i++) data[i] = checkInt(m.data[i]!, what, Math.floor(i / T), i % T);
  return { data, batch: B, length: T };
}

function checkInt(v: number, what: string, b: number, t: number): number {
  if (!Number.isInteger(v)) throw new OpArgumentError('BioGPT', what, 'integers', `${v} at [${b}, ${t}]`);
  return v;
}

/** All-ones [B, S] mask. */
export function onesMask(batch: number, length: number): IdMatrix {
  return { data: new Int32Array(batch * length).fill(1), batch, length };
}

/**
 * BioGPT's learned-position ids for the new tokens, offset included. A real token's position is
 * the number of real tokens before it, cumsum(mask) - 1 (transformers' BioGPT before v5, and what
 * its generate() passes for left-padded prompts). A padding slot gets its absolute index past + t,
 * as transformers 5's forward (which uses cache positions): padding slots are masked as keys, so
 * this changes only their own outputs, and right-padded batches match transformers 5 everywhere.
 */
export function positionIds(mask: IdMatrix, pastLength: number, offset: number, numPositions: number): IdMatrix {
  const { batch: B, length: S } = mask;
  const T = S - pastLength;
  const out = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    let c = 0;
    for (let s = 0; s < S; s++) {
      const real = mask.data[b * S + s] !== 0;
      if (real) c++;
      if (s < pastLength) continue;
      const p = (real ? c - 1 : s) + offset;
      if (p >= numPositions) {
        // Positions are 0-based: a model with N positions has indices 0..N-1, so index N is one too many.
        const n = numPositions - offset;
        throw new RadgradError(`BioGPT: row ${b} needs position index ${p - offset}; positions are 0..${n - 1} (max_position_embeddings ${n})`, {
          hint: `a sequence may hold at most ${n} tokens (prompt plus generated ones): truncate the input (train --max-length, a shorter prompt or text) or lower the generation length`,
        });
      }
      out[b * T + (s - pastLength)] = p;
    }
  }
  return { data: out, batch: B, length: T };
}

/**
 * Additive bias [B, 1, T, S] (T new queries, S = past + T keys): 0 where key j is a real token
 * (mask != 0) and j <= past + i, float32 min elsewhere (as transformers' masks). null when nothing is
 * masked (a single new token and no padding), so attention skips the add.
 */
export function attentionBiasHost(mask: IdMatrix, pastLength: number): Float32Array | null {
  const { batch: B, length: S } = mask;
  const T = S - pastLength;
  const allOnes = mask.data.every((v) => v !== 0);
  if (allOnes && T === 1) return null;
  const out = new Float32Array(B * T * S);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      const row = (b * T + i) * S;
      const lastVisible = pastLength + i;
      for (let j = 0; j < S; j++) out[row + j] = j <= lastVisible && mask.data[b * S + j] !== 0 ? 0 : FLOAT32_MIN;
    }
  }
  return out;
}

/** Uploads an id matrix as an i32 [B, T] tensor on the current backend. */
export function idTensor(m: IdMatrix): Tensor {
  return tensor(m.data, [m.batch, m.length], { dtype: 'i32' });
}

/**
 * Causal-LM targets: labels shifted left by one with ignoreIndex appended, so position t predicts
 * labels[t + 1] and the logits need no slicing (same loss as transformers' shift of logits).
 */
export function shiftLabels(labels: IdMatrix, ignoreIndex = -100): IdMatrix {
  const { batch: B, length: T } = labels;
  const out = new Int32Array(B * T).fill(ignoreIndex);
  for (let b = 0; b < B; b++) for (let t = 0; t + 1 < T; t++) out[b * T + t] = labels.data[b * T + t + 1]!;
  return { data: out, batch: B, length: T };
}
