/**
 * Optional fused-kernel capabilities (int8 LLM.int8 linear, flash attention, LoRA linear, linear3). They live outside the
 * core Backend interface so that a backend without them stays valid; ops look them up with
 * kernelsFor(backend) and stay backend-agnostic. Implementations: src/backend/webgpu/{int8,attention,lora,linear3}.ts
 * and the float64 references src/backend/cpu/{int8,attention,lora,linear3}.ts.
 */
import { OpArgumentError, ShapeError } from '../errors.js';
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
  /**
   * Fused LoRA addend: y += scale · u·bᵀ with u [N, r] (dropout(x)·Aᵀ, computed by the caller) and
   * b [O, r], added in the dequantising epilogue so the LoRA output costs no extra pass over y.
   */
  lowRank?: LowRankAddend;
}

/** scale · u·bᵀ added to a linear's output: u [N, r], b [O, r] (f32). */
export interface LowRankAddend {
  readonly u: RawTensor;
  readonly b: RawTensor;
  readonly scale: number;
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

/** LoRA input dropout: p (0 = none) and the seed of the dropout op's counter-based mask. */
export interface LoraDropout {
  readonly p: number;
  readonly seed: number;
}

/**
 * Fused LoRA linear pieces (src/ops/lora_linear.ts): the dropout mask of x is regenerated from
 * (seed, flat index of x) wherever it is needed, bit-identical to the dropout op's, and never stored.
 */
export interface LoraBackend {
  /** out [N, r] = scale · x'·wᵀ with x' = dropout(x [N, K]); w = A [r, K], or B [K, r] when wKMajor. */
  loraProject(x: RawTensor, w: RawTensor, opts: { scale: number; wKMajor: boolean; dropout?: LoraDropout }): RawTensor;
  /** y [N, O] = x·Wᵀ + bias + u·Bᵀ in one GEMM pass: x [N, I], W [O, I], u [N, r], B [O, r] (f32). */
  loraLinear(x: RawTensor, w: RawTensor, bias: RawTensor | null, u: RawTensor, b: RawTensor): RawTensor;
  /** dx [N, I] = dy·W + mask ⊙ (g·A) in one GEMM pass: dy [N, O], W [O, I], g [N, r], A [r, I]. */
  loraLinearBackward(dy: RawTensor, w: RawTensor, g: RawTensor, a: RawTensor, dropout?: LoraDropout): RawTensor;
  /** base [N, C] + u·L in one pass: L = Bᵀ for B [C, r], or A [r, C] (aLayout) under the dropout mask. */
  loraAdd(base: RawTensor, u: RawTensor, l: RawTensor, opts: { aLayout: boolean; dropout?: LoraDropout }): RawTensor;
  /** dA [r, K] = gᵀ · dropout(x): g [N, r], x [N, K]. */
  loraGradA(g: RawTensor, x: RawTensor, dropout?: LoraDropout): RawTensor;
}

/** Three weights (or biases) of one linear3 call. */
export type Triple<T> = readonly [T, T, T];

/**
 * Three linears of one input in one launch (the q, k and v projections of a decode step):
 * y_i [M, N] = x [M, K] · W_iᵀ + b_i with W_i [N, K], b_i [N], all f32, bits as three
 * matmul(x, W_i, {transB, bias: b_i}) calls. Inference only (no gradient). Where the fused kernel
 * does not apply (too many rows, K % 4 ≠ 0, ...) it runs those three calls.
 */
export interface Linear3Backend {
  linear3(x: RawTensor, weights: Triple<RawTensor>, biases: Triple<RawTensor>): [RawTensor, RawTensor, RawTensor];
}

/** Operand checks of linear3 (typed errors), shared by its backends; returns the sizes. */
export function linear3Dims(x: RawTensor, weights: Triple<RawTensor>, biases: Triple<RawTensor>): { M: number; N: number; K: number } {
  const op = 'linear3';
  if (weights.length !== 3) throw new OpArgumentError(op, 'weights', '3 weights', String(weights.length));
  if (biases.length !== 3) throw new OpArgumentError(op, 'biases', '3 biases', String(biases.length));
  const [M, K] = dims2(op, 'x', x);
  const N = dims2(op, 'weights[0]', weights[0])[0];
  weights.forEach((w, i) => expect(op, `weights[${i}]`, w, [N, K]));
  biases.forEach((b, i) => {
    if (b.dtype !== 'f32' || b.shape.length !== 1 || b.shape[0] !== N) throw new ShapeError(op, `biases[${i}]`, `f32 [${N}]`, `${b.dtype} [${b.shape}]`);
  });
  return { M, N, K };
}

export type FusedKernels = Int8Backend & AttentionBackend & LoraBackend & Linear3Backend;

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

/** An f32 matrix's [rows, cols]. */
function dims2(op: string, arg: string, x: RawTensor): [number, number] {
  if (x.dtype !== 'f32') throw new OpArgumentError(op, arg, 'an f32 tensor', x.dtype);
  if (x.shape.length !== 2) throw new ShapeError(op, arg, 'rank 2', `[${x.shape}]`);
  return x.shape as [number, number];
}

function expect(op: string, arg: string, x: RawTensor, shape: readonly number[]): void {
  const [a, b] = dims2(op, arg, x);
  if (a !== shape[0] || b !== shape[1]) throw new ShapeError(op, arg, `[${shape}]`, `[${x.shape}]`);
}

/**
 * Operand checks of the LoRA ops, shared by their backends (cpu/lora.ts, webgpu/lora.ts): each
 * throws the op's typed error on a bad dtype or shape and returns the sizes the kernel uses.
 */
export const loraChecks = {
  project(x: RawTensor, w: RawTensor, wKMajor: boolean): { N: number; K: number; r: number } {
    const [N, K] = dims2('loraProject', 'x', x);
    const r = wKMajor ? w.shape[1]! : w.shape[0]!;
    expect('loraProject', 'w', w, wKMajor ? [K, r] : [r, K]);
    return { N, K, r };
  },
  linear(x: RawTensor, w: RawTensor, bias: RawTensor | null, u: RawTensor, b: RawTensor): { N: number; I: number; O: number; r: number } {
    const [N, I] = dims2('loraLinear', 'x', x);
    const O = dims2('loraLinear', 'w', w)[0];
    expect('loraLinear', 'w', w, [O, I]);
    const r = dims2('loraLinear', 'u', u)[1];
    expect('loraLinear', 'u', u, [N, r]);
    expect('loraLinear', 'b', b, [O, r]);
    if (bias && (bias.dtype !== 'f32' || bias.shape.length !== 1 || bias.shape[0] !== O)) throw new ShapeError('loraLinear', 'bias', `f32 [${O}]`, `${bias.dtype} [${bias.shape}]`);
    return { N, I, O, r };
  },
  linearBackward(dy: RawTensor, w: RawTensor, g: RawTensor, a: RawTensor): { N: number; O: number; I: number; r: number } {
    const [N, O] = dims2('loraLinearBackward', 'dy', dy);
    const I = dims2('loraLinearBackward', 'w', w)[1];
    expect('loraLinearBackward', 'w', w, [O, I]);
    const r = dims2('loraLinearBackward', 'g', g)[1];
    expect('loraLinearBackward', 'g', g, [N, r]);
    expect('loraLinearBackward', 'a', a, [r, I]);
    return { N, O, I, r };
  },
  add(base: RawTensor, u: RawTensor, l: RawTensor, aLayout: boolean): { N: number; C: number; r: number } {
    const [N, C] = dims2('loraAdd', 'base', base);
    const r = dims2('loraAdd', 'u', u)[1];
    expect('loraAdd', 'u', u, [N, r]);
    expect('loraAdd', 'l', l, aLayout ? [r, C] : [C, r]);
    return { N, C, r };
  },
  gradA(g: RawTensor, x: RawTensor): { N: number; K: number; r: number } {
    const [N, K] = dims2('loraGradA', 'x', x);
    const r = dims2('loraGradA', 'g', g)[1];
    expect('loraGradA', 'g', g, [N, r]);
    return { N, K, r };
  },
};
