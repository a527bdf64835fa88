/**
 * LoRA linear: y = x·Wᵀ + b + scale·(dropout(x)·Aᵀ)·Bᵀ, scale = α/r, with a frozen f32 or LLM.int8 W.
 *
 * Fused (f32 tensors; src/backend/kernels.ts LoraBackend) forward in two passes instead of six:
 *   1. u = scale·dropout(x)·Aᵀ [N, r], the dropout mask hashed inside the kernel from the dropout
 *      op's counter-based RNG (same seed, same flat index of x: bit-identical mask), never stored;
 *   2. x·Wᵀ with an epilogue adding bias + u·Bᵀ (f32 W), or the int8 linear with u·Bᵀ added in
 *      its dequantising epilogue (Int8Options.lowRank).
 * Backward (W frozen), g = scale·dy·B [N, r]:
 *   dx = dy·W + mask ⊙ (g·A)/(1−p)  one GEMM pass with the epilogue (int8: int8 backward + one pass)
 *   dA = gᵀ·dropout(x)              the mask hashed again, dropout(x) still never stored
 *   dB = dyᵀ·u                      a thin matmul against the saved u
 * loraLinearComposed is the unfused reference, and the path under autocast, for f16 tensors and for
 * a trainable W.
 */
import { record, release } from '../autograd/tape.js';
import { autocastLower, isAutocastEnabled } from '../autograd/autocast.js';
import { OpArgumentError, ShapeError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { kernelsFor } from '../backend/fused.js';
import type { LoraDropout } from '../backend/kernels.js';
import type { RawTensor } from '../backend/types.js';
import { matmul } from './matmul.js';
import { add, mul } from './elementwise.js';
import { reshape } from './shape.js';
import { dropout } from './nn/dropout.js';
import { INT8_DEFAULT_THRESHOLD, matmulInt8, type QuantizedWeight } from './matmul_int8.js';

export interface LoraLinearOptions {
  alpha: number;
  /** The LoRA branch's scale when it is not alpha / r (rsLoRA: alpha / sqrt(r)); alpha is then unused. */
  scale?: number;
  /** LoRA dropout probability on x (default 0) and its seed (the dropout op's seed). */
  dropout?: number;
  seed?: number;
  training?: boolean;
  /** Outlier threshold of the int8 base (default 6), and its unpack-and-multiply path (tests). */
  threshold?: number;
  forceFallback?: boolean;
  /** Use the unfused ops (tests, benchmarks). */
  composed?: boolean;
}

function check(x: Tensor, w: Tensor | QuantizedWeight, a: Tensor, b: Tensor, opts: LoraLinearOptions): { r: number; p: number; scale: number } {
  const r = a.shape[0]!;
  const I = x.shape[x.rank - 1];
  if (a.rank !== 2 || b.rank !== 2 || b.shape[1] !== r || a.shape[1] !== I) {
    throw new ShapeError('loraLinear', 'a/b', `a [r, ${I}], b [O, r]`, `a [${a.shape}], b [${b.shape}]`);
  }
  const O = w instanceof Tensor ? w.shape[0] : w.outFeatures;
  if (b.shape[0] !== O) throw new ShapeError('loraLinear', 'b', `[${O}, ${r}]`, `[${b.shape}]`);
  if (!(r > 0)) throw new OpArgumentError('loraLinear', 'rank', 'r > 0', String(r));
  if (opts.scale === undefined && !Number.isFinite(opts.alpha)) throw new OpArgumentError('loraLinear', 'alpha', 'a finite number', String(opts.alpha));
  if (opts.scale !== undefined && !Number.isFinite(opts.scale)) throw new OpArgumentError('loraLinear', 'scale', 'a finite number', String(opts.scale));
  const p = opts.training === false ? 0 : (opts.dropout ?? 0);
  if (!(p >= 0 && p <= 1)) throw new OpArgumentError('loraLinear', 'dropout', 'a probability in [0, 1]', String(p));
  return { r, p, scale: opts.scale ?? opts.alpha / r };
}

/** The unfused reference: base linear, dropout, two thin matmuls, scale on the rank-r product, add. */
export function loraLinearComposed(x: Tensor, w: Tensor | QuantizedWeight, bias: Tensor | null, a: Tensor, b: Tensor, opts: LoraLinearOptions): Tensor {
  const { p, scale } = check(x, w, a, b, opts);
  const I = x.shape[x.rank - 1]!;
  const x2 = x.rank === 2 ? x : reshape(x, [-1, I]);
  const base = w instanceof Tensor
    ? (() => { const y = matmul(x2, w, { transB: true }); if (!bias) return y; const yb = add(y, autocastLower(bias)); release(y); return yb; })()
    : matmulInt8(x2, w, bias, { threshold: opts.threshold ?? INT8_DEFAULT_THRESHOLD, forceFallback: opts.forceFallback });
  const xd = p > 0 ? dropout(x2, p, { seed: opts.seed ?? 0 }) : x2;
  // Scale the rank-r intermediate rather than the [N, O] result: r << O, fewer elements.
  const u = matmul(xd, a, { transB: true });
  const h = mul(u, scale);
  const ub = matmul(h, b, { transB: true });
  const y = add(base, ub);
  // With a graph, the intermediates go as soon as no backward reads them (autograd/release.ts).
  release(u, h, ub, base, xd === x2 ? null : xd, x2 === x ? null : x2);
  if (x.rank === 2) return y;
  const out = reshape(y, [...x.shape.slice(0, -1), y.shape[1]!]);
  release(y);
  return out;
}

/** x [..., I]; w [O, I] f32 or a QuantizedWeight; a [r, I]; b [O, r]; bias [O] or null → [..., O]. */
export function loraLinear(x: Tensor, w: Tensor | QuantizedWeight, bias: Tensor | null, a: Tensor, b: Tensor, opts: LoraLinearOptions): Tensor {
  const { p, scale } = check(x, w, a, b, opts);
  const f32 = (t: Tensor | null) => !t || t.dtype === 'f32';
  const fusable = !opts.composed && !isAutocastEnabled() && f32(x) && f32(a) && f32(b) && f32(bias) && (w instanceof Tensor ? w.dtype === 'f32' && !w.requiresGrad : true);
  if (!fusable) return loraLinearComposed(x, w, bias, a, b, opts);

  const be = x.backend;
  const k = kernelsFor(be);
  const I = x.shape[x.rank - 1]!;
  const lead = x.shape.slice(0, -1);
  const N = lead.reduce((s, d) => s * d, 1);
  const O = b.shape[0]!;
  const drop: LoraDropout | undefined = p > 0 ? { p, seed: opts.seed ?? 0 } : undefined;
  const flat = (t: Tensor, shape: number[], op: string): RawTensor => be.reshape(t.raw(op), shape);

  const x2 = flat(x, [N, I], 'loraLinear');
  const u = k.loraProject(x2, a.raw('loraLinear'), { scale, wKMajor: false, dropout: drop });
  let y2: RawTensor;
  if (w instanceof Tensor) {
    y2 = k.loraLinear(x2, w.raw('loraLinear'), bias ? bias.raw('loraLinear') : null, u, b.raw('loraLinear'));
  } else {
    // u·Bᵀ joins in the int8 kernel's dequantising epilogue (u is already scaled).
    y2 = k.int8Linear(x2, w, bias ? bias.raw('loraLinear') : null, {
      threshold: opts.threshold ?? INT8_DEFAULT_THRESHOLD, forceFallback: opts.forceFallback, lowRank: { u, b: b.raw('loraLinear'), scale: 1 },
    });
  }
  be.dispose(x2);
  const out = new Tensor(be.reshape(y2, [...lead, O]), be);
  be.dispose(y2);

  const inputs = bias ? [x, a, b, bias] : [x, a, b];
  if (!inputs.some((t) => t.requiresGrad)) {
    be.dispose(u);
    return out;
  }
  // u is saved for dB = dyᵀ·u; the backward frees it once it has run (a tidy() also takes it).
  let uT: Tensor | null = null;
  if (b.requiresGrad) uT = new Tensor(u, be);
  else be.dispose(u);
  const recorded = record(out, 'loraLinear', inputs, (g) => {
    const dy = flat(g, [N, O], 'loraLinear backward');
    let dx: Tensor | null = null;
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    let dbias: Tensor | null = null;
    if (x.requiresGrad || a.requiresGrad) {
      const gs = k.loraProject(dy, b.raw('loraLinear backward'), { scale, wKMajor: true });
      if (x.requiresGrad) {
        let d: RawTensor;
        if (w instanceof Tensor) {
          d = k.loraLinearBackward(dy, w.raw('loraLinear backward'), gs, a.raw('loraLinear backward'), drop);
        } else {
          const base = k.int8LinearBackward(dy, w);
          d = k.loraAdd(base, gs, a.raw('loraLinear backward'), { aLayout: true, dropout: drop });
          be.dispose(base);
        }
        dx = new Tensor(be.reshape(d, x.shape), be);
        be.dispose(d);
      }
      if (a.requiresGrad) {
        const xr = flat(x, [N, I], 'loraLinear backward');
        da = new Tensor(k.loraGradA(gs, xr, drop), be);
        be.dispose(xr);
      }
      be.dispose(gs);
    }
    if (uT) db = new Tensor(be.matmul(dy, uT.raw('loraLinear backward'), { transA: true }), be);
    if (bias?.requiresGrad) dbias = new Tensor(be.reduce('sum', dy, [0], false), be);
    be.dispose(dy);
    uT?.dispose();
    return bias ? [dx, da, db, dbias] : [dx, da, db];
  });
  if (!recorded.node) uT?.dispose();
  return recorded;
}
