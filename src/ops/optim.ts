/**
 * Optimizer-side ops: global gradient norm, norm clipping (torch.nn.utils.clip_grad_norm_) and
 * AdamW (torch.optim.AdamW). None of them record autograd nodes: they update parameters,
 * gradients and optimizer state in place. AdamW.step() is synchronous (it only records kernels),
 * so it can run inside a tidy() step; the optimizer state it allocates is kept beyond scopes.
 */
import { noGrad } from '../autograd/tape.js';
import { OpArgumentError, ShapeError } from '../errors.js';
import { isFloatDType, type AdamWHyper } from '../backend/types.js';
import { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/scope.js';

function checkParams(op: string, params: readonly Tensor[]): void {
  for (const [i, p] of params.entries()) {
    if (!(p instanceof Tensor)) throw new OpArgumentError(op, `params[${i}]`, 'a Tensor', typeof p);
  }
}

/** sqrt(Σ grad²) over the gradients of `params` that have one (0 when none has). Reads one number. */
export async function globalGradNorm(params: readonly Tensor[]): Promise<number> {
  checkParams('globalGradNorm', params);
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (!grads.length) return 0;
  const be = grads[0]!.backend;
  for (const g of grads) {
    if (g.backend !== be) throw new OpArgumentError('globalGradNorm', 'params', `gradients on one backend ('${be.name}')`, `'${g.backend.name}'`);
  }
  const raw = be.sumSquares(grads.map((g) => g.raw('globalGradNorm')));
  try {
    const v = await be.read(raw);
    return Math.sqrt(v[0]!);
  } finally {
    be.dispose(raw);
  }
}

/** The factor clip_grad_norm_ multiplies gradients by: min(1, maxNorm / (norm + 1e-6)). */
export function clipCoefficient(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/**
 * Scales the gradients of `params` so that their global L2 norm is at most `maxNorm` (as torch's
 * clip_grad_norm_: coefficient maxNorm / (norm + 1e-6), clamped to 1) and returns the norm before
 * clipping. Gradients below the limit are left untouched. A non-finite norm leaves the gradients
 * as they are (the caller should skip the step); to avoid the extra pass over the gradients,
 * compute globalGradNorm() and pass clipCoefficient() to AdamW.step({ gradScale }) instead.
 */
export async function clipGradNorm(params: readonly Tensor[], maxNorm: number): Promise<number> {
  if (!(maxNorm > 0)) throw new OpArgumentError('clipGradNorm', 'maxNorm', 'a positive number', String(maxNorm));
  const norm = await globalGradNorm(params);
  const scale = clipCoefficient(norm, maxNorm);
  if (!Number.isFinite(norm) || scale >= 1) return norm;
  noGrad(() => {
    for (const p of params) {
      const g = p.grad;
      if (!g) continue;
      const scaled = new Tensor(g.backend.unary('affine', g.raw('clipGradNorm'), scale, 0), g.backend);
      g.dispose();
      p.grad = keep(scaled);
    }
  });
  return norm;
}

export interface ParamGroup {
  params: readonly Tensor[];
  /** Overrides the optimizer's weightDecay for this group (0 for biases and norm weights). */
  weightDecay?: number;
  /** Multiplies the learning rate for this group (default 1). */
  lrScale?: number;
}

export interface AdamWOptions {
  /** Default 1e-3 (as torch). */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay; default 1e-2 (as torch.optim.AdamW). */
  weightDecay?: number;
  /**
   * Groups with their own weight decay. Parameters listed here but not in the constructor's
   * `params` are added; parameters of `params` in no group use the defaults.
   */
  paramGroups?: readonly ParamGroup[];
}

export interface AdamWStepOptions {
  /** Gradients are multiplied by this first (clipping coefficient, loss-scale unscaling). */
  gradScale?: number;
  /** Learning rate for this step (schedulers); default the optimizer's lr. */
  lr?: number;
}

/** One parameter's optimizer state as host arrays (null: never stepped). */
export interface AdamWParamState {
  name?: string;
  shape: number[];
  step: number;
  m: Float32Array;
  v: Float32Array;
}

/** Optimizer state for checkpoints, in parameter order (see AdamW.params). */
export interface AdamWState {
  stepCount: number;
  lr: number;
  betas: [number, number];
  eps: number;
  params: Array<AdamWParamState | null>;
}

interface Slot {
  param: Tensor;
  weightDecay: number;
  lrScale: number;
  step: number;
  m: Tensor | null;
  v: Tensor | null;
}

/** Throws OpArgumentError(op, name, expected, v) unless v is a finite number and ok. */
export function checkHyper(op: string, name: string, v: number, ok: boolean, expected: string): void {
  if (typeof v !== 'number' || !ok || !Number.isFinite(v)) throw new OpArgumentError(op, name, expected, String(v));
}

/**
 * An optimizer's parameters in state order (`params`, then each group's others, each once), with
 * the weight decay and lr scale of its group (else `weightDecay` and 1). Groups are validated:
 * weightDecay and lrScale ≥ 0, each parameter in at most one group; parameters are float tensors.
 */
export function groupedParams(op: string, params: readonly Tensor[], groups: readonly ParamGroup[] | undefined, weightDecay: number): Array<{ param: Tensor; weightDecay: number; lrScale: number }> {
  checkParams(op, params);
  const groupOf = new Map<Tensor, ParamGroup>();
  for (const [gi, g] of (groups ?? []).entries()) {
    checkParams(`${op} paramGroups[${gi}]`, g.params);
    if (g.weightDecay !== undefined) checkHyper(op, `paramGroups[${gi}].weightDecay`, g.weightDecay, g.weightDecay >= 0, 'weightDecay >= 0');
    if (g.lrScale !== undefined) checkHyper(op, `paramGroups[${gi}].lrScale`, g.lrScale, g.lrScale >= 0, 'lrScale >= 0');
    for (const p of g.params) {
      if (groupOf.has(p)) throw new OpArgumentError(op, `paramGroups[${gi}]`, 'each parameter in at most one group', `${p.name ?? p.toString()} twice`);
      groupOf.set(p, g);
    }
  }
  const out: Array<{ param: Tensor; weightDecay: number; lrScale: number }> = [];
  const seen = new Set<Tensor>();
  const add = (p: Tensor) => {
    if (seen.has(p)) return;
    seen.add(p);
    if (!isFloatDType(p.dtype)) throw new OpArgumentError(op, 'params', 'float parameters', p.name ?? p.toString());
    const g = groupOf.get(p);
    out.push({ param: p, weightDecay: g?.weightDecay ?? weightDecay, lrScale: g?.lrScale ?? 1 });
  };
  params.forEach(add);
  for (const g of groups ?? []) g.params.forEach(add);
  return out;
}

/**
 * torch.optim.AdamW: decoupled weight decay, bias-corrected moments, per-parameter step counts.
 * m and v are f32 tensors allocated at a parameter's first step (so parameters that never get a
 * gradient cost nothing) and kept until dispose().
 */
export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Number of step() calls so far. */
  stepCount = 0;
  private readonly slots: Slot[] = [];

  constructor(params: readonly Tensor[], opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    const wd = opts.weightDecay ?? 1e-2;
    checkHyper('AdamW', 'lr', this.lr, this.lr >= 0, 'a learning rate >= 0');
    checkHyper('AdamW', 'betas[0]', this.beta1, this.beta1 >= 0 && this.beta1 < 1, 'a value in [0, 1)');
    checkHyper('AdamW', 'betas[1]', this.beta2, this.beta2 >= 0 && this.beta2 < 1, 'a value in [0, 1)');
    checkHyper('AdamW', 'eps', this.eps, this.eps >= 0, 'eps >= 0');
    checkHyper('AdamW', 'weightDecay', wd, wd >= 0, 'weightDecay >= 0');
    for (const x of groupedParams('AdamW', params, opts.paramGroups, wd)) this.slots.push({ ...x, step: 0, m: null, v: null });
  }

  /** The optimized parameters, in state order. */
  get params(): Tensor[] {
    return this.slots.map((s) => s.param);
  }

  /** One update of every parameter that has a gradient (others are skipped, as in torch). */
  step(opts: AdamWStepOptions = {}): void {
    const lr = opts.lr ?? this.lr;
    const gradScale = opts.gradScale ?? 1;
    checkHyper('AdamW.step', 'lr', lr, lr >= 0, 'a learning rate >= 0');
    checkHyper('AdamW.step', 'gradScale', gradScale, true, 'a finite gradScale');
    this.stepCount++;
    noGrad(() => {
      for (const s of this.slots) {
        const g = s.param.grad;
        if (!g) continue;
        if (g.shape.join() !== s.param.shape.join()) {
          throw new ShapeError('AdamW.step', `grad of ${s.param.name ?? s.param.toString()}`, `shape [${s.param.shape}]`, `[${g.shape}]`);
        }
        const be = s.param.backend;
        if (!s.m || !s.v) {
          s.m = keep(new Tensor(be.full(s.param.shape, 'f32', 0), be));
          s.v = keep(new Tensor(be.full(s.param.shape, 'f32', 0), be));
        }
        s.step++;
        const h: AdamWHyper = {
          lr: lr * s.lrScale, beta1: this.beta1, beta2: this.beta2, eps: this.eps,
          weightDecay: s.weightDecay, step: s.step, gradScale,
        };
        be.adamw(s.param.raw('AdamW.step'), g.raw('AdamW.step'), s.m.raw('AdamW.step'), s.v.raw('AdamW.step'), h);
        s.param.bumpVersion(); // an in-place write, as assign (a graph still holding the old values cannot backward)
      }
    });
  }

  /** Releases every gradient (torch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const s of this.slots) {
      s.param.grad?.dispose();
      s.param.grad = null;
    }
  }

  /** Copies the state to host memory (for checkpoints). */
  async state(): Promise<AdamWState> {
    const params: Array<AdamWParamState | null> = [];
    for (const s of this.slots) {
      if (!s.m || !s.v) {
        params.push(null);
        continue;
      }
      const m = Float32Array.from(await s.m.dataRaw());
      const v = Float32Array.from(await s.v.dataRaw());
      params.push({ ...(s.param.name !== undefined ? { name: s.param.name } : {}), shape: [...s.param.shape], step: s.step, m, v });
    }
    return { stepCount: this.stepCount, lr: this.lr, betas: [this.beta1, this.beta2], eps: this.eps, params };
  }

  /** Restores state() output; parameter count and shapes must match. The lr is restored too. */
  loadState(st: AdamWState): void {
    if (st.params.length !== this.slots.length) {
      throw new OpArgumentError('AdamW.loadState', 'params', `${this.slots.length} entries`, String(st.params.length));
    }
    // Validate everything before touching the current state.
    st.params.forEach((e, i) => {
      if (!e) return;
      const p = this.slots[i]!.param;
      const n = p.size;
      if (e.shape.join() !== p.shape.join() || e.m.length !== n || e.v.length !== n) {
        throw new ShapeError('AdamW.loadState', `params[${i}]${e.name ? ` (${e.name})` : ''}`, `shape [${p.shape}]`, `[${e.shape}] with ${e.m.length}/${e.v.length} values`);
      }
      if (!(Number.isInteger(e.step) && e.step >= 0)) throw new OpArgumentError('AdamW.loadState', `params[${i}].step`, 'an integer >= 0', String(e.step));
    });
    this.disposeState();
    st.params.forEach((e, i) => {
      if (!e) return;
      const s = this.slots[i]!;
      const be = s.param.backend;
      s.m = keep(new Tensor(be.upload(e.m, s.param.shape, 'f32'), be));
      s.v = keep(new Tensor(be.upload(e.v, s.param.shape, 'f32'), be));
      s.step = e.step;
    });
    this.stepCount = st.stepCount;
    this.lr = st.lr;
  }

  private disposeState(): void {
    for (const s of this.slots) {
      s.m?.dispose();
      s.v?.dispose();
      s.m = null;
      s.v = null;
      s.step = 0;
    }
  }

  /** Releases the optimizer state (m, v); the optimizer starts over if stepped again. */
  dispose(): void {
    this.disposeState();
    this.stepCount = 0;
  }
}
