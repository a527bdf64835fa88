/**
 * Freeing activations early. A forward pass makes many tensors that no backward function reads (a
 * residual add, a permute, a product with a frozen weight read neither activation; softmax reads only
 * its output), yet each one stays until the enclosing tidy() ends, i.e. through the whole backward.
 * PyTorch frees those by reference counting plus each op's list of saved tensors; here:
 *
 *  - release(t): the caller is done with the intermediate t. Its storage goes as soon as no recorded
 *    backward reads it: at once when none does, otherwise right after the last such backward has run.
 *    Its graph node stays, so gradients still flow through it.
 *  - releaseOnUse(t): release t once an op has consumed it (autocast's per-use casts).
 *
 * Which inputs a backward reads (and whether it reads its own output) comes from the `saved` spec an
 * op passes to record(), else from READS below by op name, else "everything" (conservative: such a
 * tensor is then freed after its readers' backward instead of at once). A wrong entry cannot give
 * wrong numbers: reading a freed tensor throws DisposedTensorError.
 */
import type { GradNode, Tensor } from '../tensor/tensor.js';

/** What a node's backward reads besides the upstream gradient. */
export interface SavedSpec {
  /** Which inputs: all, none, or a flag per input (evaluated when the node is recorded). */
  inputs: 'all' | 'none' | ((inputs: readonly Tensor[]) => readonly boolean[]);
  /** Whether it reads the node's own output (softmax, exp, ...). */
  output: boolean;
}

const NONE: SavedSpec = { inputs: 'none', output: false };
const OUTPUT: SavedSpec = { inputs: 'none', output: true };
const INPUTS: SavedSpec = { inputs: 'all', output: false };
const ALL: SavedSpec = { inputs: 'all', output: true };
/** A product reads each operand only to form the other's gradient (C = AB: dA = G·Bᵀ, dB = Aᵀ·G). */
const PRODUCT: SavedSpec = { inputs: (xs) => xs.map((_, i) => (i === 0 ? xs[1]!.requiresGrad : i === 1 ? xs[0]!.requiresGrad : false)), output: false };

/**
 * The backward functions of src/ops, by the op name they record. Keep in step with them when an
 * op's backward changes what it reads (the tests fail loudly, with DisposedTensorError, if not).
 */
export const READS: Readonly<Record<string, SavedSpec>> = {
  add: NONE, sub: NONE, affine: NONE, reshape: NONE, permute: NONE, slice: NONE, concat: NONE, expand: NONE,
  dropout: NONE, cast: NONE, sum: NONE, mean: NONE, embedding: NONE, where: NONE,
  // dx = int8ᵀ·g: the frozen int8 weight, not x.
  matmulInt8: NONE,
  softmax: OUTPUT, logSoftmax: OUTPUT, exp: OUTPUT, sqrt: OUTPUT, rsqrt: OUTPUT, recip: OUTPUT, tanh: OUTPUT, sigmoid: OUTPUT,
  gelu: INPUTS, relu: INPUTS, square: INPUTS, abs: INPUTS, log: INPUTS, maximum: INPUTS, minimum: INPUTS, layerNorm: INPUTS,
  sin: INPUTS, cos: INPUTS, clamp: INPUTS,
  crossEntropy: INPUTS, checkpoint: INPUTS,
  pow: ALL, div: ALL, max: ALL, min: ALL, flashAttention: ALL,
  mul: PRODUCT,
  // [x, bias?]·W and [a, b, bias?]: bias gradients are sums of g.
  matmul: PRODUCT,
  // [x, A, B, bias?]: x only for dA = gᵀ·dropout(x) (dx uses W and A, dB the saved u).
  loraLinear: { inputs: (xs) => { const g = xs[0]!.requiresGrad || xs[1]!.requiresGrad; return xs.map((_, i) => (i === 0 ? xs[1]!.requiresGrad : i < 3 ? g : false)); }, output: false },
};

/** enabled false: release() does nothing (every activation stays until its tidy() ends; benchmarks, tests). */
export const releaseTuning: { enabled: boolean } = { enabled: true };

/** Recorded nodes not yet run whose backward reads the tensor (graph tensors only). */
const readers = new WeakMap<Tensor, number>();
/** The tensors each recorded node counted as read (released from `readers` once it has run). */
const reads = new WeakMap<GradNode, Tensor[]>();
/** Released while still read: freed when its reader count drops to zero. */
const dropped = new WeakSet<Tensor>();
/** Released as soon as an op consumes it. */
const onUse = new WeakSet<Tensor>();

/** Frees t's storage but keeps its node (the graph still has to reach what made it). */
function free(t: Tensor): void {
  dropped.delete(t);
  const node = t.node;
  t.dispose();
  t.node = node;
}

/**
 * Marks `t` as no longer needed by the caller: its storage is freed once no recorded backward reads
 * it (now, or after the last reader's backward). Only graph intermediates (tensors with a node) are
 * affected; leaves, parameters and results made without a graph are the caller's to dispose.
 * The caller must not use t again (reading it throws DisposedTensorError).
 */
export function release(...ts: ReadonlyArray<Tensor | null | undefined>): void {
  if (!releaseTuning.enabled) return;
  for (const t of ts) {
    if (!t || !t.node || t.isDisposed) continue;
    if ((readers.get(t) ?? 0) === 0) free(t);
    else dropped.add(t);
  }
}

/** release(t) once the next op records it as an input (a per-use cast made for that op alone). */
export function releaseOnUse(t: Tensor): Tensor {
  if (t.node) onUse.add(t);
  return t;
}

/**
 * Called by record() (and checkpoint()) for a freshly recorded node on `out`. Returns every tensor
 * its backward reads (inputs, graph or not, then out), for the in-place write check (tape.ts).
 */
export function noteRecorded(out: Tensor, spec?: SavedSpec): Tensor[] {
  const node = out.node;
  if (!node) return [];
  const s = spec ?? READS[node.op] ?? ALL;
  const xs = node.inputs;
  const flags = s.inputs === 'all' ? null : s.inputs === 'none' ? [] : s.inputs(xs);
  const read = xs.filter((_, i) => (flags ? flags[i] : true));
  if (s.output) read.push(out);
  // Only graph tensors are counted: leaves and constants are never release()d.
  const counted = read.filter((t) => t.node);
  for (const t of counted) readers.set(t, (readers.get(t) ?? 0) + 1);
  if (counted.length) reads.set(node, counted);
  for (const x of xs) {
    if (onUse.has(x)) {
      onUse.delete(x);
      release(x);
    }
  }
  return read;
}

/** Called by backward() once `node` has run: what only it still read can go. */
export function noteRan(node: GradNode): void {
  const counted = reads.get(node);
  if (!counted) return;
  reads.delete(node);
  for (const t of counted) {
    const n = (readers.get(t) ?? 1) - 1;
    if (n > 0) {
      readers.set(t, n);
      continue;
    }
    readers.delete(t);
    if (dropped.has(t)) free(t);
  }
}
