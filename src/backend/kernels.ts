/**
 * Optional fused-kernel capabilities (int8 LLM.int8 linear, flash attention). They live outside the
 * core Backend interface so that a backend without them stays valid; ops look them up with
 * kernelsFor(backend) and stay backend-agnostic. Implementations: src/backend/webgpu/{int8,attention}.ts
 * and the float64 references src/backend/cpu/{int8,attention}.ts.
 */
import { OpArgumentError } from '../errors.js';
import type { Backend, RawTensor } from './types.js';

/** Row-wise int8 weights: cb u32 [O, ceil(I/4)] (four int8 per word, byte k%4 = column k), scb f32 [O]. */
export interface Int8Weight {
  readonly cb: RawTensor;
  readonly scb: RawTensor;
  /** Logical input width I (the packed row holds ceil(I/4) words, zero padded). */
  readonly inFeatures: number;
}

export interface Int8Options {
  /** Outlier threshold on |x| (LLM.int8 uses 6); 0 disables the decomposition. */
  threshold: number;
  /** Force the unpack-and-multiply path instead of dot4I8Packed (tests). */
  forceFallback?: boolean;
}

export interface Int8Backend {
  /** w [O, I] f32 → SCB[o] = max|W[o,:]|, CB = round_half_even(W·127/SCB) packed. */
  quantizeRowwise(w: RawTensor): Int8Weight;
  /** y [N, O] = int8(x)·CBᵀ dequantised + outlier columns in f32 + bias. */
  int8Linear(x: RawTensor, w: Int8Weight, bias: RawTensor | null, opts: Int8Options): RawTensor;
  /** dx [N, I] = dy [N, O] · dequant(W) (W_deq = CB·SCB/127). */
  int8LinearBackward(dy: RawTensor, w: Int8Weight): RawTensor;
  /** W_deq [O, I] f32 (tests, outlier reference). */
  dequantize(w: Int8Weight): RawTensor;
}

export interface AttentionOptions {
  /** Softmax scale (default D^-0.5). */
  scale: number;
  causal: boolean;
  /** Dropout probability on the probabilities (0 = none) and its seed. */
  dropout: number;
  seed: number;
}

export interface AttentionBackend {
  /** q,k,v [B,H,T,D], mask [B,T] (1 keep / 0 pad) or null → o [B,H,T,D], lse f32 [B,H,T]. */
  flashForward(q: RawTensor, k: RawTensor, v: RawTensor, mask: RawTensor | null, opts: AttentionOptions): { o: RawTensor; lse: RawTensor };
  flashBackward(
    q: RawTensor, k: RawTensor, v: RawTensor, mask: RawTensor | null, o: RawTensor, lse: RawTensor, dO: RawTensor, opts: AttentionOptions,
  ): { dq: RawTensor; dk: RawTensor; dv: RawTensor };
  /** q [B,H,1,D] against a KV cache k,v [B,H,S,D] with mask [B,S] (or null) → [B,H,1,D]. */
  decode(q: RawTensor, k: RawTensor, v: RawTensor, mask: RawTensor | null, scale: number): RawTensor;
}

export type FusedKernels = Int8Backend & AttentionBackend;

type Factory = (b: Backend) => FusedKernels;
const factories = new Map<string, Factory>();
const cache = new WeakMap<Backend, FusedKernels>();

/** Registers the fused kernels of backends named `name` (done by the implementation modules). */
export function registerKernels(name: string, f: Factory): void {
  factories.set(name, f);
}

/** The fused kernels of a backend; throws a typed error when the backend has none. */
export function kernelsFor(b: Backend): FusedKernels {
  let k = cache.get(b);
  if (!k) {
    const f = factories.get(b.name);
    if (!f) throw new OpArgumentError('fused kernels', 'backend', `one of [${[...factories.keys()]}]`, `'${b.name}'`);
    cache.set(b, (k = f(b)));
  }
  return k;
}
