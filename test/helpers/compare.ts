/**
 * Numeric comparison for tests: assertClose checks |got - want| <= atol + rtol * |want| element by
 * element (numpy.allclose) and, on failure, reports the first mismatching index (as a multi-index
 * when a shape is given), the number of mismatches and the largest absolute and relative errors.
 * It returns the measured errors so tests can log them.
 */
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/tensor/tensor.js';

export interface CloseOptions {
  rtol?: number;
  atol?: number;
  /** Names the comparison in the failure message. */
  label?: string;
  /** NaN equals NaN (default false: any NaN is a mismatch). */
  equalNan?: boolean;
  /** Shape of the compared data, to print multi-indices. */
  shape?: readonly number[];
}

export interface CloseStats {
  /** Number of compared elements. */
  n: number;
  /** Largest |got - want| and where it is (-1 when n = 0). */
  maxAbs: number;
  maxAbsIndex: number;
  /** Largest |got - want| / |want| over elements with |want| > atol (where rtol is what matters). */
  maxRel: number;
  /** Elements outside the tolerance, and the first of them (-1 when none). */
  mismatches: number;
  firstMismatch: number;
}

/** Row-major multi-index of flat index i in shape. */
export function multiIndex(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    const d = shape[k]!;
    idx[k] = d > 0 ? i % d : 0;
    i = d > 0 ? Math.floor(i / d) : 0;
  }
  return idx;
}

/** Error statistics of got against want (no assertion). */
export function closeStats(got: ArrayLike<number>, want: ArrayLike<number>, opts: CloseOptions = {}): CloseStats {
  const rtol = opts.rtol ?? 1e-5;
  const atol = opts.atol ?? 1e-8;
  const n = Math.min(got.length, want.length);
  const s: CloseStats = { n, maxAbs: 0, maxAbsIndex: -1, maxRel: 0, mismatches: 0, firstMismatch: -1 };
  for (let i = 0; i < n; i++) {
    const g = got[i]!;
    const w = want[i]!;
    let bad: boolean;
    let err: number;
    if (Number.isNaN(g) || Number.isNaN(w)) {
      bad = !(opts.equalNan && Number.isNaN(g) && Number.isNaN(w));
      err = bad ? Infinity : 0;
    } else if (!Number.isFinite(g) || !Number.isFinite(w)) {
      bad = g !== w;
      err = bad ? Infinity : 0;
    } else {
      err = Math.abs(g - w);
      bad = err > atol + rtol * Math.abs(w);
      if (Math.abs(w) > atol) s.maxRel = Math.max(s.maxRel, err / Math.abs(w));
    }
    if (err > s.maxAbs || s.maxAbsIndex < 0) {
      s.maxAbs = err;
      s.maxAbsIndex = i;
    }
    if (bad) {
      if (s.firstMismatch < 0) s.firstMismatch = i;
      s.mismatches++;
    }
  }
  return s;
}

function where(i: number, shape?: readonly number[]): string {
  return shape ? `${i} [${multiIndex(i, shape).join(', ')}]` : String(i);
}

/** Asserts got ≈ want; returns the measured errors. */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, opts: CloseOptions = {}): CloseStats {
  const label = opts.label ? `${opts.label}: ` : '';
  assert.equal(got.length, want.length, `${label}length ${got.length} != expected ${want.length}`);
  const s = closeStats(got, want, opts);
  if (s.mismatches > 0) {
    const i = s.firstMismatch;
    const j = s.maxAbsIndex;
    assert.fail(
      `${label}${s.mismatches}/${s.n} elements differ (rtol ${opts.rtol ?? 1e-5}, atol ${opts.atol ?? 1e-8}); ` +
        `first at ${where(i, opts.shape)}: got ${got[i]}, want ${want[i]}; ` +
        `max abs error ${s.maxAbs.toExponential(3)} at ${where(j, opts.shape)} (got ${got[j]}, want ${want[j]}); ` +
        `max rel error ${s.maxRel.toExponential(3)}`,
    );
  }
  return s;
}

/**
 * max|got - want| / max|want|: the error relative to the largest reference value, for whole-model
 * comparisons where elementwise rtol is meaningless near zeros. Infinity when a compared `got` is not
 * finite. `floor` bounds the denominator from below (0 / 0 counts as 0); `keep` selects the
 * compared flat indices (default all).
 */
export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>, opts: { floor?: number; keep?: (i: number) => boolean } = {}): number {
  assert.equal(got.length, want.length, 'length');
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    if (opts.keep && !opts.keep(i)) continue;
    const g = got[i]!;
    const w = want[i]!;
    if (!Number.isFinite(g)) return Infinity;
    d = Math.max(d, Math.abs(g - w));
    m = Math.max(m, Math.abs(w));
  }
  return d / Math.max(m, opts.floor ?? 0, Number.MIN_VALUE);
}

/** Reads two tensors (any backends) and asserts equal shapes and close values. */
export async function assertCloseTensors(got: Tensor, want: Tensor, opts: CloseOptions = {}): Promise<CloseStats> {
  const label = opts.label ? `${opts.label}: ` : '';
  assert.deepEqual([...got.shape], [...want.shape], `${label}shape [${got.shape}] != expected [${want.shape}]`);
  return assertClose(await got.dataRaw(), await want.dataRaw(), { ...opts, shape: opts.shape ?? want.shape });
}

/** Keeps the worst errors seen across many comparisons (for a summary line at the end of a test). */
export class ErrorLog {
  private worst = new Map<string, { abs: number; rel: number }>();

  add(key: string, s: CloseStats): CloseStats {
    const w = this.worst.get(key) ?? { abs: 0, rel: 0 };
    w.abs = Math.max(w.abs, Number.isFinite(s.maxAbs) ? s.maxAbs : 0);
    w.rel = Math.max(w.rel, s.maxRel);
    this.worst.set(key, w);
    return s;
  }

  /** A view filing each entry under `${name} ${last word of its key}` (e.g. 'softmax fwd'), to fold many cases into one line. */
  grouped(name: string): ErrorLog {
    const view = new ErrorLog();
    view.add = (key: string, s: CloseStats) => this.add(`${name} ${key.split(' ').pop()}`, s);
    return view;
  }

  summary(): string {
    return [...this.worst].map(([k, w]) => `${k}: max abs ${w.abs.toExponential(2)}, max rel ${w.rel.toExponential(2)}`).join('\n');
  }
}
