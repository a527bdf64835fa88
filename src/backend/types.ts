/**
 * The backend boundary. Ops (src/ops/) call only these primitives; the WebGPU backend runs them as
 * WGSL kernels and the CPU reference (float64, used by tests) implements the same interface, so a
 * new backend can be added without touching ops, nn or models. Every input is contiguous row-major;
 * every method returns fresh tensors the caller owns (release with dispose()).
 */
export type DType = 'f32' | 'f16' | 'i32' | 'u32';
export type TypedArrayOf<D extends DType> = D extends 'i32' ? Int32Array : D extends 'u32' ? Uint32Array : Float32Array;
export type HostArray = Float32Array | Float64Array | Int32Array | Uint32Array;

/** f32/f16: the dtypes of arithmetic in general and of autograd (src/io/dtype.ts has the file dtypes' counterpart). */
export function isFloatDType(d: DType): d is 'f32' | 'f16' {
  return d === 'f32' || d === 'f16';
}

/** i32/u32: indices, and exact wrap-around integer add/sub/mul/sum (see BinaryOp). */
export function isIntDType(d: DType): d is 'i32' | 'u32' {
  return d === 'i32' || d === 'u32';
}

/** The inclusive value range of each integer dtype. */
export const INT_RANGE: { readonly [K in 'i32' | 'u32']: readonly [number, number] } = { i32: [-(2 ** 31), 2 ** 31 - 1], u32: [0, 2 ** 32 - 1] };

/** v is an integer that the integer dtype d holds (no wrap-around, no truncation). */
export function fitsIntDType(v: number, d: 'i32' | 'u32'): boolean {
  return Number.isInteger(v) && v >= INT_RANGE[d][0] && v <= INT_RANGE[d][1];
}

/** A backend tensor: shape, dtype and backend-owned storage (a GPU buffer or a host array). */
export interface RawTensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly storage: unknown;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'tanh' | 'relu' | 'gelu' | 'sigmoid' | 'abs' | 'square'
  | 'recip' | 'sin' | 'cos' | 'sign'
  /** alpha * x + beta */
  | 'affine'
  /** x ** alpha */
  | 'pow_scalar'
  /** max(x, alpha) */
  | 'max_scalar'
  /** min(x, alpha) */
  | 'min_scalar';

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow'
  /** NaN in either operand gives NaN (as torch.maximum / minimum; so do relu and max_scalar / min_scalar) */
  | 'max' | 'min'
  /** a = x, b = dy: dy * d gelu(x)/dx (exact erf form) */
  | 'gelu_grad'
  /** a = x, b = dy: 0 where x <= 0, else dy (NaN x passes dy, as torch) */
  | 'relu_grad'
  /**
   * comparisons produce 1.0 / 0.0: in a's dtype for float operands, in f32 for integer (i32/u32)
   * operands (compared exactly in their own type). Besides them only add, sub and mul take integer
   * operands: computed in the integer type, wrapping around modulo 2^32 (WGSL's i32/u32 arithmetic)
   */
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge';

/** Float tensors; `sum` also of i32/u32 ones, exactly in their own type (wrapping around modulo 2^32). */
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

/** A strided view for copies: element offset, element strides per axis (0 = broadcast), shape. */
export interface StridedView {
  readonly offset: number;
  readonly strides: readonly number[];
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /**
   * A Linear's epilogue, applied in f32 to each product element before it is stored: + bias[n]
   * (same dtype as a, shape [N], every row of every batch), then the activation.
   */
  bias?: RawTensor;
  activation?: 'gelu';
}

export interface AdamWHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count after this update (bias correction). */
  step: number;
  /** Gradients are multiplied by this first (clipping / loss-scale unscaling). */
  gradScale: number;
}

export interface Backend {
  readonly name: 'webgpu' | 'cpu';

  // ---- memory --------------------------------------------------------------------------------
  upload(data: ArrayLike<number>, shape: readonly number[], dtype: DType): RawTensor;
  full(shape: readonly number[], dtype: DType, value: number): RawTensor;
  /**
   * A tensor with unspecified contents (no fill launch on the GPU), for an output whose every
   * element the caller then writes (e.g. concat's pieces).
   * `opts.capacity` (elements, a hint): storage with room for at least that many, for a tensor that
   * is rebuilt one position larger each step (the KV cache), so that successive ones come from the
   * same pool buffers and the queue's cached bind groups for them keep hitting. Contents and shape
   * are as without it; a backend may ignore it (the CPU reference does).
   */
  empty(shape: readonly number[], dtype: DType, opts?: { capacity?: number }): RawTensor;
  read(x: RawTensor): Promise<HostArray>;
  dispose(x: RawTensor): void;
  /** Same storage seen with another shape of equal size (reshape of contiguous data); no copy. */
  reshape(x: RawTensor, shape: readonly number[]): RawTensor;
  /** Bytes of device memory held by live tensors (for leak tests); 0 where not tracked. */
  bytesInUse(): number;
  /** Waits for pending work (no-op on CPU). */
  sync(): Promise<void>;

  // ---- elementwise ---------------------------------------------------------------------------
  unary(op: UnaryOp, x: RawTensor, alpha?: number, beta?: number): RawTensor;
  /** numpy broadcasting of a and b. */
  binary(op: BinaryOp, a: RawTensor, b: RawTensor): RawTensor;
  /** cond ? a : b with broadcasting of all three (cond nonzero = true). */
  where(cond: RawTensor, a: RawTensor, b: RawTensor): RawTensor;
  cast(x: RawTensor, dtype: DType): RawTensor;

  // ---- layout --------------------------------------------------------------------------------
  /** Gathers a strided view of src into a new contiguous tensor of `shape`. */
  stridedCopy(src: RawTensor, view: StridedView, shape: readonly number[]): RawTensor;
  /** Writes contiguous src (of `shape`) into a strided view of dst, in place. */
  stridedWrite(dst: RawTensor, view: StridedView, src: RawTensor): void;
  /**
   * KV-cache append of keys and values in one pass: key[b, h, s, d] = s < P ? pastK[b, h, s, d] :
   * xk[b, s - P, h·D + d] (same for values), with past [B, H, P, D] (P may be 0) and x the
   * projection rows [B, T, H·D]; results [B, H, P + T, D]. Bits are copied; all four inputs share
   * one dtype. `capacity` is empty()'s pool hint, applied to both results.
   */
  kvAppend(pastK: RawTensor, pastV: RawTensor, xk: RawTensor, xv: RawTensor, opts?: { capacity?: number }): { key: RawTensor; value: RawTensor };

  // ---- reductions ----------------------------------------------------------------------------
  reduce(op: ReduceOp, x: RawTensor, axes: readonly number[], keepDims: boolean): RawTensor;
  /** Index of the maximum along the last axis (i32), first index on ties; a NaN counts as the maximum (first NaN, as torch). */
  argmax(x: RawTensor): RawTensor;
  /** argmax's counterpart for the minimum (a NaN counts as the minimum). */
  argmin(x: RawTensor): RawTensor;

  // ---- linear algebra ------------------------------------------------------------------------
  /** [...batch, M, K] @ [...batch, K, N] (operands transposed per options); batch dims broadcast. */
  matmul(a: RawTensor, b: RawTensor, opts?: MatmulOptions): RawTensor;

  // ---- nn ------------------------------------------------------------------------------------
  /** Softmax over the last axis (max-subtracted). */
  softmax(x: RawTensor): RawTensor;
  /** dx = y * (dy - sum(dy * y)) over the last axis. */
  softmaxBackward(y: RawTensor, dy: RawTensor): RawTensor;
  logSoftmax(x: RawTensor): RawTensor;
  /** dx = dy - exp(y) * sum(dy) over the last axis. */
  logSoftmaxBackward(y: RawTensor, dy: RawTensor): RawTensor;
  /** Layer norm over the last axis; mean and rstd [rows] are saved for backward. */
  layerNorm(x: RawTensor, weight: RawTensor | null, bias: RawTensor | null, eps: number): { y: RawTensor; mean: RawTensor; rstd: RawTensor };
  /**
   * s = x + r (as binary add) and y = layerNorm(s) in one pass, bit-identical to the two ops; x and r
   * are f32 of the same shape. mean and rstd as layerNorm's (its backward takes s).
   */
  addLayerNorm(x: RawTensor, r: RawTensor, weight: RawTensor | null, bias: RawTensor | null, eps: number): { s: RawTensor; y: RawTensor; mean: RawTensor; rstd: RawTensor };
  layerNormBackward(dy: RawTensor, x: RawTensor, weight: RawTensor | null, mean: RawTensor, rstd: RawTensor): { dx: RawTensor; dweight: RawTensor | null; dbias: RawTensor | null };
  /** Per-row cross-entropy of logits [N, V] against i32 targets [N]; ignored rows give loss 0. */
  crossEntropy(logits: RawTensor, targets: RawTensor, ignoreIndex: number): { loss: RawTensor; lse: RawTensor };
  /** dlogits = (softmax - onehot) * dloss[row]; ignored rows give 0. */
  crossEntropyBackward(logits: RawTensor, targets: RawTensor, lse: RawTensor, dloss: RawTensor, ignoreIndex: number): RawTensor;
  /** Rows of table [V, C] selected by i32 ids [...] → [..., C]. */
  embedding(table: RawTensor, ids: RawTensor): RawTensor;
  /** Scatter-add of dy [..., C] into a [numRows, C] gradient; the padding row gets none. */
  embeddingBackward(ids: RawTensor, dy: RawTensor, numRows: number, paddingIdx: number): RawTensor;
  /** Inverted dropout with a counter-based RNG: the same (seed, p) regenerates the same mask. */
  dropout(x: RawTensor, p: number, seed: number): RawTensor;

  // ---- optimizer -----------------------------------------------------------------------------
  /** Sum of squares of every element of every tensor, as a [1] f32 tensor (for global-norm clipping). */
  sumSquares(xs: readonly RawTensor[]): RawTensor;
  /** One AdamW step in place on param, m and v (PyTorch semantics, decoupled weight decay). */
  adamw(param: RawTensor, grad: RawTensor, m: RawTensor, v: RawTensor, h: AdamWHyper): void;

  // ---- random --------------------------------------------------------------------------------
  /** Uniform [lo, hi) (f32) from a counter-based RNG keyed by seed. */
  randomUniform(shape: readonly number[], seed: number, lo: number, hi: number): RawTensor;
  /** Normal(mean, std) (f32) from a counter-based RNG keyed by seed. */
  randomNormal(shape: readonly number[], seed: number, mean: number, std: number): RawTensor;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** numpy broadcast of two shapes, or undefined when incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | undefined {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out[i] = x === 1 ? y : x;
  }
  return out;
}

/** Element strides of `shape` broadcast to `outShape` (0 on broadcast axes). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const cs = contiguousStrides(shape);
  const off = outShape.length - shape.length;
  return outShape.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : cs[i - off]!));
}

export function bytesPerElement(d: DType): number {
  return d === 'f16' ? 2 : 4;
}
