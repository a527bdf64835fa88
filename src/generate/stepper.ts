/**
 * Drives BioGptForCausalLM one step at a time with its KV cache: a prefill over the prompt, then
 * one token per row per call. Each forward runs under noGrad + tidy so only the cache survives a
 * step, and only the last position's logits row(s) are read back to the host.
 */
import { noGrad } from '../autograd/tape.js';
import { withBackend } from '../backend/registry.js';
import { tidy } from '../tensor/scope.js';
import { argmax } from '../ops/reduce.js';
import type { Tensor } from '../tensor/tensor.js';
import { disposeCache, reorderCache, type KvCache } from '../models/biogpt/kv_cache.js';
import type { BioGptForCausalLM } from '../models/biogpt/model.js';

export class DecodeStepper {
  private cache: KvCache | null = null;
  /** [rows, S] attention mask of everything fed so far. */
  mask: number[][];

  constructor(readonly model: BioGptForCausalLM) {
    this.mask = [];
  }

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  /** Feeds the prompt (left padded, mask given) and returns the last position's logits [rows * V]. */
  async prefill(ids: readonly (readonly number[])[], mask: readonly (readonly number[])[]): Promise<Float32Array> {
    this.mask = mask.map((r) => [...r]);
    return this.run(ids.map((r) => [...r]));
  }

  /** Appends one token per row (mask 1, as transformers extends the mask for every row) and returns logits. */
  async step(tokens: readonly number[]): Promise<Float32Array> {
    for (const r of this.mask) r.push(1);
    return this.run(tokens.map((t) => [t]));
  }

  /**
   * step() for greedy decoding without logits processing: the argmax of each row's logits is
   * taken on the device (first index of the maximum, as argmaxRow) and only the ids (4 bytes a
   * row) are read back instead of rows × V scores.
   */
  async stepArgmax(tokens: readonly number[]): Promise<Int32Array> {
    for (const r of this.mask) r.push(1);
    return this.run(tokens.map((t) => [t]), true);
  }

  /**
   * Pipelined greedy decoding: the prompt's (or, with `prev`, the next) forward is encoded and
   * submitted, and the argmax ids [rows, 1] i32 are returned on the device without waiting. They
   * feed the next call directly, so the host can encode step t+1 while the GPU runs step t; the
   * caller reads each ids tensor back (Tensor.data()) and disposes it.
   */
  prefillArgmaxDevice(ids: readonly (readonly number[])[], mask: readonly (readonly number[])[]): Tensor {
    this.mask = mask.map((r) => [...r]);
    return this.forwardStep(ids.map((r) => [...r]), true);
  }

  stepArgmaxDevice(prev: Tensor): Tensor {
    for (const r of this.mask) r.push(1);
    return this.forwardStep(prev, true);
  }

  /** Row i of the cache (and mask) becomes old row rows[i] (beam search; rows may repeat or grow the batch). */
  reorder(rows: readonly number[]): void {
    const c = this.cache;
    if (c) this.cache = withBackend(this.model.biogpt.backend, () => reorderCache(c, rows, { dispose: true }));
    this.mask = rows.map((r) => [...this.mask[r]!]);
  }

  dispose(): void {
    disposeCache(this.cache);
    this.cache = null;
  }

  /** One forward with the cache: the last position's logits [B, 1, V], or their argmax [B, 1] i32. */
  private forwardStep(ids: number[][] | Tensor, pickArgmax: boolean): Tensor {
    const past = this.cache;
    const r = withBackend(this.model.biogpt.backend, () =>
      noGrad(() =>
        tidy(() => {
          const o = this.model.forward({ inputIds: ids, attentionMask: this.mask, pastKeyValues: past, useCache: true, lastPositionOnly: true });
          // [B, 1, V] → [B, 1] i32
          return { logits: pickArgmax ? argmax(o.logits) : o.logits, cache: o.presentKeyValues! };
        }),
      ),
    );
    disposeCache(past);
    this.cache = r.cache;
    return r.logits;
  }

  private run(ids: number[][]): Promise<Float32Array>;
  private run(ids: number[][], pickArgmax: true): Promise<Int32Array>;
  private async run(ids: number[][], pickArgmax = false): Promise<Float32Array | Int32Array> {
    const out = this.forwardStep(ids, pickArgmax);
    try {
      const d = await out.data();
      if (pickArgmax) return d instanceof Int32Array ? d : Int32Array.from(d);
      return d instanceof Float32Array ? d : Float32Array.from(d);
    } finally {
      out.dispose();
    }
  }
}
