/**
 * Tensor: shape, dtype, backend storage and autograd bookkeeping. Storage is always contiguous
 * row-major; views (transpose, slice, permute, expand) are materialised by a strided-copy kernel,
 * and reshape of contiguous data shares storage. See docs/TENSORS.md.
 */
import { OpArgumentError, RadgradError } from '../errors.js';
import { getBackend } from '../backend/registry.js';
import { isFloatDType, numel, type Backend, type DType, type HostArray, type RawTensor } from '../backend/types.js';
import { trackTensor, keep } from './scope.js';

/** How a tensor was made: its inputs and the function mapping its gradient to theirs. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients for each input (null where the input needs none). */
  readonly backward: (grad: Tensor) => ReadonlyArray<Tensor | null>;
}

let nextId = 1;

/**
 * In-place write counters, one per storage (torch's `_version`), so that reshape()/detach() aliases
 * share one with their source: recorded ops note the versions of what their backward reads, and
 * backward() refuses a node whose saved tensors were overwritten since (autograd/tape.ts).
 */
const storageVersions = new WeakMap<object, number>();
const storageKey = (raw: RawTensor | null): object | null => (typeof raw?.storage === 'object' && raw.storage !== null ? raw.storage : null);

export class DisposedTensorError extends RadgradError {
  /** `detail` replaces the default hint-free tail (e.g. what made the tensor and when it was needed). */
  constructor(op: string, id: number, opts: { madeBy?: string | null; detail?: string; hint?: string } = {}) {
    const made = opts.madeBy ? ` (made by ${opts.madeBy})` : '';
    super(`${op}: tensor #${id}${made} was already disposed (released by tidy() or dispose())${opts.detail ?? ''}`, {
      hint: opts.hint ?? 'keep() tensors you need after a tidy() scope, or return them from it',
    });
  }
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly backend: Backend;
  private _raw: RawTensor | null;
  requiresGrad: boolean;
  /** Accumulated gradient (leaf tensors with requiresGrad, after backward()). */
  grad: Tensor | null = null;
  private _node: GradNode | null = null;
  /**
   * The op that recorded a node on this tensor, kept after the node is gone (consumed by backward(),
   * or dropped by dispose()): backward() tells such a tensor from a leaf and refuses to treat it as one.
   */
  private _madeBy: string | null = null;
  /** Optional name (parameters) used in error messages and state dicts. */
  name?: string;

  constructor(raw: RawTensor, backend: Backend, requiresGrad = false) {
    if (requiresGrad) checkGradDtype('Tensor', raw.dtype);
    this._raw = raw;
    this.shape = raw.shape;
    this.dtype = raw.dtype;
    this.backend = backend;
    this.requiresGrad = requiresGrad;
    trackTensor(this);
  }

  /** The backend tensor; throws if disposed. */
  raw(op = 'raw'): RawTensor {
    if (!this._raw) throw new DisposedTensorError(op, this.id);
    return this._raw;
  }

  /** The op that produced this tensor (null for leaves and after backward freed the graph). */
  get node(): GradNode | null {
    return this._node;
  }

  set node(n: GradNode | null) {
    this._node = n;
    if (n) this._madeBy = n.op;
  }

  /** The op that made this tensor in a recorded graph (null for leaves and tensors made without one). */
  get madeBy(): string | null {
    return this._madeBy;
  }

  get isDisposed(): boolean {
    return this._raw === null;
  }

  get size(): number {
    return numel(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** In-place writes its storage has had (assign, optimizer steps), shared with its aliases: torch's `_version`. */
  get version(): number {
    const k = storageKey(this._raw);
    return k ? (storageVersions.get(k) ?? 0) : 0;
  }

  /** Counts an in-place write to this tensor's storage; every op that writes user-visible storage in place calls it. */
  bumpVersion(): void {
    const k = storageKey(this.raw('bumpVersion'));
    if (k) storageVersions.set(k, (storageVersions.get(k) ?? 0) + 1);
  }

  /** Releases the storage now (idempotent). The gradient is released too. */
  dispose(): void {
    if (!this._raw) return;
    this.backend.dispose(this._raw);
    this._raw = null;
    this.node = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Copies the values to host memory (f32/f16 as Float32Array, i32 as Int32Array, u32 as Uint32Array). */
  async data(): Promise<Float32Array | Int32Array | Uint32Array> {
    const a = await this.backend.read(this.raw('data'));
    return a instanceof Float64Array ? Float32Array.from(a) : a;
  }

  /** Host values at full backend precision (float64 on the CPU reference). */
  async dataRaw(): Promise<HostArray> {
    return this.backend.read(this.raw('data'));
  }

  /** Nested JavaScript arrays. */
  async toArray(): Promise<unknown> {
    const d = Array.from(await this.dataRaw());
    if (this.shape.length === 0) return d[0];
    const build = (dim: number, off: number): unknown => {
      const n = this.shape[dim]!;
      if (dim === this.shape.length - 1) return d.slice(off, off + n);
      const stride = numel(this.shape.slice(dim + 1));
      return Array.from({ length: n }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new RadgradError(`item(): tensor has ${this.size} elements, expected 1`);
    return (await this.dataRaw())[0]!;
  }

  /** A tensor sharing storage with no graph history (gradients stop here). */
  detach(): Tensor {
    return new Tensor(this.backend.reshape(this.raw('detach'), this.shape), this.backend, false);
  }

  /** Marks this tensor as a trainable leaf (or freezes it with false). */
  requiresGrad_(flag = true): this {
    if (flag) checkGradDtype('requiresGrad_', this.dtype);
    this.requiresGrad = flag;
    return this;
  }

  /** Keeps this tensor alive past enclosing tidy() scopes. */
  keep(): this {
    keep(this);
    return this;
  }

  toString(): string {
    return `Tensor#${this.id}[${this.shape.join(',')}] ${this.dtype}${this.requiresGrad ? ' requiresGrad' : ''}`;
  }
}

export type TensorLike = Tensor | number;

/** Only float tensors can require gradients (as torch): integer tensors are indices. */
export function checkGradDtype(op: string, dtype: DType): void {
  if (!isFloatDType(dtype)) {
    throw new OpArgumentError(op, 'requiresGrad', 'false for an integer tensor (only float tensors can require gradients)', `true with dtype ${dtype}`);
  }
}

/** Wraps a backend result as a tensor on the current backend (helper for ops). */
export function wrap(raw: RawTensor, backend: Backend = getBackend()): Tensor {
  return new Tensor(raw, backend);
}
