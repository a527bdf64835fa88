/**
 * torch.optim.SGD: plain gradient descent with optional momentum (with dampening and Nesterov) and
 * L2 weight decay added to the gradient, for hand-written training loops next to AdamW. Parameters
 * are updated in place (their storage is overwritten), so modules and other holders of the tensors
 * see the new values. step() is synchronous (it only records kernels) and may run inside tidy();
 * momentum buffers are kept beyond scopes until dispose().
 */
import { noGrad } from '../autograd/tape.js';
import { OpArgumentError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { keep, tidy } from '../tensor/scope.js';
import { add, mul } from './elementwise.js';
import { assign } from './assign.js';
import { checkHyper as check, groupedParams, type ParamGroup } from './optim.js';

export interface SGDOptions {
  /** Default 1e-3 (as torch). */
  lr?: number;
  /** Default 0 (no momentum buffer). */
  momentum?: number;
  /** Default 0: buf = momentum·buf + (1 - dampening)·g. */
  dampening?: number;
  /** L2 penalty added to the gradient (g + weightDecay·p, coupled as torch's SGD); default 0. */
  weightDecay?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0); default false. */
  nesterov?: boolean;
  /** Ascend instead of descend; default false. */
  maximize?: boolean;
  /** Groups with their own weight decay or lr multiplier (as AdamW's). */
  paramGroups?: readonly ParamGroup[];
}

export interface SGDStepOptions {
  /** Gradients are multiplied by this first (clipping coefficient, loss-scale unscaling). */
  gradScale?: number;
  /** Learning rate for this step (schedulers); default the optimizer's lr. */
  lr?: number;
}

/** Optimizer state for checkpoints: the momentum buffers in parameter order (null: none yet). */
export interface SGDState {
  stepCount: number;
  lr: number;
  params: Array<{ name?: string; shape: number[]; momentumBuffer: Float32Array } | null>;
}

interface Slot {
  param: Tensor;
  weightDecay: number;
  lrScale: number;
  buf: Tensor | null;
}

export class SGD {
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly maximize: boolean;
  /** Number of step() calls so far. */
  stepCount = 0;
  private readonly slots: Slot[] = [];

  constructor(params: readonly Tensor[], opts: SGDOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.maximize = opts.maximize ?? false;
    const wd = opts.weightDecay ?? 0;
    check('SGD', 'lr', this.lr, this.lr >= 0, 'a learning rate >= 0');
    check('SGD', 'momentum', this.momentum, this.momentum >= 0, 'momentum >= 0');
    check('SGD', 'dampening', this.dampening, true, 'a finite dampening');
    check('SGD', 'weightDecay', wd, wd >= 0, 'weightDecay >= 0');
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new OpArgumentError('SGD', 'nesterov', 'momentum > 0 and dampening 0 with Nesterov momentum', `momentum ${this.momentum}, dampening ${this.dampening}`);
    }
    for (const x of groupedParams('SGD', params, opts.paramGroups, wd)) this.slots.push({ ...x, buf: null });
  }

  /** The optimized parameters, in state order. */
  get params(): Tensor[] {
    return this.slots.map((s) => s.param);
  }

  /** One update of every parameter that has a gradient (others are skipped, as in torch). */
  step(opts: SGDStepOptions = {}): void {
    const lr = opts.lr ?? this.lr;
    const gradScale = opts.gradScale ?? 1;
    check('SGD.step', 'lr', lr, lr >= 0, 'a learning rate >= 0');
    check('SGD.step', 'gradScale', gradScale, true, 'a finite gradScale');
    this.stepCount++;
    noGrad(() => {
      for (const s of this.slots) {
        const p = s.param;
        const g = p.grad;
        if (!g) continue;
        if (g.shape.join() !== p.shape.join() || g.dtype !== p.dtype) {
          throw new ShapeError('SGD.step', `grad of ${p.name ?? p.toString()}`, `${p.dtype} [${p.shape}]`, `${g.dtype} [${g.shape}]`);
        }
        tidy(() => {
          let d = gradScale === 1 ? g : mul(g, gradScale);
          if (s.weightDecay !== 0) d = add(d, mul(p, s.weightDecay));
          if (this.momentum !== 0) {
            const prev = s.buf;
            // The first step starts the buffer at d (torch: clone), later ones decay it.
            s.buf = keep(prev ? add(mul(prev, this.momentum), mul(d, 1 - this.dampening)) : mul(d, 1));
            prev?.dispose();
            d = this.nesterov ? add(d, mul(s.buf, this.momentum)) : s.buf;
          }
          // In place: whoever holds p (a module, a closure) sees the update.
          assign(p, add(p, mul(d, (this.maximize ? 1 : -1) * lr * s.lrScale)));
        });
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

  /** Copies the momentum buffers to host memory (for checkpoints). */
  async state(): Promise<SGDState> {
    const params: SGDState['params'] = [];
    for (const s of this.slots) {
      if (!s.buf) params.push(null);
      else params.push({ ...(s.param.name !== undefined ? { name: s.param.name } : {}), shape: [...s.param.shape], momentumBuffer: Float32Array.from(await s.buf.dataRaw()) });
    }
    return { stepCount: this.stepCount, lr: this.lr, params };
  }

  /** Restores state() output; parameter count and shapes must match. The lr is restored too. */
  loadState(st: SGDState): void {
    if (st.params.length !== this.slots.length) throw new OpArgumentError('SGD.loadState', 'params', `${this.slots.length} entries`, String(st.params.length));
    st.params.forEach((e, i) => {
      const p = this.slots[i]!.param;
      if (e && (e.shape.join() !== p.shape.join() || e.momentumBuffer.length !== p.size)) {
        throw new ShapeError('SGD.loadState', `params[${i}]${e.name ? ` (${e.name})` : ''}`, `shape [${p.shape}]`, `[${e.shape}] with ${e.momentumBuffer.length} values`);
      }
    });
    this.dispose();
    st.params.forEach((e, i) => {
      if (!e) return;
      const s = this.slots[i]!;
      const be = s.param.backend;
      s.buf = keep(new Tensor(be.upload(e.momentumBuffer, s.param.shape, s.param.dtype), be));
    });
    this.stepCount = st.stepCount;
    this.lr = st.lr;
  }

  /** Releases the momentum buffers; the optimizer starts over if stepped again. */
  dispose(): void {
    for (const s of this.slots) {
      s.buf?.dispose();
      s.buf = null;
    }
    this.stepCount = 0;
  }
}
